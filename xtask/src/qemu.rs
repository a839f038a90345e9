//! QEMU: making sure it is installed, and its command line.
//!
//! The machine is QEMU's default `pc` with the disk image as a raw drive, COM1 on
//! stdio, no display, no monitor, `-no-reboot` (a triple fault ends QEMU with status 0
//! instead of rebooting forever) and the `isa-debug-exit` device through which the kernel
//! reports its verdict (`docs/kernel-interface.md` §3).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::image::Firmware;
use crate::kvm::Accel;
use crate::process;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";
/// The OVMF firmware image of Debian's `ovmf` package, used for UEFI boots.
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";
/// Guest memory unless the user passes another `-m` through `--qemu-args`
/// (QEMU honours the last `-m`).
pub const DEFAULT_MEMORY: &str = "512M";
/// The `isa-debug-exit` device: port 0xf4, 4 bytes wide.
pub const DEBUG_EXIT_DEVICE: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";
/// The Debian packages that provide [`QEMU`] and [`OVMF`].
const PACKAGES: &str = "qemu-system-x86 ovmf";

/// One QEMU boot.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// The raw disk image.
    pub image: PathBuf,
    /// BIOS (QEMU's SeaBIOS) or UEFI (OVMF).
    pub firmware: Firmware,
    /// Number of CPUs (`-smp`).
    pub smp: u16,
    /// TCG or KVM.
    pub accel: Accel,
    /// Start halted and wait for GDB on port 1234 (`-s -S`).
    pub gdb: bool,
    /// Extra arguments appended verbatim at the end.
    pub extra_args: Vec<String>,
}

/// The QEMU command for `config`.
pub fn command(config: &QemuConfig) -> Command {
    let mut command = Command::new(QEMU);
    command.args(args(config));
    command
}

/// QEMU's arguments for `config`, in order.
pub fn args(config: &QemuConfig) -> Vec<OsString> {
    let mut drive = OsString::from("format=raw,file=");
    drive.push(&config.image);
    let mut args: Vec<OsString> = vec!["-drive".into(), drive];
    let fixed = [
        "-smp",
        &config.smp.to_string(),
        "-m",
        DEFAULT_MEMORY,
        "-serial",
        "stdio",
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-device",
        DEBUG_EXIT_DEVICE,
    ]
    .map(OsString::from);
    args.extend(fixed);
    if config.firmware == Firmware::Uefi {
        args.extend(["-bios", OVMF].map(OsString::from));
    }
    if config.accel == Accel::Kvm {
        args.extend(["-accel", "kvm", "-cpu", "host"].map(OsString::from));
    }
    if config.gdb {
        args.extend(["-s", "-S"].map(OsString::from));
    }
    args.extend(config.extra_args.iter().map(OsString::from));
    args
}

/// Makes sure QEMU (and OVMF if `need_ovmf`) are installed. Installs them with apt-get
/// when running as root on a system that has it; otherwise fails with the command to run.
pub fn ensure_installed(need_ovmf: bool) -> Result<()> {
    let absent = missing(need_ovmf);
    if absent.is_empty() {
        return Ok(());
    }
    let what = absent.join(" and ");
    if !(is_root()? && process::find_in_path("apt-get").is_some()) {
        return Err(Error::new(format!(
            "{what} not found; install with: sudo apt-get install -y {PACKAGES}"
        )));
    }
    println!("[xtask] installing {PACKAGES} with apt-get");
    process::run(Command::new("apt-get").arg("update"))?;
    process::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y"])
            .args(PACKAGES.split(' ')),
    )?;
    let still = missing(need_ovmf);
    if still.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{} still missing after installing {PACKAGES}",
            still.join(" and ")
        )))
    }
}

/// Names of the missing pieces.
fn missing(need_ovmf: bool) -> Vec<String> {
    let mut missing = Vec::new();
    if process::find_in_path(QEMU).is_none() {
        missing.push(format!("{QEMU} (in PATH)"));
    }
    if need_ovmf && !Path::new(OVMF).is_file() {
        missing.push(OVMF.to_owned());
    }
    missing
}

/// True if xtask runs as root (`id -u` prints 0).
fn is_root() -> Result<bool> {
    Ok(process::stdout_of(Command::new("id").arg("-u"))?.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QemuConfig {
        QemuConfig {
            image: PathBuf::from("/tmp/x/bios.img"),
            firmware: Firmware::Bios,
            smp: 4,
            accel: Accel::Tcg,
            gdb: false,
            extra_args: Vec::new(),
        }
    }

    fn joined(config: &QemuConfig) -> String {
        process::display(&command(config))
    }

    #[test]
    fn bios_command_line() {
        assert_eq!(
            joined(&config()),
            "qemu-system-x86_64 -drive format=raw,file=/tmp/x/bios.img -smp 4 -m 512M \
             -serial stdio -display none -monitor none -no-reboot \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04"
        );
    }

    #[test]
    fn options_are_appended_in_order() {
        let config = QemuConfig {
            firmware: Firmware::Uefi,
            accel: Accel::Kvm,
            gdb: true,
            extra_args: vec!["-m".into(), "1G".into()],
            ..config()
        };
        assert!(joined(&config).ends_with(
            "iosize=0x04 -bios /usr/share/ovmf/OVMF.fd -accel kvm -cpu host -s -S -m 1G"
        ));
    }
}

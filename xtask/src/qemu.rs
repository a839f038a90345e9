//! QEMU: making sure it is installed, its version, and its command line.
//!
//! The kernel's x2APIC driver needs a QEMU whose TCG emulates x2APIC: 9.0 or later
//! ([`X2APIC_TCG_MIN`]). On Debian bookworm, which ships 7.2, xtask running as root
//! installs QEMU from bookworm-backports ([`install`]); elsewhere, or if that is not
//! possible, 7.2 still runs everything but the x2APIC scenarios, which `cargo xtask
//! test` reports as skipped. `XTASK_QEMU=/path/to/qemu-system-x86_64` ([`QEMU_ENV`])
//! picks another binary and installs nothing.
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

mod install;
mod version;

pub use version::QemuVersion;

/// The QEMU binary's name.
pub const QEMU: &str = "qemu-system-x86_64";
/// The OVMF firmware image of Debian's `ovmf` package, used for UEFI boots.
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";
/// Guest memory unless the user passes another `-m` through `--qemu-args`
/// (QEMU honours the last `-m`).
pub const DEFAULT_MEMORY: &str = "512M";
/// The `isa-debug-exit` device at the kernel's port (`protocol::exit`):
/// `isa-debug-exit,iobase=0xf4,iosize=0x04`.
pub fn debug_exit_device() -> String {
    format!(
        "isa-debug-exit,iobase={:#x},iosize={:#04x}",
        protocol::exit::DEBUG_EXIT_PORT,
        protocol::exit::DEBUG_EXIT_PORT_SIZE
    )
}
/// Overrides the QEMU binary (a path); nothing is installed then. For trying another
/// QEMU, e.g. Debian's 7.2 unpacked into /tmp on a machine that has 10.
pub const QEMU_ENV: &str = "XTASK_QEMU";
/// The first QEMU whose TCG emulates x2APIC (9.0, April 2024).
pub const X2APIC_TCG_MIN: QemuVersion = QemuVersion::new(9, 0, 0);
/// The Debian package that provides [`QEMU`] (from the distribution; see [`install`]
/// for bookworm-backports).
const QEMU_PACKAGE: &str = "qemu-system-x86";
/// The Debian package that provides [`OVMF`].
const OVMF_PACKAGE: &str = "ovmf";

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

/// The QEMU command for `config`, running [`program`].
pub fn command(config: &QemuConfig) -> Command {
    command_of(&program(), config)
}

/// The command for `config` running `program`.
fn command_of(program: &Path, config: &QemuConfig) -> Command {
    let mut command = Command::new(program);
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
        &debug_exit_device(),
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

/// Why QEMU `version` cannot run the kernel's x2APIC driver under `accel`, if it
/// cannot: TCG emulates x2APIC only from [`X2APIC_TCG_MIN`] on; KVM's in-kernel APIC
/// always has it.
pub fn lacks_x2apic(version: QemuVersion, accel: Accel) -> Option<String> {
    (accel == Accel::Tcg && version < X2APIC_TCG_MIN).then(|| {
        format!(
            "needs QEMU >= {}.{} for x2APIC under TCG, found {version}",
            X2APIC_TCG_MIN.major, X2APIC_TCG_MIN.minor
        )
    })
}

/// The QEMU binary: [`QEMU_ENV`] if set, else [`QEMU`] from `PATH`.
pub fn program() -> PathBuf {
    std::env::var_os(QEMU_ENV).map_or_else(|| PathBuf::from(QEMU), PathBuf::from)
}

/// Asks `program` for its version.
fn version_of(program: &Path) -> Result<QemuVersion> {
    let output = process::stdout_of(Command::new(program).arg("--version"))?;
    QemuVersion::parse(&output).ok_or_else(|| {
        Error::new(format!(
            "cannot read a version from `{} --version`: {:?}",
            program.display(),
            output.lines().next().unwrap_or_default()
        ))
    })
}

/// Makes sure a QEMU (and OVMF if `need_ovmf`) is installed; returns QEMU's version.
///
/// With [`QEMU_ENV`] set, that binary is used as it is. Otherwise, a QEMU older than
/// [`X2APIC_TCG_MIN`] (or none) is upgraded from bookworm-backports when xtask runs as
/// root on Debian bookworm ([`install`]). If that is not possible or refused, an
/// older QEMU stays in use (the x2APIC scenarios are then skipped) and a missing one
/// is installed from the distribution as before; without root, a missing QEMU or OVMF
/// is an error that names the command to run.
pub fn ensure_installed(need_ovmf: bool) -> Result<QemuVersion> {
    let version = ensure_qemu()?;
    if need_ovmf && !Path::new(OVMF).is_file() {
        apt_install_or_explain(OVMF, OVMF_PACKAGE)?;
        if !Path::new(OVMF).is_file() {
            return Err(Error::new(format!(
                "{OVMF} still missing after installing {OVMF_PACKAGE}"
            )));
        }
    }
    Ok(version)
}

fn ensure_qemu() -> Result<QemuVersion> {
    if let Some(program) = std::env::var_os(QEMU_ENV) {
        let program = PathBuf::from(program);
        let version = version_of(&program)
            .map_err(|error| Error::new(format!("{QEMU_ENV}={}: {error}", program.display())))?;
        println!(
            "[xtask] QEMU {version} from {QEMU_ENV}={}",
            program.display()
        );
        return Ok(version);
    }
    let found = match process::find_in_path(QEMU) {
        Some(_) => Some(version_of(Path::new(QEMU))?),
        None => None,
    };
    if let Some(version) = found.filter(|&version| version >= X2APIC_TCG_MIN) {
        return Ok(version);
    }
    let have = found.map_or_else(|| "no QEMU".to_owned(), |v| format!("QEMU {v}"));
    let can_upgrade = is_root()?
        && process::find_in_path("apt-get").is_some()
        && install::this_codename().as_deref() == Some("bookworm");
    if can_upgrade {
        println!(
            "[xtask] found {have}; x2APIC under TCG needs QEMU >= {X2APIC_TCG_MIN}: \
             installing {} from {}",
            install::PACKAGE,
            install::SUITE
        );
        match install::from_backports() {
            Ok(()) => {
                let version = version_of(Path::new(QEMU))?;
                println!("[xtask] now using QEMU {version}");
                if version < X2APIC_TCG_MIN {
                    return Err(Error::new(format!(
                        "after installing {} from {}, `{QEMU} --version` says {version}",
                        install::PACKAGE,
                        install::SUITE
                    )));
                }
                return Ok(version);
            }
            Err(error) => println!(
                "[xtask] error: {error}; {}",
                if found.is_some() {
                    format!("keeping {have}")
                } else {
                    format!("installing the distribution's {QEMU_PACKAGE} instead")
                }
            ),
        }
    }
    let version = match found {
        Some(version) => version,
        None => {
            apt_install_or_explain(&format!("{QEMU} (in PATH)"), QEMU_PACKAGE)?;
            version_of(Path::new(QEMU))?
        }
    };
    if version < X2APIC_TCG_MIN {
        println!(
            "[xtask] QEMU {version} has no x2APIC under TCG (needs >= {X2APIC_TCG_MIN}): \
             the x2APIC boot scenarios are skipped{}",
            if can_upgrade {
                ""
            } else {
                " (as root on Debian bookworm, xtask installs QEMU from bookworm-backports)"
            }
        );
    }
    Ok(version)
}

/// Installs the distribution's `package` with apt-get when running as root (saying
/// so; `--no-remove`: apt aborts rather than remove a package the machine has);
/// otherwise fails naming `what` is missing and the command to run.
fn apt_install_or_explain(what: &str, package: &str) -> Result<()> {
    if !(is_root()? && process::find_in_path("apt-get").is_some()) {
        return Err(Error::new(format!(
            "{what} not found; install with: sudo apt-get install -y {package}"
        )));
    }
    println!("[xtask] {what} not found: installing {package} with apt-get");
    process::run(Command::new("apt-get").arg("update"))?;
    process::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-remove", package]),
    )
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
        process::display(&command_of(Path::new(QEMU), config))
    }

    #[test]
    fn x2apic_needs_qemu_9_under_tcg_only() {
        let old = QemuVersion::new(7, 2, 22);
        assert_eq!(
            lacks_x2apic(old, Accel::Tcg).as_deref(),
            Some("needs QEMU >= 9.0 for x2APIC under TCG, found 7.2.22")
        );
        assert_eq!(lacks_x2apic(old, Accel::Kvm), None);
        assert_eq!(lacks_x2apic(QemuVersion::new(9, 0, 0), Accel::Tcg), None);
        assert_eq!(lacks_x2apic(QemuVersion::new(10, 0, 3), Accel::Tcg), None);
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

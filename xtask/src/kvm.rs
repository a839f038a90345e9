//! Choosing the accelerator: KVM only when it demonstrably works, TCG otherwise.
//!
//! A `/dev/kvm` node is not proof of working KVM. On this project's build machines the
//! node exists but the CPU exposes no vmx/svm, and `-accel kvm` either aborts ("failed to
//! set MSR 0x10a") or hangs. So [`check`] requires three things, cheapest first:
//!
//! 1. `/dev/kvm` opens read-write;
//! 2. `/proc/cpuinfo` lists the `vmx` (Intel) or `svm` (AMD) flag;
//! 3. a probe guest runs under KVM: a 64 KiB "BIOS" whose reset vector writes the success
//!    code to the `isa-debug-exit` port, so a working QEMU+KVM exits with the success
//!    status in well under a second. A probe that has not exited after [`PROBE_TIMEOUT`] is killed and counts
//!    as a failure.

use std::fs::{self, OpenOptions};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Context, Error, Result};
use protocol::exit::{DEBUG_EXIT_PORT, ExitCode};

use crate::qemu;
use crate::runner;
use crate::toolchain;

/// How long the probe guest may take before we call KVM broken.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Size of the probe firmware: QEMU wants a multiple of 64 KiB.
const PROBE_BIOS_SIZE: usize = 64 * 1024;

/// The probe's code at the reset vector (physical 0xFFFFFFF0, the last 16 bytes of the
/// firmware): `mov al, 0x10; out 0xf4, al; hlt; jmp $-1` (the success code and the port
/// are `protocol::exit`'s; the byte after them, 0xf4, is `hlt`).
const PROBE_CODE: [u8; 7] = [
    0xb0,
    ExitCode::Success.value() as u8,
    0xe6,
    DEBUG_EXIT_PORT as u8,
    0xf4,
    0xeb,
    0xfd,
];

/// What the user asked for with `--kvm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KvmMode {
    /// Use KVM if it works, TCG otherwise.
    Auto,
    /// Require KVM; fail if it does not work.
    On,
    /// Always use TCG.
    Off,
}

/// The accelerator QEMU runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// QEMU's software emulation.
    Tcg,
    /// Hardware virtualization (`-accel kvm -cpu host`).
    Kvm,
}

/// Decides the accelerator for `mode`; `auto` says in one line when it falls back to TCG.
pub fn choose(mode: KvmMode) -> Result<Accel> {
    match mode {
        KvmMode::Off => Ok(Accel::Tcg),
        KvmMode::On => match check() {
            Ok(()) => Ok(Accel::Kvm),
            Err(why) => Err(Error::new(format!(
                "--kvm on: KVM does not work here: {why}"
            ))),
        },
        KvmMode::Auto => match check() {
            Ok(()) => Ok(Accel::Kvm),
            Err(why) => {
                println!("[xtask] using TCG (software emulation): KVM unusable: {why}");
                Ok(Accel::Tcg)
            }
        },
    }
}

/// Checks that KVM works; the error says why not.
pub fn check() -> Result<(), String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|error| format!("cannot open /dev/kvm read-write ({error})"))?;
    let cpuinfo = fs::read_to_string("/proc/cpuinfo")
        .map_err(|error| format!("cannot read /proc/cpuinfo ({error})"))?;
    if !cpu_has_virtualization(&cpuinfo) {
        return Err("the CPU has no vmx/svm flag in /proc/cpuinfo".to_owned());
    }
    probe().map_err(|error| format!("probe guest failed: {error}"))
}

/// True if any `flags` line of `/proc/cpuinfo` contains `vmx` or `svm`.
pub fn cpu_has_virtualization(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.trim() == "flags")
        .any(|(_, flags)| {
            flags
                .split_whitespace()
                .any(|flag| flag == "vmx" || flag == "svm")
        })
}

/// The probe firmware image: zeros, with [`PROBE_CODE`] at the reset vector.
pub fn probe_bios() -> Vec<u8> {
    let mut bios = vec![0u8; PROBE_BIOS_SIZE];
    let reset_vector = PROBE_BIOS_SIZE - 16;
    bios[reset_vector..reset_vector + PROBE_CODE.len()].copy_from_slice(&PROBE_CODE);
    bios
}

/// Runs the probe guest with `accel` (`kvm`, or `tcg` to test the probe itself).
pub fn run_probe(accel: &str) -> Result<()> {
    let path = write_probe_bios()?;
    let program = qemu::program();
    let mut command = Command::new(&program);
    command
        .args([
            "-accel",
            accel,
            "-machine",
            "pc",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args([
            "-no-reboot",
            "-m",
            "16M",
            "-device",
            qemu::debug_exit_device().as_str(),
            "-bios",
        ])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if accel == "kvm" {
        command.args(["-cpu", "host"]);
    }
    let mut child = command
        .spawn()
        .context(|| format!("cannot start {}", program.display()))?;
    let status = runner::wait_with_timeout(&mut child, Some(PROBE_TIMEOUT))?;
    match status.map(|status| status.code()) {
        Some(Some(status)) if status == ExitCode::Success.qemu_status() => Ok(()),
        Some(_) => Err(Error::new(format!(
            "QEMU exited with {} ({})",
            status.expect("matched Some"),
            first_stderr_line(&mut child)
        ))),
        None => Err(Error::new(format!(
            "QEMU hung for {} s and was killed",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

fn probe() -> Result<()> {
    run_probe("kvm")
}

/// Writes the probe firmware to `target/xtask/kvm-probe.bin`.
fn write_probe_bios() -> Result<PathBuf> {
    let dir = toolchain::target_dir().join("xtask");
    fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("kvm-probe.bin");
    fs::write(&path, probe_bios()).context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// QEMU's first error line, for the message (the probe's stderr is small).
fn first_stderr_line(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        // A failure to read only loses detail from the message.
        let _ = stderr.read_to_string(&mut text);
    }
    text.lines()
        .next()
        .map_or_else(|| "no error message".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_flags() {
        let intel = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse\n";
        let amd = "flags\t\t: fpu svm\n";
        let none = "processor\t: 0\nflags\t\t: fpu vme hypervisor\nvmx flags\t: ept\n";
        assert!(cpu_has_virtualization(intel));
        assert!(cpu_has_virtualization(amd));
        assert!(!cpu_has_virtualization(none));
        assert!(!cpu_has_virtualization(""));
    }

    #[test]
    fn probe_bios_has_code_at_reset_vector() {
        let bios = probe_bios();
        assert_eq!(bios.len() % (64 * 1024), 0);
        assert_eq!(&bios[0xfff0..0xfff7], &PROBE_CODE);
    }

    /// The probe guest itself works (under TCG, which every machine has).
    #[test]
    #[ignore = "needs qemu-system-x86_64; run with --ignored"]
    fn probe_guest_exits_with_success_under_tcg() {
        run_probe("tcg").unwrap();
    }
}

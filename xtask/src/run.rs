//! `cargo xtask run`: build, boot once, print the verdict.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

use crate::boot::{self, BootSpec};
use crate::error::{Error, Result};
use crate::image::{self, Firmware, Profile};
use crate::kvm::{self, KvmMode};
use crate::output;
use crate::qemu;
use crate::toolchain;

/// Extra host time allowed on top of `--duration` before the run counts as hung.
const DURATION_SLACK: Duration = Duration::from_secs(60);

/// Options of `cargo xtask run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Number of CPUs, up to the kernel's `MAX_CPUS` (help: [`smp_help`]).
    #[arg(
        long,
        default_value_t = 4,
        value_parser = clap::value_parser!(u16).range(1..=protocol::MAX_CPUS as i64),
        help = smp_help(),
    )]
    pub smp: u16,
    /// Run the workload this many seconds after boot, then stop (help: [`duration_help`]).
    #[arg(long, value_name = "SECS", help = duration_help())]
    pub duration: Option<Seconds>,
    /// Boot with UEFI (OVMF) instead of BIOS.
    #[arg(long)]
    pub uefi: bool,
    /// Hardware acceleration: `auto` uses KVM only if a probe shows that it works.
    #[arg(long, value_enum, default_value_t = KvmMode::Auto)]
    pub kvm: KvmMode,
    /// Start halted and wait for GDB on localhost:1234 (no timeout).
    #[arg(long, conflicts_with = "timeout")]
    pub gdb: bool,
    /// Build the kernel in release mode.
    #[arg(long)]
    pub release: bool,
    /// Kill QEMU after this many seconds [default: none; with --duration: duration + 60].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<Seconds>,
    /// Extra QEMU arguments, split on whitespace and appended last (e.g. "-m 1G").
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub qemu_args: Option<String>,
    /// Kernel arguments (key=value words, see docs/kernel-interface.md).
    #[arg(last = true, value_name = "KERNEL_ARGS")]
    pub kernel_args: Vec<String>,
}

/// `--smp`'s help, with the kernel's limit.
fn smp_help() -> String {
    format!(
        "Number of CPUs (up to the kernel's MAX_CPUS, {}; past 255 QEMU needs x2APIC: \
         `--qemu-args \"-machine q35,kernel-irqchip=split -device \
         intel-iommu,intremap=on,eim=on -cpu max,+x2apic\"`)",
        protocol::MAX_CPUS
    )
}

/// `--duration`'s help, naming the kernel argument it sets.
fn duration_help() -> String {
    let arg = image::kernel_arg(protocol::args::DURATION, "SECS");
    format!("Run the workload this many seconds after boot, then stop (kernel argument {arg})")
}

/// A number of seconds as the user wrote it: an integer or a decimal fraction (`0.5`).
///
/// The text is kept because it goes to the kernel verbatim (`duration=0.5`).
#[derive(Debug, Clone, PartialEq)]
pub struct Seconds {
    text: String,
    duration: Duration,
}

impl Seconds {
    /// The value as a [`Duration`].
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !(digits(whole) && digits(fraction)) {
            return Err(format!(
                "'{text}' is not a number of seconds (e.g. 2 or 0.5)"
            ));
        }
        let secs: f64 = text.parse().map_err(|_| format!("'{text}' is too large"))?;
        let duration = Duration::try_from_secs_f64(secs).map_err(|e| format!("'{text}': {e}"))?;
        Ok(Self {
            text: text.to_owned(),
            duration,
        })
    }
}

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl RunArgs {
    fn firmware(&self) -> Firmware {
        if self.uefi {
            Firmware::Uefi
        } else {
            Firmware::Bios
        }
    }

    /// `duration=SECS` (from `--duration`) followed by the user's kernel arguments.
    fn kernel_args(&self) -> Vec<String> {
        let duration = self
            .duration
            .iter()
            .map(|secs| image::kernel_arg(protocol::args::DURATION, &secs.to_string()));
        duration.chain(self.kernel_args.iter().cloned()).collect()
    }

    /// The host timeout: `--timeout`, else duration + slack, else none; never with GDB.
    fn host_timeout(&self) -> Result<Option<Duration>> {
        if self.gdb {
            return Ok(None);
        }
        match (&self.timeout, &self.duration) {
            (Some(timeout), _) if timeout.duration().is_zero() => {
                Err(Error::new("--timeout must be more than 0 seconds"))
            }
            (Some(timeout), _) => Ok(Some(timeout.duration())),
            (None, Some(duration)) => Ok(Some(duration.duration() + DURATION_SLACK)),
            (None, None) => Ok(None),
        }
    }

    fn extra_qemu_args(&self) -> Vec<String> {
        self.qemu_args
            .iter()
            .flat_map(|args| args.split_whitespace())
            .map(str::to_owned)
            .collect()
    }
}

/// Runs `cargo xtask run`; returns whether the verdict was success.
pub fn run(args: &RunArgs) -> Result<bool> {
    let firmware = args.firmware();
    let timeout = args.host_timeout()?;
    toolchain::ensure_installed()?;
    qemu::ensure_installed(firmware == Firmware::Uefi)?;
    let accel = kvm::choose(args.kvm)?;
    let profile = if args.release {
        Profile::Release
    } else {
        Profile::Debug
    };
    let artifacts = image::build(profile)?;
    if args.gdb {
        print_gdb_hint(&artifacts.kernel);
    }
    let spec = BootSpec {
        label: "run".to_owned(),
        firmware,
        smp: args.smp,
        kernel_args: args.kernel_args(),
        timeout,
        accel,
        gdb: args.gdb,
        extra_qemu_args: args.extra_qemu_args(),
        echo: true,
        serial_input: None,
        keyboard: true,
    };
    let report = boot::boot(&artifacts, &spec)?;
    println!("[xtask] verdict: {}", report.verdict);
    let success = report.verdict.is_success();
    if success {
        report.dir.remove()?;
    } else {
        println!(
            "[xtask] kept {} (disk image, ramdisk, serial.log); QEMU ran {} s",
            report.dir.path().display(),
            output::format_seconds(round_to_tenths(report.finished.elapsed))
        );
    }
    Ok(success)
}

fn print_gdb_hint(kernel: &Path) {
    println!(
        "[xtask] QEMU waits for GDB on localhost:1234; attach with: gdb {} -ex 'target remote :1234'",
        kernel.display()
    );
}

fn round_to_tenths(duration: Duration) -> Duration {
    Duration::from_millis(duration.as_millis() as u64 / 100 * 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|cli| cli.run)
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(
            "2".parse::<Seconds>().unwrap().duration(),
            Duration::from_secs(2)
        );
        assert_eq!(
            "0.5".parse::<Seconds>().unwrap().duration(),
            Duration::from_millis(500)
        );
        for bad in ["", "-1", "1e3", ".5", "5.", "inf", "1.2.3", " 1"] {
            assert!(
                bad.parse::<Seconds>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.smp, 4);
        assert_eq!(args.firmware(), Firmware::Bios);
        assert_eq!(args.kvm, KvmMode::Auto);
        assert_eq!(args.host_timeout().unwrap(), None);
        assert!(args.kernel_args().is_empty());
    }

    #[test]
    fn duration_becomes_kernel_arg_and_timeout() {
        let args = parse(&["--duration", "0.5", "--", "log=debug", "test=all"]).unwrap();
        assert_eq!(
            args.kernel_args(),
            ["duration=0.5", "log=debug", "test=all"]
        );
        assert_eq!(
            args.host_timeout().unwrap(),
            Some(Duration::from_millis(60_500))
        );
        let args = parse(&["--duration", "2", "--timeout", "5"]).unwrap();
        assert_eq!(args.host_timeout().unwrap(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn gdb_has_no_timeout() {
        let args = parse(&["--gdb", "--duration", "3"]).unwrap();
        assert_eq!(args.host_timeout().unwrap(), None);
        assert!(parse(&["--gdb", "--timeout", "3"]).is_err());
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(parse(&["--smp", "0"]).is_err());
        assert!(parse(&["--smp", "513"]).is_err());
        assert!(parse(&["--kvm", "maybe"]).is_err());
        assert!(parse(&["--duration", "abc"]).is_err());
        assert!(parse(&["--timeout", "0"]).unwrap().host_timeout().is_err());
    }

    #[test]
    fn qemu_args_split_on_whitespace() {
        let args = parse(&["--qemu-args", "-m 1G  -d int"]).unwrap();
        assert_eq!(args.extra_qemu_args(), ["-m", "1G", "-d", "int"]);
    }
}

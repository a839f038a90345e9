//! The boot scenarios of `cargo xtask test`: one row per boot, checked against a list of
//! expectations.
//!
//! To test a new behaviour, add a row to [`SCENARIOS`]; to change what a boot must show
//! (for example `cpus_online` once application processors come up), edit its row.

use std::time::Duration;

use crate::boot::BootReport;
use crate::image::Firmware;
use crate::output::{self, VerdictKind};

/// One boot and what it must show.
#[derive(Debug)]
pub struct Scenario {
    /// The check's name (`[test] PASS <name>`).
    pub name: &'static str,
    /// Number of CPUs.
    pub smp: u16,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// The kernel command line.
    pub kernel_args: &'static [&'static str],
    /// Host timeout in seconds.
    pub timeout_secs: u64,
    /// Everything that must hold; the first that does not is the failure reason.
    pub expect: &'static [Expect],
}

/// One expectation about a boot.
#[derive(Debug)]
pub enum Expect {
    /// The verdict has this kind (a `Failure` means QEMU exit status 35).
    Verdict(VerdictKind),
    /// The `[BOOT]` line says `mode=` with the scenario's firmware.
    BootMode,
    /// The `[STATS] total` line says `cpus_online` = the scenario's `smp`
    /// and at least this `uptime_ms`.
    Stats {
        /// Lower bound of `uptime_ms`.
        min_uptime_ms: u64,
    },
    /// Every CPU came up: `[SMP] AP#k online` for k in 1..smp, a `[STATS] cpu=k`
    /// line for k in 0..smp, and the IPI books balance (the sums of `ipi_sent`
    /// and `ipi_received` over all CPUs are equal).
    EveryCpuAccountedFor,
    /// Some line starts with `prefix` and contains every string of `contains`.
    Line {
        /// Required start of the line (may be empty).
        prefix: &'static str,
        /// Required substrings of the same line.
        contains: &'static [&'static str],
    },
    /// The whole check (image and boot) took less than this.
    Within(Duration),
}

/// A normal timed run: success, the right boot mode, every CPU online and
/// accounted for, plausible statistics.
const DURATION_RUN: &[Expect] = &[
    Expect::Verdict(VerdictKind::Success),
    Expect::BootMode,
    Expect::Stats {
        min_uptime_ms: 2000,
    },
    Expect::EveryCpuAccountedFor,
];

/// All boot scenarios, run in this order.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "boot-bios-smp1",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &["duration=2"],
        timeout_secs: 60,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-bios-smp2",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &["duration=2"],
        timeout_secs: 60,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-bios-smp4",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &["duration=2"],
        timeout_secs: 60,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-bios-smp8",
        smp: 8,
        firmware: Firmware::Bios,
        kernel_args: &["duration=2"],
        timeout_secs: 90,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "smp-serial-bring-up",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &["duration=2", "smp_boot=serial"],
        timeout_secs: 60,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "smp-fake-ap-times-out",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &["duration=2", "smp_fake_ap=200"],
        timeout_secs: 60,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::Stats {
                min_uptime_ms: 2000,
            },
            Expect::EveryCpuAccountedFor,
            Expect::Line {
                prefix: "[SMP] WARN AP#4 (apic_id=200) failed to start at stage 0",
                contains: &[],
            },
        ],
    },
    Scenario {
        name: "smp-fake-ap-kernel-test",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            "smp_fake_ap=200",
            "test=smp::tests::fake_ap_timed_out_and_boot_went_on",
        ],
        timeout_secs: 60,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::Line {
                prefix: "[KTEST] pass name=",
                contains: &["fake_ap_timed_out_and_boot_went_on"],
            },
        ],
    },
    Scenario {
        name: "boot-uefi-smp1",
        smp: 1,
        firmware: Firmware::Uefi,
        kernel_args: &["duration=2"],
        timeout_secs: 60,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-uefi-smp4",
        smp: 4,
        firmware: Firmware::Uefi,
        kernel_args: &["duration=2"],
        timeout_secs: 60,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "args-unknown-key-warns",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &["bogus=1", "duration=0.5"],
        timeout_secs: 60,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::Line {
                prefix: "",
                contains: &["unknown kernel argument 'bogus=1'", "valid keys"],
            },
        ],
    },
    Scenario {
        name: "fail-detect-panic",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &["test=harness::deliberate_panic"],
        timeout_secs: 60,
        expect: &[
            Expect::Verdict(VerdictKind::Failure),
            Expect::Line {
                prefix: "[PANIC] cpu=0 ",
                contains: &[],
            },
        ],
    },
    Scenario {
        name: "fail-detect-page-fault",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &["test=harness::unexpected_page_fault"],
        timeout_secs: 60,
        expect: &[
            Expect::Verdict(VerdictKind::Failure),
            Expect::Line {
                prefix: "[EXCEPTION] cpu=0 vector=14 name=#PF",
                contains: &["cr2="],
            },
        ],
    },
    Scenario {
        name: "fail-detect-double-fault",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &["test=harness::stack_overflow"],
        timeout_secs: 60,
        expect: &[
            Expect::Verdict(VerdictKind::Failure),
            Expect::Line {
                prefix: "[EXCEPTION] cpu=0 vector=8 name=#DF",
                contains: &[],
            },
        ],
    },
    Scenario {
        name: "fail-detect-timeout",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[],
        timeout_secs: 5,
        expect: &[
            Expect::Verdict(VerdictKind::Timeout),
            Expect::Within(Duration::from_secs(20)),
        ],
    },
];

impl Scenario {
    /// Checks every expectation against a finished boot that took `elapsed` in total.
    pub fn check(&self, report: &BootReport, elapsed: Duration) -> Result<(), String> {
        self.expect
            .iter()
            .try_for_each(|expect| self.check_one(expect, report, elapsed))
    }

    fn check_one(
        &self,
        expect: &Expect,
        report: &BootReport,
        elapsed: Duration,
    ) -> Result<(), String> {
        let lines = &report.finished.serial;
        match expect {
            Expect::Verdict(kind) => check_verdict(*kind, report),
            Expect::BootMode => check_boot_mode(self.firmware, lines),
            Expect::Stats { min_uptime_ms } => {
                check_stats(u64::from(self.smp), *min_uptime_ms, lines)
            }
            Expect::EveryCpuAccountedFor => check_every_cpu(self.smp, lines),
            Expect::Line { prefix, contains } => check_line(prefix, contains, lines),
            Expect::Within(limit) if elapsed < *limit => Ok(()),
            Expect::Within(limit) => Err(format!(
                "took {:.1} s, limit {} s",
                elapsed.as_secs_f64(),
                limit.as_secs()
            )),
        }
    }
}

fn check_verdict(kind: VerdictKind, report: &BootReport) -> Result<(), String> {
    if report.verdict.kind == kind {
        Ok(())
    } else {
        Err(format!(
            "expected verdict {kind:?}, got {:?} ({})",
            report.verdict.kind, report.verdict
        ))
    }
}

fn check_boot_mode(firmware: Firmware, lines: &[String]) -> Result<(), String> {
    let boot = output::parse_boot_line(lines).ok_or("no [BOOT] line with mode=")?;
    if boot.mode == firmware.name() {
        Ok(())
    } else {
        Err(format!(
            "[BOOT] says mode={}, expected mode={}",
            boot.mode,
            firmware.name()
        ))
    }
}

fn check_every_cpu(smp: u16, lines: &[String]) -> Result<(), String> {
    for ap in 1..smp {
        let online = format!("[SMP] AP#{ap} online");
        if !lines.iter().any(|line| line.trim_end() == online) {
            return Err(format!("no '{online}' line"));
        }
    }
    let stats = output::parse_stats(lines);
    let (mut sent, mut received) = (0, 0);
    for cpu in 0..u32::from(smp) {
        let fields = stats
            .per_cpu
            .get(&cpu)
            .ok_or_else(|| format!("no [STATS] cpu={cpu} line"))?;
        sent += output::get_u64(fields, "ipi_sent")?;
        received += output::get_u64(fields, "ipi_received")?;
    }
    if sent != received {
        return Err(format!(
            "IPI books do not balance: sum ipi_sent={sent}, sum ipi_received={received}"
        ));
    }
    Ok(())
}

fn check_stats(cpus_online: u64, min_uptime_ms: u64, lines: &[String]) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    let total = stats.total.ok_or("no [STATS] total line")?;
    let online = output::get_u64(&total, "cpus_online")?;
    if online != cpus_online {
        return Err(format!(
            "[STATS] total cpus_online={online}, expected {cpus_online}"
        ));
    }
    let uptime = output::get_u64(&total, "uptime_ms")?;
    if uptime < min_uptime_ms {
        return Err(format!(
            "[STATS] total uptime_ms={uptime}, expected at least {min_uptime_ms}"
        ));
    }
    Ok(())
}

fn check_line(prefix: &str, contains: &[&str], lines: &[String]) -> Result<(), String> {
    let found = lines
        .iter()
        .any(|line| line.starts_with(prefix) && contains.iter().all(|part| line.contains(part)));
    if found {
        Ok(())
    } else {
        Err(format!(
            "no line starting with {prefix:?} and containing {contains:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn scenario_names_are_unique() {
        let names: HashSet<_> = SCENARIOS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SCENARIOS.len());
    }

    #[test]
    fn line_expectation() {
        let lines = vec![
            "[BOOT] WARN unknown kernel argument 'bogus=1' (valid keys: log)".to_owned(),
            "[EXCEPTION] cpu=0 vector=14 name=#PF error=0x0 rip=0x1 cr2=0x0".to_owned(),
        ];
        assert!(check_line("", &["'bogus=1'", "valid keys"], &lines).is_ok());
        assert!(check_line("[EXCEPTION] cpu=0 vector=14 name=#PF", &["cr2="], &lines).is_ok());
        assert!(check_line("[EXCEPTION] cpu=0 vector=8", &[], &lines).is_err());
    }

    #[test]
    fn stats_expectation() {
        let lines = vec!["[STATS] total cpus_online=1 uptime_ms=2001".to_owned()];
        assert!(check_stats(1, 2000, &lines).is_ok());
        assert!(
            check_stats(4, 2000, &lines)
                .unwrap_err()
                .contains("cpus_online=1")
        );
        assert!(
            check_stats(1, 3000, &lines)
                .unwrap_err()
                .contains("uptime_ms")
        );
        assert!(check_stats(1, 0, &[]).is_err());
    }

    #[test]
    fn boot_mode_expectation() {
        let lines = vec!["[BOOT] kernel v0.1.0 mode=uefi".to_owned()];
        assert!(check_boot_mode(Firmware::Uefi, &lines).is_ok());
        assert!(check_boot_mode(Firmware::Bios, &lines).is_err());
    }
}

//! `cargo xtask test`: every check of the project in one command.
//!
//! The checks run in tiers, cheapest first:
//!
//! 1. **lint**: rustfmt and clippy (`-D warnings`) for the host crates, the kernel and
//!    the user programs (`user/`, a workspace of its own);
//! 2. **host tests**: `cargo test` of the host crates (their doctests included) and of the
//!    kernel's library (`--lib`, and `--doc` for its doctests); each libtest test counts;
//! 3. **in-kernel tests**: one boot with `test=all`; each `[KTEST] pass`/`fail` counts,
//!    and so does the harness run itself (`kernel-tests`: it must finish and report
//!    consistently);
//! 4. **boot scenarios**: one boot per row of [`SCENARIOS`]; with `--scale`, also the
//!    rows of [`SCALE_SCENARIOS`] (16 to 255 CPUs, and 264 with x2APIC; minutes under TCG, not in CI).
//!
//! Each check prints `[test] PASS <name>` or `[test] FAIL <name>: <why>` (followed by
//! the tail of its output), or `[test] SKIP <name>: <why>` for a boot this QEMU cannot
//! run (an x2APIC scenario on a QEMU without x2APIC under TCG, see
//! `qemu::lacks_x2apic`); skips are listed again before the last line,
//! `N passed, M failed, K skipped`. Boots run one after another (the build machines
//! have two cores); the kernel and the image builder are built once, before the first
//! boot.

use std::process::Output;
use std::time::{Duration, Instant};

use clap::Args;
use protocol::args;

use crate::boot::{self, BootReport, BootSpec};
use crate::error::{Error, Result};
use crate::image::{self, Artifacts, Firmware, Profile};
use crate::kvm::{self, Accel, KvmMode};
use crate::output::{self, KtestReport, VerdictKind};
use crate::process;
use crate::qemu;
use crate::scenarios::{KernelArg, SCALE_SCENARIOS, SCENARIOS, Scenario};
use crate::toolchain::{self, KERNEL_TARGET};

/// How many lines of a failed check's output are shown.
const TAIL_LINES: usize = 40;

/// Host timeout of the in-kernel test boot.
const KERNEL_TESTS_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Run only the checks whose names contain this text.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// List the checks (after --filter) instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Also run the scale tier: boots with 16, 32, 128 and 255 CPUs, and 264
    /// with x2APIC (slow under TCG: minutes, not part of CI).
    #[arg(long)]
    pub scale: bool,
}

/// One check of the test run.
#[derive(Debug)]
enum Check {
    /// A cargo command that must succeed; counts as one test.
    Lint {
        name: &'static str,
        args: &'static [&'static str],
        /// Where cargo runs, relative to the workspace root (`""`: the root).
        dir: &'static str,
        /// The failure reason (the output's tail follows it).
        problem: &'static str,
    },
    /// A `cargo test` command; every libtest test counts.
    HostTests {
        name: &'static str,
        args: &'static [&'static str],
        /// Extra environment for the command (e.g. `RUSTFLAGS=--cfg loom`).
        env: &'static [(&'static str, &'static str)],
    },
    /// The in-kernel test harness (`test=all`).
    KernelTests,
    /// A boot scenario.
    Boot(&'static Scenario),
}

/// Name of the in-kernel tests check.
const KERNEL_TESTS: &str = "kernel-tests";
/// CPUs for the in-kernel test boot: several, so that the SMP tests (IPIs in
/// both directions, a lock hammered by every CPU) have something to prove.
const KERNEL_TESTS_SMP: u16 = 4;

/// All checks in order.
fn all_checks(scale: bool) -> Vec<Check> {
    let mut checks = vec![
        Check::Lint {
            name: "lint-fmt",
            // `-l`: list the files that need formatting instead of printing every diff.
            args: &["fmt", "--all", "--check", "--", "-l"],
            dir: "",
            problem: "these files need `cargo fmt --all`",
        },
        Check::Lint {
            name: "lint-fmt-user",
            // The user programs are a workspace of their own (ADR 0006).
            args: &["fmt", "--all", "--check", "--", "-l"],
            dir: "user",
            problem: "these user files need `cargo fmt --all` (in user/)",
        },
        Check::Lint {
            name: "lint-clippy-host",
            args: &[
                "clippy",
                "-p",
                "ksync",
                "-p",
                "executor",
                "-p",
                "ipc",
                "-p",
                "drivers",
                "-p",
                "protocol",
                "-p",
                "xtask",
                "-p",
                "image-builder",
                "-p",
                "bench",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            dir: "",
            problem: "clippy found problems in the host crates",
        },
        Check::Lint {
            name: "lint-clippy-kernel",
            args: &[
                "clippy",
                "-p",
                "kernel",
                "--target",
                KERNEL_TARGET,
                "--",
                "-D",
                "warnings",
            ],
            dir: "",
            problem: "clippy found problems in the kernel",
        },
        Check::Lint {
            name: "lint-clippy-kernel-lib-tests",
            // The kernel's library and its host tests (the binary cannot build for the host).
            args: &[
                "clippy", "-p", "kernel", "--lib", "--tests", "--", "-D", "warnings",
            ],
            dir: "",
            problem: "clippy found problems in the kernel library's host tests",
        },
        Check::Lint {
            name: "lint-clippy-user",
            // In user/: its .cargo/config.toml sets x86_64-unknown-none and
            // the link options; the target dir image::build builds them into.
            args: &[
                "clippy",
                "--release",
                "--target-dir",
                "../target/user",
                "--",
                "-D",
                "warnings",
            ],
            dir: "user",
            problem: "clippy found problems in the user programs",
        },
        Check::HostTests {
            name: "host-tests",
            args: &[
                "test", "-p", "ksync", "-p", "executor", "-p", "ipc", "-p", "drivers", "-p",
                "protocol", "-p", "xtask", "-p", "bench",
            ],
            env: &[],
        },
        Check::HostTests {
            name: "host-tests-kernel-lib",
            args: &["test", "-p", "kernel", "--lib"],
            env: &[],
        },
        Check::HostTests {
            name: "loom-models-locks",
            // Model-checks ksync's spin lock and raw lock under every
            // interleaving loom explores with up to LOOM_MAX_PREEMPTIONS
            // preemptions. Release mode and its own target dir: loom is slow
            // unoptimised, and `--cfg loom` would otherwise invalidate the
            // normal build.
            args: &[
                "test",
                "-p",
                "ksync",
                "--lib",
                "--release",
                "--target-dir",
                "target/loom",
                "loom_models",
            ],
            env: &[("RUSTFLAGS", "--cfg loom"), ("LOOM_MAX_PREEMPTIONS", "2")],
        },
        Check::HostTests {
            name: "loom-models-executor",
            // The executor's protocols: task state word, join hand-over, abort
            // and orphans, the idle protocol over several sleep episodes with
            // an x86-like interrupt model, the IPI latch, steal and migrate,
            // the timers, and the sync primitives. Three preemptions (the
            // executor-v2 issue's bar); about a minute and a half here.
            args: &[
                "test",
                "-p",
                "executor",
                "--lib",
                "--release",
                "--target-dir",
                "target/loom",
                "loom",
            ],
            env: &[("RUSTFLAGS", "--cfg loom"), ("LOOM_MAX_PREEMPTIONS", "3")],
        },
        Check::HostTests {
            name: "loom-models-ipc",
            // The IPC layer over the real channel, lock and wait-queue code:
            // send vs. receive vs. close, a full port's waiting sender,
            // register vs. lookup, a call whose reply right is dropped.
            // Three preemptions; a few seconds.
            args: &[
                "test",
                "-p",
                "ipc",
                "--lib",
                "--release",
                "--target-dir",
                "target/loom",
            ],
            env: &[("RUSTFLAGS", "--cfg loom"), ("LOOM_MAX_PREEMPTIONS", "3")],
        },
        Check::KernelTests,
    ];
    checks.extend(SCENARIOS.iter().map(Check::Boot));
    if scale {
        checks.extend(SCALE_SCENARIOS.iter().map(Check::Boot));
    }
    checks
}

impl Check {
    fn name(&self) -> &'static str {
        match self {
            Check::Lint { name, .. } | Check::HostTests { name, .. } => name,
            Check::KernelTests => KERNEL_TESTS,
            Check::Boot(scenario) => scenario.name,
        }
    }

    fn needs_boot(&self) -> bool {
        matches!(self, Check::KernelTests | Check::Boot(_))
    }

    fn needs_ovmf(&self) -> bool {
        matches!(self, Check::Boot(scenario) if scenario.firmware == Firmware::Uefi)
    }
}

/// Passed, failed and skipped test counts.
#[derive(Debug, Default, Clone)]
struct Tally {
    passed: u64,
    failed: u64,
    /// The skipped checks with the reason, for the summary.
    skipped: Vec<(String, String)>,
}

impl Tally {
    fn pass(&mut self, name: &str, note: &str) {
        self.passed += 1;
        println!("[test] PASS {name}{note}");
    }

    fn fail(&mut self, name: &str, why: &str) {
        self.failed += 1;
        println!("[test] FAIL {name}: {why}");
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.skipped.push((name.to_owned(), why.to_owned()));
        println!("[test] SKIP {name}: {why}");
    }

    /// The last lines: every skipped check again, then the counts.
    fn summary(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .skipped
            .iter()
            .map(|(name, why)| format!("[test] skipped {name}: {why}"))
            .collect();
        lines.push(format!(
            "{} passed, {} failed, {} skipped",
            self.passed,
            self.failed,
            self.skipped.len()
        ));
        lines
    }
}

/// State shared by the checks of one test run.
#[derive(Default)]
struct Session {
    tally: Tally,
    /// Built before the first boot; an error message if the build failed.
    artifacts: Option<Result<Artifacts, String>>,
    accel: Option<Accel>,
    /// The QEMU version, known when some check boots.
    qemu: Option<qemu::QemuVersion>,
}

/// Runs `cargo xtask test`; returns whether every check passed.
pub fn run(args: &TestArgs) -> Result<bool> {
    let checks: Vec<Check> = all_checks(args.scale)
        .into_iter()
        .filter(|check| matches_filter(check.name(), args.filter.as_deref()))
        .collect();
    if checks.is_empty() {
        return Err(Error::new(format!(
            "no check matches --filter {:?}; see `cargo xtask test --list`",
            args.filter.as_deref().unwrap_or_default()
        )));
    }
    if args.list {
        checks.iter().for_each(|check| println!("{}", check.name()));
        return Ok(true);
    }
    toolchain::ensure_installed()?;
    let mut session = Session::default();
    if checks.iter().any(Check::needs_boot) {
        session.qemu = Some(qemu::ensure_installed(
            checks.iter().any(Check::needs_ovmf),
        )?);
    }
    for check in &checks {
        println!("[test] RUN  {}", check.name());
        session.run(check)?;
    }
    session
        .tally
        .summary()
        .iter()
        .for_each(|line| println!("{line}"));
    Ok(session.tally.failed == 0)
}

fn matches_filter(name: &str, filter: Option<&str>) -> bool {
    filter.is_none_or(|filter| name.contains(filter))
}

impl Session {
    fn run(&mut self, check: &Check) -> Result<()> {
        match check {
            Check::Lint {
                name,
                args,
                dir,
                problem,
            } => self.lint(name, args, dir, problem),
            Check::HostTests { name, args, env } => self.host_tests(name, args, env),
            Check::KernelTests => self.kernel_tests(),
            Check::Boot(scenario) => self.scenario(scenario),
        }
    }

    /// Tier 1: a cargo command that must succeed.
    fn lint(&mut self, name: &str, args: &[&str], dir: &str, problem: &str) -> Result<()> {
        let mut command = toolchain::cargo(args);
        command.current_dir(toolchain::workspace_root().join(dir));
        let output = process::capture(&mut command)?;
        if output.status.success() {
            self.tally.pass(name, "");
        } else {
            self.tally.fail(name, problem);
            print_tail(&combined_output(&output));
        }
        Ok(())
    }

    /// Tier 2: `cargo test`; each test counts, and a failed cargo run counts even when no
    /// test failed (a compile error, a crashed test binary).
    fn host_tests(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
        let mut command = toolchain::cargo(args);
        command.envs(env.iter().copied());
        let output = process::capture(&mut command)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let (passed, failed, summaries) = output::sum_cargo_test_results(&stdout);
        self.tally.passed += passed;
        self.tally.failed += failed;
        let counts = format!(" ({passed} passed, {failed} failed in {summaries} test binaries)");
        if output.status.success() && failed == 0 {
            println!("[test] PASS {name}{counts}");
            return Ok(());
        }
        if failed > 0 {
            println!("[test] FAIL {name}{counts}");
        } else {
            self.tally
                .fail(name, &format!("cargo {} failed{counts}", args.join(" ")));
        }
        print_tail(&combined_output(&output));
        Ok(())
    }

    /// Tier 3: the in-kernel tests.
    fn kernel_tests(&mut self) -> Result<()> {
        let spec = self.boot_spec(
            KERNEL_TESTS,
            KERNEL_TESTS_SMP,
            Firmware::Bios,
            &[(args::TEST, args::test::ALL)],
            KERNEL_TESTS_TIMEOUT,
        )?;
        let Some(report) = self.boot(&spec) else {
            return Ok(());
        };
        let ktests = KtestReport::from_lines(&report.finished.serial);
        for name in &ktests.passed {
            self.tally.pass(&format!("kernel::{name}"), "");
        }
        for (name, reason) in &ktests.failed {
            self.tally.fail(&format!("kernel::{name}"), reason);
        }
        match harness_problem(&ktests, &report) {
            None => {
                self.tally.pass(KERNEL_TESTS, "");
                report.dir.remove()?;
            }
            Some(problem) => {
                self.tally.fail(KERNEL_TESTS, &problem);
                print_boot_details(&report);
            }
        }
        Ok(())
    }

    /// Tier 4: one boot scenario (skipped if this QEMU cannot run it).
    fn scenario(&mut self, scenario: &Scenario) -> Result<()> {
        if scenario.x2apic {
            let version = self.qemu.expect("QEMU is checked before any boot");
            if let Some(why) = qemu::lacks_x2apic(version, self.accel()?) {
                self.tally.skip(scenario.name, &why);
                return Ok(());
            }
        }
        let started = Instant::now();
        let mut spec = self.boot_spec(
            scenario.name,
            scenario.smp,
            scenario.firmware,
            scenario.kernel_args,
            Duration::from_secs(scenario.timeout_secs),
        )?;
        spec.extra_qemu_args = scenario.qemu_args.iter().map(|a| a.to_string()).collect();
        spec.serial_input = scenario.serial_input();
        let Some(report) = self.boot(&spec) else {
            return Ok(());
        };
        match scenario.check(&report, started.elapsed()) {
            Ok(()) => {
                self.tally.pass(scenario.name, "");
                report.dir.remove()?;
            }
            Err(why) => {
                self.tally.fail(scenario.name, &why);
                print_boot_details(&report);
            }
        }
        Ok(())
    }

    fn boot_spec(
        &mut self,
        label: &str,
        smp: u16,
        firmware: Firmware,
        kernel_args: &[KernelArg],
        timeout: Duration,
    ) -> Result<BootSpec> {
        Ok(BootSpec {
            label: label.to_owned(),
            firmware,
            smp,
            kernel_args: kernel_args
                .iter()
                .map(|(key, value)| image::kernel_arg(key, value))
                .collect(),
            timeout: Some(timeout),
            accel: self.accel()?,
            gdb: false,
            extra_qemu_args: Vec::new(),
            echo: false,
            serial_input: None,
            keyboard: false,
        })
    }

    /// Boots `spec`. If that is impossible (the kernel did not build, the image could
    /// not be made, QEMU did not start), records the check as failed and returns `None`.
    fn boot(&mut self, spec: &BootSpec) -> Option<BootReport> {
        let booted = self
            .artifacts()
            .and_then(|artifacts| boot::boot(&artifacts, spec).map_err(|e| e.to_string()));
        match booted {
            Ok(report) => Some(report),
            Err(why) => {
                self.tally.fail(&spec.label, &why);
                None
            }
        }
    }

    /// The kernel and image builder, built on first use.
    fn artifacts(&mut self) -> Result<Artifacts, String> {
        self.artifacts
            .get_or_insert_with(|| {
                image::build(Profile::Debug).map_err(|error| format!("build failed: {error}"))
            })
            .clone()
    }

    /// The accelerator, decided on first use.
    fn accel(&mut self) -> Result<Accel> {
        if self.accel.is_none() {
            self.accel = Some(kvm::choose(KvmMode::Auto)?);
        }
        Ok(self.accel.expect("just set"))
    }
}

/// Why the in-kernel test run as a whole is not sound, if it is not: the harness must
/// finish and report consistently, and the run must succeed, or fail only because tests
/// failed.
fn harness_problem(ktests: &KtestReport, report: &BootReport) -> Option<String> {
    if let Err(problem) = ktests.check_complete() {
        return Some(format!("{problem} (verdict: {})", report.verdict));
    }
    let explained_failure =
        report.verdict.kind == VerdictKind::Failure && !ktests.failed.is_empty();
    if report.verdict.is_success() || explained_failure {
        None
    } else {
        Some(format!("verdict {}", report.verdict))
    }
}

/// A cargo command's stdout and stderr as clean lines, without cargo's progress lines
/// (`Compiling ...`), which would push the interesting part out of the tail.
fn combined_output(output: &Output) -> Vec<String> {
    [&output.stdout, &output.stderr]
        .into_iter()
        .flat_map(|bytes| bytes.split(|&byte| byte == b'\n'))
        .map(output::clean_line)
        .filter(|line| !is_cargo_progress(line))
        .collect()
}

/// True for cargo's status lines: a capitalized verb, right-aligned to column 12.
fn is_cargo_progress(line: &str) -> bool {
    const VERBS: [&str; 10] = [
        "Compiling",
        "Checking",
        "Finished",
        "Running",
        "Blocking",
        "Fresh",
        "Locking",
        "Updating",
        "Downloading",
        "Downloaded",
    ];
    let trimmed = line.trim_start();
    line.len() - trimmed.len() < 12
        && VERBS.iter().any(|verb| {
            trimmed
                .strip_prefix(verb)
                .is_some_and(|rest| rest.starts_with(' '))
        })
}

/// Prints the last [`TAIL_LINES`] lines, indented.
fn print_tail(lines: &[String]) {
    let end = lines
        .iter()
        .rposition(|line| !line.trim().is_empty())
        .map_or(0, |last| last + 1);
    let lines = &lines[..end];
    let start = lines.len().saturating_sub(TAIL_LINES);
    if start > 0 {
        println!("    | ... ({start} lines omitted)");
    }
    for line in &lines[start..] {
        println!("    | {line}");
    }
}

/// What a failed boot check shows: verdict, command, the output's tail, the kept files.
fn print_boot_details(report: &BootReport) {
    println!("    verdict: {}", report.verdict);
    println!("    qemu:    {}", report.command_line);
    println!(
        "    kept:    {} (disk image, ramdisk, serial.log)",
        report.dir.path().display()
    );
    print_tail(&report.finished.serial);
    if !report.finished.stderr.is_empty() {
        println!("    QEMU stderr:");
        print_tail(&report.finished.stderr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn check_names_are_unique() {
        let checks = all_checks(true);
        let names: HashSet<_> = checks.iter().map(Check::name).collect();
        assert_eq!(names.len(), checks.len());
    }

    /// The `-p` arguments of the check called `name`.
    fn packages_of(checks: &[Check], name: &str) -> Vec<&'static str> {
        let args = checks
            .iter()
            .find_map(|check| match check {
                Check::Lint { name: n, args, .. } | Check::HostTests { name: n, args, .. }
                    if *n == name =>
                {
                    Some(*args)
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no check called {name}"));
        args.windows(2)
            .filter(|pair| pair[0] == "-p")
            .map(|pair| pair[1])
            .collect()
    }

    /// Every host crate of the workspace (its `default-members`) is linted
    /// and tested, so a new crate cannot be left out of `cargo xtask test`.
    #[test]
    fn every_host_crate_is_linted_and_tested() {
        let manifest = include_str!("../../Cargo.toml");
        let line = manifest
            .lines()
            .find(|line| line.starts_with("default-members"))
            .expect("the root manifest lists default-members");
        let members: Vec<&str> = line
            .split('"')
            .skip(1)
            .step_by(2)
            .map(|path| path.rsplit('/').next().unwrap_or(path))
            .collect();
        assert!(members.contains(&"ipc"), "{members:?}");
        let checks = all_checks(false);
        for check in ["lint-clippy-host", "host-tests"] {
            let packages = packages_of(&checks, check);
            for member in &members {
                assert!(packages.contains(member), "{check} leaves out {member}");
            }
        }
        assert_eq!(packages_of(&checks, "loom-models-ipc"), ["ipc"]);
    }

    #[test]
    fn cargo_progress_lines_are_recognized() {
        assert!(is_cargo_progress(
            "   Compiling kernel v0.1.0 (/work/main/kernel)"
        ));
        assert!(is_cargo_progress(
            "    Finished `dev` profile [optimized] target(s) in 1s"
        ));
        assert!(!is_cargo_progress(
            "error: unsafe block missing a safety comment"
        ));
        assert!(!is_cargo_progress("test foo ... ok"));
    }

    #[test]
    fn skips_are_counted_and_listed() {
        let mut tally = Tally::default();
        tally.pass("a", "");
        tally.skip("boot-x2apic-smp4", "needs QEMU >= 9.0, found 7.2.22");
        assert_eq!(
            tally.summary(),
            [
                "[test] skipped boot-x2apic-smp4: needs QEMU >= 9.0, found 7.2.22",
                "1 passed, 0 failed, 1 skipped",
            ]
        );
    }

    #[test]
    fn filter_is_a_substring() {
        assert!(matches_filter("boot-uefi-smp4", None));
        assert!(matches_filter("boot-uefi-smp4", Some("uefi")));
        assert!(!matches_filter("lint-fmt", Some("uefi")));
    }
}

//! Parsing what the kernel prints and deciding the verdict of a run.
//!
//! Everything `cargo xtask` learns about a boot comes from two sources: QEMU's exit
//! status and the lines the kernel writes to COM1. Both are specified in
//! `docs/kernel-interface.md` and written down once, in the `protocol` crate, whose line
//! types the kernel prints and whose `parse` functions this module calls; no tag, key
//! name or exit code is spelled out here.
//!
//! The module is pure: it works on strings and exit codes, never on processes, so every
//! rule is tested on the host with `cargo test -p xtask`.
//!
//! # Robustness
//!
//! Serial output is not only ours. OVMF writes ANSI escape sequences, carriage returns
//! and its own `BdsDxe` lines to the same port. [`LineSplitter`] therefore treats both
//! `\n` and `\r` as line ends and [`clean_line`] drops escape sequences and control
//! characters. After that, a kernel line is one that *starts* with its tag (`[BOOT] `,
//! `[KTEST] `, ...); parsers ignore every other line and report malformed tagged lines
//! instead of guessing.

use std::fmt;
use std::time::Duration;

use protocol::exit::{ExitCode, QEMU_STATUS_RESET};
use protocol::fatal::{Exception, Panic};
use protocol::ktest::Ktest;
use protocol::sched::Bench;
use protocol::stats::{StatsCpu, StatsLine, StatsReader, StatsTotal};
use protocol::text::ParseError;

// ---------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------

/// Splits a byte stream into lines at `\n` and `\r`, without the terminators.
///
/// Bytes arrive in arbitrary chunks (a pipe read may end mid-line); the splitter keeps
/// the unfinished tail until the next chunk or [`LineSplitter::finish`].
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds `bytes` and returns the cleaned lines they complete. Empty lines are dropped
    /// (a `\r\n` pair would otherwise produce one).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &byte in bytes {
            if byte == b'\n' || byte == b'\r' {
                self.take_pending(&mut lines);
            } else {
                self.pending.push(byte);
            }
        }
        lines
    }

    /// Returns the last, unterminated line, if any.
    pub fn finish(&mut self) -> Option<String> {
        let mut lines = Vec::new();
        self.take_pending(&mut lines);
        lines.pop()
    }

    fn take_pending(&mut self, lines: &mut Vec<String>) {
        let line = clean_line(&self.pending);
        self.pending.clear();
        if !line.is_empty() {
            lines.push(line);
        }
    }
}

/// Turns raw serial bytes of one line into text: invalid UTF-8 is replaced, ANSI escape
/// sequences and control characters (except tab) are removed, trailing blanks trimmed.
pub fn clean_line(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape_sequence(&mut chars),
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    // The kernel monitor's prompt has no line end: whatever is printed after
    // it shares its line. It is no part of any line the host reads.
    let mut line = out.trim_end();
    while let Some(rest) = line.strip_prefix(protocol::monitor::PROMPT) {
        line = rest;
    }
    line.to_owned()
}

/// Skips the rest of an escape sequence whose `ESC` was just read.
///
/// CSI sequences (`ESC [ params final`) end at a byte in `@`..=`~`; every other escape
/// is `ESC` plus one character (for example `ESC c`, reset).
fn skip_escape_sequence(chars: &mut std::str::Chars<'_>) {
    if chars.next() == Some('[') {
        for c in chars.by_ref() {
            if ('@'..='~').contains(&c) {
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Protocol lines
// ---------------------------------------------------------------------------------------

/// Every line of one kind (`parse` is a `protocol` line type's): the values of those
/// that follow the contract, and a description of each that does not.
pub fn all<'a, T>(
    lines: &'a [String],
    parse: impl Fn(&'a str) -> Option<Result<T, ParseError>>,
) -> (Vec<T>, Vec<String>) {
    let mut found = Vec::new();
    let mut malformed = Vec::new();
    for line in lines {
        match parse(line) {
            Some(Ok(value)) => found.push(value),
            Some(Err(why)) => malformed.push(format!("{why}: {line}")),
            None => {}
        }
    }
    (found, malformed)
}

/// The first line of one kind: `None` if there is none, `Some(Err(..))` naming the
/// problem if it does not follow the contract.
pub fn first<'a, T>(
    lines: &'a [String],
    parse: impl Fn(&'a str) -> Option<Result<T, ParseError>>,
) -> Option<Result<T, String>> {
    lines
        .iter()
        .find_map(|line| parse(line).map(|parsed| parsed.map_err(|why| format!("{why}: {line}"))))
}

// ---------------------------------------------------------------------------------------
// [STATS]
// ---------------------------------------------------------------------------------------

/// One `[STATS]` block: the `total` line and its CPU lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsBlock {
    /// The `total` line.
    pub total: StatsTotal,
    /// The CPU lines, in print order.
    pub cpus: Vec<StatsCpu>,
}

impl StatsBlock {
    /// The line of CPU `cpu`, if the block has one.
    pub fn cpu(&self, cpu: u32) -> Option<&StatsCpu> {
        self.cpus.iter().find(|line| line.cpu == cpu)
    }
}

/// Every `[STATS]` block of a run, and everything wrong with them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The blocks, in print order.
    pub blocks: Vec<StatsBlock>,
    /// Malformed `[STATS]` lines and broken blocks, described.
    pub problems: Vec<String>,
}

impl Stats {
    /// The last block, if every block is sound.
    pub fn last(&self) -> Result<&StatsBlock, String> {
        if let Some(problem) = self.problems.first() {
            return Err(problem.clone());
        }
        self.blocks
            .last()
            .ok_or_else(|| "no [STATS] block".to_owned())
    }
}

/// Collects the `[STATS]` blocks, checking that each arrived whole
/// (`protocol::stats::StatsReader`).
pub fn parse_stats(lines: &[String]) -> Stats {
    let mut stats = Stats::default();
    let mut reader = StatsReader::default();
    for line in lines {
        match reader.feed(line) {
            Ok(None) => {}
            Ok(Some(StatsLine::Total(total))) => stats.blocks.push(StatsBlock {
                total,
                cpus: Vec::new(),
            }),
            Ok(Some(StatsLine::Cpu(cpu))) => {
                if let Some(block) = stats.blocks.last_mut() {
                    block.cpus.push(cpu);
                }
            }
            Err(error) => stats.problems.push(format!("{error}: {line}")),
        }
    }
    if let Err(error) = reader.finish() {
        stats
            .problems
            .push(format!("{error} at the end of the output"));
    }
    stats
}

// ---------------------------------------------------------------------------------------
// [BENCH]
// ---------------------------------------------------------------------------------------

/// The `[BENCH]` line of `workload=bench`, owned (`protocol::sched::Bench` borrows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchLine {
    /// CPUs the kernel measured with.
    pub cpus: u64,
    /// Each figure's key and cycles (`None` for `na`), in print order.
    pub figures: Vec<(&'static str, Option<u64>)>,
    /// Samples per figure.
    pub samples: u64,
    /// How the samples are summed up (`median`).
    pub statistic: String,
    /// The TSC rate, to convert cycles to time.
    pub tsc_mhz: u64,
}

/// Finds the `[BENCH]` line and checks it (`protocol::sched::Bench::parse`). `None` if
/// there is no `[BENCH]` line.
pub fn parse_bench_line(lines: &[String]) -> Option<Result<BenchLine, String>> {
    first(lines, Bench::parse).map(|bench| {
        bench.map(|bench| BenchLine {
            cpus: bench.cpus,
            figures: bench
                .figures()
                .into_iter()
                .map(|(key, figure)| (key, figure.cycles()))
                .collect(),
            samples: bench.samples,
            statistic: bench.statistic.to_owned(),
            tsc_mhz: bench.tsc_mhz,
        })
    })
}

// ---------------------------------------------------------------------------------------
// [KTEST]
// ---------------------------------------------------------------------------------------

/// Everything the test harness reported during one boot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KtestReport {
    /// `count` of the `begin` line, if one was printed.
    pub begin_count: Option<u64>,
    /// Names of passed tests, in order.
    pub passed: Vec<String>,
    /// Failed tests with their reasons, in order.
    pub failed: Vec<(String, String)>,
    /// `(passed, failed)` of the `end` line, if one was printed.
    pub end: Option<(u64, u64)>,
    /// A test that started (`run`) but never passed or failed: the run died inside it.
    pub unfinished: Option<String>,
    /// `[KTEST]` lines that do not follow the contract.
    pub malformed: Vec<String>,
}

impl KtestReport {
    /// Collects all `[KTEST]` lines of a boot.
    pub fn from_lines(lines: &[String]) -> Self {
        let (events, malformed) = all(lines, Ktest::parse);
        let mut report = Self {
            malformed,
            ..Self::default()
        };
        for event in events {
            report.record(event);
        }
        report
    }

    fn record(&mut self, event: Ktest<'_>) {
        match event {
            Ktest::Begin { count, .. } => self.begin_count = Some(count),
            Ktest::Run { name } => self.unfinished = Some(name.to_owned()),
            Ktest::Pass { name, .. } => {
                self.unfinished = None;
                self.passed.push(name.to_owned());
            }
            Ktest::Fail { name, reason } => {
                self.unfinished = None;
                self.failed.push((name.to_owned(), reason.to_owned()));
            }
            Ktest::End { passed, failed } => self.end = Some((passed, failed)),
        }
    }

    /// Checks that the report is complete and consistent: a `begin` and an `end` line,
    /// `begin count` = passed + failed = the `end` line's numbers, no malformed lines.
    /// Returns the first problem found.
    pub fn check_complete(&self) -> Result<(), String> {
        let seen = (self.passed.len() as u64, self.failed.len() as u64);
        let Some(count) = self.begin_count else {
            return Err("no [KTEST] begin line".to_owned());
        };
        if let Some(name) = &self.unfinished {
            return Err(format!("test {name} started but never finished"));
        }
        let Some(end) = self.end else {
            return Err("no [KTEST] end line".to_owned());
        };
        if let Some(line) = self.malformed.first() {
            return Err(format!("malformed [KTEST] line: {line}"));
        }
        if count != seen.0 + seen.1 {
            return Err(format!(
                "begin count={count} but {} passed + {} failed were reported",
                seen.0, seen.1
            ));
        }
        if end != seen {
            return Err(format!(
                "end line says passed={} failed={} but {} passed + {} failed were reported",
                end.0, end.1, seen.0, seen.1
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// cargo test
// ---------------------------------------------------------------------------------------

/// Counts of one libtest summary line:
/// `test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CargoTestResult {
    /// `ok` (true) or `FAILED` (false).
    pub ok: bool,
    /// Number of passed tests.
    pub passed: u64,
    /// Number of failed tests.
    pub failed: u64,
}

/// Parses one `test result:` line; `None` for any other line.
pub fn parse_cargo_test_result(line: &str) -> Option<CargoTestResult> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (status, counts) = rest.split_once(". ")?;
    let ok = match status {
        "ok" => true,
        "FAILED" => false,
        _ => return None,
    };
    let count = |what: &str| {
        counts.split(';').find_map(|part| {
            let (number, label) = part.trim().split_once(' ')?;
            (label == what).then(|| number.parse().ok()).flatten()
        })
    };
    Some(CargoTestResult {
        ok,
        passed: count("passed")?,
        failed: count("failed")?,
    })
}

/// Sums all `test result:` lines of a `cargo test` output: `(passed, failed, lines)`.
pub fn sum_cargo_test_results(output: &str) -> (u64, u64, usize) {
    output
        .lines()
        .filter_map(parse_cargo_test_result)
        .fold((0, 0, 0), |(passed, failed, n), result| {
            (passed + result.passed, failed + result.failed, n + 1)
        })
}

// ---------------------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------------------

/// How the QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// QEMU exited with this status.
    Status(i32),
    /// QEMU was killed by this signal (not by us).
    Signal(i32),
    /// The host timeout expired and we killed QEMU.
    TimedOut(Duration),
}

/// Recognizes QEMU's note that it stopped because of a signal
/// (`qemu-system-x86_64: terminating on signal 15 from pid 123 (bash)`); QEMU then exits
/// with status 0, which would otherwise look like a CPU reset.
pub fn qemu_terminated_by_signal(stderr: &[String]) -> Option<i32> {
    stderr.iter().find_map(|line| {
        let (_, rest) = line.split_once("terminating on signal ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The kind of verdict, without the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    /// The kernel exited with success ([`ExitCode::Success`]).
    Success,
    /// The kernel exited with failure ([`ExitCode::Failure`]).
    Failure,
    /// The CPU reset ([`QEMU_STATUS_RESET`] under `-no-reboot`): most likely a triple fault.
    Reset,
    /// The host timeout expired.
    Timeout,
    /// QEMU itself failed (any other status, or a signal).
    QemuError,
}

/// The verdict of a run and, for failures, its cause in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What happened.
    pub kind: VerdictKind,
    /// Why, for anything but success.
    pub reason: Option<String>,
}

impl Verdict {
    /// True for the success verdict only.
    pub fn is_success(&self) -> bool {
        self.kind == VerdictKind::Success
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            None if self.is_success() => write!(f, "success"),
            None => write!(f, "FAILED"),
            Some(reason) => write!(f, "FAILED — {reason}"),
        }
    }
}

/// Decides the verdict from how QEMU ended and what the kernel printed
/// (`docs/kernel-interface.md` §3).
pub fn verdict(exit: Exit, lines: &[String]) -> Verdict {
    let cause = failure_cause(lines);
    let code = match exit {
        Exit::Status(status) => ExitCode::from_qemu_status(status),
        _ => None,
    };
    let (kind, what) = match (exit, code) {
        (_, Some(ExitCode::Success)) => {
            return Verdict {
                kind: VerdictKind::Success,
                reason: None,
            };
        }
        (_, Some(ExitCode::Failure)) => {
            let reason = cause.unwrap_or_else(|| "the kernel reported failure".to_owned());
            return Verdict {
                kind: VerdictKind::Failure,
                reason: Some(reason),
            };
        }
        (Exit::Status(QEMU_STATUS_RESET), None) => {
            (VerdictKind::Reset, "CPU reset (triple fault?)".to_owned())
        }
        (Exit::Status(status), None) => (
            VerdictKind::QemuError,
            format!("QEMU failed with status {status}"),
        ),
        (Exit::Signal(signal), _) => (
            VerdictKind::QemuError,
            format!("QEMU was killed by signal {signal}"),
        ),
        (Exit::TimedOut(after), _) => (
            VerdictKind::Timeout,
            format!("timeout after {} s", format_seconds(after)),
        ),
    };
    let reason = match cause {
        Some(cause) => format!("{what}; before that: {cause}"),
        None => what,
    };
    Verdict {
        kind,
        reason: Some(reason),
    }
}

/// Names the first failure the kernel reported: a panic, an exception, or failed tests.
pub fn failure_cause(lines: &[String]) -> Option<String> {
    // Malformed lines count too: the run failed either way, and the line says how.
    if let Some(line) = lines.iter().find(|line| Panic::parse(line).is_some()) {
        return Some(format!("kernel panic: {line}"));
    }
    if let Some(line) = lines.iter().find(|line| Exception::parse(line).is_some()) {
        return Some(format!("CPU exception: {line}"));
    }
    let failed = KtestReport::from_lines(lines).failed.len();
    match failed {
        0 => None,
        1 => Some("1 in-kernel test failed".to_owned()),
        n => Some(format!("{n} in-kernel tests failed")),
    }
}

/// Formats a duration in seconds without a needless fraction: `5`, `2.5`.
pub fn format_seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|line| (*line).to_owned()).collect()
    }

    #[test]
    fn splitter_handles_chunks_cr_and_ansi_noise() {
        let mut splitter = LineSplitter::default();
        let mut out = splitter.push(b"\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001\r\n[BO");
        out.extend(splitter.push(b"OT] kernel v0.1.0 mode=uefi\r\n\x1b[0m\x1b[37m\x1b[40m"));
        out.extend(splitter.push(b"[STATS] total cpus_online=1"));
        out.extend(splitter.finish());
        assert_eq!(
            out,
            [
                "BdsDxe: loading Boot0001",
                "[BOOT] kernel v0.1.0 mode=uefi",
                "[STATS] total cpus_online=1"
            ]
        );
    }

    #[test]
    fn carriage_return_starts_a_new_line() {
        let mut splitter = LineSplitter::default();
        assert_eq!(
            splitter.push(b"junk\r[PANIC] cpu=0 oops\n"),
            ["junk", "[PANIC] cpu=0 oops"]
        );
    }

    #[test]
    fn clean_line_drops_controls_and_bad_utf8() {
        assert_eq!(clean_line(b"a\x07b\xffc\x1bcd  "), "ab\u{fffd}cd");
        assert_eq!(clean_line(b"\x1b[1;31m[BOOT]\x1b[0m x"), "[BOOT] x");
        assert_eq!(clean_line(b"\x1b["), "");
        assert_eq!(
            clean_line(b"kmon> kmon> [STATS] total x=1"),
            "[STATS] total x=1"
        );
    }

    fn cpu_line(cpu: u32) -> String {
        StatsCpu {
            cpu,
            ticks: 200,
            ..StatsCpu::default()
        }
        .to_string()
    }

    fn total_line(cpus_online: u64) -> String {
        StatsTotal {
            cpus_online,
            cpus_expected: cpus_online,
            cpus_late: 0,
            uptime_ms: 2004,
        }
        .to_string()
    }

    #[test]
    fn stats_blocks() {
        let stats = parse_stats(&lines(&[
            "[BOOT] x",
            &total_line(2),
            &cpu_line(0),
            &cpu_line(1),
            "[SCHED][core1] run B",
            &total_line(1),
            &cpu_line(0),
            "[EXIT] success",
        ]));
        assert_eq!(stats.problems, Vec::<String>::new());
        assert_eq!(stats.blocks.len(), 2);
        assert_eq!(stats.blocks[0].cpus.len(), 2);
        let last = stats.last().unwrap();
        assert_eq!(last.total.cpus_online, 1);
        assert_eq!(last.cpu(0).unwrap().ticks, 200);
        assert!(last.cpu(1).is_none());
        assert_eq!(parse_stats(&[]).last(), Err("no [STATS] block".to_owned()));
    }

    #[test]
    fn stats_problems_spoil_the_result() {
        let malformed = parse_stats(&lines(&[&total_line(1), "[STATS] cpu=x ticks=1"]));
        assert_eq!(malformed.problems.len(), 2, "{:?}", malformed.problems);
        assert!(malformed.last().unwrap_err().contains("malformed"));
        // Another core's line inside the block: seen in 7 of 82 runs before the kernel
        // printed the block in one piece.
        let interleaved = parse_stats(&lines(&[
            &total_line(2),
            &cpu_line(0),
            "[SCHED][core1] run B",
            &cpu_line(1),
        ]));
        assert_eq!(interleaved.blocks[0].cpus.len(), 2);
        assert!(
            interleaved
                .last()
                .unwrap_err()
                .contains("another line inside a [STATS] block")
        );
        let cut = parse_stats(&lines(&[&total_line(2), &cpu_line(0)]));
        assert!(cut.last().unwrap_err().contains("at the end of the output"));
    }

    #[test]
    fn bench_line_parses() {
        let line = "[BENCH] cpus=2 spawn_cycles=9046 yield_cycles=1132 wake_local_cycles=1717 \
                    wake_remote_rtt_cycles=38179 steal_cycles=40955 ipc_rtt_cycles=61214 syscall_cycles=700 user_ipc_rtt_cycles=90000 samples=31 statistic=median \
                    tsc_mhz=2613";
        let bench = parse_bench_line(&lines(&["[BOOT] x", line]))
            .unwrap()
            .unwrap();
        assert_eq!(bench.cpus, 2);
        assert_eq!(bench.figures[0], ("spawn_cycles", Some(9046)));
        assert_eq!(bench.figures[4], ("steal_cycles", Some(40955)));
        assert_eq!((bench.samples, bench.tsc_mhz), (31, 2613));
        assert_eq!(parse_bench_line(&lines(&["[BOOT] x"])), None);
        assert!(
            parse_bench_line(&lines(&["[BENCH] cpus=2"]))
                .unwrap()
                .unwrap_err()
                .contains("no spawn_cycles= field")
        );
    }

    #[test]
    fn ktest_report_complete() {
        let report = KtestReport::from_lines(&lines(&[
            "[KTEST] begin count=2 filter=all",
            "[KTEST] run name=a",
            "[KTEST] pass name=a us=1",
            "[KTEST] run name=b",
            "[KTEST] fail name=b reason=boom",
            "[KTEST] end passed=1 failed=1",
        ]));
        assert_eq!(report.passed, ["a"]);
        assert_eq!(report.failed, [("b".to_owned(), "boom".to_owned())]);
        assert_eq!(report.check_complete(), Ok(()));
    }

    #[test]
    fn ktest_report_problems() {
        let crashed = KtestReport::from_lines(&lines(&[
            "[KTEST] begin count=2 filter=all",
            "[KTEST] run name=a",
        ]));
        assert_eq!(
            crashed.check_complete(),
            Err("test a started but never finished".to_owned())
        );
        let no_end = KtestReport::from_lines(&lines(&["[KTEST] begin count=0 filter=x"]));
        assert_eq!(
            no_end.check_complete(),
            Err("no [KTEST] end line".to_owned())
        );
        let miscount = KtestReport::from_lines(&lines(&[
            "[KTEST] begin count=3 filter=all",
            "[KTEST] pass name=a us=1",
            "[KTEST] end passed=1 failed=0",
        ]));
        assert!(miscount.check_complete().unwrap_err().contains("count=3"));
        let no_begin = KtestReport::from_lines(&lines(&["[KTEST] end passed=0 failed=0"]));
        assert!(no_begin.check_complete().is_err());
    }

    #[test]
    fn cargo_test_result_lines() {
        let output = "\
running 2 tests
test a ... ok
test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
test result: FAILED. 3 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
test result: garbage
   Doc-tests executor
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        assert_eq!(sum_cargo_test_results(output), (5, 1, 3));
        assert_eq!(
            parse_cargo_test_result("test result: FAILED. 3 passed; 1 failed;"),
            Some(CargoTestResult {
                ok: false,
                passed: 3,
                failed: 1
            })
        );
        assert_eq!(parse_cargo_test_result("test result: ok. x passed;"), None);
    }

    #[test]
    fn verdict_from_exit_status() {
        let none = [];
        let success = Exit::Status(ExitCode::Success.qemu_status());
        let failure = Exit::Status(ExitCode::Failure.qemu_status());
        assert!(verdict(success, &none).is_success());
        assert_eq!(verdict(failure, &none).kind, VerdictKind::Failure);
        assert_eq!(
            verdict(Exit::Status(0), &none).to_string(),
            "FAILED — CPU reset (triple fault?)"
        );
        assert_eq!(
            verdict(Exit::Status(1), &none).to_string(),
            "FAILED — QEMU failed with status 1"
        );
        assert_eq!(
            verdict(Exit::TimedOut(Duration::from_secs(5)), &none).to_string(),
            "FAILED — timeout after 5 s"
        );
        assert_eq!(verdict(Exit::Signal(9), &none).kind, VerdictKind::QemuError);
    }

    #[test]
    fn qemu_signal_note() {
        let stderr = lines(&[
            "qemu-system-x86_64: warning: something",
            "qemu-system-x86_64: terminating on signal 15 from pid 18310 (bash)",
        ]);
        assert_eq!(qemu_terminated_by_signal(&stderr), Some(15));
        assert_eq!(
            qemu_terminated_by_signal(&lines(&["terminating on signal x"])),
            None
        );
        assert_eq!(qemu_terminated_by_signal(&[]), None);
    }

    #[test]
    fn verdict_names_the_cause() {
        let failure = Exit::Status(ExitCode::Failure.qemu_status());
        let panic = lines(&[
            "[KTEST] run name=harness::deliberate_panic",
            "[PANIC] cpu=0 deliberate at kernel/src/test.rs:10",
            "[EXIT] failure",
        ]);
        assert_eq!(
            verdict(failure, &panic).to_string(),
            "FAILED — kernel panic: [PANIC] cpu=0 deliberate at kernel/src/test.rs:10"
        );
        let exception = lines(&["[EXCEPTION] cpu=0 vector=14 name=#PF error=0x2 cr2=0x0"]);
        assert_eq!(
            verdict(failure, &exception).to_string(),
            "FAILED — CPU exception: [EXCEPTION] cpu=0 vector=14 name=#PF error=0x2 cr2=0x0"
        );
        let tests = lines(&[
            "[KTEST] fail name=a reason=x",
            "[KTEST] fail name=b reason=y",
        ]);
        assert_eq!(
            verdict(failure, &tests).to_string(),
            "FAILED — 2 in-kernel tests failed"
        );
        assert_eq!(
            verdict(Exit::TimedOut(Duration::from_millis(2500)), &panic).to_string(),
            "FAILED — timeout after 2.5 s; before that: kernel panic: \
             [PANIC] cpu=0 deliberate at kernel/src/test.rs:10"
        );
    }
}

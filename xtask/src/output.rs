//! Parsing what the kernel prints and deciding the verdict of a run.
//!
//! Everything `cargo xtask` learns about a boot comes from two sources: QEMU's exit
//! status and the lines the kernel writes to COM1. Both are specified in
//! `docs/kernel-interface.md`; this module is the only place that reads them, so a change
//! of the contract is a change here (and in the unit tests below).
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

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Exit status of `isa-debug-exit` when the kernel writes `0x10` (success).
pub const EXIT_SUCCESS: i32 = 33;
/// Exit status of `isa-debug-exit` when the kernel writes `0x11` (failure).
pub const EXIT_FAILURE: i32 = 35;
/// QEMU's exit status after a CPU reset under `-no-reboot` (for example a triple fault).
pub const EXIT_RESET: i32 = 0;

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
    out.trim_end().to_owned()
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

/// Returns the rest of `line` after `tag` and one space, if the line starts with the tag.
///
/// `tag` includes the brackets: `tagged(line, "[BOOT]")`.
pub fn tagged<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.strip_prefix(tag)?.strip_prefix(' ')
}

/// Parses `key=value` words into a map; words without `=` are returned separately.
pub fn key_values(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut map = BTreeMap::new();
    let mut bare = Vec::new();
    for word in text.split_whitespace() {
        match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                map.insert(key.to_owned(), value.to_owned());
            }
            _ => bare.push(word.to_owned()),
        }
    }
    (map, bare)
}

/// Looks up `key` in a `key=value` map and parses it as an unsigned integer.
pub fn get_u64(map: &BTreeMap<String, String>, key: &str) -> Result<u64, String> {
    let value = map.get(key).ok_or_else(|| format!("no {key}= field"))?;
    value
        .parse()
        .map_err(|_| format!("{key}={value} is not an unsigned integer"))
}

// ---------------------------------------------------------------------------------------
// [BOOT]
// ---------------------------------------------------------------------------------------

/// The kernel's first line: `[BOOT] kernel v0.1.0 mode=bios usable_memory=510MiB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootLine {
    /// `bios` or `uefi`.
    pub mode: String,
    /// Every `key=value` field of the line, `mode` included.
    pub fields: BTreeMap<String, String>,
}

/// Finds the first `[BOOT]` line that carries a `mode=` field.
pub fn parse_boot_line(lines: &[String]) -> Option<BootLine> {
    lines.iter().find_map(|line| {
        let (fields, _) = key_values(tagged(line, "[BOOT]")?);
        let mode = fields.get("mode")?.clone();
        Some(BootLine { mode, fields })
    })
}

// ---------------------------------------------------------------------------------------
// [STATS]
// ---------------------------------------------------------------------------------------

/// The `[STATS]` lines of a `duration` run.
///
/// `[STATS] total key=value ...` fills [`Stats::total`]; `[STATS] cpu=K key=value ...`
/// fills `per_cpu[K]` (without the `cpu` key).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Fields of the `[STATS] total` line, if it was printed.
    pub total: Option<BTreeMap<String, String>>,
    /// Fields of each `[STATS] cpu=K` line, by CPU index.
    pub per_cpu: BTreeMap<u32, BTreeMap<String, String>>,
    /// `[STATS]` lines that fit neither form.
    pub malformed: Vec<String>,
}

/// Collects all `[STATS]` lines.
pub fn parse_stats(lines: &[String]) -> Stats {
    let mut stats = Stats::default();
    for line in lines {
        let Some(rest) = tagged(line, "[STATS]") else {
            continue;
        };
        let (mut fields, bare) = key_values(rest);
        if bare == ["total"] {
            stats.total = Some(fields);
        } else if let (true, Some(Ok(cpu))) = (
            bare.is_empty(),
            fields.remove("cpu").map(|cpu| cpu.parse::<u32>()),
        ) {
            stats.per_cpu.insert(cpu, fields);
        } else {
            stats.malformed.push(line.clone());
        }
    }
    stats
}

// ---------------------------------------------------------------------------------------
// [BENCH]
// ---------------------------------------------------------------------------------------

/// The figures of the `[BENCH]` line, in print order (`docs/kernel-interface.md` §2.1).
pub const BENCH_KEYS: [&str; 5] = [
    "spawn_cycles",
    "yield_cycles",
    "wake_local_cycles",
    "wake_remote_rtt_cycles",
    "steal_cycles",
];

/// The figures that need a second CPU: `na` with `cpus=1`.
pub const BENCH_KEYS_MULTI_CPU: [&str; 2] = ["wake_remote_rtt_cycles", "steal_cycles"];

/// The `[BENCH]` line of `workload=bench`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchLine {
    /// CPUs the kernel measured with.
    pub cpus: u64,
    /// Each of [`BENCH_KEYS`] in order: cycles, or `None` for `na`.
    pub figures: Vec<(&'static str, Option<u64>)>,
    /// Every `key=value` field of the line (`samples`, `statistic`, `tsc_mhz`, ...).
    pub fields: BTreeMap<String, String>,
}

/// Finds the `[BENCH]` line and checks it: every key of [`BENCH_KEYS`] present, each a
/// positive number of cycles, or `na` for the figures of [`BENCH_KEYS_MULTI_CPU`] when
/// (and only when) `cpus=1`. `None` if there is no `[BENCH]` line.
pub fn parse_bench_line(lines: &[String]) -> Option<Result<BenchLine, String>> {
    let rest = lines.iter().find_map(|line| tagged(line, "[BENCH]"))?;
    Some(check_bench_fields(rest))
}

fn check_bench_fields(rest: &str) -> Result<BenchLine, String> {
    let (fields, _) = key_values(rest);
    let cpus = get_u64(&fields, "cpus")?;
    if cpus == 0 {
        return Err("cpus=0".to_owned());
    }
    let mut figures = Vec::with_capacity(BENCH_KEYS.len());
    for key in BENCH_KEYS {
        let value = fields.get(key).ok_or_else(|| format!("no {key}= field"))?;
        let figure = if value == "na" {
            if cpus != 1 || !BENCH_KEYS_MULTI_CPU.contains(&key) {
                return Err(format!("{key}=na with cpus={cpus}"));
            }
            None
        } else {
            match value.parse::<u64>() {
                Ok(0) | Err(_) => {
                    return Err(format!("{key}={value} is not a positive number of cycles"));
                }
                Ok(cycles) => Some(cycles),
            }
        };
        if cpus == 1 && figure.is_some() && BENCH_KEYS_MULTI_CPU.contains(&key) {
            return Err(format!("{key}={value} with cpus=1 (expected na)"));
        }
        figures.push((key, figure));
    }
    Ok(BenchLine {
        cpus,
        figures,
        fields,
    })
}

// ---------------------------------------------------------------------------------------
// [KTEST]
// ---------------------------------------------------------------------------------------

/// One line of the in-kernel test harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KtestEvent {
    /// `[KTEST] begin count=N filter=F`
    Begin {
        /// Number of tests that match the filter.
        count: u64,
    },
    /// `[KTEST] run name=NAME`
    Run {
        /// Test name.
        name: String,
    },
    /// `[KTEST] pass name=NAME us=T`
    Pass {
        /// Test name.
        name: String,
        /// Run time in microseconds.
        micros: u64,
    },
    /// `[KTEST] fail name=NAME reason=TEXT`
    Fail {
        /// Test name.
        name: String,
        /// Why it failed (the rest of the line).
        reason: String,
    },
    /// `[KTEST] end passed=P failed=F`
    End {
        /// Tests that passed, by the kernel's count.
        passed: u64,
        /// Tests that failed, by the kernel's count.
        failed: u64,
    },
}

/// Parses one line: `None` if it is not a `[KTEST]` line, `Some(Err(..))` if it is one
/// but does not follow the contract.
pub fn parse_ktest_line(line: &str) -> Option<Result<KtestEvent, String>> {
    let rest = tagged(line, "[KTEST]")?;
    let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(parse_ktest_event(word, args).map_err(|why| format!("{why}: {line}")))
}

fn parse_ktest_event(word: &str, args: &str) -> Result<KtestEvent, String> {
    if word == "fail" {
        return parse_ktest_fail(args);
    }
    let (fields, _) = key_values(args);
    let name = || {
        fields
            .get("name")
            .cloned()
            .ok_or_else(|| "no name= field".to_owned())
    };
    match word {
        "begin" => Ok(KtestEvent::Begin {
            count: get_u64(&fields, "count")?,
        }),
        "run" => Ok(KtestEvent::Run { name: name()? }),
        "pass" => Ok(KtestEvent::Pass {
            name: name()?,
            micros: get_u64(&fields, "us")?,
        }),
        "end" => Ok(KtestEvent::End {
            passed: get_u64(&fields, "passed")?,
            failed: get_u64(&fields, "failed")?,
        }),
        other => Err(format!("unknown [KTEST] event '{other}'")),
    }
}

/// `fail name=NAME reason=TEXT`: the reason runs to the end of the line, spaces and all.
fn parse_ktest_fail(args: &str) -> Result<KtestEvent, String> {
    let rest = args.strip_prefix("name=").ok_or("no name= field")?;
    let (name, reason) = rest.split_once(" reason=").ok_or("no reason= field")?;
    if name.is_empty() || name.contains(' ') {
        return Err("bad name= field".to_owned());
    }
    Ok(KtestEvent::Fail {
        name: name.to_owned(),
        reason: reason.to_owned(),
    })
}

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
        let mut report = Self::default();
        for event in lines.iter().filter_map(|line| parse_ktest_line(line)) {
            match event {
                Ok(event) => report.record(event),
                Err(malformed) => report.malformed.push(malformed),
            }
        }
        report
    }

    fn record(&mut self, event: KtestEvent) {
        match event {
            KtestEvent::Begin { count } => self.begin_count = Some(count),
            KtestEvent::Run { name } => self.unfinished = Some(name),
            KtestEvent::Pass { name, .. } => {
                self.unfinished = None;
                self.passed.push(name);
            }
            KtestEvent::Fail { name, reason } => {
                self.unfinished = None;
                self.failed.push((name, reason));
            }
            KtestEvent::End { passed, failed } => self.end = Some((passed, failed)),
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
    /// The kernel exited with success (status 33).
    Success,
    /// The kernel exited with failure (status 35).
    Failure,
    /// The CPU reset (status 0 under `-no-reboot`): most likely a triple fault.
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
    let (kind, what) = match exit {
        Exit::Status(EXIT_SUCCESS) => {
            return Verdict {
                kind: VerdictKind::Success,
                reason: None,
            };
        }
        Exit::Status(EXIT_FAILURE) => {
            let reason = cause.unwrap_or_else(|| "the kernel reported failure".to_owned());
            return Verdict {
                kind: VerdictKind::Failure,
                reason: Some(reason),
            };
        }
        Exit::Status(EXIT_RESET) => (VerdictKind::Reset, "CPU reset (triple fault?)".to_owned()),
        Exit::Status(status) => (
            VerdictKind::QemuError,
            format!("QEMU failed with status {status}"),
        ),
        Exit::Signal(signal) => (
            VerdictKind::QemuError,
            format!("QEMU was killed by signal {signal}"),
        ),
        Exit::TimedOut(after) => (
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
    let first_starting = |tag: &str| lines.iter().find(|line| tagged(line, tag).is_some());
    if let Some(line) = first_starting("[PANIC]") {
        return Some(format!("kernel panic: {line}"));
    }
    if let Some(line) = first_starting("[EXCEPTION]") {
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
    }

    #[test]
    fn tagged_needs_tag_at_start_and_a_space() {
        assert_eq!(tagged("[BOOT] mode=bios", "[BOOT]"), Some("mode=bios"));
        assert_eq!(tagged("x [BOOT] mode=bios", "[BOOT]"), None);
        assert_eq!(tagged("[BOOTX] mode=bios", "[BOOT]"), None);
        assert_eq!(tagged("[BOOT]", "[BOOT]"), None);
    }

    #[test]
    fn boot_line_mode() {
        let boot = parse_boot_line(&lines(&[
            "BdsDxe: starting",
            "[BOOT] WARN unknown kernel argument 'x' (valid keys: log)",
            "[BOOT] kernel v0.1.0 mode=uefi usable_memory=510MiB",
        ]))
        .unwrap();
        assert_eq!(boot.mode, "uefi");
        assert_eq!(boot.fields["usable_memory"], "510MiB");
        assert_eq!(parse_boot_line(&lines(&["[BOOT] kernel v0.1.0"])), None);
    }

    #[test]
    fn stats_total_and_per_cpu() {
        let stats = parse_stats(&lines(&[
            "[STATS] total cpus_online=4 uptime_ms=2004",
            "[STATS] cpu=1 ticks=200 tasks=3",
            "[STATS] something else",
            "[STATS] cpu=x ticks=1",
            "[STATSX] total cpus_online=9",
        ]));
        let total = stats.total.as_ref().unwrap();
        assert_eq!(get_u64(total, "cpus_online"), Ok(4));
        assert_eq!(get_u64(total, "uptime_ms"), Ok(2004));
        assert_eq!(get_u64(&stats.per_cpu[&1], "ticks"), Ok(200));
        assert!(!stats.per_cpu[&1].contains_key("cpu"));
        assert_eq!(stats.malformed.len(), 2);
    }

    #[test]
    fn bench_line_parses() {
        let line = "[BENCH] cpus=2 spawn_cycles=9046 yield_cycles=1132 wake_local_cycles=1717 \
                    wake_remote_rtt_cycles=38179 steal_cycles=40955 samples=31 statistic=median \
                    tsc_mhz=2613";
        let bench = parse_bench_line(&lines(&["[BOOT] x", line]))
            .unwrap()
            .unwrap();
        assert_eq!(bench.cpus, 2);
        assert_eq!(bench.figures[0], ("spawn_cycles", Some(9046)));
        assert_eq!(bench.figures[4], ("steal_cycles", Some(40955)));
        assert_eq!(bench.fields["tsc_mhz"], "2613");
        assert_eq!(parse_bench_line(&lines(&["[BOOT] x"])), None);
    }

    #[test]
    fn bench_line_na_only_with_one_cpu() {
        let one = "[BENCH] cpus=1 spawn_cycles=1 yield_cycles=2 wake_local_cycles=3 \
                   wake_remote_rtt_cycles=na steal_cycles=na";
        let bench = parse_bench_line(&lines(&[one])).unwrap().unwrap();
        assert_eq!(bench.figures[3], ("wake_remote_rtt_cycles", None));
        let bad = [
            // na with two CPUs
            "[BENCH] cpus=2 spawn_cycles=1 yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=na steal_cycles=5",
            // na for a single-CPU figure
            "[BENCH] cpus=1 spawn_cycles=na yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=na steal_cycles=na",
            // a cross-core figure with one CPU
            "[BENCH] cpus=1 spawn_cycles=1 yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=4 steal_cycles=na",
            // zero, garbage, missing
            "[BENCH] cpus=2 spawn_cycles=0 yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=4 steal_cycles=5",
            "[BENCH] cpus=2 spawn_cycles=1 yield_cycles=x wake_local_cycles=3 \
             wake_remote_rtt_cycles=4 steal_cycles=5",
            "[BENCH] cpus=2 spawn_cycles=1 yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=4",
            "[BENCH] spawn_cycles=1",
        ];
        for line in bad {
            assert!(
                parse_bench_line(&lines(&[line])).unwrap().is_err(),
                "accepted {line}"
            );
        }
    }

    #[test]
    fn get_u64_explains_problems() {
        let (map, _) = key_values("a=1 b=x");
        assert_eq!(get_u64(&map, "a"), Ok(1));
        assert_eq!(
            get_u64(&map, "b"),
            Err("b=x is not an unsigned integer".to_owned())
        );
        assert_eq!(get_u64(&map, "c"), Err("no c= field".to_owned()));
    }

    #[test]
    fn ktest_events() {
        assert_eq!(parse_ktest_line("[BOOT] x"), None);
        assert_eq!(
            parse_ktest_line("[KTEST] begin count=3 filter=all"),
            Some(Ok(KtestEvent::Begin { count: 3 }))
        );
        assert_eq!(
            parse_ktest_line("[KTEST] pass name=mem::frames us=120"),
            Some(Ok(KtestEvent::Pass {
                name: "mem::frames".into(),
                micros: 120
            }))
        );
        assert_eq!(
            parse_ktest_line("[KTEST] fail name=a::b reason=left = 1, right = 2"),
            Some(Ok(KtestEvent::Fail {
                name: "a::b".into(),
                reason: "left = 1, right = 2".into()
            }))
        );
        assert!(matches!(
            parse_ktest_line("[KTEST] pass name=x"),
            Some(Err(_))
        ));
        assert!(matches!(
            parse_ktest_line("[KTEST] fail reason=x"),
            Some(Err(_))
        ));
        assert!(matches!(
            parse_ktest_line("[KTEST] frobnicate"),
            Some(Err(_))
        ));
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
        assert!(verdict(Exit::Status(33), &none).is_success());
        assert_eq!(verdict(Exit::Status(35), &none).kind, VerdictKind::Failure);
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
        let panic = lines(&[
            "[KTEST] run name=harness::deliberate_panic",
            "[PANIC] cpu=0 deliberate at kernel/src/test.rs:10",
            "[EXIT] failure",
        ]);
        assert_eq!(
            verdict(Exit::Status(35), &panic).to_string(),
            "FAILED — kernel panic: [PANIC] cpu=0 deliberate at kernel/src/test.rs:10"
        );
        let exception = lines(&["[EXCEPTION] cpu=0 vector=14 name=#PF error=0x2 cr2=0x0"]);
        assert_eq!(
            verdict(Exit::Status(35), &exception).to_string(),
            "FAILED — CPU exception: [EXCEPTION] cpu=0 vector=14 name=#PF error=0x2 cr2=0x0"
        );
        let tests = lines(&[
            "[KTEST] fail name=a reason=x",
            "[KTEST] fail name=b reason=y",
        ]);
        assert_eq!(
            verdict(Exit::Status(35), &tests).to_string(),
            "FAILED — 2 in-kernel tests failed"
        );
        assert_eq!(
            verdict(Exit::TimedOut(Duration::from_millis(2500)), &panic).to_string(),
            "FAILED — timeout after 2.5 s; before that: kernel panic: \
             [PANIC] cpu=0 deliberate at kernel/src/test.rs:10"
        );
    }
}

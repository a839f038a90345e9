//! The kernel command line: `key=value` words, separated by white space.
//!
//! The host passes the command line as the bootloader ramdisk (see
//! `docs/kernel-interface.md`). Parsing never fails as a whole: every word that
//! cannot be understood is reported through a callback as an [`ArgIssue`] and
//! the key keeps its default, so a typo costs a warning, never the boot.
//!
//! The parser does not allocate: it runs before the heap exists, so that `log=`
//! can apply to the very first line the kernel prints.

use protocol::args as keys;
pub use protocol::args::{ArgIssue, VALID_KEYS};

/// How verbose the kernel log is (`log=<level>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing at all.
    Off,
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The normal progress lines (default).
    Info,
    /// Per-event detail, e.g. every IPI.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            keys::log::OFF => Self::Off,
            keys::log::ERROR => Self::Error,
            keys::log::WARN => Self::Warn,
            keys::log::INFO => Self::Info,
            keys::log::DEBUG => Self::Debug,
            keys::log::TRACE => Self::Trace,
            _ => return None,
        })
    }
}

/// The parsed kernel arguments. Borrowed from the command-line text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelArgs<'a> {
    /// `log=`: the log level.
    pub log: LogLevel,
    /// `duration=`: run the workload this many milliseconds (from its start,
    /// after boot), then stop.
    pub duration_ms: Option<u64>,
    /// `test=`: run the in-kernel tests whose names contain this filter
    /// (`all` runs every test that runs by default).
    pub test: Option<&'a str>,
    /// `smp_boot=`: start the application processors one by one or all at once.
    pub smp_boot: SmpBoot,
    /// `smp_fake_ap=`: also try to start this APIC id, which has no CPU
    /// behind it, to exercise the "AP never answers" path.
    pub smp_fake_ap: Option<u32>,
    /// `smp_late_ap=`: the AP with this CPU index holds back in its entry
    /// code until the BSP gives up on it, to exercise the "AP arrives after
    /// the BSP gave up" path (it must park itself and be counted as late).
    pub smp_late_ap: Option<u32>,
    /// `workload=`: what the executors run.
    pub workload: Workload,
    /// `stats=`: print the `[STATS]` block every this many milliseconds.
    pub stats_interval_ms: Option<u64>,
}

/// The tasks the kernel runs once it is up (`workload=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Tasks A–D: yield loops of different priorities (default).
    Tasks,
    /// 64 yield-loop tasks all spawned on core 0, for stealing and balancing.
    Imbalance,
    /// 1000 tasks sleeping random durations, checking when they wake.
    Sleep,
    /// Pairs of tasks on different cores waking each other.
    PingPong,
    /// Micro-benchmarks of the executor in TSC cycles, printed as one
    /// `[BENCH]` line; then the run ends with success.
    Bench,
    /// A 100,000-task spawn burst, checked task by task, printed as one
    /// `[BURST]` line; then the run ends with success.
    Burst,
    /// Clients on every core calling an echo and a counter service on other
    /// cores over IPC ports, printed as one `[IPC]` line.
    Ipc,
    /// Services on every core calling each other in seeded random patterns,
    /// with full and closed ports, for the run's `duration`.
    IpcStress,
    /// User programs in ring 3 (yield loops, a ping-pong between two
    /// processes, a multi-threaded program, a faulting one).
    User,
    /// User threads on every core making seeded good and hostile system calls.
    SyscallStress,
}

impl Workload {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            keys::workload::TASKS => Self::Tasks,
            keys::workload::IMBALANCE => Self::Imbalance,
            keys::workload::SLEEP => Self::Sleep,
            keys::workload::PINGPONG => Self::PingPong,
            keys::workload::BENCH => Self::Bench,
            keys::workload::BURST => Self::Burst,
            keys::workload::IPC => Self::Ipc,
            keys::workload::IPCSTRESS => Self::IpcStress,
            keys::workload::USER => Self::User,
            keys::workload::SYSCALLSTRESS => Self::SyscallStress,
            _ => return None,
        })
    }
}

/// How the boot CPU starts the others (`smp_boot=serial|parallel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpBoot {
    /// One AP at a time: INIT, SIPI, SIPI, wait, next.
    Serial,
    /// All APs at once (default).
    Parallel,
}

impl Default for KernelArgs<'_> {
    fn default() -> Self {
        Self {
            log: LogLevel::Info,
            duration_ms: None,
            test: None,
            smp_boot: SmpBoot::Parallel,
            smp_fake_ap: None,
            smp_late_ap: None,
            workload: Workload::Tasks,
            stats_interval_ms: None,
        }
    }
}

/// Parses `text`, reporting each word it cannot use to `on_issue`. A key
/// given more than once keeps its last valid value; after the words, one
/// [`ArgIssue::Repeated`] per such key names the word that won.
pub fn parse<'a>(text: &'a str, mut on_issue: impl FnMut(ArgIssue<'a>)) -> KernelArgs<'a> {
    let mut args = KernelArgs::default();
    // Per key of `VALID_KEYS`: how often it came, and the word that took effect.
    let mut seen: [(u32, Option<&'a str>); VALID_KEYS.len()] = [(0, None); VALID_KEYS.len()];
    for word in text.split_ascii_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            on_issue(ArgIssue::NotKeyValue { word });
            continue;
        };
        let Some(index) = VALID_KEYS.iter().position(|valid| *valid == key) else {
            on_issue(ArgIssue::UnknownKey { word });
            continue;
        };
        let (times, wins) = &mut seen[index];
        *times += 1;
        match apply(&mut args, key, value) {
            Ok(()) => *wins = Some(word),
            Err(expected) => on_issue(ArgIssue::BadValue { word, expected }),
        }
    }
    for (&key, &(times, wins)) in VALID_KEYS.iter().zip(&seen) {
        if times > 1 {
            on_issue(ArgIssue::Repeated { key, times, wins });
        }
    }
    args
}

/// Sets the argument `key` (one of [`VALID_KEYS`]) to `value`, or says what
/// the key accepts.
fn apply<'a>(args: &mut KernelArgs<'a>, key: &str, value: &'a str) -> Result<(), &'static str> {
    match key {
        keys::LOG => {
            args.log =
                LogLevel::parse(value).ok_or("one of off, error, warn, info, debug, trace")?;
        }
        keys::DURATION => {
            args.duration_ms = Some(parse_seconds_as_ms(value).ok_or("seconds, e.g. 2 or 0.5")?);
        }
        keys::TEST if value.is_empty() => return Err("a test-name filter or 'all'"),
        keys::TEST => args.test = Some(value),
        keys::SMP_BOOT => {
            args.smp_boot = match value {
                keys::smp_boot::SERIAL => SmpBoot::Serial,
                keys::smp_boot::PARALLEL => SmpBoot::Parallel,
                _ => return Err("serial or parallel"),
            };
        }
        keys::WORKLOAD => {
            args.workload = Workload::parse(value).ok_or(
                "one of tasks, imbalance, sleep, pingpong, bench, burst, ipc, ipcstress, user, \
                 syscallstress",
            )?;
        }
        keys::STATS => match parse_seconds_as_ms(value) {
            Some(ms) if ms > 0 => args.stats_interval_ms = Some(ms),
            _ => return Err("a positive number of seconds, e.g. 1"),
        },
        keys::SMP_FAKE_AP => {
            args.smp_fake_ap = Some(value.parse().map_err(|_| "an APIC id, e.g. 200")?);
        }
        keys::SMP_LATE_AP => match value.parse::<u32>() {
            Ok(index) if index > 0 => args.smp_late_ap = Some(index),
            _ => return Err("the CPU index of an AP, e.g. 3"),
        },
        // `parse` passes only keys of `VALID_KEYS`, and each has an arm
        // (`every_valid_key_is_applied`).
        _ => return Err("a known key"),
    }
    Ok(())
}

/// Parses a decimal number of seconds (`2`, `0.5`, `1.250`) into milliseconds.
/// At most three fractional digits; no sign, no exponent.
fn parse_seconds_as_ms(value: &str) -> Option<u64> {
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    if frac.len() > 3 {
        return None;
    }
    let whole_ms = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?.checked_mul(1000)?
    };
    let mut frac_ms = 0;
    for (i, digit) in frac.bytes().enumerate() {
        frac_ms += u64::from(digit - b'0') * [100, 10, 1][i];
    }
    whole_ms.checked_add(frac_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_collect(text: &str) -> (KernelArgs<'_>, Vec<ArgIssue<'_>>) {
        let mut issues = Vec::new();
        let args = parse(text, |issue| issues.push(issue));
        (args, issues)
    }

    #[test]
    fn empty_line_gives_defaults() {
        let (args, issues) = parse_collect(" \n\t ");
        assert_eq!(args, KernelArgs::default());
        assert!(issues.is_empty());
    }

    #[test]
    fn all_keys_parse() {
        let (args, issues) = parse_collect("log=debug duration=2 test=heap\n");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(args.log, LogLevel::Debug);
        assert_eq!(args.duration_ms, Some(2000));
        assert_eq!(args.test, Some("heap"));
    }

    #[test]
    fn later_words_override_earlier_ones_with_a_warning() {
        let (args, issues) = parse_collect("log=warn duration=1 log=trace");
        assert_eq!(args.log, LogLevel::Trace);
        assert_eq!(
            issues,
            [ArgIssue::Repeated {
                key: "log",
                times: 2,
                wins: Some("log=trace")
            }]
        );
    }

    #[test]
    fn a_bad_repeat_does_not_win() {
        let (args, issues) = parse_collect("duration=2 log=warn duration=soon duration=3");
        assert_eq!(args.duration_ms, Some(3000));
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(matches!(
            issues[0],
            ArgIssue::BadValue {
                word: "duration=soon",
                ..
            }
        ));
        assert_eq!(
            issues[1],
            ArgIssue::Repeated {
                key: "duration",
                times: 3,
                wins: Some("duration=3")
            }
        );
        // The last valid value wins, not the last word.
        let (args, issues) = parse_collect("workload=sleep workload=chaos");
        assert_eq!(args.workload, Workload::Sleep);
        assert_eq!(
            issues[1],
            ArgIssue::Repeated {
                key: "workload",
                times: 2,
                wins: Some("workload=sleep")
            }
        );
        // No valid value at all: the default wins.
        let (args, issues) = parse_collect("stats=0 stats=x");
        assert_eq!(args.stats_interval_ms, None);
        assert_eq!(
            issues[2],
            ArgIssue::Repeated {
                key: "stats",
                times: 2,
                wins: None
            }
        );
    }

    #[test]
    fn every_valid_key_is_applied() {
        for key in VALID_KEYS {
            let mut args = KernelArgs::default();
            assert_ne!(apply(&mut args, key, "x"), Err("a known key"), "{key}");
        }
    }

    #[test]
    fn fractional_durations() {
        assert_eq!(parse_seconds_as_ms("0.5"), Some(500));
        assert_eq!(parse_seconds_as_ms(".25"), Some(250));
        assert_eq!(parse_seconds_as_ms("1.125"), Some(1125));
        assert_eq!(parse_seconds_as_ms("3."), Some(3000));
        assert_eq!(parse_seconds_as_ms("30"), Some(30_000));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.1234",
            "two",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds_as_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_key_is_reported_and_boot_continues() {
        let (args, issues) = parse_collect("bogus=1 duration=0.5");
        assert_eq!(issues, [ArgIssue::UnknownKey { word: "bogus=1" }]);
        assert_eq!(args.duration_ms, Some(500));
    }

    #[test]
    fn bad_values_keep_defaults() {
        let (args, issues) = parse_collect("log=loud duration=soon test= verbose");
        assert_eq!(args, KernelArgs::default());
        assert_eq!(issues.len(), 4);
        assert!(matches!(
            issues[0],
            ArgIssue::BadValue {
                word: "log=loud",
                ..
            }
        ));
        assert!(matches!(
            issues[1],
            ArgIssue::BadValue {
                word: "duration=soon",
                ..
            }
        ));
        assert!(matches!(
            issues[2],
            ArgIssue::BadValue { word: "test=", .. }
        ));
        assert_eq!(issues[3], ArgIssue::NotKeyValue { word: "verbose" });
    }

    #[test]
    fn smp_keys_parse() {
        let (args, issues) = parse_collect("smp_boot=serial smp_fake_ap=200");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(args.smp_boot, SmpBoot::Serial);
        assert_eq!(args.smp_fake_ap, Some(200));
        let (args, issues) = parse_collect("smp_boot=sideways smp_fake_ap=-1");
        assert_eq!(args.smp_boot, SmpBoot::Parallel);
        assert_eq!(args.smp_fake_ap, None);
        assert_eq!(issues.len(), 2);
    }

    #[test]
    fn late_ap_is_an_ap_index() {
        let (args, issues) = parse_collect("smp_late_ap=3");
        assert_eq!((args.smp_late_ap, issues.len()), (Some(3), 0));
        // Index 0 is the BSP, which is never late.
        let (args, issues) = parse_collect("smp_late_ap=0 smp_late_ap=x");
        assert_eq!((args.smp_late_ap, issues.len()), (None, 3));
        assert!(matches!(issues[2], ArgIssue::Repeated { wins: None, .. }));
    }

    #[test]
    fn workload_and_stats_parse() {
        let (args, issues) = parse_collect("workload=pingpong stats=0.5");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(args.workload, Workload::PingPong);
        assert_eq!(args.stats_interval_ms, Some(500));
        let (args, issues) = parse_collect("workload=chaos stats=0");
        assert_eq!(args.workload, Workload::Tasks);
        assert_eq!(args.stats_interval_ms, None);
        assert_eq!(issues.len(), 2);
    }

    #[test]
    fn every_workload_parses() {
        use keys::workload::*;
        for (word, workload) in [
            (TASKS, Workload::Tasks),
            (IMBALANCE, Workload::Imbalance),
            (SLEEP, Workload::Sleep),
            (PINGPONG, Workload::PingPong),
            (BENCH, Workload::Bench),
            (BURST, Workload::Burst),
        ] {
            let text = format!("workload={word}");
            let (args, issues) = parse_collect(&text);
            assert!(issues.is_empty(), "{word}: {issues:?}");
            assert_eq!(args.workload, workload, "{word}");
        }
    }

    #[test]
    fn bad_value_message_names_every_value() {
        use keys::{log, smp_boot, workload};
        let cases: [(&str, &[&str]); 3] = [
            (
                "log=loud",
                &[
                    log::OFF,
                    log::ERROR,
                    log::WARN,
                    log::INFO,
                    log::DEBUG,
                    log::TRACE,
                ],
            ),
            ("smp_boot=sideways", &[smp_boot::SERIAL, smp_boot::PARALLEL]),
            (
                "workload=chaos",
                &[
                    workload::TASKS,
                    workload::IMBALANCE,
                    workload::SLEEP,
                    workload::PINGPONG,
                    workload::BENCH,
                    workload::BURST,
                    workload::IPC,
                    workload::IPCSTRESS,
                    workload::USER,
                    workload::SYSCALLSTRESS,
                ],
            ),
        ];
        for (text, values) in cases {
            let (_, issues) = parse_collect(text);
            let [ArgIssue::BadValue { expected, .. }] = issues[..] else {
                panic!("{text}: {issues:?}");
            };
            for value in values {
                assert!(
                    expected.contains(value),
                    "{text}: '{expected}' lacks {value}"
                );
                let word = text.split('=').next().unwrap().to_owned() + "=" + value;
                assert!(parse_collect(&word).1.is_empty(), "{word}");
            }
        }
    }

    #[test]
    fn bad_workload_lists_bench() {
        let (_, issues) = parse_collect("workload=benchmark");
        assert!(matches!(
            issues[..],
            [ArgIssue::BadValue {
                word: "workload=benchmark",
                expected
            }] if expected.contains("bench")
        ));
    }

    #[test]
    fn value_may_contain_equals_and_colons() {
        let (args, issues) = parse_collect("test=harness::deliberate_panic");
        assert!(issues.is_empty());
        assert_eq!(args.test, Some("harness::deliberate_panic"));
    }
}

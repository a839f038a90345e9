//! Kernel arguments: the keys the kernel understands and the warnings it
//! prints about the words it cannot use (`docs/kernel-interface.md` §1).
//!
//! The host passes `key=value` words; the kernel parses them
//! (`kernel::cmdline`) and reports each problem as an [`ArgIssue`], printed
//! as an [`ArgWarning`](crate::boot::ArgWarning) whatever the log level.

use core::fmt;

/// `log=`: the log level of free-text lines.
pub const LOG: &str = "log";
/// `duration=`: seconds of workload, then `[STATS]` and success.
pub const DURATION: &str = "duration";
/// `test=`: run the in-kernel tests matching a filter.
pub const TEST: &str = "test";
/// `smp_boot=`: `parallel` or `serial` bring-up.
pub const SMP_BOOT: &str = "smp_boot";
/// `smp_fake_ap=`: also start an APIC id that has no CPU.
pub const SMP_FAKE_AP: &str = "smp_fake_ap";
/// `smp_late_ap=`: this AP holds back until the BSP gives up on it.
pub const SMP_LATE_AP: &str = "smp_late_ap";
/// `workload=`: what the executors run.
pub const WORKLOAD: &str = "workload";
/// `stats=`: print `[STATS]` every so many seconds.
pub const STATS: &str = "stats";

/// Every key the kernel understands, in the order the warning lists them.
pub const VALID_KEYS: [&str; 8] = [
    LOG,
    DURATION,
    TEST,
    SMP_BOOT,
    SMP_FAKE_AP,
    SMP_LATE_AP,
    WORKLOAD,
    STATS,
];

/// The values of `log=`, quietest first.
pub mod log {
    /// Nothing at all.
    pub const OFF: &str = "off";
    /// Errors only.
    pub const ERROR: &str = "error";
    /// Errors and warnings.
    pub const WARN: &str = "warn";
    /// The normal progress lines (the default).
    pub const INFO: &str = "info";
    /// Per-event detail.
    pub const DEBUG: &str = "debug";
    /// Everything.
    pub const TRACE: &str = "trace";
}

/// The values of `smp_boot=`.
pub mod smp_boot {
    /// One application processor at a time.
    pub const SERIAL: &str = "serial";
    /// All application processors at once (the default).
    pub const PARALLEL: &str = "parallel";
}

/// The values of `test=` that are not a test-name filter.
pub mod test {
    /// Every test that runs by default.
    pub const ALL: &str = "all";
}

/// The values of `workload=`.
pub mod workload {
    /// Tasks A–D (the default).
    pub const TASKS: &str = "tasks";
    /// Many tasks spawned on core 0, for stealing and balancing.
    pub const IMBALANCE: &str = "imbalance";
    /// Sleeping tasks, checked for when they wake; ends with `[SLEEP]`.
    pub const SLEEP: &str = "sleep";
    /// Pairs of tasks on different cores waking each other; ends with `[PINGPONG]`.
    pub const PINGPONG: &str = "pingpong";
    /// Micro-benchmarks of the executor; prints `[BENCH]`, then ends the run.
    pub const BENCH: &str = "bench";
    /// A spawn burst, checked task by task; prints `[BURST]`, then ends the run.
    pub const BURST: &str = "burst";
    /// Clients on every core calling services on other cores; ends with `[IPC]`.
    pub const IPC: &str = "ipc";
    /// Services on every core calling each other at random, with full and
    /// closed ports; ends with `[IPCSTRESS]`.
    pub const IPCSTRESS: &str = "ipcstress";
    /// User programs in ring 3: yield loops, a ping-pong, threads, a fault;
    /// ends with `[USER] result`.
    pub const USER: &str = "user";
    /// User threads making hostile and good system calls; ends with
    /// `[SYSCALLSTRESS]`.
    pub const SYSCALLSTRESS: &str = "syscallstress";
}

/// A word of the command line that the kernel could not use; the key keeps
/// its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgIssue<'a> {
    /// The key is not one of [`VALID_KEYS`].
    UnknownKey {
        /// The whole word, e.g. `bogus=1`.
        word: &'a str,
    },
    /// A word without `=`.
    NotKeyValue {
        /// The word.
        word: &'a str,
    },
    /// A known key with a value it cannot take.
    BadValue {
        /// The whole word.
        word: &'a str,
        /// What the key accepts.
        expected: &'a str,
    },
    /// A key given more than once: its last valid value wins.
    Repeated {
        /// The key.
        key: &'a str,
        /// How often it was given.
        times: u32,
        /// The word that took effect; `None` if no value was valid, so the
        /// default stands.
        wins: Option<&'a str>,
    },
}

impl fmt::Display for ArgIssue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey { word } => {
                write!(f, "unknown kernel argument '{word}' (valid keys: ")?;
                for (i, key) in VALID_KEYS.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{key}")?;
                }
                f.write_str(")")
            }
            Self::NotKeyValue { word } => {
                write!(f, "kernel argument '{word}' is not of the form key=value")
            }
            Self::BadValue { word, expected } => {
                write!(f, "kernel argument '{word}': expected {expected}")
            }
            Self::Repeated { key, times, wins } => {
                match times {
                    2 => write!(f, "kernel argument '{key}' given twice")?,
                    _ => write!(f, "kernel argument '{key}' given {times} times")?,
                }
                match wins {
                    Some(word) => write!(f, ": '{word}' wins"),
                    None => f.write_str(", no value valid: the default stands"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_key_names_the_winner() {
        let twice = ArgIssue::Repeated {
            key: DURATION,
            times: 2,
            wins: Some("duration=3"),
        };
        assert_eq!(
            twice.to_string(),
            "kernel argument 'duration' given twice: 'duration=3' wins"
        );
        let none = ArgIssue::Repeated {
            key: LOG,
            times: 3,
            wins: None,
        };
        assert_eq!(
            none.to_string(),
            "kernel argument 'log' given 3 times, no value valid: the default stands"
        );
    }

    #[test]
    fn unknown_key_message_lists_valid_keys() {
        let msg = ArgIssue::UnknownKey { word: "bogus=1" }.to_string();
        assert_eq!(
            msg,
            "unknown kernel argument 'bogus=1' (valid keys: log, duration, test, smp_boot, \
             smp_fake_ap, smp_late_ap, workload, stats)"
        );
    }
}

//! `[KTEST]`: the lines of the in-kernel test harness (`test=FILTER`).

use core::fmt;

use crate::tag::KTEST;
use crate::text::{Fields, ParseError, tagged};

/// One line of the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ktest<'a> {
    /// `[KTEST] begin count=N filter=F`: the harness starts; `N` tests match.
    Begin {
        /// Tests that match the filter.
        count: u64,
        /// The filter.
        filter: &'a str,
    },
    /// `[KTEST] run name=NAME`: a test starts (so a crash names it).
    Run {
        /// The test's name.
        name: &'a str,
    },
    /// `[KTEST] pass name=NAME us=T`: a test passed after `T` µs.
    Pass {
        /// The test's name.
        name: &'a str,
        /// Its run time in microseconds.
        us: u64,
    },
    /// `[KTEST] fail name=NAME reason=TEXT`: the reason runs to the end of
    /// the line, spaces and all.
    Fail {
        /// The test's name.
        name: &'a str,
        /// Why it failed.
        reason: &'a str,
    },
    /// `[KTEST] end passed=P failed=F`: the harness is done.
    End {
        /// Tests that passed.
        passed: u64,
        /// Tests that failed.
        failed: u64,
    },
}

const EVENT_FORM: &str = "[KTEST] begin|run|pass|fail|end key=value…";

impl<'a> Ktest<'a> {
    /// Parses the line: `None` for any line but `[KTEST] …`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, KTEST)?;
        let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
        Some(Self::parse_event(word, args))
    }

    fn parse_event(word: &str, args: &'a str) -> Result<Self, ParseError> {
        let fields = Fields::new(args);
        match word {
            "begin" => Ok(Self::Begin {
                count: fields.u64("count")?,
                filter: fields.str("filter")?,
            }),
            "run" => Ok(Self::Run {
                name: fields.str("name")?,
            }),
            "pass" => Ok(Self::Pass {
                name: fields.str("name")?,
                us: fields.u64("us")?,
            }),
            "fail" => {
                let rest = args
                    .strip_prefix("name=")
                    .ok_or(ParseError::Missing("name"))?;
                let (name, reason) = rest
                    .split_once(" reason=")
                    .ok_or(ParseError::Missing("reason"))?;
                if name.is_empty() || name.contains(' ') {
                    return Err(ParseError::BadValue("name"));
                }
                Ok(Self::Fail { name, reason })
            }
            "end" => Ok(Self::End {
                passed: fields.u64("passed")?,
                failed: fields.u64("failed")?,
            }),
            _ => Err(ParseError::Form(EVENT_FORM)),
        }
    }
}

impl fmt::Display for Ktest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Begin { count, filter } => {
                write!(f, "{KTEST} begin count={count} filter={filter}")
            }
            Self::Run { name } => write!(f, "{KTEST} run name={name}"),
            Self::Pass { name, us } => write!(f, "{KTEST} pass name={name} us={us}"),
            Self::Fail { name, reason } => write!(f, "{KTEST} fail name={name} reason={reason}"),
            Self::End { passed, failed } => {
                write!(f, "{KTEST} end passed={passed} failed={failed}")
            }
        }
    }
}

crate::report!(['a] Ktest<'a>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips() {
        let events = [
            Ktest::Begin {
                count: 3,
                filter: "all",
            },
            Ktest::Run {
                name: "mem::frames",
            },
            Ktest::Pass {
                name: "mem::frames",
                us: 120,
            },
            Ktest::Fail {
                name: "a::b",
                reason: "left = 1, right = 2 reason=x",
            },
            Ktest::End {
                passed: 1,
                failed: 1,
            },
        ];
        for event in events {
            assert_eq!(Ktest::parse(&event.to_string()), Some(Ok(event)), "{event}");
        }
        assert_eq!(
            Ktest::Pass { name: "x", us: 1 }.to_string(),
            "[KTEST] pass name=x us=1"
        );
    }

    #[test]
    fn malformed_events() {
        assert_eq!(Ktest::parse("[BOOT] x"), None);
        for bad in [
            "[KTEST] pass name=x",
            "[KTEST] fail reason=x",
            "[KTEST] fail name=a b reason=x",
            "[KTEST] frobnicate",
            "[KTEST] begin filter=all",
        ] {
            assert!(matches!(Ktest::parse(bad), Some(Err(_))), "{bad}");
        }
    }
}

//! `[SMP]` and `[APIC]`: bring-up and the Local APIC timers.

use core::fmt;

use crate::tag::{APIC, SMP};
use crate::text::{ParseError, decimal, split, tagged};

/// An application processor came online: `[SMP] AP#3 online`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApOnline {
    /// The AP's CPU index (the BSP is 0).
    pub index: u32,
}

const AP_ONLINE_FORM: &str = "[SMP] AP#K online";

impl ApOnline {
    /// Parses the line: `None` for any line but `[SMP] AP#…`.
    pub fn parse(line: &str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, SMP)?.strip_prefix("AP#")?;
        Some((|| {
            let index = rest
                .strip_suffix(" online")
                .ok_or(ParseError::Form(AP_ONLINE_FORM))?;
            let index = index_u32(index).ok_or(ParseError::BadValue("AP#"))?;
            Ok(Self { index })
        })())
    }
}

impl fmt::Display for ApOnline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SMP} AP#{} online", self.index)
    }
}

/// An AP that did not come online:
/// `[SMP] WARN AP#4 (apic_id=200) failed to start at stage 0 (never answered INIT-SIPI-SIPI)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApFailed<D> {
    /// The AP's CPU index.
    pub index: u32,
    /// Its APIC id.
    pub apic_id: u32,
    /// The last bring-up stage it reported (0: none; `docs/smp.md`).
    pub stage: u8,
    /// What that stage means, or why the start failed.
    pub why: D,
}

const AP_FAILED_FORM: &str = "[SMP] WARN AP#K (apic_id=A) failed to start at stage S (WHY)";

impl<'a> ApFailed<&'a str> {
    /// Parses the line: `None` for any line but `[SMP] WARN AP#…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = crate::log::warning(line, SMP)?.strip_prefix("AP#")?;
        Some((|| {
            let (index, rest) = split(rest, " (apic_id=", AP_FAILED_FORM)?;
            let (apic_id, rest) = split(rest, ") failed to start at stage ", AP_FAILED_FORM)?;
            let (stage, rest) = split(rest, " (", AP_FAILED_FORM)?;
            let why = rest
                .strip_suffix(')')
                .ok_or(ParseError::Form(AP_FAILED_FORM))?;
            Ok(Self {
                index: index_u32(index).ok_or(ParseError::BadValue("AP#"))?,
                apic_id: index_u32(apic_id).ok_or(ParseError::BadValue("apic_id"))?,
                stage: decimal(stage)
                    .and_then(|stage| u8::try_from(stage).ok())
                    .ok_or(ParseError::BadValue("stage"))?,
                why,
            })
        })())
    }
}

impl<D: fmt::Display> fmt::Display for ApFailed<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::log::write_warning(
            f,
            SMP,
            format_args!(
                "AP#{} (apic_id={}) failed to start at stage {} ({})",
                self.index, self.apic_id, self.stage, self.why
            ),
        )
    }
}

/// How the Local APICs are driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApicMode {
    /// MMIO registers, 8-bit APIC ids.
    XApic,
    /// MSR registers, 32-bit APIC ids.
    X2Apic,
}

impl ApicMode {
    /// The mode's name in the line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::XApic => "XApic",
            Self::X2Apic => "X2Apic",
        }
    }
}

/// The BSP's Local APIC mode, which every CPU follows:
/// `[SMP] Local APIC mode: X2Apic`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LapicMode {
    /// The mode.
    pub mode: ApicMode,
}

impl LapicMode {
    /// Parses the line: `None` for any line but `[SMP] Local APIC mode: …`.
    pub fn parse(line: &str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, SMP)?.strip_prefix("Local APIC mode: ")?;
        Some(
            [ApicMode::XApic, ApicMode::X2Apic]
                .into_iter()
                .find(|mode| mode.as_str() == rest)
                .map(|mode| Self { mode })
                .ok_or(ParseError::BadValue("Local APIC mode")),
        )
    }
}

impl fmt::Display for LapicMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SMP} Local APIC mode: {}", self.mode.as_str())
    }
}

/// A CPU's scheduler tick started:
/// `[APIC] core0 timer @62500000Hz (divide 16, Periodic, 100 Hz tick)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApicTimer<D> {
    /// The CPU index.
    pub core: u32,
    /// The timer's count rate after the divider, measured once on the BSP.
    pub hz: u64,
    /// The divider.
    pub divide: u32,
    /// The timer mode (`Periodic`, `TscDeadline`).
    pub mode: D,
    /// The tick rate ([`SCHED_HZ`](crate::SCHED_HZ)).
    pub tick_hz: u32,
}

const TIMER_FORM: &str = "[APIC] coreN timer @XHz (divide D, MODE, T Hz tick)";

impl<'a> ApicTimer<&'a str> {
    /// Parses the line: `None` for any line but `[APIC] core…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, APIC)?.strip_prefix("core")?;
        Some((|| {
            let (core, rest) = split(rest, " timer @", TIMER_FORM)?;
            let (hz, rest) = split(rest, "Hz (divide ", TIMER_FORM)?;
            let (divide, rest) = split(rest, ", ", TIMER_FORM)?;
            let (mode, rest) = split(rest, ", ", TIMER_FORM)?;
            let tick_hz = rest
                .strip_suffix(" Hz tick)")
                .ok_or(ParseError::Form(TIMER_FORM))?;
            Ok(Self {
                core: index_u32(core).ok_or(ParseError::BadValue("core"))?,
                hz: decimal(hz).ok_or(ParseError::BadValue("timer @"))?,
                divide: index_u32(divide).ok_or(ParseError::BadValue("divide"))?,
                mode,
                tick_hz: index_u32(tick_hz).ok_or(ParseError::BadValue("Hz tick"))?,
            })
        })())
    }
}

impl<D: fmt::Display> fmt::Display for ApicTimer<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{APIC} core{} timer @{}Hz (divide {}, {}, {} Hz tick)",
            self.core, self.hz, self.divide, self.mode, self.tick_hz
        )
    }
}

fn index_u32(text: &str) -> Option<u32> {
    decimal(text).and_then(|n| u32::try_from(n).ok())
}

crate::report!(
    [] ApOnline,
    [D: core::fmt::Display] ApFailed<D>,
    [] LapicMode,
    [D: core::fmt::Display] ApicTimer<D>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ap_online_round_trips() {
        let line = ApOnline { index: 63 }.to_string();
        assert_eq!(line, "[SMP] AP#63 online");
        assert_eq!(ApOnline::parse(&line), Some(Ok(ApOnline { index: 63 })));
        assert_eq!(ApOnline::parse("[SMP] BSP online (apic_id=0)"), None);
        assert_eq!(
            ApOnline::parse("[SMP] WARN AP#4 (apic_id=200) failed"),
            None
        );
        assert!(matches!(ApOnline::parse("[SMP] AP#x online"), Some(Err(_))));
        assert!(matches!(
            ApOnline::parse("[SMP] AP#1 offline"),
            Some(Err(_))
        ));
    }

    #[test]
    fn ap_failed_round_trips() {
        let failed = ApFailed {
            index: 4,
            apic_id: 200,
            stage: 0,
            why: "never answered INIT-SIPI-SIPI",
        };
        let line = failed.to_string();
        assert_eq!(
            line,
            "[SMP] WARN AP#4 (apic_id=200) failed to start at stage 0 \
             (never answered INIT-SIPI-SIPI)"
        );
        assert_eq!(ApFailed::parse(&line), Some(Ok(failed)));
        assert_eq!(ApFailed::parse("[SMP] AP#4 online"), None);
        assert!(matches!(
            ApFailed::parse("[SMP] WARN AP#4 (apic_id=200) failed to start: Timeout"),
            Some(Err(_))
        ));
    }

    #[test]
    fn lapic_mode_round_trips() {
        for mode in [ApicMode::XApic, ApicMode::X2Apic] {
            let line = LapicMode { mode }.to_string();
            assert_eq!(LapicMode::parse(&line), Some(Ok(LapicMode { mode })));
        }
        assert_eq!(
            LapicMode {
                mode: ApicMode::X2Apic
            }
            .to_string(),
            "[SMP] Local APIC mode: X2Apic"
        );
        assert!(matches!(
            LapicMode::parse("[SMP] Local APIC mode: Pic"),
            Some(Err(_))
        ));
    }

    #[test]
    fn apic_timer_round_trips() {
        let timer = ApicTimer {
            core: 12,
            hz: 62_500_000,
            divide: 16,
            mode: "TscDeadline",
            tick_hz: crate::SCHED_HZ,
        };
        let line = timer.to_string();
        assert_eq!(
            line,
            "[APIC] core12 timer @62500000Hz (divide 16, TscDeadline, 100 Hz tick)"
        );
        assert_eq!(ApicTimer::parse(&line), Some(Ok(timer)));
        assert_eq!(ApicTimer::parse("[APIC] ERROR core0: no tick"), None);
        assert!(matches!(
            ApicTimer::parse("[APIC] core0 timer @62500000Hz"),
            Some(Err(_))
        ));
    }
}

//! Tick accounting: how many scheduler ticks a gap between two tick
//! interrupts stands for.
//!
//! Under emulation a descheduled vCPU's ticks come late, and some never come
//! (a TSC-deadline tick that fell behind is re-armed from "now"; QEMU may
//! coalesce periodic ones) — while others catch up in quick succession. The
//! kernel keeps time from the TSC, so a lost tick is no kernel bug. Each CPU
//! therefore reports, beside its ticks, `ticks_late` (ticks that came at
//! least 1.5 periods after the previous one, [`missed_ticks`] > 0) and
//! `ticks_lost` (how many ticks fewer than the TSC says should have come
//! since the first, [`ticks_behind`]: late ticks that caught up are not
//! lost). The host's tick check judges `ticks + ticks_lost` against the
//! timer's run time, and fails a CPU most of whose ticks came late (a timer
//! at the wrong rate, not load).

/// Ticks a gap of `gap` TSC cycles between two tick interrupts skipped, for
/// a tick period of `period` cycles: the gap rounded to whole periods, less
/// the one tick that ended it. A gap under 1.5 periods skipped none.
/// `period == 0` (no calibration) counts nothing.
pub const fn missed_ticks(gap: u64, period: u64) -> u64 {
    if period == 0 {
        return 0;
    }
    (gap.saturating_add(period / 2) / period).saturating_sub(1)
}

/// How many ticks fewer than due have come: `ticks` ticks (this one
/// included) arrived by TSC `now`, the first at `first`, one every `period`
/// cycles (rounded to the nearest tick). 0 when on time or ahead.
pub const fn ticks_behind(first: u64, now: u64, period: u64, ticks: u64) -> u64 {
    if period == 0 {
        return 0;
    }
    let due = now.saturating_sub(first).saturating_add(period / 2) / period + 1;
    due.saturating_sub(ticks)
}

#[cfg(test)]
mod tests {
    use super::{missed_ticks, ticks_behind};

    #[test]
    fn behind_counts_what_never_came_not_what_came_late() {
        let p = 1000;
        assert_eq!(ticks_behind(0, 0, p, 1), 0, "the first tick");
        assert_eq!(ticks_behind(0, 9_000, p, 10), 0, "on time");
        assert_eq!(ticks_behind(0, 9_000, p, 7), 3, "three never came");
        assert_eq!(ticks_behind(0, 9_000, p, 12), 0, "ahead is not negative");
        // Late ticks that caught up: 10 ticks by 9.4 periods is on time.
        assert_eq!(ticks_behind(0, 9_400, p, 10), 0);
        assert_eq!(ticks_behind(5, 6, 0, 1), 0, "no calibration");
    }

    #[test]
    fn on_time_ticks_skip_nothing() {
        let p = 21_000_000; // 2.1 GHz TSC, 100 Hz
        for gap in [p / 2 + 1, p - 1000, p, p + 1000, p + p / 2 - 1] {
            assert_eq!(missed_ticks(gap, p), 0, "gap {gap}");
        }
    }

    #[test]
    fn coalesced_periods_count_as_lost() {
        let p = 1000;
        assert_eq!(missed_ticks(1500, p), 1);
        assert_eq!(missed_ticks(2000, p), 1);
        assert_eq!(missed_ticks(3400, p), 2);
        assert_eq!(missed_ticks(10_000, p), 9);
    }

    #[test]
    fn no_calibration_or_no_gap_counts_nothing() {
        assert_eq!(missed_ticks(12345, 0), 0);
        assert_eq!(missed_ticks(0, 1000), 0);
        assert_eq!(missed_ticks(u64::MAX, 1), u64::MAX - 1);
    }
}

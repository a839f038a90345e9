//! A recording [`IpcCounters`] for the tests: each OS thread counts into its
//! own cells, so tests running in parallel do not see each other's messages.
//! (Loom runs all threads of a model on the test's OS thread, so there a
//! model's counts are the sum over its loom threads.)

use std::cell::Cell;
use std::sync::Once;

use crate::counters::{IpcCounters, set_counters};

std::thread_local! {
    static COUNTS: Cell<Counts> = const { Cell::new(Counts { sent: 0, received: 0, dropped: 0 }) };
}

/// What one thread counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) dropped: u64,
}

impl Counts {
    pub(crate) const fn new(sent: u64, received: u64, dropped: u64) -> Self {
        Self {
            sent,
            received,
            dropped,
        }
    }
}

impl core::ops::Add for Counts {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self::new(
            self.sent + other.sent,
            self.received + other.received,
            self.dropped + other.dropped,
        )
    }
}

/// The fake: adds to the calling thread's [`Counts`].
struct Recording;

fn update(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|cell| {
        let mut counts = cell.get();
        f(&mut counts);
        cell.set(counts);
    });
}

impl IpcCounters for Recording {
    fn sent(&self) {
        update(|c| c.sent += 1);
    }

    fn received(&self) {
        update(|c| c.received += 1);
    }

    fn dropped(&self, n: u64) {
        assert!(n > 0, "dropped(0) is never reported");
        update(|c| c.dropped += n);
    }
}

static RECORDING: Recording = Recording;

/// Registers the fake (once per process) and clears this thread's counts.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| set_counters(&RECORDING).expect("only the tests register counters"));
    take();
}

/// This thread's counts since the last `take`, which it clears.
pub(crate) fn take() -> Counts {
    COUNTS.with(|cell| cell.replace(Counts::default()))
}

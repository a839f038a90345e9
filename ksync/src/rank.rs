//! Lock ranks: the kernel's lock order, written down once and checked on
//! every acquisition in debug builds.
//!
//! # The rule
//!
//! Every lock has a [`LockRank`]. **While a CPU holds a lock of rank `r`, it
//! may only acquire locks of rank strictly greater than `r`.** Two CPUs that
//! both follow the rule can never wait for each other in a cycle, so no
//! lock-order deadlock is possible.
//!
//! Consequences:
//!
//! - Taking the *same* lock twice (self-deadlock) is a violation, and so is
//!   taking two different locks of the same rank one after the other. The one
//!   sanctioned way to hold two locks of one rank (two run queues during a
//!   migration) is [`SpinLock::lock_two`](crate::SpinLock::lock_two) /
//!   [`IrqSpinLock::lock_two`](crate::IrqSpinLock::lock_two), which acquire
//!   them in a fixed global order (by address; for locks in a per-CPU array
//!   that is "lower CPU index first").
//! - `try_lock` is not checked against the order (it never waits, so it cannot
//!   close a deadlock cycle), but a lock it obtains counts as held.
//! - Locks may be *released* in any order.
//! - Interrupt handlers are not exempt: a handler that takes rank 8 while the
//!   interrupted code holds rank 12 is a real deadlock risk (another CPU may
//!   hold 8 and wait for 12), and is reported. Locks taken in interrupt
//!   context therefore rank above every lock held with interrupts enabled
//!   (kind `irq` below), and are held with interrupts off
//!   ([`IrqSpinLock`](crate::IrqSpinLock), [`IrqRawMutex`](crate::IrqRawMutex),
//!   or a lock the platform takes with interrupts off, as the executor's timer
//!   lists).
//!
//! # The kernel's order
//!
//! Low ranks are outer (taken first), high ranks inner. Gaps leave room for
//! new locks without renumbering.
//!
//! | rank | constant                    | protects                                   | kind   |
//! |-----:|-----------------------------|--------------------------------------------|--------|
//! |    2 | [`LockRank::BRING_UP`]      | the record of APs that failed to start     | spin   |
//! |    4 | [`LockRank::IPC`]           | the IPC name table (`ipc::Names`)          | spin   |
//! |    8 | [`LockRank::PAGE_TABLES`]   | the kernel page-table mapper               | spin   |
//! |   12 | [`LockRank::FRAMES`]        | the physical frame allocator               | spin   |
//! |   16 | [`LockRank::HEAP`]          | the kernel heap                            | spin   |
//! |   20 | [`LockRank::TIMERS`]        | per-core timer lists (timer interrupt)     | irq    |
//! |   26 | [`LockRank::WAIT_LIST`]     | wait lists of the async primitives         | irq    |
//! |   28 | [`LockRank::IOAPIC`]        | the I/O APICs' select/data register pairs  | irq    |
//! |   30 | [`LockRank::CONSOLE`]       | serial console / logger — innermost        | irq    |
//!
//! Why this order:
//!
//! - the bring-up record is a growing `Vec`: `BRING_UP` < `HEAP`;
//! - mapping a page allocates page-table frames: `PAGE_TABLES` < `FRAMES`;
//! - almost anything may allocate, so `HEAP` sits above the process-context
//!   locks — and nothing may allocate while holding an IRQ-level lock (an
//!   interrupt handler must not allocate), which is why `HEAP` is below them;
//! - the timer interrupt moves due entries out of its list under `TIMERS`
//!   and wakes them after unlocking; the run queues it wakes into are
//!   lock-free, so no rank is needed for them;
//! - the async primitives' wait lists (`IrqRawMutex`, default rank) are held
//!   only to link or unlink a waiter or to move a value: nothing else is taken
//!   under them and no waker runs under them, so they sit high, and an
//!   interrupt handler holding `TIMERS` may still signal one;
//! - an I/O APIC is programmed through an index/data register pair, so one
//!   lock covers the pair; nothing is taken under it (no logging, no
//!   allocation, no waking), and it is IRQ-level so a handler may mask its
//!   own line: just below `CONSOLE`;
//! - every lock holder may log, and logging takes the console lock, so
//!   `CONSOLE` is the highest rank: code holding it takes no other lock (and
//!   does not allocate).
//!
//! # The mechanism
//!
//! Each CPU owns a [`HeldRanks`]: one counter per rank of the locks it holds.
//! The kernel tells this module where the current CPU's `HeldRanks` lives with
//! [`set_held_ranks_hook`] (its per-CPU block, reached through GS). An
//! acquisition checks that the highest held rank is below the new one *before*
//! spinning — so a would-be deadlock is a panic naming both ranks instead of a
//! hang — and bumps the counter once the lock is taken; the guard remembers
//! which `HeldRanks` it bumped and decrements that same one on release.
//!
//! The *kind* column is checked too: acquiring a lock of an IRQ-level rank
//! ([`LockRank::IRQ_LEVEL`] and above) with interrupts enabled panics, since an
//! interrupt handler of the same CPU could then spin on it forever.
//!
//! All of this exists only with `debug_assertions`: in release builds the
//! bookkeeping type is zero-sized and every check compiles to nothing.
//!
//! **Before the hook is installed** (early boot, or on a CPU whose per-CPU
//! block is not set up yet, when the hook returns `None`) checks are skipped
//! and nothing is recorded. Early boot runs on one CPU with interrupts off, so
//! there is nothing to deadlock with; a lock taken before the hook and released
//! after it is simply never counted.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

use spin::Once;

/// The position of a lock in the kernel's lock order (see the [module
/// docs](self)). Smaller ranks are acquired first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockRank(u8);

impl LockRank {
    /// Number of distinct ranks; valid ranks are `0..COUNT`.
    pub const COUNT: usize = 32;

    /// The bring-up record of APs that did not come online (the BSP, during
    /// boot). Below `HEAP`: recording a failure grows a `Vec`.
    pub const BRING_UP: Self = Self::new(2);
    /// The IPC layer's name table (`ipc::Names`): taken first by a service
    /// registering or a client looking up a port; it allocates and clones
    /// send rights (a port's `WAIT_LIST` lock) under it, never runs a waker.
    pub const IPC: Self = Self::new(4);
    /// The kernel page-table mapper. Mapping may allocate frames.
    pub const PAGE_TABLES: Self = Self::new(8);
    /// The physical frame allocator.
    pub const FRAMES: Self = Self::new(12);
    /// The kernel heap. Highest of the process-context locks; never taken
    /// while an IRQ-level lock is held.
    pub const HEAP: Self = Self::new(16);
    /// The executor's per-core timer lists, taken by the timer interrupt and,
    /// with interrupts off, by tasks arming or cancelling a sleep.
    pub const TIMERS: Self = Self::new(20);
    /// Wait lists and channel rings of the async primitives
    /// (`executor::sync` over [`IrqRawMutex`](crate::IrqRawMutex)): held only
    /// to link or unlink a waiter or move a value, never while a waker runs.
    pub const WAIT_LIST: Self = Self::new(26);
    /// The I/O APICs (IOREGSEL/IOWIN pairs): held only for the register
    /// accesses of one operation; nothing is taken, logged or allocated
    /// under it.
    pub const IOAPIC: Self = Self::new(28);
    /// The serial console and logger: the innermost lock. Everything may log,
    /// so nothing is acquired while it is held.
    pub const CONSOLE: Self = Self::new(30);

    /// The named ranks, lowest first (used for `Debug` output, and checked
    /// against the rank tables of the docs by a host test).
    pub(crate) const NAMED: [(Self, &'static str); 9] = [
        (Self::BRING_UP, "BRING_UP"),
        (Self::IPC, "IPC"),
        (Self::PAGE_TABLES, "PAGE_TABLES"),
        (Self::FRAMES, "FRAMES"),
        (Self::HEAP, "HEAP"),
        (Self::TIMERS, "TIMERS"),
        (Self::WAIT_LIST, "WAIT_LIST"),
        (Self::IOAPIC, "IOAPIC"),
        (Self::CONSOLE, "CONSOLE"),
    ];

    /// A rank with the given value. For locks outside the table above (tests,
    /// drivers); prefer adding a named constant.
    ///
    /// # Panics
    ///
    /// If `value >= LockRank::COUNT` (at compile time in a `const`).
    pub const fn new(value: u8) -> Self {
        assert!((value as usize) < Self::COUNT, "lock rank out of range");
        Self(value)
    }

    /// The rank's number.
    pub const fn value(self) -> u8 {
        self.0
    }

    /// The lowest IRQ-level rank: locks an interrupt handler may take, held
    /// only with interrupts off (kind `irq` in the table).
    pub const IRQ_LEVEL: Self = Self::TIMERS;

    /// Whether locks of this rank may be taken in interrupt handlers, and so
    /// must be held with interrupts off (debug builds check it on every
    /// acquisition once the kernel has installed its interrupt control).
    pub const fn is_irq_level(self) -> bool {
        self.0 >= Self::IRQ_LEVEL.0
    }

    /// The constant's name, if this is one of the named ranks.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(rank, _)| *rank == self)
            .map(|(_, name)| *name)
    }
}

impl fmt::Debug for LockRank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "LockRank({})", self.0),
        }
    }
}

impl fmt::Display for LockRank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The ranks of the locks one CPU holds: a counter per rank.
///
/// One per CPU, in its per-CPU block; found through [`set_held_ranks_hook`].
/// Only its own CPU changes it, with single atomic read-modify-writes, so an
/// interrupt handler that takes and releases locks in between leaves it as it
/// found it. (Counters rather than a bitmask because `lock_two` and `try_lock`
/// can hold several locks of one rank.)
#[derive(Debug)]
pub struct HeldRanks {
    counts: [AtomicU8; LockRank::COUNT],
}

impl HeldRanks {
    /// No locks held.
    pub const fn new() -> Self {
        Self {
            counts: [const { AtomicU8::new(0) }; LockRank::COUNT],
        }
    }

    /// The highest rank held, if any lock is held.
    pub fn highest(&self) -> Option<LockRank> {
        (0..LockRank::COUNT)
            .rev()
            .find(|&i| self.counts[i].load(Ordering::Relaxed) != 0)
            .map(|i| LockRank(i as u8))
    }

    /// How many locks of `rank` are held.
    pub fn count(&self, rank: LockRank) -> u8 {
        self.counts[usize::from(rank.0)].load(Ordering::Relaxed)
    }

    /// Whether no lock is held.
    pub fn is_empty(&self) -> bool {
        self.highest().is_none()
    }

    /// Panics unless a CPU holding these locks may wait for a lock of `rank`.
    #[cfg(debug_assertions)]
    #[track_caller]
    fn check(&self, rank: LockRank) {
        if let Some(held) = self.highest() {
            assert!(
                held < rank,
                "lock rank violation: acquiring a {rank:?} lock while holding a {held:?} lock \
                 (ranks must strictly increase; use lock_two for two locks of one rank)"
            );
        }
    }

    #[cfg(debug_assertions)]
    fn add(&self, rank: LockRank) {
        let before = self.counts[usize::from(rank.0)].fetch_add(1, Ordering::Relaxed);
        assert!(before < u8::MAX, "too many {rank:?} locks held");
    }

    #[cfg(debug_assertions)]
    fn remove(&self, rank: LockRank) {
        let before = self.counts[usize::from(rank.0)].fetch_sub(1, Ordering::Relaxed);
        assert!(
            before > 0,
            "released a {rank:?} lock that was never recorded"
        );
    }
}

impl Default for HeldRanks {
    fn default() -> Self {
        Self::new()
    }
}

/// A hook was already installed; the new one was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyInstalled;

impl fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sync hook already installed")
    }
}

/// Returns the current CPU's [`HeldRanks`], or `None` when it has none yet.
pub type HeldRanksHook = fn() -> Option<&'static HeldRanks>;

static HELD_RANKS_HOOK: Once<HeldRanksHook> = Once::new();

/// Tells the rank checker where the current CPU's [`HeldRanks`] is. Call once,
/// at boot; until then (and whenever the hook returns `None`) rank checks are
/// skipped. The hook runs on every lock acquisition and release in debug
/// builds: it must not take locks, allocate or log.
///
/// # Errors
///
/// [`AlreadyInstalled`] if a hook was installed before (the first one stays).
pub fn set_held_ranks_hook(hook: HeldRanksHook) -> Result<(), AlreadyInstalled> {
    let mut installed = false;
    HELD_RANKS_HOOK.call_once(|| {
        installed = true;
        hook
    });
    if installed {
        Ok(())
    } else {
        Err(AlreadyInstalled)
    }
}

/// The current CPU's rank state, if the kernel has provided it.
#[cfg(debug_assertions)]
fn this_cpu() -> Option<&'static HeldRanks> {
    HELD_RANKS_HOOK.get().and_then(|hook| hook())
}

/// Proof that one lock of some rank is recorded as held by a CPU; removes the
/// record when dropped or [released](Self::release). Zero-sized in release
/// builds.
#[derive(Debug)]
pub(crate) struct RankRecord {
    /// The `HeldRanks` that was incremented (not necessarily the current
    /// CPU's at release time), and the rank.
    #[cfg(debug_assertions)]
    entry: Option<(&'static HeldRanks, LockRank)>,
}

impl RankRecord {
    /// Panics (debug builds) if the current CPU may not now wait for a lock of
    /// `rank`. Call before spinning.
    ///
    /// Also panics if `rank` [is IRQ-level](LockRank::is_irq_level) and
    /// interrupts are enabled: an interrupt handler on this CPU that wants the
    /// lock would spin forever on it.
    #[inline]
    #[track_caller]
    pub(crate) fn check(rank: LockRank) {
        #[cfg(debug_assertions)]
        {
            if let Some(held) = this_cpu() {
                held.check(rank);
            }
            if rank.is_irq_level() {
                assert!(
                    crate::irq::interrupts_enabled() != Some(true),
                    "lock rank violation: {rank:?} is an IRQ-level lock, acquired with \
                     interrupts enabled (use an IrqSpinLock or take it with interrupts off)"
                );
            }
        }
        #[cfg(not(debug_assertions))]
        let _ = rank;
    }

    /// Records that the current CPU now holds a lock of `rank`.
    #[inline]
    pub(crate) fn record(rank: LockRank) -> Self {
        #[cfg(debug_assertions)]
        {
            let held = this_cpu();
            if let Some(held) = held {
                held.add(rank);
            }
            Self {
                entry: held.map(|held| (held, rank)),
            }
        }
        #[cfg(not(debug_assertions))]
        {
            let _ = rank;
            Self {}
        }
    }

    /// Removes the record now (idempotent; dropping does it otherwise).
    #[inline]
    pub(crate) fn release(&mut self) {
        #[cfg(debug_assertions)]
        if let Some((held, rank)) = self.entry.take() {
            held.remove(rank);
        }
    }
}

impl Drop for RankRecord {
    fn drop(&mut self) {
        self.release();
    }
}

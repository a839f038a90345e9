//! [`IrqSpinLock`]: a [`SpinLock`] that also keeps interrupts off on its CPU
//! while held.
//!
//! A lock that an interrupt handler takes must not be held with interrupts
//! enabled: if the interrupt arrives on the holding CPU, the handler spins on a
//! lock that the code it interrupted can never release. So `lock()`:
//!
//! 1. saves whether interrupts were enabled and disables them,
//! 2. takes the spin lock;
//!
//! and dropping the guard:
//!
//! 1. releases the spin lock,
//! 2. *then* restores the saved state.
//!
//! The order matters both ways. Enabling interrupts before unlocking would let
//! an interrupt handler on this CPU spin on the lock we still hold (deadlock);
//! disabling them only after locking leaves the same window at acquisition.
//!
//! Restoring the *saved* state, rather than enabling, is what makes nesting
//! work: an inner `IrqSpinLock` taken while an outer one is held saves
//! "disabled", so dropping it leaves interrupts off until the outer guard goes.
//!
//! # The hook
//!
//! The library does not execute `cli`/`sti` itself (it is hardware-blind): the
//! kernel installs an [`InterruptControl`] at boot with
//! [`set_interrupt_control`]. Until then `IrqSpinLock` does not touch
//! interrupts, which is correct as long as the kernel installs it before it
//! first enables interrupts. A guard remembers the controller it saved with,
//! so it never restores a state that was not saved.

use core::fmt;
use core::ops::{Deref, DerefMut};

use spin::Once;

use crate::rank::{AlreadyInstalled, LockRank};
use crate::spin::{SpinLock, SpinLockGuard};

/// Whether interrupts were enabled on a CPU before
/// [`InterruptControl::save_and_disable`] disabled them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the saved state must be handed back to `restore`"]
pub struct SavedIrqState {
    were_enabled: bool,
}

impl SavedIrqState {
    /// The state "interrupts were enabled" (`true`) or "were disabled".
    pub const fn new(were_enabled: bool) -> Self {
        Self { were_enabled }
    }

    /// Whether interrupts were enabled.
    pub const fn were_enabled(self) -> bool {
        self.were_enabled
    }
}

/// The machine's interrupt flag, as the kernel provides it (x86_64: the IF bit
/// of RFLAGS, `cli`/`sti`).
///
/// Both methods act on the calling CPU only, must not take locks, and must be
/// cheap: they run on every [`IrqSpinLock`] acquisition and release.
pub trait InterruptControl: Sync {
    /// Whether interrupts are enabled on this CPU (for the rank checker's
    /// IRQ-level rule, debug builds).
    fn are_enabled(&self) -> bool;

    /// Returns whether interrupts are enabled on this CPU, and disables them.
    fn save_and_disable(&self) -> SavedIrqState;

    /// Puts this CPU's interrupt flag back as `saved` says: enables interrupts
    /// if they were enabled, otherwise leaves them disabled. Called with
    /// interrupts disabled.
    fn restore(&self, saved: SavedIrqState);
}

static INTERRUPT_CONTROL: Once<&'static dyn InterruptControl> = Once::new();

/// Installs the machine's interrupt control for [`IrqSpinLock`]. Call once at
/// boot, before interrupts are first enabled.
///
/// # Errors
///
/// [`AlreadyInstalled`] if a controller was installed before (the first one
/// stays).
pub fn set_interrupt_control(
    control: &'static dyn InterruptControl,
) -> Result<(), AlreadyInstalled> {
    let mut installed = false;
    INTERRUPT_CONTROL.call_once(|| {
        installed = true;
        control
    });
    if installed {
        Ok(())
    } else {
        Err(AlreadyInstalled)
    }
}

/// Whether interrupts are enabled on this CPU, if a controller is installed.
#[cfg(debug_assertions)]
pub(crate) fn interrupts_enabled() -> Option<bool> {
    INTERRUPT_CONTROL.get().map(|control| control.are_enabled())
}

/// Disables interrupts when created and restores the saved state when dropped.
pub(crate) struct IrqRestore {
    saved: Option<(&'static dyn InterruptControl, SavedIrqState)>,
}

impl IrqRestore {
    pub(crate) fn save_and_disable() -> Self {
        let saved = INTERRUPT_CONTROL
            .get()
            .map(|&control| (control, control.save_and_disable()));
        Self { saved }
    }
}

impl Drop for IrqRestore {
    fn drop(&mut self) {
        if let Some((control, saved)) = self.saved {
            control.restore(saved);
        }
    }
}

/// A spin lock that disables interrupts on its CPU while held (see the
/// [module docs](self)). For locks that interrupt handlers take.
///
/// ```
/// use ksync::{IrqSpinLock, LockRank};
///
/// static QUEUE: IrqSpinLock<[u32; 4]> = IrqSpinLock::new(LockRank::TIMERS, [0; 4]);
///
/// QUEUE.lock()[0] = 7;
/// assert_eq!(QUEUE.lock()[0], 7);
/// ```
///
/// Like [`SpinLockGuard`], the guard is not `Send`: the saved interrupt flag
/// belongs to the CPU that took the lock.
///
/// ```compile_fail,E0277
/// use ksync::{IrqSpinLock, LockRank};
///
/// static LOCK: IrqSpinLock<u64> = IrqSpinLock::new(LockRank::TIMERS, 0);
///
/// let guard = LOCK.lock();
/// std::thread::spawn(move || drop(guard));
/// ```
pub struct IrqSpinLock<T> {
    inner: SpinLock<T>,
}

impl<T> IrqSpinLock<T> {
    /// A new, unlocked lock of the given rank holding `value`.
    #[cfg(not(loom))]
    pub const fn new(rank: LockRank, value: T) -> Self {
        Self {
            inner: SpinLock::new(rank, value),
        }
    }

    /// A new, unlocked lock of the given rank holding `value`.
    #[cfg(loom)]
    pub fn new(rank: LockRank, value: T) -> Self {
        Self {
            inner: SpinLock::new(rank, value),
        }
    }

    /// The lock's rank.
    pub const fn rank(&self) -> LockRank {
        self.inner.rank()
    }

    /// Disables interrupts (saving their state), then spins until the lock is
    /// free and takes it.
    ///
    /// # Panics
    ///
    /// In debug builds, if the current CPU holds a lock whose rank is not below
    /// this one's (interrupts are restored while unwinding).
    #[track_caller]
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let irq = IrqRestore::save_and_disable();
        let guard = self.inner.lock();
        IrqSpinLockGuard { guard, _irq: irq }
    }

    /// Takes the lock if it is free right now. On failure interrupts are back
    /// as they were before the call.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let irq = IrqRestore::save_and_disable();
        let guard = self.inner.try_lock()?;
        Some(IrqSpinLockGuard { guard, _irq: irq })
    }

    /// Whether some CPU holds the lock (a hint, see [`SpinLock::is_locked`]).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// [`SpinLock::lock_two`] with interrupts disabled once for both: the
    /// state is saved before the first lock and restored after both are
    /// released, which is why the two locks share one guard.
    ///
    /// # Panics
    ///
    /// As [`SpinLock::lock_two`].
    #[track_caller]
    pub fn lock_two<'a>(a: &'a Self, b: &'a Self) -> IrqSpinLockPairGuard<'a, T> {
        let irq = IrqRestore::save_and_disable();
        let (a, b) = SpinLock::lock_two(&a.inner, &b.inner);
        IrqSpinLockPairGuard { a, b, _irq: irq }
    }

    /// Clears the lock word whoever holds it (see [`SpinLock::force_unlock`]).
    /// The holder's interrupt flag is its own and stays as it is.
    ///
    /// # Safety
    ///
    /// As for [`SpinLock::force_unlock`].
    pub unsafe fn force_unlock(&self) {
        // SAFETY: forwarded contract.
        unsafe { self.inner.force_unlock() }
    }

    /// Mutable access without locking (`&mut self` proves exclusivity).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: fmt::Debug> fmt::Debug for IrqSpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqSpinLock")
            .field("inner", &self.inner)
            .finish()
    }
}

/// Access to the value of a locked [`IrqSpinLock`]. Dropping it unlocks, then
/// restores the interrupt state. `!Send`, like [`SpinLockGuard`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct IrqSpinLockGuard<'a, T> {
    // Field order is drop order, and it is the point: unlock first...
    guard: SpinLockGuard<'a, T>,
    // ... then restore interrupts.
    _irq: IrqRestore,
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for IrqSpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.guard, f)
    }
}

/// Two same-rank [`IrqSpinLock`]s held together (from
/// [`IrqSpinLock::lock_two`]). Dropping it unlocks both, then restores the
/// interrupt state once.
#[must_use = "the locks are released as soon as the guard is dropped"]
pub struct IrqSpinLockPairGuard<'a, T> {
    // Drop order: both locks, then interrupts. The fields are private so that
    // neither guard can be moved out and outlive the restore.
    a: SpinLockGuard<'a, T>,
    b: SpinLockGuard<'a, T>,
    _irq: IrqRestore,
}

impl<T> IrqSpinLockPairGuard<'_, T> {
    /// Shared access to both values, in `lock_two`'s argument order.
    pub fn get(&self) -> (&T, &T) {
        (&self.a, &self.b)
    }

    /// Mutable access to both values, in `lock_two`'s argument order.
    pub fn get_mut(&mut self) -> (&mut T, &mut T) {
        (&mut self.a, &mut self.b)
    }
}

impl<T: fmt::Debug> fmt::Debug for IrqSpinLockPairGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IrqSpinLockPairGuard")
            .field(&*self.a)
            .field(&*self.b)
            .finish()
    }
}

//! The per-core cooperative executor.
//!
//! Status: skeleton. The executor proper (run queues, wakers, idle protocol,
//! stealing) arrives with the per-core executor issue; this crate already fixes
//! the boundary it will keep: it is `no_std` + `alloc`, knows nothing about the
//! machine, and reaches it only through the [`Platform`] trait, which the kernel
//! implements with the Local APIC and host tests implement with threads.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// Identifies a CPU core: a dense index `0..cores`, not an APIC id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoreId(pub u32);

/// What the executor needs from the machine it runs on.
pub trait Platform {
    /// The core the caller runs on.
    fn current_core(&self) -> CoreId;
    /// Wake `core` if it sleeps waiting for work (on x86_64: a RESCHEDULE IPI).
    fn wake_core(&self, core: CoreId);
    /// Monotonic time since boot, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// Wait until the next interrupt (on x86_64: `sti; hlt` as one step).
    fn halt_until_interrupt(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_ids_order_by_index() {
        assert!(CoreId(0) < CoreId(1));
        assert_eq!(CoreId(3), CoreId(3));
    }
}

//! Finding 5 of the executor-v2 issue: an idle executor's memory must not
//! grow with cores × a task limit. The old run queues were allocated and
//! touched up front: `Executor::new` took 3.06 MiB at 8 cores and 24.47 MiB
//! at 64 (3 levels × 8192 slots × 16 bytes per core). Now the queues are
//! intrusive and an idle core costs a few stub nodes and padded words.
//!
//! A counting global allocator measures the bytes `Executor::new` keeps.

#![allow(missing_docs)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicIsize, Ordering},
};

use executor::{Config, CoreId, Executor, Platform};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; it only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System.dealloc`'s.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::SeqCst);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A platform that does nothing: `Executor::new` must not need one.
struct Idle;

impl Platform for Idle {
    fn current_core(&self) -> CoreId {
        CoreId(u32::MAX)
    }
    fn wake_core(&self, _: CoreId) {}
    fn now_ns(&self) -> u64 {
        0
    }
    fn halt_if(&self, _: &mut dyn FnMut() -> bool) {}
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// Bytes an idle executor of `cores` cores keeps allocated.
fn idle_bytes(cores: usize) -> usize {
    let before = LIVE_BYTES.load(Ordering::SeqCst);
    let exec = Box::new(Executor::new(Idle, cores, Config::default()));
    let after = LIVE_BYTES.load(Ordering::SeqCst);
    drop(exec);
    usize::try_from(after - before).expect("Executor::new freed more than it allocated")
}

#[test]
fn idle_memory_is_small_per_core_and_linear_in_cores() {
    // One test (not several): the counter is process-wide and tests run in
    // parallel threads.
    let one = idle_bytes(1);
    let eight = idle_bytes(8);
    let sixty_four = idle_bytes(64);
    let per_core = (sixty_four - one) / 63;
    println!(
        "idle executor: 1 core {one} B, 8 cores {eight} B, 64 cores {sixty_four} B \
         ({:.2} MiB), {per_core} B per core",
        sixty_four as f64 / (1024.0 * 1024.0)
    );
    assert!(
        per_core < 64 * 1024,
        "{per_core} B per idle core (limit 64 KiB)"
    );
    assert!(
        sixty_four <= 4 << 20,
        "{sixty_four} B at 64 cores (limit 4 MiB)"
    );
    // Linear in cores: no term that scales with a task limit.
    assert!(eight <= one + 7 * per_core + 4096, "{eight} B at 8 cores");
}

//! The kernel heap: `alloc` for the whole kernel.
//!
//! The allocator is [`talc`] (a binned free-list allocator with O(1) typical
//! allocation and coalescing on free), behind a ranked spin lock
//! ([`RawSpinLock`] of rank [`LockRank::HEAP`], through talc's `lock_api`
//! interface). Its memory is a
//! region of kernel virtual space sized from the machine
//! (`kernel::heap_size`: half the free memory, 4–64 MiB), reserved with
//! [`paging::reserve_region`] and mapped up front to frames from the frame
//! allocator.
//!
//! The heap must not be used from interrupt handlers: its lock is not IRQ-safe,
//! and wakers (which run in interrupt handlers) are designed never to allocate.
//! The rank checker enforces the other half in debug builds: allocating while
//! holding an IRQ-level lock (`TIMERS` and above) panics naming both ranks.

use kernel::sync::{LockRank, RawSpinLock};
use talc::TalcLock;
use talc::source::Manual;
use x86_64::VirtAddr;
use x86_64::structures::paging::PageTableFlags;
use x86_64::structures::paging::Size4KiB;
use x86_64::structures::paging::mapper::MapToError;

use super::frame::GlobalFrames;
use crate::arch::paging;

#[global_allocator]
static ALLOCATOR: TalcLock<RawSpinLock<{ LockRank::HEAP.value() }>, Manual> = TalcLock::new(Manual);

/// Why the heap could not be set up.
#[derive(Debug)]
pub enum HeapError {
    /// No free kernel virtual region.
    NoVirtualSpace,
    /// Mapping the heap failed (out of frames, most likely).
    Map(MapToError<Size4KiB>),
    /// The allocator rejected the region.
    Claim,
    /// Too little free memory for the smallest heap.
    TooLittleMemory {
        /// Free bytes.
        available: u64,
        /// Free bytes needed.
        needed: u64,
    },
}

/// Sizes the heap from the free memory, reserves, maps and hands it to the
/// allocator. Returns its base and size.
pub fn init() -> Result<(VirtAddr, u64), HeapError> {
    let available = super::frame::available();
    let size = kernel::heap_size::heap_size(available)
        .map_err(|needed| HeapError::TooLittleMemory { available, needed })?;
    let base = paging::reserve_region(size).ok_or(HeapError::NoVirtualSpace)?;
    let flags = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE;
    paging::map_range(base, size, flags, &mut GlobalFrames).map_err(HeapError::Map)?;
    // SAFETY: `[base, base + size)` was just mapped to fresh frames that
    // nothing else references, and it is handed to the allocator exactly once.
    let claimed = unsafe { ALLOCATOR.lock().claim(base.as_mut_ptr(), size as usize) };
    claimed.map(|_| (base, size)).ok_or(HeapError::Claim)
}

impl core::fmt::Display for HeapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoVirtualSpace => f.write_str("no free kernel virtual region"),
            Self::Map(error) => write!(f, "mapping the heap failed: {error:?}"),
            Self::Claim => f.write_str("the allocator rejected the heap region"),
            Self::TooLittleMemory { available, needed } => write!(
                f,
                "{} KiB of memory free, the kernel needs at least {} MiB free at this \
                 point (give the machine more memory, e.g. QEMU -m 32M)",
                available >> 10,
                needed >> 20
            ),
        }
    }
}

mod tests {
    use alloc::alloc::{alloc, dealloc};
    use alloc::vec::Vec;
    use core::alloc::Layout;

    use crate::ktest::{check, kernel_test};

    /// A small deterministic PRNG (xorshift64*), so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// The byte stored at `offset` of object `id`: differs between objects and
    /// within one, so overlaps and stale data both show.
    fn pattern(id: usize, offset: usize) -> u8 {
        (id.wrapping_mul(31) ^ offset.wrapping_mul(7)) as u8
    }

    struct Object {
        ptr: *mut u8,
        layout: Layout,
        id: usize,
    }

    fn allocate(rng: &mut Rng, id: usize) -> Result<Object, alloc::string::String> {
        let size = 1 + (rng.next() % 512) as usize;
        let align = 1usize << (rng.next() % 7); // 1..=64
        let layout = Layout::from_size_align(size, align).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc(layout) };
        check!(!ptr.is_null(), "allocation {id} of {size} bytes failed");
        check!(
            (ptr as usize).is_multiple_of(align),
            "allocation {id} misaligned: {ptr:p} for align {align}"
        );
        for offset in 0..size {
            // SAFETY: `ptr` points to `size` freshly allocated bytes.
            unsafe { ptr.add(offset).write(pattern(id, offset)) };
        }
        Ok(Object { ptr, layout, id })
    }

    fn verify(object: &Object) -> Result<(), alloc::string::String> {
        for offset in 0..object.layout.size() {
            // SAFETY: the object is live and `offset` is within its size.
            let byte = unsafe { object.ptr.add(offset).read() };
            check!(
                byte == pattern(object.id, offset),
                "object {} corrupted at offset {offset}",
                object.id
            );
        }
        Ok(())
    }

    fn free(object: Object) {
        // SAFETY: the object was allocated with this layout and is freed once.
        unsafe { dealloc(object.ptr, object.layout) };
    }

    kernel_test!(
        fn hundred_thousand_mixed_objects() {
            const COUNT: usize = 100_000;
            let mut rng = Rng(0x1234_5678_9abc_def1);
            let mut live = Vec::with_capacity(COUNT);
            for id in 0..COUNT {
                live.push(allocate(&mut rng, id)?);
            }
            for object in &live {
                verify(object)?;
            }
            // Free every other object to fragment the heap, then fill the holes
            // with objects of other sizes and check nothing was overwritten.
            let mut kept = Vec::with_capacity(COUNT);
            for (i, object) in live.into_iter().enumerate() {
                if i % 2 == 0 {
                    free(object)
                } else {
                    kept.push(object)
                }
            }
            for id in COUNT..COUNT + COUNT / 2 {
                kept.push(allocate(&mut rng, id)?);
            }
            for object in &kept {
                verify(object)?;
            }
            kept.into_iter().for_each(free);
            // Everything was freed and coalesced: one large block must fit again.
            let big = Layout::from_size_align(32 << 20, 4096).expect("valid layout");
            // SAFETY: non-zero size.
            let ptr = unsafe { alloc(big) };
            check!(
                !ptr.is_null(),
                "32 MiB allocation failed after freeing everything: heap fragmented"
            );
            // SAFETY: allocated just above with this layout.
            unsafe { dealloc(ptr, big) };
            Ok(())
        }
    );
}

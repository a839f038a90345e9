//! The physical frame allocator.
//!
//! Frames come from the bootloader's memory map, in two ways:
//! 1. a **free list** of frames given back, linked through their own first
//!    eight bytes (reached through the physical-memory window), popped first;
//! 2. a **bump cursor** that walks the usable regions once, in map order.
//!
//! Both are O(1) per frame. The allocator never hands out:
//! - a frame below [`LOW_MEMORY_END`] (1 MiB): the low megabyte is kept for
//!   the kernel's own use — the AP start-up trampoline at 0x8000 lives there,
//!   and real-mode code can only address it;
//! - a frame of any region not marked `Usable` (firmware, ACPI, MMIO, the
//!   bootloader's own allocations, which include the kernel image, page tables
//!   and the ramdisk);
//! - a partial frame: region edges are rounded inwards.
//!
//! Frames must not be allocated from interrupt handlers (the lock is not
//! IRQ-safe). Lock order: the page-table lock may be held while taking this
//! one, never the reverse.

use bootloader_api::info::{MemoryRegion, MemoryRegionKind};
use kernel::sync::{LockRank, SpinLock};
use spin::Once;
use x86_64::PhysAddr;
use x86_64::structures::paging::{FrameAllocator as FrameSource, PhysFrame, Size4KiB};

use crate::arch::paging::phys_to_virt;

/// The end of low memory: frames below it are never handed out.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// Size of a frame.
pub const FRAME_SIZE: u64 = 4096;

/// The part of `region` the allocator may hand out, as `[start, end)` whole
/// frames, or `None` if there is none.
pub fn allocatable_range(region: &MemoryRegion) -> Option<(u64, u64)> {
    if region.kind != MemoryRegionKind::Usable {
        return None;
    }
    let start = region
        .start
        .max(LOW_MEMORY_END)
        .next_multiple_of(FRAME_SIZE);
    let end = region.end / FRAME_SIZE * FRAME_SIZE;
    (start < end).then_some((start, end))
}

/// The allocator state. See the module documentation.
pub struct FrameAllocator {
    regions: &'static [MemoryRegion],
    /// Index of the region the bump cursor is in.
    region: usize,
    /// The next never-allocated frame in `regions[region]`.
    next: u64,
    /// Head of the list of freed frames.
    free_list: Option<PhysAddr>,
    /// Frames currently handed out.
    in_use: u64,
    /// Frames on the free list.
    freed: u64,
}

impl FrameAllocator {
    fn new(regions: &'static [MemoryRegion]) -> Self {
        Self {
            regions,
            region: 0,
            next: 0,
            free_list: None,
            in_use: 0,
            freed: 0,
        }
    }

    fn allocate(&mut self) -> Option<PhysFrame> {
        let addr = match self.free_list {
            Some(head) => {
                let link = phys_to_virt(head).as_ptr::<u64>();
                // SAFETY: `head` is a frame on the free list: it was handed out
                // by this allocator, returned through `deallocate`, and its
                // first word holds the next link (0 = end of list).
                let next = unsafe { link.read() };
                self.free_list = (next != 0).then(|| PhysAddr::new(next));
                self.freed -= 1;
                head
            }
            None => self.bump()?,
        };
        self.in_use += 1;
        Some(PhysFrame::containing_address(addr))
    }

    fn bump(&mut self) -> Option<PhysAddr> {
        while let Some(region) = self.regions.get(self.region) {
            if let Some((start, end)) = allocatable_range(region) {
                let frame = self.next.max(start);
                if frame < end {
                    self.next = frame + FRAME_SIZE;
                    return Some(PhysAddr::new(frame));
                }
            }
            self.region += 1;
        }
        None
    }

    /// # Safety
    /// `frame` must have come from this allocator and be unused from now on.
    unsafe fn deallocate(&mut self, frame: PhysFrame) {
        let addr = frame.start_address();
        let link = phys_to_virt(addr).as_mut_ptr::<u64>();
        // SAFETY: the caller gives the frame back, so nothing else uses it; the
        // physical-memory window maps it writable.
        unsafe { link.write(self.free_list.map_or(0, PhysAddr::as_u64)) };
        self.free_list = Some(addr);
        self.freed += 1;
        self.in_use -= 1;
    }

    /// Bytes not handed out: the free list plus what the bump cursor has not
    /// reached yet.
    fn available(&self) -> u64 {
        let mut bytes = self.freed * FRAME_SIZE;
        for (i, region) in self.regions.iter().enumerate().skip(self.region) {
            if let Some((start, end)) = allocatable_range(region) {
                let from = if i == self.region {
                    self.next.max(start)
                } else {
                    start
                };
                bytes += end.saturating_sub(from);
            }
        }
        bytes
    }
}

static FRAMES: Once<SpinLock<FrameAllocator>> = Once::new();

/// Sets up the allocator over the bootloader's memory map.
pub fn init(regions: &'static [MemoryRegion]) {
    FRAMES.call_once(|| SpinLock::new(LockRank::FRAMES, FrameAllocator::new(regions)));
}

fn frames() -> &'static SpinLock<FrameAllocator> {
    FRAMES.get().expect("frame allocator not initialised")
}

/// Allocates one frame, or `None` when physical memory is exhausted.
pub fn allocate() -> Option<PhysFrame> {
    frames().lock().allocate()
}

/// Gives a frame back.
///
/// # Safety
/// `frame` must have come from [`allocate`] and nothing may use it afterwards.
pub unsafe fn deallocate(frame: PhysFrame) {
    // SAFETY: forwarded from the caller.
    unsafe { frames().lock().deallocate(frame) }
}

/// Bytes of physical memory not handed out yet.
pub fn available() -> u64 {
    frames().lock().available()
}

/// Frames currently handed out.
pub fn in_use() -> u64 {
    frames().lock().in_use
}

/// The global frame allocator as the `x86_64` crate's page-table code wants it.
pub struct GlobalFrames;

// SAFETY: `allocate` returns each frame at most once until it is given back,
// and only frames of usable RAM, as the trait requires.
unsafe impl FrameSource<Size4KiB> for GlobalFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        allocate()
    }
}

mod tests {
    use alloc::vec::Vec;

    use super::{FRAME_SIZE, LOW_MEMORY_END};
    use crate::arch::paging::phys_to_virt;
    use crate::ktest::{check, kernel_test};
    use bootloader_api::info::MemoryRegionKind;

    const FRAMES: usize = 4096;

    kernel_test!(
        fn frames_are_usable_ram_above_1mib() {
            let regions = crate::memory::regions();
            let before = super::in_use();
            let mut frames = Vec::with_capacity(FRAMES);
            for i in 0..FRAMES {
                let frame =
                    super::allocate().ok_or_else(|| alloc::format!("out of frames after {i}"))?;
                let start = frame.start_address().as_u64();
                check!(start >= LOW_MEMORY_END, "frame {start:#x} is below 1 MiB");
                check!(
                    start % FRAME_SIZE == 0,
                    "frame {start:#x} is not 4 KiB aligned"
                );
                let in_usable = regions.iter().any(|r| {
                    r.kind == MemoryRegionKind::Usable
                        && r.start <= start
                        && start + FRAME_SIZE <= r.end
                });
                check!(in_usable, "frame {start:#x} is not inside a usable region");
                // Write the frame's own address into it: a duplicate or an alias
                // of another frame shows up when reading back.
                let ptr = phys_to_virt(frame.start_address()).as_mut_ptr::<u64>();
                // SAFETY: the frame is ours and mapped by the physical-memory window.
                unsafe { ptr.write(start) };
                frames.push(frame);
            }
            for frame in &frames {
                let start = frame.start_address().as_u64();
                let ptr = phys_to_virt(frame.start_address()).as_ptr::<u64>();
                // SAFETY: as above.
                let value = unsafe { ptr.read() };
                check!(
                    value == start,
                    "frame {start:#x} holds {value:#x}: frames overlap"
                );
            }
            let mut sorted: Vec<u64> = frames.iter().map(|f| f.start_address().as_u64()).collect();
            sorted.sort_unstable();
            sorted.dedup();
            check!(
                sorted.len() == FRAMES,
                "{} duplicate frames",
                FRAMES - sorted.len()
            );
            check!(
                super::in_use() == before + FRAMES as u64,
                "in_use count off after allocation"
            );
            for frame in frames.drain(..) {
                // SAFETY: allocated above, no longer used.
                unsafe { super::deallocate(frame) };
            }
            check!(super::in_use() == before, "in_use count off after freeing");
            // Freed frames are reused before new ones are taken.
            let again = super::allocate().ok_or("no frame after freeing")?;
            check!(
                sorted
                    .binary_search(&again.start_address().as_u64())
                    .is_ok(),
                "freed frame not reused"
            );
            // SAFETY: allocated just above, unused.
            unsafe { super::deallocate(again) };
            Ok(())
        }
    );
}

//! Page tables, reached through the bootloader's map of physical memory.
//!
//! The bootloader maps all physical memory at a dynamically chosen offset
//! (`BootInfo::physical_memory_offset`); the kernel edits its page tables
//! through that window with an [`OffsetPageTable`].
//!
//! Kernel virtual regions (the heap, later per-CPU stacks) are carved out of
//! *whole unused PML4 slots* of the higher half: each slot spans 512 GiB, so a
//! region never collides with what the bootloader mapped (kernel image, boot
//! info, physical-memory window), and no address is hard-coded.
//!
//! Page tables need frames, and frames are `memory`'s, a layer above
//! ([ADR 0004]). [`map_range`] takes its frame source as a parameter; the
//! mappings `arch` makes for itself (the trampoline page, MMIO, AP stacks)
//! take frames from the source `memory` registers at boot
//! ([`set_frame_source`], [`RegisteredFrames`]).
//!
//! Invariants:
//! - all page-table edits go through [`MAPPER`]'s lock;
//! - a PML4 slot handed out by [`reserve_region`] is never handed out again.
//!
//! [ADR 0004]: ../../../../docs/adr/0004-kernel-layers.md

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::sync::{LockRank, SpinLock, SpinLockGuard};
use spin::Once;
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

static PHYS_OFFSET: Once<VirtAddr> = Once::new();
static MAPPER: Once<SpinLock<OffsetPageTable<'static>>> = Once::new();
/// The boot PML4: the kernel's page table, which user address spaces copy
/// their kernel entries from (`user_tables`).
static KERNEL_ROOT: Once<PhysFrame> = Once::new();

/// PML4 slots already handed out by [`reserve_region`], one bit per slot of
/// the higher half (slots 256..512).
static RESERVED_SLOTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Bytes covered by one PML4 entry.
const PML4_SLOT_SIZE: u64 = 1 << 39;

/// Takes over the active page tables.
///
/// # Safety
/// `physical_memory_offset` must be where the bootloader mapped all physical
/// memory, and this must be called once, before any other function here.
pub unsafe fn init(physical_memory_offset: VirtAddr) {
    PHYS_OFFSET.call_once(|| physical_memory_offset);
    let (pml4_frame, _) = x86_64::registers::control::Cr3::read();
    KERNEL_ROOT.call_once(|| pml4_frame);
    let pml4_ptr = phys_to_virt(pml4_frame.start_address()).as_mut_ptr::<PageTable>();
    // SAFETY: CR3 holds the active PML4, which the physical-memory window maps
    // at `pml4_ptr`; from now on only MAPPER references it (caller's contract).
    let pml4 = unsafe { &mut *pml4_ptr };
    // SAFETY: the offset maps all physical memory (caller's contract).
    let mapper = unsafe { OffsetPageTable::new(pml4, physical_memory_offset) };
    MAPPER.call_once(|| SpinLock::new(LockRank::PAGE_TABLES, mapper));
}

/// The kernel's PML4 (the boot table `init` took over).
pub fn kernel_root() -> PhysFrame {
    *KERNEL_ROOT.get().expect("paging::init not called")
}

/// Runs `f` with the kernel's PML4 under the page-table lock: nobody adds a
/// kernel entry meanwhile.
/// Counts the times the kernel's page table was locked to change it:
/// process tables copy the kernel's PML4 entries again only when it moved
/// (`user_tables::activate`). Bumped under the lock, so a copy made under
/// it either sees the change or sees the old count.
static KERNEL_MAP_GENERATION: AtomicU64 = AtomicU64::new(0);

/// The kernel's mapper, locked for a change (which bumps the generation).
fn lock_for_mapping() -> SpinLockGuard<'static, OffsetPageTable<'static>> {
    let mapper = MAPPER.get().expect("paging::init not called").lock();
    KERNEL_MAP_GENERATION.fetch_add(1, Ordering::Relaxed);
    mapper
}

/// How often the kernel's page table has been locked for a change.
pub(super) fn kernel_map_generation() -> u64 {
    KERNEL_MAP_GENERATION.load(Ordering::Relaxed)
}

pub(super) fn with_kernel_pml4<R>(f: impl FnOnce(&PageTable) -> R) -> R {
    let mapper = MAPPER.get().expect("paging::init not called").lock();
    f(mapper.level_4_table())
}

/// The virtual address at which physical address `phys` is visible.
pub fn phys_to_virt(phys: PhysAddr) -> VirtAddr {
    let offset = PHYS_OFFSET.get().expect("paging::init not called");
    *offset + phys.as_u64()
}

/// Reserves a kernel virtual region of `size` bytes (at most 512 GiB) backed by
/// nothing yet: the start of an unused higher-half PML4 slot. Returns `None`
/// when every slot is in use.
pub fn reserve_region(size: u64) -> Option<VirtAddr> {
    assert!(size <= PML4_SLOT_SIZE, "region larger than a PML4 slot");
    let mapper = MAPPER.get()?.lock();
    let pml4 = mapper.level_4_table();
    for slot in 256..512usize {
        let (word, bit) = ((slot - 256) / 64, (slot - 256) % 64);
        if !pml4[slot].is_unused() {
            continue;
        }
        let mask = 1u64 << bit;
        if RESERVED_SLOTS[word].fetch_or(mask, Ordering::Relaxed) & mask == 0 {
            // Sign-extend the slot index into a canonical higher-half address.
            return Some(VirtAddr::new_truncate(slot as u64 * PML4_SLOT_SIZE));
        }
    }
    None
}

/// Maps `[start, start + size)` to freshly allocated frames with `flags`.
pub fn map_range(
    start: VirtAddr,
    size: u64,
    flags: PageTableFlags,
    frames: &mut impl FrameAllocator<Size4KiB>,
) -> Result<(), MapToError<Size4KiB>> {
    let first = Page::<Size4KiB>::containing_address(start);
    let last = Page::<Size4KiB>::containing_address(start + (size - 1));
    let mut mapper = lock_for_mapping();
    for page in Page::range_inclusive(first, last) {
        let frame: PhysFrame = frames
            .allocate_frame()
            .ok_or(MapToError::FrameAllocationFailed)?;
        // SAFETY: the page lies in a region reserved for the caller (never
        // mapped before) and the frame is fresh from the allocator, so the new
        // mapping aliases no existing memory.
        unsafe { mapper.map_to(page, frame, flags, frames)? }.flush();
    }
    Ok(())
}

/// Why an identity or MMIO mapping failed.
#[derive(Debug)]
pub enum MapError {
    /// The page is already mapped, to a different frame.
    MappedElsewhere,
    /// The page-table code failed (out of frames, huge page in the way, ...).
    Map(MapToError<Size4KiB>),
    /// No free kernel virtual region.
    NoVirtualSpace,
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MappedElsewhere => f.write_str("the page is already mapped to another frame"),
            Self::Map(error) => write!(f, "page-table update failed: {error:?}"),
            Self::NoVirtualSpace => f.write_str("no free kernel virtual region"),
        }
    }
}

/// Where [`RegisteredFrames`] takes page-table and stack frames from: the
/// physical frame allocator's `allocate`, registered by `memory` at boot.
static FRAME_SOURCE: Once<fn() -> Option<PhysFrame>> = Once::new();

/// Registers the frame source for the mappings `arch` makes itself. Set
/// once, when the frame allocator is ready.
///
/// # Panics
/// If a source is registered already.
pub fn set_frame_source(allocate: fn() -> Option<PhysFrame>) {
    kernel::sync::set_once(&FRAME_SOURCE, allocate, "frame source");
}

/// The registered frame source as the `x86_64` crate's page-table code
/// wants it.
pub struct RegisteredFrames;

// SAFETY: the registered source is the physical frame allocator, which
// returns each frame of usable RAM at most once until it is given back.
unsafe impl FrameAllocator<Size4KiB> for RegisteredFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        let allocate = FRAME_SOURCE
            .get()
            .expect("paging: no frame source registered (memory::init_frames)");
        allocate()
    }
}

/// An address guaranteed to be unmapped: inside a kernel virtual region that
/// is reserved and never mapped. For tests of the fault paths.
pub fn unmapped_test_address() -> u64 {
    static ADDR: Once<u64> = Once::new();
    *ADDR.call_once(|| {
        let region =
            reserve_region(4096).expect("no free kernel virtual region for the fault tests");
        region.as_u64() + 0x1238
    })
}

/// The start of a lower-half (user) PML4 slot that the active page table
/// does not use, checked when first asked and then the same every time: for
/// tests that map user pages into the current table (processes get their own
/// tables elsewhere). Below the processes' user window
/// (`kernel::user_layout`), which must stay empty in the kernel's table.
/// `None` if every slot below the window but the first is used.
pub fn user_test_region() -> Option<VirtAddr> {
    static REGION: Once<Option<VirtAddr>> = Once::new();
    *REGION.call_once(|| {
        let mapper = MAPPER.get().expect("paging::init not called").lock();
        let pml4 = mapper.level_4_table();
        (1..kernel::user_layout::USER_FIRST_SLOT)
            .rev()
            .find(|&slot| pml4[slot].is_unused())
            .map(|slot| VirtAddr::new(slot as u64 * PML4_SLOT_SIZE))
    })
}

/// Maps the 4 KiB page at `addr` (a lower-half address nothing maps) to a
/// fresh zeroed frame with `flags` plus PRESENT and USER_ACCESSIBLE; the
/// page-table levels above it become user-accessible too, as the CPU
/// requires at every level of the walk. Returns the frame (the kernel fills
/// it through [`phys_to_virt`], which SMAP does not restrict).
pub fn map_user_page(addr: VirtAddr, flags: PageTableFlags) -> Result<PhysFrame, MapError> {
    assert!(addr.as_u64() < 1 << 47, "user pages live in the lower half");
    let page = Page::<Size4KiB>::containing_address(addr);
    let frame = RegisteredFrames
        .allocate_frame()
        .ok_or(MapError::Map(MapToError::FrameAllocationFailed))?;
    // SAFETY: the frame is fresh from the allocator: nothing else uses it;
    // the physical-memory window maps it.
    unsafe {
        core::ptr::write_bytes(
            phys_to_virt(frame.start_address()).as_mut_ptr::<u8>(),
            0,
            4096,
        );
    }
    let flags = flags | PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
    let parents =
        PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::USER_ACCESSIBLE;
    let mut mapper = lock_for_mapping();
    // SAFETY: the frame is fresh (aliases nothing) and the page is unmapped
    // (`map_to` fails otherwise); user code can reach only this frame.
    unsafe { mapper.map_to_with_table_flags(page, frame, flags, parents, &mut RegisteredFrames) }
        .map_err(MapError::Map)?
        .flush();
    Ok(frame)
}

/// Whether every page of `[addr, addr + len)` is mapped PRESENT and
/// USER_ACCESSIBLE (and WRITABLE if `write`) at every level of the walk in
/// the *active* page table (CR3), i.e. whether ring 3 could make the
/// access. Returns the first address that fails. `len` > 0, and the range
/// lies in the lower half (the caller checked).
///
/// The walk takes no lock: it reads entries with volatile loads, and a
/// mapping that changes under it is caught by the access itself (the user
/// copies recover faults through the exception table).
pub fn check_user_range(addr: u64, len: u64, write: bool) -> Result<(), u64> {
    let mut need = PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
    if write {
        need |= PageTableFlags::WRITABLE;
    }
    let (pml4, _) = x86_64::registers::control::Cr3::read();
    let last = addr + (len - 1);
    let mut page = addr & !0xfff;
    while page <= last {
        let mut table = pml4.start_address();
        let mut covered = 0u64;
        for level in (1..=4u32).rev() {
            let index = (page >> (12 + 9 * (level - 1))) & 0x1ff;
            let entry_ptr = phys_to_virt(table + index * 8).as_ptr::<u64>();
            // SAFETY: `table` is a page-table frame of the active hierarchy,
            // which the physical-memory window maps; an aligned u64 read of
            // an entry has no side effects.
            let entry = unsafe { entry_ptr.read_volatile() };
            let flags = PageTableFlags::from_bits_truncate(entry);
            if !flags.contains(need) {
                return Err(page.max(addr));
            }
            covered = 1 << (12 + 9 * (level - 1));
            if level == 1 || (level < 4 && flags.contains(PageTableFlags::HUGE_PAGE)) {
                break;
            }
            table = PhysAddr::new(entry & 0x000f_ffff_ffff_f000);
        }
        // Next page (or past the huge page this one lies in).
        match (page & !(covered - 1)).checked_add(covered) {
            Some(next) => page = next,
            None => break,
        }
    }
    Ok(())
}

/// Maps the 4 KiB page at virtual address `phys` to physical `phys`.
/// Succeeds without change if it is already mapped that way.
pub fn identity_map(phys: PhysAddr, flags: PageTableFlags) -> Result<(), MapError> {
    let frame = PhysFrame::<Size4KiB>::containing_address(phys);
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(phys.as_u64()));
    let mut mapper = lock_for_mapping();
    // SAFETY: mapping a frame at its own physical address aliases only what the
    // physical-memory window already maps; the callers use it for pages the
    // kernel owns (the AP trampoline in low memory).
    match unsafe { mapper.identity_map(frame, flags, &mut RegisteredFrames) } {
        Ok(flush) => {
            flush.flush();
            Ok(())
        }
        Err(MapToError::PageAlreadyMapped(existing)) if existing == frame => {
            // Already identity-mapped (the bootloader leaves a few low pages
            // mapped): make sure the flags are what the caller needs.
            // SAFETY: same page, same frame: only the flags change.
            unsafe { mapper.update_flags(page, flags) }
                .map_err(|_| MapError::MappedElsewhere)?
                .flush();
            Ok(())
        }
        Err(MapToError::PageAlreadyMapped(_)) => Err(MapError::MappedElsewhere),
        Err(error) => Err(MapError::Map(error)),
    }
}

/// Maps `size` bytes of device memory at physical `phys` uncached into a new
/// kernel virtual region; returns the virtual address of `phys`.
pub fn map_mmio(phys: PhysAddr, size: u64) -> Result<VirtAddr, MapError> {
    let first = PhysFrame::<Size4KiB>::containing_address(phys);
    let region = reserve_region(size + 4096).ok_or(MapError::NoVirtualSpace)?;
    let flags = PageTableFlags::PRESENT
        | PageTableFlags::WRITABLE
        | PageTableFlags::NO_CACHE
        | PageTableFlags::WRITE_THROUGH
        | PageTableFlags::NO_EXECUTE;
    let last = PhysFrame::<Size4KiB>::containing_address(phys + (size - 1));
    let mut mapper = lock_for_mapping();
    for (i, frame) in PhysFrame::range_inclusive(first, last).enumerate() {
        let page = Page::<Size4KiB>::containing_address(region + i as u64 * 4096);
        // SAFETY: the page is in a fresh reserved region; the frame is device
        // memory, mapped uncached, which no RAM allocation aliases.
        unsafe { mapper.map_to(page, frame, flags, &mut RegisteredFrames) }
            .map_err(MapError::Map)?
            .flush();
    }
    Ok(region + (phys.as_u64() - first.start_address().as_u64()))
}

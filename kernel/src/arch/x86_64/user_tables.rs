//! User page tables: the mechanics under `memory::address_space` (issue 11).
//!
//! A user address space is a PML4 of its own. Its entries outside the user
//! window (`kernel::user_layout`: PML4 slots 128..256) are copies of the
//! kernel's boot PML4 entries, so they point at the *same* lower-level
//! tables: every kernel mapping, present or added later inside an existing
//! slot, is the same in every space. Its entries inside the window are
//! private, and only they — and every table below them — carry
//! `USER_ACCESSIBLE`; the kernel's entries never do.
//!
//! New kernel PML4 *entries* (a new higher-half region: `reserve_region`,
//! then a mapping) appear after boot too (MMIO mapped late, test regions).
//! [`activate`] therefore copies the kernel entries again every time it
//! loads a space (512 − 128 words under the page-table lock), so a space
//! always sees the kernel as it is when it is entered. A CPU that keeps a
//! user space loaded while another CPU adds a kernel PML4 entry does not
//! see that entry until its next `activate`; the kernel reaches new regions
//! only from code that runs after the region was made, and a process runner
//! enters user mode through `activate` each time.
//!
//! The functions here take the space's root frame and the frame source as
//! parameters (ADR 0004: frames are `memory`'s); the root and every table
//! and page under the window belong to the caller's address space, which is
//! what makes the `unsafe` contracts below hold.

use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::user_layout::{USER_END_SLOT, USER_FIRST_SLOT, USER_WINDOW_END, USER_WINDOW_START};
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

use super::paging::{kernel_root, phys_to_virt, with_kernel_pml4};

/// The PML4 slots of the user window.
pub const USER_SLOTS: Range<usize> = USER_FIRST_SLOT..USER_END_SLOT;

/// The flags of every table entry on the way to a user page.
const USER_TABLE_FLAGS: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::USER_ACCESSIBLE);

/// The page table in `frame`, through the physical-memory window.
///
/// # Safety
/// `frame` must hold a page table that nothing else references mutably
/// while the returned reference lives.
unsafe fn table<'a>(frame: PhysFrame) -> &'a mut PageTable {
    // SAFETY: the window maps every frame; exclusivity is the caller's.
    unsafe { &mut *phys_to_virt(frame.start_address()).as_mut_ptr::<PageTable>() }
}

/// The first PML4 slot of the user window that the kernel's table uses, if
/// any: then no user address space can be made (the layout is broken).
pub fn kernel_slot_in_user_window() -> Option<usize> {
    with_kernel_pml4(|pml4| USER_SLOTS.clone().find(|&slot| !pml4[slot].is_unused()))
}

/// The kernel's PML4 slots in use, as a bitmap (bit `n % 64` of word
/// `n / 64` for slot `n`): for the boot log and the docs.
pub fn kernel_slots_in_use() -> [u64; 8] {
    with_kernel_pml4(|pml4| {
        let mut used = [0u64; 8];
        for slot in (0..512).filter(|&slot| !pml4[slot].is_unused()) {
            used[slot / 64] |= 1 << (slot % 64);
        }
        used
    })
}

/// The first kernel PML4 entry that is user-accessible, if any. None should
/// be, but one: the in-kernel tests' user pages (`paging::user_test_region`,
/// below the user window), which [`sync_kernel_entries`] never copies into a
/// process's table.
pub fn user_accessible_kernel_slot() -> Option<usize> {
    let test_slot =
        super::paging::user_test_region().map(|region| (region.as_u64() / (1 << 39)) as usize);
    with_kernel_pml4(|pml4| {
        (0..512).find(|&slot| {
            !USER_SLOTS.contains(&slot)
                && Some(slot) != test_slot
                && pml4[slot]
                    .flags()
                    .contains(PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE)
        })
    })
}

/// Makes `root` a PML4 with the kernel's entries and an empty user window.
///
/// # Safety
/// `root` must be a frame the caller owns and uses for nothing else.
pub unsafe fn init_root(root: PhysFrame) {
    // SAFETY: the caller owns `root`.
    let pml4 = unsafe { table(root) };
    pml4.zero();
    // SAFETY: as above; `pml4` is not used below.
    unsafe { sync_kernel_entries(root) };
}

/// Copies the kernel's PML4 entries outside the user window into `root`,
/// but none marked user-accessible (the in-kernel tests' user pages: a
/// process must not see them).
///
/// Each entry is stored atomically: two CPUs loading the same space (two
/// threads of a program) may both refresh it at once, writing the same
/// values, and the MMU may walk the table meanwhile.
///
/// # Safety
/// `root` must be a PML4 made by [`init_root`] that stays alive meanwhile.
pub unsafe fn sync_kernel_entries(root: PhysFrame) {
    let entries = phys_to_virt(root.start_address()).as_ptr::<AtomicU64>();
    with_kernel_pml4(|kernel| {
        for slot in (0..512).filter(|slot| !USER_SLOTS.contains(slot)) {
            let flags = kernel[slot].flags();
            let value = if flags.contains(PageTableFlags::USER_ACCESSIBLE) {
                0
            } else {
                kernel[slot].addr().as_u64() | flags.bits()
            };
            // SAFETY: `root` is a live PML4 (caller's contract), 512 aligned
            // 8-byte entries in the physical-memory window; page-table
            // entries are only ever accessed as whole words, so atomics
            // may share them.
            unsafe { (*entries.add(slot)).store(value, Ordering::Relaxed) };
        }
    });
}

/// Why [`map_user_page`] failed.
#[derive(Debug)]
pub enum MapUserError {
    /// The page is not inside the user window.
    NotUserAddress,
    /// Mapping failed: out of frames for a table, or the page is mapped.
    Map(MapToError<Size4KiB>),
}

/// Maps `page` of the user window to `frame` in `root`'s space, with
/// `flags` plus `PRESENT | USER_ACCESSIBLE`; missing tables come from
/// `tables` and are user-accessible and writable (the leaf decides).
///
/// # Safety
/// `root` must be a PML4 made by [`init_root`], owned by the caller, and
/// `frame` a frame the caller owns for this page from now on.
pub unsafe fn map_user_page(
    root: PhysFrame,
    page: Page<Size4KiB>,
    frame: PhysFrame,
    flags: PageTableFlags,
    tables: &mut impl FrameAllocator<Size4KiB>,
) -> Result<(), MapUserError> {
    let addr = page.start_address().as_u64();
    if !(USER_WINDOW_START..USER_WINDOW_END).contains(&addr) {
        return Err(MapUserError::NotUserAddress);
    }
    let offset = phys_to_virt(PhysAddr::new(0));
    // SAFETY: the caller owns `root`; the window maps all physical memory.
    let mut mapper = unsafe { OffsetPageTable::new(table(root), offset) };
    let flags = flags | PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
    let mapped =
        // SAFETY: the page is in the user window, whose tables belong to
        // this space only, and `frame` is the caller's: the mapping aliases
        // nothing.
        unsafe { mapper.map_to_with_table_flags(page, frame, flags, USER_TABLE_FLAGS, tables) };
    let flush = mapped.map_err(MapUserError::Map)?;
    // The page was unmapped: no TLB holds it. Flushing is harmless, and
    // right if `root` is the active space.
    flush.flush();
    Ok(())
}

/// The walk to `addr` in `root`'s space: the frame and the flags of the
/// entry at each level (PML4, PDPT, PD, PT), or `None` where it stops.
/// Huge pages are reported as `None` (user spaces have none).
pub fn walk(root: PhysFrame, addr: VirtAddr) -> Option<(PhysAddr, [PageTableFlags; 4])> {
    let indices = [
        addr.p4_index(),
        addr.p3_index(),
        addr.p2_index(),
        addr.p1_index(),
    ];
    let mut frame = root;
    let mut flags = [PageTableFlags::empty(); 4];
    for (level, index) in indices.into_iter().enumerate() {
        let entry = {
            // SAFETY: read-only look at a table of a live space; the
            // entry is copied out at once.
            let table = unsafe { table(frame) };
            table[index].clone()
        };
        if !entry.flags().contains(PageTableFlags::PRESENT)
            || entry.flags().contains(PageTableFlags::HUGE_PAGE)
        {
            return None;
        }
        flags[level] = entry.flags();
        frame = PhysFrame::containing_address(entry.addr());
    }
    Some((frame.start_address() + u64::from(addr.page_offset()), flags))
}

/// Unmaps everything in the user window of `root`, handing every page and
/// every table frame under it to `free`. `root` itself stays the caller's.
///
/// # Safety
/// `root` must be a PML4 made by [`init_root`], owned by the caller, loaded
/// on no CPU, with every page under the window owned by the space.
pub unsafe fn free_user_tables(root: PhysFrame, free: &mut impl FnMut(PhysFrame)) {
    // SAFETY: the caller owns `root` and everything under its window.
    let pml4 = unsafe { table(root) };
    for slot in USER_SLOTS {
        if pml4[slot].is_unused() {
            continue;
        }
        // SAFETY: a user table of this space (recursively, below).
        unsafe { free_table(pml4[slot].frame().expect("no huge PML4 entries"), 3, free) };
        pml4[slot].set_unused();
    }
}

/// Frees the table in `frame` at `level` (3: PDPT, 2: PD, 1: PT), what it
/// maps, and the frame itself.
///
/// # Safety
/// As [`free_user_tables`].
unsafe fn free_table(frame: PhysFrame, level: u8, free: &mut impl FnMut(PhysFrame)) {
    // SAFETY: the caller's table, owned by the space being torn down.
    let entries = unsafe { table(frame) };
    for entry in entries.iter_mut().filter(|entry| !entry.is_unused()) {
        let below = PhysFrame::containing_address(entry.addr());
        assert!(
            !entry.flags().contains(PageTableFlags::HUGE_PAGE),
            "user spaces map no huge pages"
        );
        if level == 1 {
            free(below);
        } else {
            // SAFETY: a lower table of the same space.
            unsafe { free_table(below, level - 1, free) };
        }
        entry.set_unused();
    }
    free(frame);
}

/// The PML4 loaded on this CPU.
pub fn current_root() -> PhysFrame {
    Cr3::read().0
}

/// Loads `root` on this CPU, after bringing its kernel entries up to date
/// (see the module docs) if the kernel's table changed since `synced`, the
/// kernel-map generation `root` was last brought up to: a cheap load when
/// it did not, rather than a walk of 512 entries under the page-table lock
/// on every entry to user mode. Writes CR3 only if `root` is not loaded.
///
/// # Safety
/// `root` must be a PML4 made by [`init_root`] that stays alive (not freed)
/// while it is loaded on this CPU; `synced` belongs to `root`.
pub unsafe fn activate(root: PhysFrame, synced: &AtomicU64) {
    let generation = super::paging::kernel_map_generation();
    if synced.load(Ordering::Acquire) != generation {
        // SAFETY: forwarded; the copy only adds or refreshes kernel entries.
        unsafe { sync_kernel_entries(root) };
        synced.store(generation, Ordering::Release);
    }
    let (current, flags) = Cr3::read();
    if current != root {
        // SAFETY: `root` maps the kernel exactly as the kernel table does
        // (its kernel entries were just copied), so the code, stack and data
        // in use stay mapped; it lives while loaded (caller's contract).
        unsafe { Cr3::write(root, flags) };
    }
}

/// Whether this CPU runs on the kernel's own page table.
pub fn current_is_kernel() -> bool {
    current_root() == kernel_root()
}

/// Loads the kernel's page table on this CPU (if it is not loaded).
pub fn activate_kernel() {
    let (current, flags) = Cr3::read();
    let kernel = kernel_root();
    if current != kernel {
        // SAFETY: the kernel table maps everything the kernel uses and lives
        // forever.
        unsafe { Cr3::write(kernel, flags) };
    }
}

//! User address spaces (issue 11): a page table per program.
//!
//! An [`AddressSpace`] is a PML4 whose kernel entries are the kernel's own
//! (shared lower levels: every kernel mapping is identical in every space)
//! and whose user window — PML4 slots 128..256, `0x4000_0000_0000` up to
//! the last page below `0x8000_0000_0000` (`kernel::user_layout` says why
//! there) — is private. The page-table mechanics are `arch::user_tables`';
//! this module owns the policy:
//!
//! - user memory is mapped only inside the window, page by page, to fresh
//!   **zeroed** frames of the frame allocator, never over an existing page;
//! - a page is never **writable and executable** at once: `map_user`
//!   refuses;
//! - every frame of the space — pages and page tables under the window, and
//!   the PML4 itself — goes back to the frame allocator on `Drop`.
//!
//! **Who may have a space loaded.** [`AddressSpace::activate`] loads the
//! space on the calling CPU (re-copying the kernel's PML4 entries first,
//! so kernel regions added since are there); [`activate_kernel`] goes back
//! to the boot table. A space must be loaded on no CPU when it is dropped:
//! `Drop` switches the *calling* CPU back to the kernel table if the space
//! is loaded there, but cannot reach other CPUs, so whoever runs a program
//! on a CPU must switch that CPU back ([`activate_kernel`]) before the task
//! moves on — a process runner does so each time it comes back from user
//! mode.

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::AtomicU64;

use kernel::user_layout::{PAGE_SIZE, USER_WINDOW_END, USER_WINDOW_START, in_user_window};
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{Page, PageTableFlags, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::frame::{self, GlobalFrames};
use crate::arch::paging::phys_to_virt;
use crate::arch::user_tables::{self, MapUserError};

pub use user_tables::{activate_kernel, current_is_kernel};

/// How user pages may be accessed (they are always readable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFlags {
    /// The program may write the pages.
    pub writable: bool,
    /// The program may execute the pages.
    pub executable: bool,
}

impl UserFlags {
    /// Read-only data.
    pub const READ_ONLY: Self = Self {
        writable: false,
        executable: false,
    };
    /// Read-write data (and the stack).
    pub const READ_WRITE: Self = Self {
        writable: true,
        executable: false,
    };
    /// Code.
    pub const EXECUTE: Self = Self {
        writable: false,
        executable: true,
    };
}

/// Why an address-space operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressSpaceError {
    /// The frame allocator is out of frames.
    OutOfFrames,
    /// The kernel's page table uses this PML4 slot of the user window: the
    /// layout assumption of `kernel::user_layout` does not hold.
    KernelInUserWindow {
        /// The slot.
        slot: usize,
    },
    /// Asked for pages that are writable and executable.
    WritableAndExecutable,
    /// The range is empty, overflows or leaves the user window.
    OutsideUserWindow {
        /// Its start.
        start: u64,
        /// Its length.
        len: u64,
    },
    /// A page of the range is mapped already.
    AlreadyMapped {
        /// The page's address.
        page: u64,
    },
    /// An address of the range is not mapped (copying in or out).
    NotMapped {
        /// The address.
        addr: u64,
    },
}

impl fmt::Display for AddressSpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfFrames => f.write_str("out of physical frames"),
            Self::KernelInUserWindow { slot } => write!(
                f,
                "the kernel's page table uses PML4 slot {slot}, inside the user window"
            ),
            Self::WritableAndExecutable => {
                f.write_str("user pages may not be writable and executable at once")
            }
            Self::OutsideUserWindow { start, len } => write!(
                f,
                "{len:#x} bytes at {start:#x} are not inside the user window \
                 {USER_WINDOW_START:#x}..{USER_WINDOW_END:#x}"
            ),
            Self::AlreadyMapped { page } => write!(f, "page {page:#x} is mapped already"),
            Self::NotMapped { addr } => write!(f, "{addr:#x} is not mapped"),
        }
    }
}

/// Where a user address leads, as [`AddressSpace::translate`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address.
    pub phys: PhysAddr,
    /// The page is writable (by the program).
    pub writable: bool,
    /// The page is executable.
    pub executable: bool,
    /// Every level of the walk allows user access.
    pub user: bool,
}

/// A user address space. See the module documentation.
pub struct AddressSpace {
    root: PhysFrame,
    /// User pages mapped (not counting page tables).
    pages: u64,
    /// The kernel-map generation the kernel entries were last copied at
    /// (`u64::MAX`: never; `user_tables::activate`).
    synced: AtomicU64,
}

impl AddressSpace {
    /// A space with the kernel's mappings and nothing in the user window.
    pub fn new() -> Result<Self, AddressSpaceError> {
        if let Some(slot) = user_tables::kernel_slot_in_user_window() {
            return Err(AddressSpaceError::KernelInUserWindow { slot });
        }
        let root = frame::allocate().ok_or(AddressSpaceError::OutOfFrames)?;
        // SAFETY: the frame is fresh from the allocator: ours alone.
        unsafe { user_tables::init_root(root) };
        Ok(Self {
            root,
            pages: 0,
            synced: AtomicU64::new(u64::MAX),
        })
    }

    /// The PML4 frame (for `arch` code that enters user mode).
    pub fn root(&self) -> PhysFrame {
        self.root
    }

    /// How many user pages are mapped.
    pub fn user_pages(&self) -> u64 {
        self.pages
    }

    /// Maps the pages covering `[vaddr, vaddr + len)` to fresh zeroed
    /// frames with `flags`. Refuses W+X, ranges outside the window and
    /// pages mapped already (pages mapped before an error stay mapped and
    /// are freed with the space).
    pub fn map_user(
        &mut self,
        vaddr: u64,
        len: u64,
        flags: UserFlags,
    ) -> Result<(), AddressSpaceError> {
        if flags.writable && flags.executable {
            return Err(AddressSpaceError::WritableAndExecutable);
        }
        if !in_user_window(vaddr, len) {
            return Err(AddressSpaceError::OutsideUserWindow { start: vaddr, len });
        }
        let mut table_flags = PageTableFlags::empty();
        if flags.writable {
            table_flags |= PageTableFlags::WRITABLE;
        }
        if !flags.executable {
            table_flags |= PageTableFlags::NO_EXECUTE;
        }
        let first = Page::<Size4KiB>::containing_address(VirtAddr::new(vaddr));
        let last = Page::<Size4KiB>::containing_address(VirtAddr::new(vaddr + (len - 1)));
        // Check first, so a refused range maps nothing.
        for page in Page::range_inclusive(first, last) {
            if user_tables::walk(self.root, page.start_address()).is_some() {
                return Err(AddressSpaceError::AlreadyMapped {
                    page: page.start_address().as_u64(),
                });
            }
        }
        for page in Page::range_inclusive(first, last) {
            let frame = frame::allocate().ok_or(AddressSpaceError::OutOfFrames)?;
            let bytes = phys_to_virt(frame.start_address()).as_mut_ptr::<u8>();
            // SAFETY: the frame is fresh from the allocator and mapped by the
            // physical-memory window: zeroing it touches nothing else.
            unsafe { bytes.write_bytes(0, PAGE_SIZE as usize) };
            // SAFETY: the root is this space's; the frame is ours and now
            // belongs to the space (freed by Drop).
            let mapped = unsafe {
                user_tables::map_user_page(self.root, page, frame, table_flags, &mut GlobalFrames)
            };
            if let Err(error) = mapped {
                // SAFETY: the frame was not mapped: still ours alone.
                unsafe { frame::deallocate(frame) };
                return Err(match error {
                    MapUserError::NotUserAddress => {
                        AddressSpaceError::OutsideUserWindow { start: vaddr, len }
                    }
                    MapUserError::Map(MapToError::FrameAllocationFailed) => {
                        AddressSpaceError::OutOfFrames
                    }
                    MapUserError::Map(_) => AddressSpaceError::AlreadyMapped {
                        page: page.start_address().as_u64(),
                    },
                });
            }
            self.pages += 1;
        }
        Ok(())
    }

    /// Where user address `vaddr` leads in this space, if it is mapped.
    pub fn translate(&self, vaddr: u64) -> Option<Translation> {
        let addr = VirtAddr::try_new(vaddr).ok()?;
        let (phys, levels) = user_tables::walk(self.root, addr)?;
        let leaf = levels[3];
        Some(Translation {
            phys,
            writable: levels
                .iter()
                .all(|flags| flags.contains(PageTableFlags::WRITABLE)),
            executable: !levels
                .iter()
                .any(|flags| flags.contains(PageTableFlags::NO_EXECUTE)),
            user: levels
                .iter()
                .all(|flags| flags.contains(PageTableFlags::USER_ACCESSIBLE))
                && leaf.contains(PageTableFlags::PRESENT),
        })
    }

    /// `[vaddr, vaddr + len)` of this space as pieces within one page each:
    /// `(pointer into the physical-memory window, length)`.
    fn chunks(&self, vaddr: u64, len: usize) -> Result<Vec<(*mut u8, usize)>, AddressSpaceError> {
        let mut out = Vec::new();
        let mut addr = vaddr;
        let mut left = len;
        while left > 0 {
            let here = self
                .translate(addr)
                .filter(|t| t.user && in_user_window(addr, 1))
                .ok_or(AddressSpaceError::NotMapped { addr })?;
            let in_page = (PAGE_SIZE - addr % PAGE_SIZE) as usize;
            let n = in_page.min(left);
            out.push((phys_to_virt(here.phys).as_mut_ptr::<u8>(), n));
            addr += n as u64;
            left -= n;
        }
        Ok(out)
    }

    /// Copies `bytes` to user address `vaddr` of this space (through the
    /// physical-memory window: the space need not be loaded, and page
    /// protections do not apply — the loader fills read-only code this way).
    pub fn copy_to(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), AddressSpaceError> {
        let mut from = bytes;
        for (to, n) in self.chunks(vaddr, bytes.len())? {
            // SAFETY: `to` points into a user page of this space (a frame it
            // owns, `&mut self` excludes other users here), `n` bytes stay
            // within that page, and `from` is a separate kernel buffer.
            unsafe { core::ptr::copy_nonoverlapping(from.as_ptr(), to, n) };
            from = &from[n..];
        }
        Ok(())
    }

    /// Copies user memory at `vaddr` of this space into `out`.
    pub fn copy_from(&self, vaddr: u64, out: &mut [u8]) -> Result<(), AddressSpaceError> {
        let mut at = 0;
        for (from, n) in self.chunks(vaddr, out.len())? {
            // SAFETY: `from` points into a mapped user page of this space,
            // `n` bytes within it; `out` is a separate kernel buffer.
            unsafe { core::ptr::copy_nonoverlapping(from, out[at..].as_mut_ptr(), n) };
            at += n;
        }
        Ok(())
    }

    /// Loads this space on the calling CPU (no CR3 write if it is loaded
    /// already); its kernel entries are brought up to date first.
    pub fn activate(&self) {
        // SAFETY: the root is this space's; `Drop` unloads it from this CPU
        // before freeing, and other CPUs must have switched away (module
        // docs).
        unsafe { user_tables::activate(self.root, &self.synced) };
    }

    /// Whether this space is loaded on the calling CPU.
    pub fn is_active(&self) -> bool {
        user_tables::current_root() == self.root
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        if self.is_active() {
            activate_kernel();
        }
        let mut free = |frame: PhysFrame| {
            // SAFETY: every frame under the user window came from the frame
            // allocator (pages in map_user, tables through GlobalFrames) and
            // is unreachable once the space is gone.
            unsafe { frame::deallocate(frame) }
        };
        // SAFETY: the root is ours and loaded on no CPU (module docs).
        unsafe { user_tables::free_user_tables(self.root, &mut free) };
        // SAFETY: the PML4 came from the allocator in `new` and is unused now.
        unsafe { frame::deallocate(self.root) };
    }
}

mod tests {
    use kernel::user_layout::{USER_IMAGE_BASE, USER_STACK_TOP, USER_WINDOW_END};

    use super::{AddressSpace, AddressSpaceError, UserFlags, activate_kernel, current_is_kernel};
    use crate::arch::user_tables;
    use crate::ktest::{check, kernel_test};
    use crate::memory::frame;

    kernel_test!(
        fn the_user_window_is_free_in_the_kernel_table() {
            let used = user_tables::kernel_slots_in_use();
            let slots = (0..512usize).filter(|&slot| used[slot / 64] & (1 << (slot % 64)) != 0);
            let mut list = alloc::string::String::new();
            for slot in slots {
                list.push_str(&alloc::format!(" {slot}"));
            }
            log::info!(target: "MEM", "kernel PML4 slots in use:{list}");
            check!(
                user_tables::kernel_slot_in_user_window().is_none(),
                "the kernel table uses user-window slot {:?}",
                user_tables::kernel_slot_in_user_window()
            );
            check!(
                user_tables::user_accessible_kernel_slot().is_none(),
                "kernel PML4 slot {:?} is user-accessible",
                user_tables::user_accessible_kernel_slot()
            );
            Ok(())
        }
    );

    kernel_test!(
        fn dropping_a_space_frees_every_frame() {
            let before = frame::in_use();
            {
                let mut space = AddressSpace::new().map_err(|e| alloc::format!("{e}"))?;
                space
                    .map_user(USER_IMAGE_BASE, 5 * 4096, UserFlags::EXECUTE)
                    .map_err(|e| alloc::format!("code: {e}"))?;
                space
                    .map_user(USER_IMAGE_BASE + 0x20_0000 - 8, 16, UserFlags::READ_WRITE)
                    .map_err(|e| alloc::format!("straddling: {e}"))?;
                space
                    .map_user(USER_STACK_TOP - 0x1_0000, 0x1_0000, UserFlags::READ_WRITE)
                    .map_err(|e| alloc::format!("stack: {e}"))?;
                check!(
                    space.user_pages() == 5 + 2 + 16,
                    "{} pages",
                    space.user_pages()
                );
                check!(
                    frame::in_use() > before + 23,
                    "pages and tables should take frames"
                );
            }
            let after = frame::in_use();
            check!(
                after == before,
                "{before} frames in use before, {after} after dropping the space"
            );
            Ok(())
        }
    );

    kernel_test!(
        fn map_user_refuses_what_it_must() {
            let mut space = AddressSpace::new().map_err(|e| alloc::format!("{e}"))?;
            let wx = UserFlags {
                writable: true,
                executable: true,
            };
            check!(
                space.map_user(USER_IMAGE_BASE, 4096, wx)
                    == Err(AddressSpaceError::WritableAndExecutable),
                "W+X accepted"
            );
            for (start, len) in [
                (0x1000, 4096),
                (USER_WINDOW_END - 4096, 8192),
                (USER_IMAGE_BASE, 0),
                (u64::MAX - 4095, 4096),
            ] {
                check!(
                    matches!(
                        space.map_user(start, len, UserFlags::READ_ONLY),
                        Err(AddressSpaceError::OutsideUserWindow { .. })
                    ),
                    "{len:#x} at {start:#x} accepted"
                );
            }
            space
                .map_user(USER_IMAGE_BASE, 4096, UserFlags::READ_ONLY)
                .map_err(|e| alloc::format!("{e}"))?;
            check!(
                space.map_user(USER_IMAGE_BASE + 100, 1, UserFlags::READ_WRITE)
                    == Err(AddressSpaceError::AlreadyMapped {
                        page: USER_IMAGE_BASE
                    }),
                "a page mapped twice"
            );
            check!(space.user_pages() == 1, "refused ranges mapped pages");
            Ok(())
        }
    );

    kernel_test!(
        fn user_pages_are_zeroed_user_and_protected() {
            let mut space = AddressSpace::new().map_err(|e| alloc::format!("{e}"))?;
            space
                .map_user(USER_IMAGE_BASE, 8192, UserFlags::EXECUTE)
                .map_err(|e| alloc::format!("{e}"))?;
            let mut buf = [0xffu8; 64];
            space
                .copy_from(USER_IMAGE_BASE + 4090, &mut buf)
                .map_err(|e| alloc::format!("{e}"))?;
            check!(buf.iter().all(|b| *b == 0), "fresh user memory is not zero");
            space
                .copy_to(USER_IMAGE_BASE + 4090, b"across a page boundary")
                .map_err(|e| alloc::format!("{e}"))?;
            let mut back = [0u8; 22];
            space
                .copy_from(USER_IMAGE_BASE + 4090, &mut back)
                .map_err(|e| alloc::format!("{e}"))?;
            check!(&back == b"across a page boundary", "read back {back:?}");
            let t = space.translate(USER_IMAGE_BASE).ok_or("code not mapped")?;
            check!(
                t.user && t.executable && !t.writable,
                "code page flags {t:?}"
            );
            check!(
                space.translate(USER_IMAGE_BASE + 8192).is_none(),
                "the page after the range is mapped"
            );
            Ok(())
        }
    );

    kernel_test!(
        fn a_space_maps_the_kernel_like_the_kernel() {
            let space = AddressSpace::new().map_err(|e| alloc::format!("{e}"))?;
            let probe = alloc::boxed::Box::new(0x5eed_u64);
            let on_stack = 7u64;
            let kernel_root = user_tables::current_root();
            check!(current_is_kernel(), "tests should run on the kernel table");
            for addr in [
                &*probe as *const u64 as u64,
                &on_stack as *const u64 as u64,
                frame::in_use as fn() -> u64 as usize as u64,
            ] {
                let va = x86_64::VirtAddr::new(addr);
                let kernel = user_tables::walk(kernel_root, va).map(|(phys, _)| phys);
                let user = user_tables::walk(space.root(), va).map(|(phys, _)| phys);
                // Huge pages (the bootloader's) stop the walk: both alike.
                check!(kernel == user, "{addr:#x}: {kernel:?} vs {user:?}");
            }
            space.activate();
            check!(
                space.is_active() && !current_is_kernel(),
                "activate did not load it"
            );
            // The heap, the stack and the code still work under the space.
            let seen = core::hint::black_box(*probe) + core::hint::black_box(on_stack);
            space.activate();
            activate_kernel();
            check!(current_is_kernel(), "activate_kernel did not switch back");
            check!(seen == 0x5eed + 7, "read {seen:#x} under the user space");
            Ok(())
        }
    );

    kernel_test!(
        fn dropping_a_loaded_space_switches_back() {
            let before = frame::in_use();
            {
                let mut space = AddressSpace::new().map_err(|e| alloc::format!("{e}"))?;
                space
                    .map_user(USER_IMAGE_BASE, 4096, UserFlags::READ_WRITE)
                    .map_err(|e| alloc::format!("{e}"))?;
                space.activate();
            }
            check!(current_is_kernel(), "still on the freed space");
            check!(frame::in_use() == before, "frames leaked");
            Ok(())
        }
    );
}

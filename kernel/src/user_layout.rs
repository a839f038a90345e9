//! Where user programs live in virtual memory (issue 11).
//!
//! A user address space shares every PML4 entry of the kernel's boot page
//! table except those of the **user window**: PML4 slots 128..256, the upper
//! half of the canonical lower half (`0x4000_0000_0000..0x8000_0000_0000`,
//! 64 TiB). The bootloader picks its dynamic mappings (kernel image, boot
//! stack, boot info, the physical-memory window, ramdisk) from the lowest
//! free slots upwards, starting at 1 (slot 0 holds its identity maps and the
//! AP trampoline); the kernel's own regions (heap, MMIO, AP stacks) take
//! higher-half slots. `BOOTLOADER_CONFIG` also ends the bootloader's dynamic
//! range below the window, and `AddressSpace::new` checks at run time that
//! the boot table has nothing there.
//!
//! The last page of the lower half (`0x7fff_ffff_f000`) is left out: a
//! `sysret` to an address at the very end of the canonical range is the
//! classic Intel erratum, so no user page may sit there.
//!
//! Programs are linked at [`USER_IMAGE_BASE`] (`user/rt/user.ld` says the
//! same number; the ELF loader checks every segment lies inside the window,
//! so a mismatch is an error, not a silent overlap). The stack is
//! [`USER_STACK_SIZE`] bytes below [`USER_STACK_TOP`], with an unmapped guard
//! page under it.

/// Bytes covered by one PML4 entry.
pub const PML4_SLOT_SIZE: u64 = 1 << 39;
/// The first PML4 slot of the user window.
pub const USER_FIRST_SLOT: usize = 128;
/// One past the last PML4 slot of the user window.
pub const USER_END_SLOT: usize = 256;
/// The lowest user address.
pub const USER_WINDOW_START: u64 = USER_FIRST_SLOT as u64 * PML4_SLOT_SIZE;
/// One past the highest user address: the end of the lower half minus its
/// last page.
pub const USER_WINDOW_END: u64 = USER_END_SLOT as u64 * PML4_SLOT_SIZE - PAGE_SIZE;
/// The user window as a range, as the ELF loader takes it.
pub const USER_WINDOW: core::ops::Range<u64> = USER_WINDOW_START..USER_WINDOW_END;
/// Where `user/` links programs: 1 MiB into the window (the first megabyte
/// stays unmapped, so small offsets from a null-ish pointer fault).
pub const USER_IMAGE_BASE: u64 = USER_WINDOW_START + 0x10_0000;
/// One past the top of a program's stack (16-byte aligned), well below the
/// window's end.
pub const USER_STACK_TOP: u64 = 0x7fff_0000_0000;
/// The size of a program's stack.
pub const USER_STACK_SIZE: u64 = 64 * 1024;
/// The unmapped page below the stack: an overflow faults instead of
/// running into other memory.
pub const USER_STACK_GUARD: u64 = PAGE_SIZE;
/// The page size user mappings use.
pub const PAGE_SIZE: u64 = 4096;

/// Whether `[start, start + len)` lies inside the user window (false on
/// overflow or `len == 0`).
pub fn in_user_window(start: u64, len: u64) -> bool {
    match start.checked_add(len) {
        Some(end) => len > 0 && start >= USER_WINDOW_START && end <= USER_WINDOW_END,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_upper_half_of_the_lower_half() {
        assert_eq!(USER_WINDOW_START, 0x4000_0000_0000);
        assert_eq!(USER_WINDOW_END, 0x7fff_ffff_f000);
        assert!(in_user_window(USER_IMAGE_BASE, 4096));
        assert!(in_user_window(
            USER_STACK_TOP - USER_STACK_SIZE - USER_STACK_GUARD,
            USER_STACK_SIZE + USER_STACK_GUARD
        ));
        assert!(!in_user_window(USER_WINDOW_START - 1, 2));
        assert!(!in_user_window(USER_WINDOW_END - 1, 2));
        assert!(!in_user_window(u64::MAX, 2));
        assert!(!in_user_window(USER_IMAGE_BASE, 0));
        assert_eq!(USER_STACK_TOP % 16, 0);
    }

    #[test]
    fn the_user_linker_script_links_at_the_image_base() {
        let script = include_str!("../../user/rt/user.ld");
        let base = alloc::format!(". = {USER_IMAGE_BASE:#x};");
        assert!(script.contains(&base), "user/rt/user.ld lacks `{base}`");
    }
}

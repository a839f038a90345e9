//! Physical and virtual memory: the frame allocator, the kernel heap and
//! user address spaces.
//!
//! Set up in this order at boot: page tables ([`paging`](crate::arch::paging))
//! → [`frame`] allocator over the bootloader's memory map → [`heap`].

pub mod address_space;
pub mod frame;
pub mod heap;

use bootloader_api::info::{MemoryRegion, MemoryRegionKind};
use protocol::boot::BootMode;
use spin::Once;

static REGIONS: Once<&'static [MemoryRegion]> = Once::new();

/// How the firmware booted us, told by the memory map: the bootloader
/// passes through firmware-specific region kinds as `UnknownBios` (E820
/// types) or `UnknownUefi` (UEFI memory types). `BootInfo` has no field for
/// it. The type is the one the `[BOOT]` line reports.
pub fn boot_mode(regions: &[MemoryRegion]) -> BootMode {
    let has = |pred: fn(&MemoryRegionKind) -> bool| regions.iter().any(|r| pred(&r.kind));
    if has(|k| matches!(k, MemoryRegionKind::UnknownUefi(_))) {
        BootMode::Uefi
    } else if has(|k| matches!(k, MemoryRegionKind::UnknownBios(_))) {
        BootMode::Bios
    } else {
        BootMode::Unknown
    }
}

/// Bytes of usable RAM in the memory map (before the kernel takes any).
pub fn usable_bytes(regions: &[MemoryRegion]) -> u64 {
    regions
        .iter()
        .filter(|r| r.kind == MemoryRegionKind::Usable)
        .map(|r| r.end - r.start)
        .sum()
}

/// Sets up the frame allocator. Page tables must be initialised first.
pub fn init_frames(regions: &'static [MemoryRegion]) {
    REGIONS.call_once(|| regions);
    frame::init(regions);
    // The mappings `arch` makes itself (trampoline, MMIO, AP stacks) take
    // their frames from here (ADR 0004: arch does not call up).
    crate::arch::paging::set_frame_source(frame::allocate);
}

/// The bootloader's memory map.
pub fn regions() -> &'static [MemoryRegion] {
    REGIONS.get().expect("memory::init_frames not called")
}

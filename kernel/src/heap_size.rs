//! How big the kernel heap is: sized from the machine, not fixed.
//!
//! The heap used to be a fixed 64 MiB, so a machine with less memory did not
//! boot (`-m 32M`: `FrameAllocationFailed`). It now takes half of the
//! physical memory still free when it is set up, between [`MIN_HEAP`] and
//! [`MAX_HEAP`]; the other half stays for page tables, AP stacks (64 KiB
//! each) and anything else that wants whole frames.

/// The least heap the kernel boots with.
pub const MIN_HEAP: u64 = 4 << 20;
/// The most: the executor needs ~2 KiB per idle core, so this is plenty even
/// at 255 CPUs; more stays as free frames.
pub const MAX_HEAP: u64 = 64 << 20;
/// Free memory the kernel keeps beside the heap at the least.
pub const MIN_LEFT: u64 = 2 << 20;

/// The heap size for `available` bytes of free physical memory (4 KiB
/// pages), or `Err(needed)`: the free memory the kernel needs at the least.
pub const fn heap_size(available: u64) -> Result<u64, u64> {
    if available < MIN_HEAP + MIN_LEFT {
        return Err(MIN_HEAP + MIN_LEFT);
    }
    let half = available / 2 / 4096 * 4096;
    Ok(if half < MIN_HEAP {
        MIN_HEAP
    } else if half > MAX_HEAP {
        MAX_HEAP
    } else {
        half
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_of_what_is_free_within_bounds() {
        assert_eq!(heap_size(500 << 20), Ok(MAX_HEAP));
        assert_eq!(heap_size(24 << 20), Ok(12 << 20));
        assert_eq!(
            heap_size(7 << 20),
            Ok(MIN_HEAP),
            "small machines get the minimum"
        );
        assert_eq!(heap_size((24 << 20) + 123), Ok(12 << 20), "whole pages");
    }

    #[test]
    fn too_little_memory_says_how_much_is_needed() {
        assert_eq!(heap_size(5 << 20), Err(6 << 20));
        assert_eq!(heap_size(0), Err(6 << 20));
    }
}

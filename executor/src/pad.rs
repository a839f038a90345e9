//! [`CachePadded`]: keeps a hot per-core word off its neighbours' cache lines.

/// Pads and aligns a value to its own cache lines (128 bytes: adjacent-line
/// prefetch pairs lines on x86_64), so that per-core state words and counters
/// are not falsely shared.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

//! [`CpuBooks`]: event counters kept per CPU, one cache line per CPU, for
//! the `[STATS]` columns that layers above `stats` register (the IPC books,
//! the user-thread books).
//!
//! Each CPU adds to its own line (a relaxed read-modify-write: a task cannot
//! migrate inside a poll, and a count on the wrong line still adds up, as the
//! host checks sums); any CPU reads any line. No locks, no allocation: an
//! interrupt handler may count too.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::config::MAX_CPUS;

/// One CPU's `N` counters, alone on a cache line.
#[repr(align(64))]
struct Line<const N: usize>([AtomicU64; N]);

/// `N` counters per CPU, for up to `MAX_CPUS` CPUs.
pub struct CpuBooks<const N: usize> {
    lines: [Line<N>; MAX_CPUS],
}

impl<const N: usize> CpuBooks<N> {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            lines: [const { Line([const { AtomicU64::new(0) }; N]) }; MAX_CPUS],
        }
    }

    /// Adds `n` to counter `counter` of CPU `cpu`.
    ///
    /// # Panics
    /// If `cpu` or `counter` is out of range.
    pub fn add(&self, cpu: u32, counter: usize, n: u64) {
        self.lines[cpu as usize].0[counter].fetch_add(n, Relaxed);
    }

    /// CPU `cpu`'s counters.
    ///
    /// # Panics
    /// If `cpu` is out of range.
    pub fn read(&self, cpu: u32) -> [u64; N] {
        core::array::from_fn(|i| self.lines[cpu as usize].0[i].load(Relaxed))
    }
}

impl<const N: usize> Default for CpuBooks<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cpu_counts_on_its_own_line() {
        let books: std::boxed::Box<CpuBooks<3>> = std::boxed::Box::default();
        books.add(0, 0, 1);
        books.add(0, 2, 5);
        books.add(7, 1, 2);
        assert_eq!(books.read(0), [1, 0, 5]);
        assert_eq!(books.read(7), [0, 2, 0]);
        assert_eq!(books.read(1), [0, 0, 0]);
        assert_eq!(core::mem::align_of::<Line<3>>(), 64);
    }

    #[test]
    fn threads_lose_no_count() {
        let books: std::sync::Arc<CpuBooks<1>> = std::sync::Arc::default();
        let handles: std::vec::Vec<_> = (0..4)
            .map(|_| {
                let books = std::sync::Arc::clone(&books);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        books.add(3, 0, 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(books.read(3), [40_000]);
    }
}

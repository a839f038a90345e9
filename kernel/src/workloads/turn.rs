//! [`Turn`]: two tasks taking turns, each waiting on its own [`WaitCell`].
//! The `pingpong` workload and `workload=bench`'s wake figures bounce one.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::sync::WaitCell;

/// Whose turn it is (side 0 or side 1) and a [`WaitCell`] per side, where
/// that side waits for its turn.
pub struct Turn {
    turn: AtomicU32,
    cells: [WaitCell; 2],
}

impl Turn {
    /// Side 0 has the turn.
    pub const fn new() -> Self {
        Self {
            turn: AtomicU32::new(0),
            cells: [WaitCell::new(), WaitCell::new()],
        }
    }

    /// Waits until it is `side`'s turn. (`wait_for` subscribes to the cell
    /// before it checks, so a `pass` in between is not lost.)
    pub async fn wait(&self, side: u32) {
        self.cells[side as usize]
            .wait_for(|| self.turn.load(Ordering::Acquire) == side)
            .await
            .expect("a turn's cells are never closed");
    }

    /// Hands the turn to side `to` and wakes it.
    pub fn pass(&self, to: u32) {
        self.turn.store(to, Ordering::Release);
        self.cells[to as usize].wake();
    }
}

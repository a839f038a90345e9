//! What the hardware-blind locks of `kernel::sync` need from the machine:
//! `cli`/`sti` for `IrqSpinLock`, and where this CPU keeps its lock-rank books.

use kernel::sync::{self, HeldRanks, InterruptControl, SavedIrqState};
use x86_64::instructions::interrupts;

use super::percpu;

/// `cli`/`sti` for `IrqSpinLock`.
struct X86Interrupts;

impl InterruptControl for X86Interrupts {
    fn are_enabled(&self) -> bool {
        interrupts::are_enabled()
    }

    fn save_and_disable(&self) -> SavedIrqState {
        let were_enabled = interrupts::are_enabled();
        interrupts::disable();
        SavedIrqState::new(were_enabled)
    }

    fn restore(&self, saved: SavedIrqState) {
        if saved.were_enabled() {
            interrupts::enable();
        }
    }
}

static X86_INTERRUPTS: X86Interrupts = X86Interrupts;

/// This CPU's lock-rank books; `None` until this CPU has set GS.BASE.
fn held_ranks() -> Option<&'static HeldRanks> {
    percpu::try_this_cpu().map(|cpu| cpu.block().held_ranks())
}

/// Installs both hooks. Called once, on the BSP, before interrupts are enabled.
pub fn install() {
    sync::set_interrupt_control(&X86_INTERRUPTS).expect("lock hooks installed twice");
    sync::set_held_ranks_hook(held_ranks).expect("lock hooks installed twice");
}

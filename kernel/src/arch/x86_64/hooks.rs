//! Registration points: where the hardware layer calls code above it.
//!
//! `arch` is the lowest layer of the kernel binary ([ADR 0004]): it never
//! names a module above it. Where an interrupt must reach higher code, this
//! module defines the slot and the higher layer fills it at boot:
//!
//! | slot | called by | filled by |
//! | ---- | --------- | --------- |
//! | [`set_tick_handler`] | the timer interrupt, after its own accounting | the scheduler's `start` |
//! | [`set_fatal_hook`] | an unexpected exception, after its report | `main`, first thing (`verdict::fail`) |
//!
//! Each slot is set once (a second registration is a wiring bug and
//! panics) and read without a lock, so interrupt handlers may read it.
//!
//! [ADR 0004]: ../../../../docs/adr/0004-kernel-layers.md

use spin::Once;

static TICK_HANDLER: Once<fn()> = Once::new();
static FATAL_HOOK: Once<fn() -> !> = Once::new();

/// Registers what the timer interrupt calls on every tick (interrupt
/// context: it must not block, allocate or run a waker under a lock).
///
/// # Panics
/// If a handler is registered already.
pub fn set_tick_handler(handler: fn()) {
    kernel::sync::set_once(&TICK_HANDLER, handler, "tick handler");
}

/// Registers how an unexpected exception ends the run, after the exception
/// report is printed.
///
/// # Panics
/// If a hook is registered already.
pub fn set_fatal_hook(hook: fn() -> !) {
    kernel::sync::set_once(&FATAL_HOOK, hook, "fatal hook");
}

/// Runs the tick handler, if one is registered yet (ticks start before the
/// scheduler does).
pub fn tick() {
    if let Some(handler) = TICK_HANDLER.get() {
        handler();
    }
}

/// Ends the run through the fatal hook. Without one (an exception before
/// `main` registered it), says so and stops this CPU.
pub fn fatal() -> ! {
    match FATAL_HOOK.get() {
        Some(hook) => hook(),
        None => {
            super::console::emergency(format_args!(
                "[EXCEPTION] no fatal hook registered yet: halting this CPU\n"
            ));
            super::cpu::halt_forever()
        }
    }
}

//! Yields forever, writing `run yield_loop` every [`LINE_EVERY`] rounds (as
//! the kernel's tasks A–D print `run A`): a program that never ends by
//! itself, for the scheduler to share the CPUs with.
#![no_std]
#![no_main]

rt::entry!(main);

/// Rounds between two lines.
const LINE_EVERY: u64 = 200;

fn main() -> i32 {
    let mut round: u64 = 0;
    loop {
        if round.is_multiple_of(LINE_EVERY) {
            rt::print("run yield_loop\n");
        }
        rt::yield_now();
        round = round.wrapping_add(1);
    }
}

//! Yields forever, writing a line every [`LINE_EVERY`] rounds: a program that
//! never ends by itself, for the scheduler to share the CPU with.
#![no_std]
#![no_main]

use core::fmt::Write;

rt::entry!(main);

/// Rounds between two lines.
const LINE_EVERY: u64 = 1000;

fn main() -> i32 {
    let mut round: u64 = 0;
    loop {
        if round.is_multiple_of(LINE_EVERY) {
            let cpu = rt::getcpu().unwrap_or(u64::MAX);
            let _ = writeln!(rt::Console, "yield_loop: round {round} on cpu {cpu}");
        }
        rt::yield_now();
        round = round.wrapping_add(1);
    }
}

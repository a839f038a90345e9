//! A multi-threaded program: [`THREADS`] threads besides the first work and
//! yield, each recording the CPUs it ran on; when all are done the first
//! prints how many CPUs they used and exits (which ends the threads too).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

rt::entry!(main);

/// Threads started besides the first.
const THREADS: usize = 3;
/// Work rounds per thread.
const ROUNDS: u32 = 200;
/// Bytes of stack per thread.
const STACK: usize = 16 * 1024;

/// Bit i: some thread ran on CPU i.
static CPUS: AtomicU64 = AtomicU64::new(0);
/// Threads that finished their rounds.
static DONE: AtomicU32 = AtomicU32::new(0);

static STACKS: [rt::Stack<STACK>; THREADS] = [const { rt::Stack::new() }; THREADS];

fn note_cpu() {
    if let Ok(cpu) = rt::getcpu()
        && cpu < 64
    {
        CPUS.fetch_or(1 << cpu, Ordering::Relaxed);
    }
}

extern "C" fn worker() -> ! {
    for _ in 0..ROUNDS {
        note_cpu();
        let mut x = 0u64;
        for i in 0..2_000u64 {
            x = core::hint::black_box(x.wrapping_add(i));
        }
        rt::yield_now();
    }
    DONE.fetch_add(1, Ordering::Release);
    loop {
        rt::yield_now();
    }
}

fn main() -> i32 {
    for stack in &STACKS {
        let Some(stack) = stack.take() else {
            return 1;
        };
        if rt::spawn_thread(worker, stack).is_err() {
            rt::print("threads: spawn_thread failed\n");
            return 1;
        }
    }
    while DONE.load(Ordering::Acquire) < THREADS as u32 {
        note_cpu();
        rt::yield_now();
    }
    let cpus = CPUS.load(Ordering::Relaxed);
    rt::println!(
        "threads: {THREADS} threads ran on {} cpus (mask {cpus:#x})",
        cpus.count_ones()
    );
    0
}

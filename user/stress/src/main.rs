//! `workload=syscallstress`'s program: two threads make system calls, a
//! seeded random mix of good ones and hostile ones (null, kernel and
//! unmapped pointers, a buffer straddling into unmapped memory, huge
//! lengths, bad handles, a closed port, unknown numbers), in rounds of
//! [`CALLS`]. Every call must return what it must; after each round a thread
//! reports the calls that did not to the kernel's `stressctl` service, whose
//! answer says whether to go on (the run's time is the kernel's to keep).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rt::syscall::{self as abi, E2BIG, EBADF, EFAULT, EINVAL, ENOENT, ENOSYS, EPIPE};

rt::entry!(main);

/// Calls per round.
const CALLS: u32 = 500;
/// A kernel address.
const KERNEL: u64 = 0xffff_8000_0000_0000;
/// An address in the user window that no program maps.
const UNMAPPED: u64 = 0x5000_0000_0000;
/// The top of every program's stack (`kernel::user_layout::USER_STACK_TOP`);
/// nothing is mapped above it.
const STACK_TOP: u64 = 0x7fff_0000_0000;

/// Calls that did not return what they must.
static WRONG: AtomicU32 = AtomicU32::new(0);
/// Threads done.
static DONE: AtomicU32 = AtomicU32::new(0);
/// Seeds handed out.
static SEED: AtomicU64 = AtomicU64::new(0x5EED);

static STACK: rt::Stack<{ 16 * 1024 }> = rt::Stack::new();

fn raw(nr: u64, args: [u64; 6]) -> i64 {
    // SAFETY: the kernel writes only into buffers passed for writing, and
    // every such buffer below is ours (or the call must fail before it).
    unsafe { rt::syscall6(nr, args) }
}

fn expect(got: i64, want: i64) {
    if got != want {
        WRONG.fetch_add(1, Ordering::Relaxed);
    }
}

fn expect_ok(got: i64) {
    if got < 0 {
        WRONG.fetch_add(1, Ordering::Relaxed);
    }
}

/// Rounds of calls until `stressctl` says stop; each round's wrong answers
/// go to it.
fn stress() {
    let (Ok(uecho), Ok(closed), Ok(ctl)) = (
        rt::port_lookup("uecho"),
        rt::port_lookup("closed"),
        rt::port_lookup("stressctl"),
    ) else {
        rt::print("stress: a port is missing\n");
        rt::exit(2);
    };
    let mut x = SEED.fetch_add(0x9E37_79B9, Ordering::Relaxed) | 1;
    loop {
        round(&mut x, uecho, closed);
        let wrong = WRONG.swap(0, Ordering::Relaxed);
        let mut go_on = [0u8; 1];
        match rt::port_call(ctl, &wrong.to_le_bytes(), &mut go_on) {
            Ok(1) if go_on[0] == 1 => {}
            _ => return,
        }
    }
}

/// One round of [`CALLS`] random calls.
fn round(x: &mut u64, uecho: u64, closed: u64) {
    let mut buf = [7u8; 16];
    let mut reply = [0u8; 16];
    let name = b"no-such-port";
    for _ in 0..CALLS {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let ptr = buf.as_mut_ptr() as u64;
        match *x % 16 {
            0 => expect_ok(raw(abi::GETCPU, [0; 6])),
            1 => expect(raw(abi::YIELD, [0; 6]), 0),
            2 => {
                let n = raw(
                    abi::PORT_CALL,
                    [uecho, ptr, 8, reply.as_mut_ptr() as u64, 16, 0],
                );
                expect(n, 8);
                if reply[..8] != buf[..8] {
                    WRONG.fetch_add(1, Ordering::Relaxed);
                }
            }
            3 => expect(raw(abi::SLEEP, [1_000, 0, 0, 0, 0, 0]), 0),
            4 => expect(raw(abi::WRITE, [0, 5, 0, 0, 0, 0]), EFAULT),
            5 => expect(raw(abi::WRITE, [KERNEL, 5, 0, 0, 0, 0]), EFAULT),
            6 => expect(raw(abi::WRITE, [UNMAPPED, 8, 0, 0, 0, 0]), EFAULT),
            7 => expect(raw(abi::WRITE, [STACK_TOP - 8, 64, 0, 0, 0, 0]), EFAULT),
            8 => expect(raw(abi::WRITE, [ptr, u64::MAX, 0, 0, 0, 0]), E2BIG),
            9 => expect(
                raw(
                    abi::PORT_LOOKUP,
                    [name.as_ptr() as u64, name.len() as u64, 0, 0, 0, 0],
                ),
                ENOENT,
            ),
            10 => expect(raw(abi::PORT_SEND, [12_345, ptr, 4, 0, 0, 0]), EBADF),
            11 => expect(raw(abi::PORT_SEND, [closed, ptr, 4, 0, 0, 0]), EPIPE),
            12 => expect(raw(999, [0; 6]), ENOSYS),
            13 => expect(raw(abi::SLEEP, [u64::MAX, 0, 0, 0, 0, 0]), EINVAL),
            14 => expect(raw(abi::PORT_RECV, [uecho, ptr, 16, 0, 0, 0]), EBADF),
            _ => expect(raw(abi::PORT_CALL, [uecho, ptr, 8, KERNEL, 16, 0]), EFAULT),
        }
        buf[0] = buf[0].wrapping_add(1);
    }
}

extern "C" fn worker() -> ! {
    stress();
    DONE.fetch_add(1, Ordering::Release);
    loop {
        rt::yield_now();
    }
}

fn main() -> i32 {
    let Some(stack) = STACK.take() else {
        return 1000;
    };
    if rt::spawn_thread(worker, stack).is_err() {
        return 1000;
    }
    stress();
    while DONE.load(Ordering::Acquire) < 1 {
        rt::yield_now();
    }
    0
}

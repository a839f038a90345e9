//! `workload=bench`'s user half: measures, with the TSC (`rdtsc` is allowed
//! in ring 3), the null system call (`getcpu`) and a round trip to `upong`
//! in another process over the `ub.pong` / `ub.ping` mailboxes; sends both
//! medians (cycles) to the kernel on `ub.result` as two little-endian u64.
#![no_std]
#![no_main]

rt::entry!(main);

/// Samples per figure (odd: the median is one sample), after one warm-up.
const SAMPLES: usize = 31;
/// Null system calls per sample.
const CALLS: u64 = 200;
/// Round trips per sample (`upong` answers exactly this many in total).
const ROUND_TRIPS: u64 = 10;

fn tsc() -> u64 {
    // SAFETY: `rdtsc` reads the time-stamp counter; CR4.TSD is clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn median(mut samples: [u64; SAMPLES]) -> u64 {
    samples.sort_unstable();
    samples[SAMPLES / 2]
}

fn measure(mut sample: impl FnMut() -> u64) -> u64 {
    sample();
    let mut samples = [0; SAMPLES];
    for slot in &mut samples {
        *slot = sample();
    }
    median(samples)
}

fn main() -> i32 {
    let (Ok(ping), Ok(pong), Ok(result)) = (
        rt::port_lookup("ub.ping"),
        rt::port_lookup("ub.pong"),
        rt::port_lookup("ub.result"),
    ) else {
        return 2;
    };
    let syscall = measure(|| {
        let start = tsc();
        for _ in 0..CALLS {
            let _ = rt::getcpu();
        }
        (tsc() - start) / CALLS
    });
    let mut buf = [0u8; 8];
    let ipc = measure(|| {
        let start = tsc();
        for i in 0..ROUND_TRIPS {
            let _ = rt::port_send(pong, &i.to_le_bytes());
            let _ = rt::port_recv(ping, &mut buf);
        }
        (tsc() - start) / ROUND_TRIPS
    });
    let mut report = [0u8; 16];
    report[..8].copy_from_slice(&syscall.to_le_bytes());
    report[8..].copy_from_slice(&ipc.to_le_bytes());
    match rt::port_send(result, &report) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

//! `workload=user` and `workload=syscallstress`: user programs in ring 3,
//! each thread an executor task (`process::thread`).
//!
//! `user`: one `yield_loop` per CPU, all started on core 0 so that stealing
//! and balancing must spread them (each prints `[USER][coreN] run
//! yield_loop` now and then); `ping` and `pong`, two processes bouncing 100
//! messages over the `ping` / `pong` mailboxes, started on different cores;
//! `threads`, whose four threads run on several cores at once; `fault`,
//! which reads address 0 and must be killed with its `[USER] … killed:`
//! line while everything else goes on; `hello`. When the finite ones have
//! ended the driver prints `[USER] result …`; the yield loops run on until
//! the run's `duration` ends.
//!
//! `syscallstress`: one `stress` process per CPU (two threads each), a
//! seeded mix of good and hostile calls (`user/stress`); each exits with the
//! number of calls that did not return what they must. Prints
//! `[SYSCALLSTRESS] …`; any wrong answer or killed thread fails the run.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use executor::sync::oneshot;
use executor::{CoreId, Priority};
use protocol::user::{SyscallStress, UserResult};

use super::Exec;
use crate::arch::report;
use ipc::Request;

use crate::process::ports::{self, ByteRequest};
use crate::process::thread::{self, ProcessEnd};
use crate::process::{LoadError, books};
use crate::services::ipc::NAMES;
use crate::{time, verdict};

/// Round trips the ping-pong programs make (`user/ping`).
const ROUND_TRIPS: u64 = 100;

fn start(
    exec: Exec,
    name: &'static str,
    core: Option<CoreId>,
) -> Result<oneshot::Receiver<ProcessEnd>, LoadError> {
    thread::spawn(exec, name, core).map(|(_, end)| end)
}

/// Starts `workload=user`.
pub fn spawn(exec: Exec) {
    exec.spawn_pinned(CoreId(0), Priority::Normal, drive_user(exec))
        .detach();
}

async fn drive_user(exec: Exec) {
    let cores = exec.cores() as u32;
    ports::mailbox("ping", 4);
    ports::mailbox("pong", 4);
    for _ in 0..cores {
        if let Err(error) = start(exec, "yield_loop", Some(CoreId(0))) {
            fail(error);
        }
    }
    let mut ends: Vec<(&str, oneshot::Receiver<ProcessEnd>)> = Vec::new();
    for (name, core) in [
        ("pong", CoreId(1 % cores)),
        ("ping", CoreId(0)),
        ("threads", CoreId(0)),
        ("fault", CoreId(cores - 1)),
        ("hello", CoreId(0)),
    ] {
        match start(exec, name, Some(core)) {
            Ok(end) => ends.push((name, end)),
            Err(error) => fail(error),
        }
    }
    let mut result = UserResult {
        processes: u64::from(cores) + ends.len() as u64,
        expected: ROUND_TRIPS,
        ..UserResult::default()
    };
    for (name, end) in ends {
        let Ok(end) = end.await else { continue };
        if end.code.is_some() {
            result.exited += 1;
        }
        result.killed += end.killed;
        match name {
            "ping" if end.code == Some(0) => result.round_trips = ROUND_TRIPS,
            "threads" => result.threads_cores = u64::from(end.cpus.count_ones()),
            _ => {}
        }
    }
    result.moved = books::moved();
    report::line(&result);
}

fn fail(error: LoadError) -> ! {
    log::error!(target: "USER", "cannot start a user program: {error}");
    verdict::fail()
}

/// The run length when no `duration=` is given.
const DEFAULT_STRESS_MS: u64 = 5_000;

/// Wrong answers the stress threads reported.
static WRONG: AtomicU64 = AtomicU64::new(0);

/// Starts `workload=syscallstress`: the threads go on until a margin before
/// the run's end (a fifth of it, at least 0.5 s), so that `[SYSCALLSTRESS]`
/// comes before `[STATS]`.
pub fn spawn_syscall_stress(exec: Exec, duration_ms: Option<u64>) {
    let duration_ms = duration_ms.unwrap_or(DEFAULT_STRESS_MS);
    let margin_ms = (duration_ms / 5).max(500);
    let stop_ns = (time::uptime_ms() + duration_ms.saturating_sub(margin_ms)) * 1_000_000;
    // `stressctl`: takes a round's wrong answers (a u32), answers 1 (go on)
    // until the stop time, then 0.
    let (tx, mut rx) = ipc::port::<ByteRequest>(16);
    NAMES
        .register("stressctl", tx)
        .expect("workload=syscallstress runs once");
    exec.spawn(Priority::High, async move {
        while let Some(Request { body, reply }) = rx.recv().await {
            let wrong = body
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map_or(1, u32::from_le_bytes);
            WRONG.fetch_add(u64::from(wrong), Relaxed);
            let _ = reply.reply(vec![u8::from(time::uptime_ns() < stop_ns)]);
        }
    })
    .detach();
    exec.spawn(Priority::Normal, drive_stress(exec)).detach();
}

async fn drive_stress(exec: Exec) {
    let cores = exec.cores() as u32;
    // A port whose receiver is gone: every send to it must be EPIPE.
    ports::mailbox("closed", 1).close().await;
    let mut ends = Vec::new();
    for core in 0..cores {
        match start(exec, "stress", Some(CoreId(core))) {
            Ok(end) => ends.push(end),
            Err(error) => fail(error),
        }
    }
    let mut line = SyscallStress {
        threads: 2 * u64::from(cores),
        ..SyscallStress::default()
    };
    for end in ends {
        let Ok(end) = end.await else { continue };
        line.calls += end.syscalls;
        line.errors += end.errors;
        line.ok += end.syscalls - end.errors;
        line.killed += end.killed;
        if end.code != Some(0) {
            line.wrong += 1;
        }
    }
    line.wrong += WRONG.load(Relaxed);
    report::line(&line);
    if line.wrong != 0 || line.killed != 0 {
        log::error!(target: "USER", "system calls answered wrong: {line}");
        verdict::fail();
    }
}

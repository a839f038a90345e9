//! `workload=ipc`: kernel services talking across cores.
//!
//! A counter service runs pinned on core 2 (mod the core count), next to
//! the echo services every core has (`services::echo`). One client per core,
//! pinned, makes [`CALLS`] calls, alternating between the echo service of
//! core 1 (mod the core count) and the counter; it checks every answer —
//! the echo's body comes back, the counter's numbers only grow — and times
//! each round trip. The driver adds the clients' results up, asks the
//! counter for its total (which must equal the counter calls made), and
//! prints `[IPC] calls= replies= expected= max_rtt_us=`. A wrong answer or a
//! lost call fails the run.

use executor::{CoreId, Priority};
use ipc::{Request, SendRight};
use kernel::sync::mpsc;
use protocol::ipc::IpcResult;

use super::Exec;
use crate::arch::report;
use crate::services::echo;
use crate::services::ipc::NAMES;
use crate::{time, verdict};

/// Calls each client makes.
pub const CALLS: u64 = 1000;

/// A counter request: `true` counts one and answers the new total, `false`
/// only answers the total.
type CountRequest = Request<bool, u64>;

/// The counter service's name.
const COUNTER: &str = "counter";

/// What one client found.
#[derive(Clone, Copy, Default)]
struct ClientResult {
    calls: u64,
    replies: u64,
    counted: u64,
    max_rtt_ns: u64,
}

/// Starts the counter, the clients and the driver.
pub fn spawn(executor: Exec) {
    let cores = executor.cores() as u32;
    let (tx, mut rx) = ipc::port::<CountRequest>(64);
    NAMES.register(COUNTER, tx).expect("workload=ipc runs once");
    executor
        .spawn_pinned(CoreId(2 % cores), Priority::Normal, async move {
            let mut total = 0;
            while let Some(Request { body, reply }) = rx.recv().await {
                total += u64::from(body);
                let _ = reply.reply(total);
            }
        })
        .detach();
    executor.spawn(Priority::Normal, drive(executor)).detach();
}

async fn drive(executor: Exec) {
    let cores = executor.cores() as u32;
    let echo_cpu = executor.platform().cpu_of(CoreId(1 % cores));
    let (done_tx, mut done_rx) = mpsc::channel::<ClientResult>(cores as usize);
    for core in 0..cores {
        let echo = echo::service(echo_cpu).expect("every CPU has an echo service");
        let counter: SendRight<CountRequest> = NAMES
            .lookup(COUNTER)
            .await
            .expect("the counter is registered before the driver runs");
        let done_tx = done_tx.clone();
        executor
            .spawn_pinned(CoreId(core), Priority::Normal, async move {
                let result = client(u64::from(core), &echo, &counter).await;
                let _ = done_tx.send(result).await;
            })
            .detach();
    }
    drop(done_tx);
    let mut total = ClientResult::default();
    while let Some(result) = done_rx.recv().await {
        total.calls += result.calls;
        total.replies += result.replies;
        total.counted += result.counted;
        total.max_rtt_ns = total.max_rtt_ns.max(result.max_rtt_ns);
    }
    let counter: SendRight<CountRequest> = NAMES.try_lookup(COUNTER).expect("registered");
    let counter_total = counter.call(false).await.unwrap_or(u64::MAX);
    let line = IpcResult {
        calls: total.calls,
        replies: total.replies,
        expected: u64::from(cores) * CALLS,
        max_rtt_us: total.max_rtt_ns / 1_000,
    };
    report::line(&line);
    if line.calls != line.expected || line.replies != line.expected {
        log::error!(target: "IPC", "calls or replies missing: {line}");
        verdict::fail();
    }
    if counter_total != total.counted {
        log::error!(
            target: "IPC",
            "the counter counted {counter_total}, the clients {}",
            total.counted
        );
        verdict::fail();
    }
}

/// One client's calls: even ones to the echo service, odd ones to the
/// counter.
async fn client(
    id: u64,
    echo: &SendRight<echo::EchoRequest>,
    counter: &SendRight<CountRequest>,
) -> ClientResult {
    let mut result = ClientResult::default();
    let mut last_total = 0;
    for i in 0..CALLS {
        let start = time::uptime_ns();
        result.calls += 1;
        let good = if i % 2 == 0 {
            let body = id << 32 | i;
            echo.call(body).await.is_ok_and(|answer| answer == body)
        } else {
            result.counted += 1;
            // Other clients count too: the total only has to grow.
            counter.call(true).await.is_ok_and(|total| {
                let grew = total > last_total;
                last_total = total;
                grew
            })
        };
        result.max_rtt_ns = result.max_rtt_ns.max(time::uptime_ns() - start);
        if good {
            result.replies += 1;
        }
    }
    result
}

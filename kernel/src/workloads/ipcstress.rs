//! `workload=ipcstress` (seed-plan task 11.3): many concurrent calls
//! between services on every core, with full ports and closed ports, under
//! the rank checker, for the run's `duration`.
//!
//! - **Services.** Every core runs a stress service, pinned, on a port of
//!   [`PORT_CAPACITY`] (so ports are often full), registered as `stress.N`.
//!   A request `(value, hops)` is answered `value + hops`: with `hops = 0` at
//!   once; otherwise by a handler task that calls a random service with
//!   `hops - 1` and adds one. A service itself never waits on another, so
//!   calls that go round in a circle cannot deadlock.
//! - **Clients.** One per core, pinned, each with its own seeded random
//!   stream: a `call` with random hops (waiting while the port is full), a
//!   `try_send` of a request (refused while full: the request comes back), or
//!   a closing port — a receiver on a random core takes a few messages,
//!   closes and drains, while the client sends until a send is refused.
//! - **Stop.** Clients stop at the run's end minus a margin (a fifth of the
//!   duration, at least 0.5 s), so that everything in flight lands before
//!   `[STATS]`; then the driver prints `[IPCSTRESS]`. A wrong answer, a lost
//!   call or a lost message on a closing port fails the run.

use alloc::boxed::Box;
use alloc::format;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use executor::{CoreId, Priority, yield_now};
use ipc::{Request, SendRight, TrySendError};
use kernel::sync::mpsc;
use protocol::ipc::IpcStress;

use super::Exec;
use crate::arch::report;
use crate::services::ipc::NAMES;
use crate::{time, verdict};

/// The seed of every random stream (printed with the result).
const SEED: u64 = 7;
/// Room in a stress service's port: small, so that ports fill.
const PORT_CAPACITY: usize = 2;
/// The deepest chain of nested calls a client asks for.
const MAX_HOPS: u64 = 3;
/// The run length when no `duration=` is given.
const DEFAULT_DURATION_MS: u64 = 5_000;
/// Messages a closing port's receiver takes before it closes.
const BEFORE_CLOSE: u64 = 3;

/// A stress request: answer `value + hops`.
type StressRequest = Request<(u64, u64), u64>;

/// Nested calls made by handlers (all services).
static HOPS: AtomicU64 = AtomicU64::new(0);

/// A small xorshift generator: reproducible choices per seed and stream.
struct Rng(u64);

impl Rng {
    fn new(stream: u64) -> Self {
        Self((SEED ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one client counted.
#[derive(Clone, Copy, Default)]
struct Tally {
    calls: u64,
    replies: u64,
    full: u64,
    closed: u64,
    handed_back: u64,
    drained: u64,
    /// Messages the closing ports accepted, and those their receivers took.
    sink_sent: u64,
    sink_received: u64,
    max_rtt_ns: u64,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.calls += other.calls;
        self.replies += other.replies;
        self.full += other.full;
        self.closed += other.closed;
        self.handed_back += other.handed_back;
        self.drained += other.drained;
        self.sink_sent += other.sink_sent;
        self.sink_received += other.sink_received;
        self.max_rtt_ns = self.max_rtt_ns.max(other.max_rtt_ns);
    }
}

fn service_name(core: u32) -> &'static str {
    Box::leak(format!("stress.{core}").into_boxed_str())
}

/// Starts the services, the clients and the driver.
pub fn spawn(executor: Exec, duration_ms: Option<u64>) {
    let cores = executor.cores() as u32;
    let duration_ms = duration_ms.unwrap_or(DEFAULT_DURATION_MS);
    let margin_ms = (duration_ms / 5).max(500);
    let stop_ns = (time::uptime_ms() + duration_ms.saturating_sub(margin_ms)) * 1_000_000;
    for core in 0..cores {
        let (tx, rx) = ipc::port::<StressRequest>(PORT_CAPACITY);
        NAMES
            .register(service_name(core), tx)
            .expect("workload=ipcstress runs once");
        executor
            .spawn_pinned(CoreId(core), Priority::Normal, serve(executor, core, rx))
            .detach();
    }
    executor
        .spawn(Priority::Normal, drive(executor, stop_ns))
        .detach();
}

/// A stress service: answers `hops = 0` at once, hands the others to a
/// handler task.
async fn serve(executor: Exec, core: u32, mut rx: ipc::ReceiveRight<StressRequest>) {
    let cores = executor.cores() as u64;
    let mut rng = Rng::new(0x5E5E_0000 + u64::from(core));
    while let Some(Request {
        body: (value, hops),
        reply,
    }) = rx.recv().await
    {
        if hops == 0 {
            let _ = reply.reply(value);
            continue;
        }
        let target = rng.below(cores) as u32;
        executor
            .spawn(Priority::Normal, async move {
                HOPS.fetch_add(1, Relaxed);
                let answer = match service(target).call((value, hops - 1)).await {
                    Ok(answer) => answer + 1,
                    // Never the right answer: the client counts it wrong.
                    Err(_) => u64::MAX,
                };
                let _ = reply.reply(answer);
            })
            .detach();
    }
}

fn service(core: u32) -> SendRight<StressRequest> {
    NAMES
        .try_lookup(&format!("stress.{core}"))
        .expect("every core's stress service is registered at the start")
}

async fn drive(executor: Exec, stop_ns: u64) {
    let cores = executor.cores() as u32;
    let (done_tx, mut done_rx) = mpsc::channel::<Tally>(cores as usize);
    for core in 0..cores {
        let done_tx = done_tx.clone();
        executor
            .spawn_pinned(CoreId(core), Priority::Normal, async move {
                let tally = client(executor, core, stop_ns).await;
                let _ = done_tx.send(tally).await;
            })
            .detach();
    }
    drop(done_tx);
    let mut total = Tally::default();
    while let Some(tally) = done_rx.recv().await {
        total.add(&tally);
    }
    report::line(&IpcStress {
        seed: SEED,
        services: u64::from(cores),
        calls: total.calls,
        replies: total.replies,
        hops: HOPS.load(Relaxed),
        full: total.full,
        closed: total.closed,
        handed_back: total.handed_back,
        drained: total.drained,
        max_rtt_us: total.max_rtt_ns / 1_000,
    });
    if total.calls != total.replies {
        log::error!(
            target: "IPC",
            "{} of {} calls got no right answer",
            total.calls - total.replies,
            total.calls
        );
        verdict::fail();
    }
    if total.sink_sent != total.sink_received {
        log::error!(
            target: "IPC",
            "closing ports accepted {} messages, their receivers took {}",
            total.sink_sent,
            total.sink_received
        );
        verdict::fail();
    }
}

/// One client's random traffic until `stop_ns`.
async fn client(executor: Exec, core: u32, stop_ns: u64) -> Tally {
    let cores = u64::from(executor.cores() as u32);
    let mut rng = Rng::new(u64::from(core));
    let mut tally = Tally::default();
    let mut n = 0_u64;
    while time::uptime_ns() < stop_ns {
        n += 1;
        let target = service(rng.below(cores) as u32);
        let value = u64::from(core) << 40 | n;
        match rng.below(8) {
            0..=4 => {
                let hops = rng.below(MAX_HOPS + 1);
                let start = time::uptime_ns();
                tally.calls += 1;
                if target.call((value, hops)).await == Ok(value + hops) {
                    tally.replies += 1;
                }
                tally.max_rtt_ns = tally.max_rtt_ns.max(time::uptime_ns() - start);
            }
            5 | 6 => {
                let (request, answer) = Request::new((value, 0));
                match target.try_send(request) {
                    Ok(()) => {
                        tally.calls += 1;
                        if answer.answer().await == Ok(value) {
                            tally.replies += 1;
                        }
                    }
                    Err(TrySendError::Full(_)) => {
                        tally.full += 1;
                        tally.handed_back += 1;
                    }
                    Err(TrySendError::Closed(_)) => {
                        tally.closed += 1;
                        tally.handed_back += 1;
                    }
                }
            }
            _ => closing_port(executor, &mut rng, &mut tally).await,
        }
        if n % 16 == 0 {
            yield_now().await;
        }
    }
    tally
}

/// A port whose receiver, on a random core, takes [`BEFORE_CLOSE`] messages,
/// closes it and drains it, while this client sends until refused.
async fn closing_port(executor: Exec, rng: &mut Rng, tally: &mut Tally) {
    let (tx, mut rx) = ipc::port::<u64>(4);
    let (count_tx, count_rx) = executor::sync::oneshot::channel::<(u64, u64)>();
    let core = rng.below(executor.cores() as u64) as u32;
    executor
        .spawn_on(CoreId(core), Priority::Normal, async move {
            let mut before = 0;
            while before < BEFORE_CLOSE {
                match rx.recv().await {
                    Some(_) => before += 1,
                    None => break,
                }
            }
            rx.close();
            let mut after = 0;
            while rx.recv().await.is_some() {
                after += 1;
            }
            let _ = count_tx.send((before, after));
        })
        .detach();
    let mut message = 0;
    loop {
        message += 1;
        match tx.send(message).await {
            Ok(()) => tally.sink_sent += 1,
            Err(_) => {
                tally.closed += 1;
                tally.handed_back += 1;
                break;
            }
        }
    }
    drop(tx);
    if let Ok((before, after)) = count_rx.await {
        tally.sink_received += before + after;
        tally.drained += after;
    }
}

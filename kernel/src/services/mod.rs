//! Kernel services: `async fn` tasks on the per-core executors that talk
//! over IPC ports (the `ipc` crate; `docs/ipc.md`).
//!
//! | service | name | what |
//! | --- | --- | --- |
//! | [`echo`] | `echo.N` per CPU N | answers each request with its body (round trips) |
//! | [`serial`] | `serial` | the lines typed on COM1 (`read_line`), with echo and editing |
//! | [`monitor`] | — | reads commands from `serial`, answers on the console |
//!
//! This layer sits between `sched`, whose executor it spawns onto, and the
//! workloads that use it (ADR 0004). [`start`] registers the IPC counters
//! and starts every service before the workload runs.

pub mod echo;
pub mod ipc;
pub mod monitor;
pub mod serial;

use executor::Executor;

use crate::sched::KernelPlatform;

/// The executor the services run on.
type Exec = &'static Executor<KernelPlatform>;

/// Registers the IPC books and starts the services on `executor`.
pub fn start(executor: Exec) {
    ipc::init();
    echo::start(executor);
    serial::start(executor);
    monitor::start(executor);
}

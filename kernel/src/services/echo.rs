//! One echo service per executor core, pinned there and registered as
//! `echo.N` (N the CPU index): it answers each request with its body. The
//! monitor's `ping CPU` and `workload=ipc` time round trips through them.

use alloc::boxed::Box;
use alloc::format;

use executor::{CoreId, Priority};
use ipc::{Request, SendRight};

use super::Exec;
use super::ipc::NAMES;

/// Requests an echo service takes: the answer is the body.
pub type EchoRequest = Request<u64, u64>;

/// Room in each echo port: a few callers at a time.
const ECHO_CAPACITY: usize = 16;

/// The name of CPU `cpu`'s echo service.
pub fn name(cpu: u32) -> alloc::string::String {
    format!("echo.{cpu}")
}

/// Starts one echo service on every executor core.
pub fn start(executor: Exec) {
    for core in 0..executor.cores() as u32 {
        let cpu = executor.platform().cpu_of(CoreId(core));
        let (tx, mut rx) = ipc::port::<EchoRequest>(ECHO_CAPACITY);
        // Names live as long as the kernel.
        let name: &'static str = Box::leak(name(cpu).into_boxed_str());
        NAMES
            .register(name, tx)
            .unwrap_or_else(|taken| panic!("{taken:?}: two echo services for one CPU"));
        executor
            .spawn_pinned(CoreId(core), Priority::High, async move {
                while let Some(Request { body, reply }) = rx.recv().await {
                    // A caller that gave up is no error of ours.
                    let _ = reply.reply(body);
                }
            })
            .detach();
    }
}

/// CPU `cpu`'s echo service, if it has one.
pub fn service(cpu: u32) -> Option<SendRight<EchoRequest>> {
    NAMES.try_lookup(&name(cpu)).ok()
}

//! Processes and their threads: **a user thread is an executor task.**
//!
//! Polling the task enters ring 3 with the thread's saved registers
//! (`arch::user::run`); whatever brings the CPU back — a `syscall`, an
//! interrupt, an exception — returns into the poll, which handles it with
//! ordinary async code:
//!
//! ```text
//!            ┌──────────── poll ─────────────┐
//!            ▼                               │
//!   activate space, run (ring 3) ──► Trap ───┤
//!            │        Syscall: handle it (may .await: sleep, port_recv …),
//!            │                 put the result in rax, loop
//!            │        Interrupt: count a preemption, yield_now().await
//!            │                 (the core runs other tasks; Pending)
//!            │        Exception: [USER] … killed, the thread ends
//!            └── back to the kernel page table when the poll returns
//!                ([`KernelTableAfterPoll`]), so the task may resume on
//!                any core, and no core keeps a process's table once it
//!                goes.
//! ```
//!
//! Within one poll the process's table stays loaded: from one `run` to the
//! next and through the system calls' user copies, which need it loaded.
//!
//! A process lives as long as its threads (each holds an `Arc`); when the
//! last one ends, its address space is dropped (frames back to the
//! allocator) and the spawner learns how it ended. `exit` ends the whole
//! process: the other threads see it at their next trap.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};
use core::task::{Context, Poll};

use executor::sync::oneshot;
use executor::{CoreId, Priority, yield_now};
use kernel::sync::{LockRank, SpinLock};
use protocol::user::{UserExit, UserKilled};

use super::ports::Port;
use super::{LoadError, books, load, syscalls};
use crate::arch::user::{self, Trap, UserContext};
use crate::arch::{percpu, report};
use crate::memory::address_space::{AddressSpace, activate_kernel};
use crate::sched::KernelPlatform;

type Exec = &'static executor::Executor<KernelPlatform>;

/// The most threads one process may have alive.
pub const MAX_THREADS: u32 = 16;
/// The most port handles one process may hold.
pub const MAX_HANDLES: usize = 64;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessEnd {
    /// Its process id.
    pub pid: u64,
    /// `exit`'s status; `None` if no thread called `exit` (all were killed).
    pub code: Option<i32>,
    /// Threads killed for a fault.
    pub killed: u64,
    /// Threads it ran.
    pub threads: u64,
    /// CPUs its threads ran on (bit i: CPU i, for CPUs below 64).
    pub cpus: u64,
    /// System calls it made, and how many returned an error.
    pub syscalls: u64,
    /// System calls that returned an error.
    pub errors: u64,
}

/// A running program.
pub struct Process {
    pid: u64,
    name: &'static str,
    space: AddressSpace,
    pub(super) exec: Exec,
    alive: AtomicU32,
    threads: AtomicU64,
    next_tid: AtomicU64,
    exiting: AtomicBool,
    code: AtomicI32,
    exited: AtomicBool,
    killed: AtomicU64,
    cpus: AtomicU64,
    syscalls: AtomicU64,
    errors: AtomicU64,
    handles: SpinLock<Vec<Port>>,
    end: SpinLock<Option<oneshot::Sender<ProcessEnd>>>,
}

static NEXT_PID: AtomicU64 = AtomicU64::new(1);

/// Every process started, for the monitor's `tasks` (a dead one's `Weak`
/// no longer upgrades; the list is pruned as it is walked).
static PROCESSES: SpinLock<Vec<Weak<Process>>> = SpinLock::new(LockRank::IPC, Vec::new());

/// Calls `f` with (pid, live threads, name) of every live process.
pub fn list(f: &mut dyn FnMut((u64, u64, &'static str))) {
    let live: Vec<Arc<Process>> = {
        let mut all = PROCESSES.lock();
        all.retain(|p| p.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    for p in live {
        f((p.pid, u64::from(p.alive.load(Relaxed)), p.name));
    }
}

impl Process {
    /// Adds a port handle; `None` if the table is full.
    pub(super) fn add_handle(&self, port: Port) -> Option<u64> {
        let mut handles = self.handles.lock();
        if handles.len() >= MAX_HANDLES {
            return None;
        }
        handles.push(port);
        Some(handles.len() as u64 - 1)
    }

    /// The port behind `handle`.
    pub(super) fn handle(&self, handle: u64) -> Option<Port> {
        let handles = self.handles.lock();
        usize::try_from(handle)
            .ok()
            .and_then(|i| handles.get(i).cloned())
    }

    /// Runs `f` (a copy from or to user memory) with this process's page
    /// table loaded — the user copies walk the active table. Within a poll
    /// it usually is already (no CR3 write); the poll's end loads the
    /// kernel's again ([`KernelTableAfterPoll`]).
    pub(super) fn with_space<R>(&self, f: impl FnOnce() -> R) -> R {
        self.space.activate();
        f()
    }

    /// Threads started so far.
    pub(super) fn threads_started(&self) -> u64 {
        self.threads.load(Relaxed)
    }

    /// Counts a system call's outcome.
    pub(super) fn count_result(&self, failed: bool) {
        self.syscalls.fetch_add(1, Relaxed);
        if failed {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    /// Ends the process with `code` (the first `exit` wins).
    pub(super) fn exit(&self, code: i32) {
        if !self.exiting.swap(true, Relaxed) {
            self.code.store(code, Relaxed);
            self.exited.store(true, Relaxed);
        }
    }

    /// Starts a thread at `entry` with stack pointer `stack`, on `core` if
    /// given; `None` if the process has [`MAX_THREADS`] alive.
    pub(super) fn spawn_thread(
        self: &Arc<Self>,
        entry: u64,
        stack: u64,
        core: Option<CoreId>,
    ) -> Option<u64> {
        let alive = self.alive.fetch_add(1, Relaxed);
        if alive >= MAX_THREADS {
            self.alive.fetch_sub(1, Relaxed);
            return None;
        }
        self.threads.fetch_add(1, Relaxed);
        let tid = self.next_tid.fetch_add(1, Relaxed);
        let ctx = UserContext {
            rip: entry,
            rsp: stack,
            ..UserContext::default()
        };
        let process = Arc::clone(self);
        // Where it was placed: a thread that first runs elsewhere was
        // stolen, and counts as moved like a later steal or migration.
        let placed_on = core.map(|core| self.exec.platform().cpu_of(core));
        let task = KernelTableAfterPoll(Box::pin(run_thread(process, ctx, tid, placed_on)));
        let handle = match core {
            Some(core) => self.exec.spawn_on(core, Priority::Normal, task),
            None => self.exec.spawn(Priority::Normal, task),
        };
        handle.detach();
        Some(tid)
    }

    /// A thread ended: the last one ends the process.
    fn thread_ended(&self) {
        if self.alive.fetch_sub(1, Relaxed) != 1 {
            return;
        }
        let end = ProcessEnd {
            pid: self.pid,
            code: self.exited.load(Relaxed).then(|| self.code.load(Relaxed)),
            killed: self.killed.load(Relaxed),
            threads: self.threads.load(Relaxed),
            cpus: self.cpus.load(Relaxed),
            syscalls: self.syscalls.load(Relaxed),
            errors: self.errors.load(Relaxed),
        };
        report::line(&UserExit {
            pid: self.pid,
            code: u64::from(end.code.unwrap_or(-1) as u32),
            threads: end.threads,
        });
        if let Some(tx) = self.end.lock().take() {
            let _ = tx.send(end);
        }
    }
}

/// Loads program `name` and starts its first thread (on `core` if given).
/// The receiver resolves when the process has ended.
///
/// # Errors
/// The program could not be loaded.
pub fn spawn(
    exec: Exec,
    name: &'static str,
    core: Option<CoreId>,
) -> Result<(u64, oneshot::Receiver<ProcessEnd>), LoadError> {
    let program = load(name)?;
    let (tx, rx) = oneshot::channel();
    let process = Arc::new(Process {
        pid: NEXT_PID.fetch_add(1, Relaxed),
        name,
        space: program.space,
        exec,
        alive: AtomicU32::new(0),
        threads: AtomicU64::new(0),
        next_tid: AtomicU64::new(1),
        exiting: AtomicBool::new(false),
        code: AtomicI32::new(0),
        exited: AtomicBool::new(false),
        killed: AtomicU64::new(0),
        cpus: AtomicU64::new(0),
        syscalls: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        handles: SpinLock::new(LockRank::IPC, Vec::new()),
        end: SpinLock::new(LockRank::IPC, Some(tx)),
    });
    let pid = process.pid;
    PROCESSES.lock().push(Arc::downgrade(&process));
    process
        .spawn_thread(program.entry, program.stack_top, core)
        .expect("a new process has no threads");
    Ok((pid, rx))
}

/// A user thread's future, which loads the kernel's page table again each
/// time a poll returns: between polls the task may move to another core,
/// and its process (with its table) may end, so no core may keep a
/// process's table loaded then. One CR3 write per poll that ran user code,
/// instead of one per trap and per user copy.
struct KernelTableAfterPoll<F>(Pin<Box<F>>);

impl<F: Future> Future for KernelTableAfterPoll<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.0.as_mut().poll(cx);
        activate_kernel();
        poll
    }
}

/// One user thread, as a task.
async fn run_thread(process: Arc<Process>, mut ctx: UserContext, tid: u64, placed_on: Option<u32>) {
    let mut last_cpu = placed_on;
    loop {
        if process.exiting.load(Relaxed) {
            break;
        }
        let cpu = percpu::this_cpu().index();
        if last_cpu.is_some_and(|last| last != cpu) {
            books::count_move();
        }
        last_cpu = Some(cpu);
        if cpu < 64 {
            process.cpus.fetch_or(1 << cpu, Relaxed);
        }
        process.space.activate();
        let trap = user::run(&mut ctx);
        match trap {
            Trap::Syscall => {
                books::count_syscall();
                match syscalls::handle(&process, &mut ctx).await {
                    syscalls::Flow::Return(value) => ctx.rax = value as u64,
                    syscalls::Flow::Exit(code) => {
                        process.exit(code);
                        break;
                    }
                }
            }
            Trap::Interrupt { .. } => {
                books::count_preemption();
                yield_now().await;
            }
            Trap::Exception {
                vector,
                error_code,
                cr2,
            } => {
                books::count_fault();
                process.killed.fetch_add(1, Relaxed);
                let reason = match vector {
                    14 => format!("page fault (#PF error={error_code:#x} cr2={cr2:#x})"),
                    13 => format!("general protection (#GP error={error_code:#x})"),
                    6 => String::from("invalid opcode (#UD)"),
                    0 => String::from("divide error (#DE)"),
                    other => format!("exception vector {other} (error={error_code:#x})"),
                };
                report::line(&UserKilled {
                    pid: process.pid,
                    tid,
                    reason: &reason,
                    rip: ctx.rip,
                });
                log::debug!(target: "USER", "{} killed", process.name);
                break;
            }
        }
    }
    process.thread_ended();
}

mod tests {
    use alloc::boxed::Box;
    use alloc::format;

    use executor::{Config, CoreId, Executor};

    use crate::arch::percpu;
    use crate::ktest::{check, kernel_test};
    use crate::memory::frame;
    use crate::sched::KernelPlatform;

    kernel_test!(
        fn every_frame_comes_back_when_processes_end() {
            let me = percpu::this_cpu().index();
            // A one-core executor of its own (the scheduler's starts later),
            // leaked: the `'static` that spawning needs.
            let exec: &'static Executor<KernelPlatform> = Box::leak(Box::new(Executor::new(
                KernelPlatform::new(&[me]),
                1,
                Config::default(),
            )));
            let before = frame::in_use();
            // One that exits, one killed for its fault, one with threads.
            for name in ["hello", "fault", "threads"] {
                let (pid, mut end) = super::spawn(exec, name, Some(CoreId(0)))
                    .map_err(|error| format!("{name}: {error}"))?;
                let mut polls = 0;
                let end = loop {
                    exec.run_until_idle();
                    if let Ok(Some(end)) = end.try_recv() {
                        break end;
                    }
                    polls += 1;
                    check!(polls < 100_000, "{name} never ended");
                };
                check!(end.pid == pid, "{name}: wrong end {end:?}");
                match name {
                    "fault" => check!(end.killed == 1, "fault was not killed: {end:?}"),
                    _ => check!(end.code == Some(0), "{name} ended {end:?}"),
                }
                // The tasks that held the process are freed by now.
                exec.run_until_idle();
                check!(
                    frame::in_use() == before,
                    "{name}: {} frames not returned",
                    frame::in_use().saturating_sub(before)
                );
            }
            Ok(())
        }
    );
}

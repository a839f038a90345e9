//! Per-CPU data, reached through the GS segment base.
//!
//! Every CPU owns one [`PerCpu`] block in the static [`PERCPU`] array, indexed
//! by the CPU's dense *index* (the boot CPU is 0, application processors follow
//! in MADT order) — not by its APIC id, which can be sparse. Each CPU points its
//! `IA32_GS_BASE` MSR (0xC000_0101) at its own block, whose first word holds the
//! block's own address, so [`percpu_current`] is a single `mov reg, gs:[0]`:
//!
//! ```text
//!   GS.BASE ──► PERCPU[i] { self_addr: &PERCPU[i], index: i, apic_id, ... }
//!                           ▲ gs:[0]
//! ```
//!
//! Invariants:
//! - a CPU sets GS.BASE once, to its own block, before calling [`percpu_current`];
//!   the boot CPU does so first thing in `kernel_main`, an AP first thing in
//!   `ap_entry64` (and nothing ever loads the GS *selector*, which would reset
//!   the base);
//! - `self_addr`, `index` and `apic_id` are written before GS.BASE points at
//!   the block and never change afterwards;
//! - other fields are atomics: any CPU may read them (statistics) and the
//!   owning CPU, or a sender of an IPI, updates them.
//!
//! # The call slot
//!
//! [`PerCpu::post_call`] stores a `&'static` [`IdleCall`] in an
//! `AtomicPtr<IdleCall>`; the CPU's idle loop swaps it out
//! ([`PerCpu::take_call`]) and runs it. The slot holds the address of a value
//! whose type says what it is, never an integer that becomes a function
//! pointer, and the field is private: the only writes are `post_call` (from a
//! `&'static IdleCall`) and `take_call` (null), so turning the pointer back
//! into a reference is sound. The alternative, an index into a table of
//! calls, needs no `unsafe` at all but would make this layer name every
//! function anyone posts (the scheduler's entry, the tick start, the SMP
//! tests); a pointer costs the same one word and one compare-exchange, and
//! the caller's `static` names the call.

use core::arch::asm;
use core::fmt;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use x86_64::VirtAddr;
use x86_64::registers::model_specific::GsBase;

use crate::config::MAX_CPUS;
use executor::IpiLatch;
use kernel::sync::HeldRanks;

/// Event counters of one CPU, printed in its `[STATS] cpu=K` line.
#[derive(Debug, Default)]
pub struct Counters {
    /// IPIs this CPU sent.
    pub ipi_sent: AtomicU64,
    /// IPIs this CPU received (every IPI vector).
    pub ipi_received: AtomicU64,
    /// RESCHEDULE IPIs received.
    pub resched_ipis: AtomicU64,
    /// Spurious interrupts (APIC or PIC) seen.
    pub spurious_interrupts: AtomicU64,
}

/// A function a CPU's idle loop can be asked to run ([`PerCpu::post_call`],
/// `smp::run_on`). Posted by reference, so it lives in a `static`:
///
/// ```ignore
/// static ENTER: IdleCall = IdleCall::new(enter);
/// smp::run_on(cpu, &ENTER)?;
/// ```
#[derive(Debug)]
pub struct IdleCall {
    run: fn(),
}

impl IdleCall {
    /// A call that runs `run`.
    pub const fn new(run: fn()) -> Self {
        Self { run }
    }

    /// Runs it.
    pub fn run(&self) {
        (self.run)();
    }
}

/// Why [`PerCpu::post_call`] could not post: a call posted earlier has not
/// been taken yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallPending;

/// One CPU's data. 64-byte aligned so that no two CPUs' blocks share a
/// cache line.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct PerCpu {
    /// The block's own address: what `gs:[0]` reads. Must stay the first field.
    self_addr: AtomicUsize,
    /// Dense CPU index (0 = boot CPU).
    index: AtomicU32,
    /// Local APIC id.
    apic_id: AtomicU32,
    /// Nesting depth of interrupt handlers running on this CPU.
    pub in_interrupt: AtomicU32,
    /// Id of the task this CPU works on, 0 when none (task ids start at 1);
    /// reported by the executor (`Platform::set_current_task`).
    pub current_task: AtomicU64,
    /// Timer ticks handled.
    pub ticks: AtomicU64,
    /// Ticks fewer than the TSC says should have come, as of the last tick
    /// (`kernel::tick::ticks_behind`).
    pub ticks_lost: AtomicU64,
    /// Ticks that came at least 1.5 periods after the previous one.
    pub ticks_late: AtomicU64,
    /// TSC at the first tick interrupt; 0 before it.
    pub first_tick_tsc: AtomicU64,
    /// TSC at the last tick interrupt; 0 before the first.
    pub last_tick_tsc: AtomicU64,
    /// Uptime (ns) when this CPU's tick started; 0 before.
    pub timer_started_ns: AtomicU64,
    /// TSC value of the next tick in TSC-deadline mode.
    pub next_tick_tsc: AtomicU64,
    /// A RESCHEDULE IPI to this CPU is sent and its handler has not run yet
    /// (`executor::IpiLatch`, loom-checked with the idle protocol). Wakers
    /// send no second one meanwhile: it would merge with the first (one IRR
    /// bit per vector) and the pending one wakes the CPU anyway.
    pub resched_in_flight: IpiLatch,
    /// The call the CPU's idle loop runs next; null = none. Only ever holds
    /// the address of a `&'static IdleCall` (module docs, "The call slot").
    call: AtomicPtr<IdleCall>,
    /// Event counters.
    pub counters: Counters,
    /// Ranks of the locks this CPU holds (checked in debug builds).
    pub held_ranks: HeldRanks,
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            self_addr: AtomicUsize::new(0),
            index: AtomicU32::new(0),
            apic_id: AtomicU32::new(0),
            in_interrupt: AtomicU32::new(0),
            current_task: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            timer_started_ns: AtomicU64::new(0),
            next_tick_tsc: AtomicU64::new(0),
            ticks_lost: AtomicU64::new(0),
            ticks_late: AtomicU64::new(0),
            first_tick_tsc: AtomicU64::new(0),
            last_tick_tsc: AtomicU64::new(0),
            resched_in_flight: IpiLatch::new(),
            call: AtomicPtr::new(core::ptr::null_mut()),
            counters: Counters {
                ipi_sent: AtomicU64::new(0),
                ipi_received: AtomicU64::new(0),
                resched_ipis: AtomicU64::new(0),
                spurious_interrupts: AtomicU64::new(0),
            },
            held_ranks: HeldRanks::new(),
        }
    }

    /// This CPU's dense index.
    pub fn index(&self) -> u32 {
        self.index.load(Ordering::Relaxed)
    }

    /// This CPU's Local APIC id.
    pub fn apic_id(&self) -> u32 {
        self.apic_id.load(Ordering::Relaxed)
    }

    /// Posts `call` for this CPU's idle loop to run once. The caller then
    /// wakes the CPU (`smp::run_on` sends the `CALL` doorbell).
    ///
    /// # Errors
    /// [`CallPending`] if an earlier call has not been taken yet.
    pub fn post_call(&self, call: &'static IdleCall) -> Result<(), CallPending> {
        let call = core::ptr::from_ref(call).cast_mut();
        self.call
            .compare_exchange(
                core::ptr::null_mut(),
                call,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(|_| CallPending)
    }

    /// Takes the call posted to this CPU, if any. For the CPU's own idle loop.
    pub fn take_call(&self) -> Option<&'static IdleCall> {
        let call = self.call.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: the field is private, and besides this swap (null) its only
        // writer is `post_call`, which stores the address of a
        // `&'static IdleCall`: non-null, it points at a live, immutable value.
        unsafe { call.as_ref() }
    }
}

const _: () = assert!(core::mem::size_of::<PerCpu>() % 64 == 0);
const _: () = assert!(core::mem::offset_of!(PerCpu, self_addr) == 0);

/// Every CPU's block, by dense index.
static PERCPU: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

/// The block of CPU `index`.
///
/// # Panics
/// If `index >= MAX_CPUS`.
pub fn percpu_for(index: u32) -> &'static PerCpu {
    &PERCPU[index as usize]
}

/// Fills CPU `index`'s block and points this CPU's GS.BASE at it. Each CPU
/// calls this once for itself, before anything uses [`percpu_current`].
pub fn init_this_cpu(index: u32, apic_id: u32) {
    let block = percpu_for(index);
    block.index.store(index, Ordering::Relaxed);
    block.apic_id.store(apic_id, Ordering::Relaxed);
    block
        .self_addr
        .store(core::ptr::from_ref(block) as usize, Ordering::Release);
    GsBase::write(VirtAddr::from_ptr(block));
}

/// The calling CPU's block.
pub fn percpu_current() -> &'static PerCpu {
    let addr: usize;
    // SAFETY: GS.BASE points at this CPU's PerCpu block (module invariant),
    // whose first word is the block's own address; the read has no side effects.
    unsafe { asm!("mov {}, gs:[0]", out(reg) addr, options(nostack, preserves_flags, readonly)) };
    // SAFETY: `addr` is the address of an element of the static PERCPU array.
    unsafe { &*(addr as *const PerCpu) }
}

/// The calling CPU's block, or `None` before this CPU has set GS.BASE
/// (early boot, or an exception taken on the way up). Slower than
/// [`percpu_current`]: it reads the MSR. For panic and exception reports.
pub fn try_current() -> Option<&'static PerCpu> {
    let base = GsBase::read().as_u64() as usize;
    let first = core::ptr::from_ref(&PERCPU[0]) as usize;
    let within = base >= first && base < first + core::mem::size_of_val(&PERCPU);
    within.then(percpu_current)
}

/// What panic and exception reports print about where they happened:
/// `cpu=N`, then `task=T` while the CPU works on task T, then
/// `in_interrupt=D` while D interrupt handlers run on it (`task=` then names
/// the task they interrupted).
#[derive(Clone, Copy, Debug)]
pub struct ReportContext {
    cpu: u32,
    task: Option<u64>,
    in_interrupt: u32,
}

/// Where the caller runs, for a panic or exception report. Works in every
/// context: before per-CPU data exists, `cpu=` is the APIC id (which agrees
/// with the index on the boot CPU of every machine we boot: 0).
pub fn report_context() -> ReportContext {
    match try_current() {
        Some(this) => ReportContext {
            cpu: this.index(),
            task: match this.current_task.load(Ordering::Relaxed) {
                0 => None,
                id => Some(id),
            },
            in_interrupt: this.in_interrupt.load(Ordering::Relaxed),
        },
        None => ReportContext {
            cpu: super::cpu::apic_id(),
            task: None,
            in_interrupt: 0,
        },
    }
}

impl ReportContext {
    /// The CPU number (`cpu=`).
    pub fn cpu(&self) -> u32 {
        self.cpu
    }
}

impl fmt::Display for ReportContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu={}", self.cpu)?;
        if let Some(task) = self.task {
            write!(f, " task={task}")?;
        }
        if self.in_interrupt > 0 {
            write!(f, " in_interrupt={}", self.in_interrupt)?;
        }
        Ok(())
    }
}

/// The number printed as `cpu=N` in panics and exceptions
/// ([`report_context`]).
pub fn cpu_number() -> u32 {
    report_context().cpu()
}

//! Per-CPU data, reached through the GS segment base.
//!
//! Every CPU owns one [`PerCpu`] block in the static `PERCPU` array, indexed
//! by the CPU's dense *index* (the boot CPU is 0, application processors follow
//! in MADT order) — not by its APIC id, which can be sparse. Each CPU points its
//! `IA32_GS_BASE` MSR (0xC000_0101) at its own block, whose first word holds the
//! block's own address, so [`this_cpu`] is a single `mov reg, gs:[0]` (plus a
//! range check):
//!
//! ```text
//!   GS.BASE ──► PERCPU[i] { self_addr: &PERCPU[i], index: i, apic_id, ... }
//!                           ▲ gs:[0]
//! ```
//!
//! # Who may do what ([ADR 0005])
//!
//! Every field is private; the type of the handle decides what a caller may do.
//!
//! - **Any CPU**, through `&'static PerCpu` ([`percpu_for`]): read (index,
//!   APIC id, counters, tick books, the running task) and the two cross-CPU
//!   protocols — post a call to the CPU's idle loop ([`PerCpu::post_call`]) and
//!   claim or release its RESCHEDULE latch.
//! - **The CPU itself**, through [`ThisCpu`] ([`this_cpu`]): everything above
//!   (it derefs to `PerCpu`) plus the writes only the owner makes — its event
//!   counters, the running task, taking a posted call, releasing the latch
//!   when the IPI arrives. `ThisCpu` is neither `Send` nor `Sync`. In this
//!   kernel that is what "cannot migrate" means: interrupt handlers and the
//!   idle loop never move; a task runs each poll to completion on one CPU
//!   (no preemption) and can move only at an `.await`, and since the executor
//!   takes only `Send` futures, a `ThisCpu` held across an `.await` makes the
//!   task impossible to spawn. So a `ThisCpu` cannot outlive the stretch of
//!   code during which "this CPU" stays the same CPU — the guarantee
//!   asterinas' `CpuLocal::get_with(&guard)` gets from a preemption guard,
//!   which this kernel needs no object for.
//! - **The CPU itself with interrupts disabled**, through [`IrqsDisabled`]
//!   ([`with_irqs_disabled`]): state that the CPU's task context and its
//!   interrupt handlers would otherwise both write with more than one atomic
//!   step — the tick books and the interrupt nesting depth.
//!
//! Every field is an atomic, so none of these rules is needed for memory
//! safety: a rule broken would lose an update, never corrupt memory. The one
//! field whose value unsafe code trusts is the call slot, below.
//!
//! # The call slot
//!
//! [`PerCpu::post_call`] stores a `&'static` [`IdleCall`] in an
//! `AtomicPtr<IdleCall>`; the CPU's idle loop swaps it out and runs it. The
//! slot holds the address of a value whose type says what it is, never an
//! integer that becomes a function pointer, and the field is private: the only
//! writes are `post_call` (from a `&'static IdleCall`) and the owner's
//! [`ThisCpu::take_call`] (null), so turning the pointer back into a
//! reference is sound. The alternative, an index into a table of calls, needs
//! no `unsafe` at all but would make this layer name every function anyone
//! posts (the scheduler's entry, the tick start, the SMP tests); a pointer
//! costs the same one word and one compare-exchange, and the caller's
//! `static` names the call.
//!
//! # Invariants
//!
//! - a CPU sets GS.BASE once, to its own block ([`init_this_cpu`]), before
//!   anything uses [`this_cpu`]; the boot CPU does so first thing in
//!   `kernel_main`, an AP first thing in `ap_entry64` (and nothing ever loads
//!   the GS *selector*, which would reset the base). [`this_cpu`] checks that
//!   the address it reads is a block of `PERCPU` and panics otherwise;
//! - `self_addr`, `index` and `apic_id` are written before GS.BASE points at
//!   the block and never change afterwards.
//!
//! [ADR 0005]: ../../../../../docs/adr/0005-per-cpu-access.md

use core::arch::asm;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use x86_64::VirtAddr;
use x86_64::registers::model_specific::GsBase;

use crate::config::MAX_CPUS;
use executor::IpiLatch;
use kernel::sync::HeldRanks;

/// Event counters of one CPU, printed in its `[STATS] cpu=K` line. Read by
/// anyone; counted only by the CPU itself (the `count_*` methods of
/// [`ThisCpu`]).
#[derive(Debug, Default)]
pub struct Counters {
    ipi_sent: AtomicU64,
    ipi_received: AtomicU64,
    resched_ipis: AtomicU64,
    spurious_interrupts: AtomicU64,
    idle_cycles: AtomicU64,
}

impl Counters {
    const fn new() -> Self {
        Self {
            ipi_sent: AtomicU64::new(0),
            ipi_received: AtomicU64::new(0),
            resched_ipis: AtomicU64::new(0),
            spurious_interrupts: AtomicU64::new(0),
            idle_cycles: AtomicU64::new(0),
        }
    }

    /// TSC cycles the CPU's executor spent halted (from `sti; hlt` to the
    /// return of the interrupt that ended it).
    pub fn idle_cycles(&self) -> u64 {
        self.idle_cycles.load(Ordering::Relaxed)
    }

    /// IPIs this CPU sent.
    pub fn ipi_sent(&self) -> u64 {
        self.ipi_sent.load(Ordering::Relaxed)
    }

    /// IPIs this CPU received (every IPI vector).
    pub fn ipi_received(&self) -> u64 {
        self.ipi_received.load(Ordering::Relaxed)
    }

    /// RESCHEDULE IPIs received (also counted in [`Self::ipi_received`]).
    pub fn resched_ipis(&self) -> u64 {
        self.resched_ipis.load(Ordering::Relaxed)
    }

    /// Spurious interrupts (APIC or PIC) seen.
    pub fn spurious_interrupts(&self) -> u64 {
        self.spurious_interrupts.load(Ordering::Relaxed)
    }
}

/// The tick's books. Written only by the CPU's own timer interrupt (and by
/// the CPU starting its tick, before the first one), with interrupts
/// disabled: several fields change together.
#[derive(Debug)]
struct TickBooks {
    /// Timer ticks handled.
    ticks: AtomicU64,
    /// Ticks fewer than the TSC says should have come, as of the last tick
    /// (`kernel::tick::ticks_behind`).
    lost: AtomicU64,
    /// Ticks that came at least 1.5 periods after the previous one.
    late: AtomicU64,
    /// TSC at the first tick interrupt; 0 before it.
    first_tsc: AtomicU64,
    /// TSC at the last tick interrupt; 0 before the first.
    last_tsc: AtomicU64,
    /// TSC value of the next tick in TSC-deadline mode; 0 before the first.
    next_deadline_tsc: AtomicU64,
    /// Uptime (ns) when this CPU's tick started; 0 before.
    started_ns: AtomicU64,
}

impl TickBooks {
    const fn new() -> Self {
        Self {
            ticks: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            late: AtomicU64::new(0),
            first_tsc: AtomicU64::new(0),
            last_tsc: AtomicU64::new(0),
            next_deadline_tsc: AtomicU64::new(0),
            started_ns: AtomicU64::new(0),
        }
    }
}

/// The ring-3 entry and exit state of one CPU ([`super::user`]). `#[repr(C)]`
/// with fixed offsets, because the entry and exit stubs read and write it
/// as `gs:[USER_*]` in assembly; Rust code reaches it only through the
/// owner's methods on [`ThisCpu`]. Written only by its CPU: by `user::run`
/// and its stubs, and by that CPU's interrupt handlers that interrupted ring
/// 3 (while `run` waits for them, interrupts off).
#[repr(C)]
#[derive(Debug)]
struct UserEntry {
    /// `run`'s stack pointer while the CPU is in ring 3 (its callee-saved
    /// registers sit there); 0 when not in ring 3.
    kernel_rsp: AtomicU64,
    /// The `UserContext` that `run` entered ring 3 with.
    context: AtomicU64,
    /// Holds one user register for a few instructions of a stub.
    scratch: AtomicU64,
    /// How ring 3 was left, when not by `syscall`: the vector, error code,
    /// CR2, and the user's RIP, RSP and RFLAGS.
    trap: [AtomicU64; 6],
}

impl UserEntry {
    const fn new() -> Self {
        Self {
            kernel_rsp: AtomicU64::new(0),
            context: AtomicU64::new(0),
            scratch: AtomicU64::new(0),
            trap: [const { AtomicU64::new(0) }; 6],
        }
    }
}

/// Where ring 3 was left by an interrupt or exception: what the handler
/// records for `user::run` ([`ThisCpu::record_user_trap`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserTrapRecord {
    /// The vector.
    pub vector: u8,
    /// The error code (0 for vectors without one).
    pub error_code: u64,
    /// CR2 (page faults; 0 otherwise).
    pub cr2: u64,
    /// The user's RIP, RSP and RFLAGS at the interrupt.
    pub rip: u64,
    /// See `rip`.
    pub rsp: u64,
    /// See `rip`.
    pub rflags: u64,
}

/// Offset of `gs:[..]` that holds `run`'s kernel stack pointer.
pub(super) const USER_KERNEL_RSP: usize =
    core::mem::offset_of!(PerCpu, user) + core::mem::offset_of!(UserEntry, kernel_rsp);
/// Offset of `gs:[..]` that holds the address of the running `UserContext`.
pub(super) const USER_CONTEXT: usize =
    core::mem::offset_of!(PerCpu, user) + core::mem::offset_of!(UserEntry, context);
/// Offset of `gs:[..]` for a user register held by a stub.
pub(super) const USER_SCRATCH: usize =
    core::mem::offset_of!(PerCpu, user) + core::mem::offset_of!(UserEntry, scratch);

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
/// cache line. No field is public: see the module docs for who may change
/// what, and through which handle.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct PerCpu {
    /// The block's own address: what `gs:[0]` reads. Must stay the first field.
    self_addr: AtomicUsize,
    /// Dense CPU index (0 = boot CPU).
    index: AtomicU32,
    /// Local APIC id.
    apic_id: AtomicU32,
    /// Id of the task this CPU is polling, 0 when none (task ids start at 1).
    /// Reported by the executor through `Platform::set_current_task`.
    current_task: AtomicU64,
    /// Nesting depth of interrupt handlers running on this CPU.
    in_interrupt: AtomicU32,
    /// The tick's books.
    tick: TickBooks,
    /// A RESCHEDULE IPI to this CPU is sent and its handler has not run yet
    /// (`executor::IpiLatch`, loom-checked with the idle protocol). Wakers
    /// send no second one meanwhile: it would merge with the first (one IRR
    /// bit per vector) and the pending one wakes the CPU anyway.
    resched_in_flight: IpiLatch,
    /// The call the CPU's idle loop runs next; null = none. Only ever holds
    /// the address of a `&'static IdleCall` (module docs, "The call slot").
    call: AtomicPtr<IdleCall>,
    /// Event counters.
    counters: Counters,
    /// Ranks of the locks this CPU holds (checked in debug builds).
    held_ranks: HeldRanks,
    /// Ring-3 entry and exit state (`user`).
    user: UserEntry,
}

impl PerCpu {
    const fn new() -> Self {
        Self {
            self_addr: AtomicUsize::new(0),
            index: AtomicU32::new(0),
            apic_id: AtomicU32::new(0),
            current_task: AtomicU64::new(0),
            in_interrupt: AtomicU32::new(0),
            tick: TickBooks::new(),
            resched_in_flight: IpiLatch::new(),
            call: AtomicPtr::new(core::ptr::null_mut()),
            counters: Counters::new(),
            held_ranks: HeldRanks::new(),
            user: UserEntry::new(),
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

    /// This CPU's event counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Timer ticks handled.
    pub fn ticks(&self) -> u64 {
        self.tick.ticks.load(Ordering::Relaxed)
    }

    /// Ticks fewer than the TSC says should have come, as of the last tick.
    pub fn ticks_lost(&self) -> u64 {
        self.tick.lost.load(Ordering::Relaxed)
    }

    /// Ticks that came at least 1.5 periods after the previous one.
    pub fn ticks_late(&self) -> u64 {
        self.tick.late.load(Ordering::Relaxed)
    }

    /// Uptime (ns) when this CPU's tick started; 0 before.
    pub fn timer_started_ns(&self) -> u64 {
        self.tick.started_ns.load(Ordering::Acquire)
    }

    /// The task this CPU is polling, if any.
    pub fn current_task(&self) -> Option<u64> {
        match self.current_task.load(Ordering::Relaxed) {
            0 => None,
            id => Some(id),
        }
    }

    /// How many interrupt handlers are running on this CPU (nested).
    pub fn in_interrupt(&self) -> u32 {
        self.in_interrupt.load(Ordering::Relaxed)
    }

    /// The ranks of the locks this CPU holds. Read-only: only `kernel::sync`
    /// changes them.
    pub fn held_ranks(&self) -> &HeldRanks {
        &self.held_ranks
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

    /// Claims the right to send this CPU a RESCHEDULE IPI: false if one is in
    /// flight already (`executor::IpiLatch::try_claim`).
    pub fn claim_resched(&self) -> bool {
        self.resched_in_flight.try_claim()
    }

    /// Gives back a claim whose IPI could not be sent.
    pub fn release_unsent_resched(&self) {
        self.resched_in_flight.release_unsent();
    }
}

const _: () = assert!(core::mem::size_of::<PerCpu>() % 64 == 0);
const _: () = assert!(core::mem::offset_of!(PerCpu, self_addr) == 0);

/// Every CPU's block, by dense index.
static PERCPU: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

/// The block of CPU `index`, as any CPU may use it.
///
/// # Panics
/// If `index >= MAX_CPUS`.
pub fn percpu_for(index: u32) -> &'static PerCpu {
    &PERCPU[index as usize]
}

/// Fills CPU `index`'s block and points this CPU's GS.BASE at it. Each CPU
/// calls this once for itself, before anything uses [`this_cpu`] (`smp`
/// does, for the boot CPU and in `ap_entry64`).
pub(super) fn init_this_cpu(index: u32, apic_id: u32) {
    let block = percpu_for(index);
    block.index.store(index, Ordering::Relaxed);
    block.apic_id.store(apic_id, Ordering::Relaxed);
    block
        .self_addr
        .store(core::ptr::from_ref(block) as usize, Ordering::Release);
    GsBase::write(VirtAddr::from_ptr(block));
}

/// The calling CPU's block, with the writes only its owner may make. Neither
/// `Send` nor `Sync`, so it stays with the CPU it was taken on (module docs).
#[derive(Clone, Copy)]
pub struct ThisCpu {
    block: &'static PerCpu,
    /// `!Send`, `!Sync`.
    _stay: PhantomData<*const ()>,
}

/// The calling CPU's block.
///
/// # Panics
/// If this CPU's GS.BASE does not point at a per-CPU block (it has not run
/// [`init_this_cpu`] yet).
pub fn this_cpu() -> ThisCpu {
    let addr: usize;
    let index: u32;
    // SAFETY: two reads at GS.BASE (the block's address and its index, at
    // their fixed offsets), which change no state. GS.BASE points at this
    // CPU's PerCpu block (module invariant); should it not, a read faults
    // (reported as an exception) or yields values the check below rejects.
    unsafe {
        asm!(
            "mov {addr}, gs:[0]",
            "mov {index:e}, gs:[{index_at}]",
            addr = out(reg) addr,
            index = out(reg) index,
            index_at = const core::mem::offset_of!(PerCpu, index),
            options(nostack, preserves_flags, readonly),
        );
    }
    // The block at that index must be the one GS points at: a check without
    // a division (it runs on every `this_cpu`, twice per task poll).
    match PERCPU.get(index as usize) {
        Some(block) if core::ptr::from_ref(block) as usize == addr => ThisCpu {
            block,
            _stay: PhantomData,
        },
        _ => panic!("per-CPU data used before this CPU set it up (gs:[0] = {addr:#x})"),
    }
}

/// The calling CPU's block, or `None` before this CPU has set GS.BASE
/// (early boot, or an exception taken on the way up). Slower than
/// [`this_cpu`]: it reads the MSR. For panic and exception reports.
pub fn try_this_cpu() -> Option<ThisCpu> {
    let base = GsBase::read().as_u64() as usize;
    let first = core::ptr::from_ref(&PERCPU[0]) as usize;
    let within = base >= first && base < first + core::mem::size_of_val(&PERCPU);
    within.then(this_cpu)
}

impl Deref for ThisCpu {
    type Target = PerCpu;

    fn deref(&self) -> &PerCpu {
        self.block
    }
}

impl fmt::Debug for ThisCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ThisCpu").field(&self.index()).finish()
    }
}

impl ThisCpu {
    /// This CPU's block as any CPU may use it: reading, and the cross-CPU
    /// protocols. Unlike the `ThisCpu`, it may be kept, but it stays the
    /// block of *this* CPU, whichever CPU the holder runs on later.
    pub fn block(&self) -> &'static PerCpu {
        self.block
    }

    /// Counts an IPI this CPU is about to send.
    pub fn count_ipi_sent(&self) {
        self.counters.ipi_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `cycles` halted to this CPU's idle time.
    pub fn count_idle_cycles(&self, cycles: u64) {
        // Only this CPU writes its counter: a load and a store.
        let idle = &self.counters.idle_cycles;
        idle.store(idle.load(Ordering::Relaxed) + cycles, Ordering::Relaxed);
    }

    /// Takes back [`Self::count_ipi_sent`] for an IPI that was not sent.
    pub fn uncount_ipi_sent(&self) {
        self.counters.ipi_sent.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts an IPI received; `reschedule`: a RESCHEDULE IPI.
    pub fn count_ipi_received(&self, reschedule: bool) {
        self.counters.ipi_received.fetch_add(1, Ordering::Relaxed);
        if reschedule {
            self.counters.resched_ipis.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a spurious interrupt.
    pub fn count_spurious(&self) {
        self.counters
            .spurious_interrupts
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A RESCHEDULE IPI to this CPU has left the IRR (its handler runs): a
    /// waker may send the next one (`executor::IpiLatch::delivered`).
    pub fn resched_delivered(&self) {
        self.resched_in_flight.delivered();
    }

    /// Records the task this CPU polls (`None`: none).
    pub fn set_current_task(&self, task: Option<u64>) {
        self.current_task
            .store(task.unwrap_or(0), Ordering::Relaxed);
    }

    /// Takes the call posted to this CPU, if any (the idle loop).
    pub fn take_call(&self) -> Option<&'static IdleCall> {
        let call = self.call.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: the field is private, and besides this swap (null) its only
        // writer is `post_call`, which stores the address of a
        // `&'static IdleCall`: non-null, it points at a live, immutable value.
        unsafe { call.as_ref() }
    }

    /// An interrupt handler starts on this CPU.
    pub fn enter_interrupt(&self, _: &IrqsDisabled) {
        self.in_interrupt.fetch_add(1, Ordering::Relaxed);
    }

    /// The interrupt handler that last entered ends.
    pub fn leave_interrupt(&self, _: &IrqsDisabled) {
        self.in_interrupt.fetch_sub(1, Ordering::Relaxed);
    }

    /// Books a tick that came at TSC `now`, ticks being `period` TSC cycles
    /// apart: counts it, and updates `ticks_late` and `ticks_lost`
    /// (`kernel::tick`). For this CPU's timer interrupt.
    pub fn record_tick(&self, _: &IrqsDisabled, now: u64, period: u64) {
        let books = &self.tick;
        let ticks = books.ticks.load(Ordering::Relaxed) + 1;
        let last = books.last_tsc.swap(now, Ordering::Relaxed);
        if last == 0 {
            books.first_tsc.store(now, Ordering::Relaxed);
        } else {
            if kernel::tick::missed_ticks(now.saturating_sub(last), period) > 0 {
                books.late.fetch_add(1, Ordering::Relaxed);
            }
            let first = books.first_tsc.load(Ordering::Relaxed);
            let behind = kernel::tick::ticks_behind(first, now, period, ticks);
            books.lost.store(behind, Ordering::Relaxed);
        }
        books.ticks.store(ticks, Ordering::Relaxed);
    }

    /// The next TSC deadline in TSC-deadline mode, recorded as armed: one
    /// period after the previous one (so ticks do not drift), or one period
    /// from `now` for the first or if the CPU fell behind.
    pub fn next_tick_deadline(&self, _: &IrqsDisabled, now: u64, period: u64) -> u64 {
        let books = &self.tick;
        let previous = books.next_deadline_tsc.load(Ordering::Relaxed);
        let next = if previous == 0 || previous + period <= now {
            now + period
        } else {
            previous + period
        };
        books.next_deadline_tsc.store(next, Ordering::Relaxed);
        next
    }

    /// `run`'s saved kernel stack pointer: where the exit stub resumes.
    pub(super) fn user_kernel_rsp(&self) -> u64 {
        self.user.kernel_rsp.load(Ordering::Relaxed)
    }

    /// Marks `run` as returned (the stubs saved nothing since): clears the
    /// saved stack pointer.
    pub(super) fn leave_user_run(&self) {
        self.user.kernel_rsp.store(0, Ordering::Relaxed);
        self.user.context.store(0, Ordering::Relaxed);
    }

    /// Records how ring 3 was left (an interrupt handler that interrupted
    /// ring 3, interrupts off).
    pub(super) fn record_user_trap(&self, _: &IrqsDisabled, record: UserTrapRecord) {
        let trap = &self.user.trap;
        trap[0].store(u64::from(record.vector), Ordering::Relaxed);
        trap[1].store(record.error_code, Ordering::Relaxed);
        trap[2].store(record.cr2, Ordering::Relaxed);
        trap[3].store(record.rip, Ordering::Relaxed);
        trap[4].store(record.rsp, Ordering::Relaxed);
        trap[5].store(record.rflags, Ordering::Relaxed);
    }

    /// The record [`Self::record_user_trap`] left.
    pub(super) fn user_trap(&self) -> UserTrapRecord {
        let trap = &self.user.trap;
        UserTrapRecord {
            vector: trap[0].load(Ordering::Relaxed) as u8,
            error_code: trap[1].load(Ordering::Relaxed),
            cr2: trap[2].load(Ordering::Relaxed),
            rip: trap[3].load(Ordering::Relaxed),
            rsp: trap[4].load(Ordering::Relaxed),
            rflags: trap[5].load(Ordering::Relaxed),
        }
    }

    /// Records that this CPU's tick starts now (`uptime_ns`).
    pub fn mark_tick_started(&self, uptime_ns: u64) {
        self.tick.started_ns.store(uptime_ns, Ordering::Release);
    }
}

/// Proof that interrupts are disabled on the calling CPU: handed out only by
/// [`with_irqs_disabled`], borrowed for the closure's run, neither `Send` nor
/// `Sync`.
///
/// Nothing executes `sti` while one exists: the kernel's only `sti`s are its
/// idle paths (`smp::idle_loop`, `KernelPlatform::halt_if`), which never run
/// inside [`with_irqs_disabled`], and the restores of IRQ-safe locks and
/// `without_interrupts`, which re-enable interrupts only if they were on
/// when those began.
#[derive(Debug)]
pub struct IrqsDisabled {
    /// `!Send`, `!Sync`, and constructible only here.
    _stay: PhantomData<*const ()>,
}

/// Runs `f` with interrupts disabled on this CPU, then restores the interrupt
/// flag as it was. Cheap where interrupts are already off (in a handler:
/// only a `pushf`).
pub fn with_irqs_disabled<R>(f: impl FnOnce(ThisCpu, &IrqsDisabled) -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(|| {
        f(this_cpu(), &IrqsDisabled { _stay: PhantomData })
    })
}

/// Where the caller runs, for a panic or exception report
/// (`protocol::fatal::Context`: `cpu=N [task=T] [in_interrupt=D]`). Works in
/// every context: before per-CPU data exists, `cpu=` is the APIC id (which
/// agrees with the index on the boot CPU of every machine we boot: 0).
pub fn report_context() -> protocol::fatal::Context {
    match try_this_cpu() {
        Some(this) => protocol::fatal::Context {
            cpu: this.index(),
            task: this.current_task(),
            in_interrupt: this.in_interrupt(),
        },
        None => protocol::fatal::Context {
            cpu: super::cpu::apic_id(),
            task: None,
            in_interrupt: 0,
        },
    }
}

/// The number printed as `cpu=N` in panics and exceptions
/// ([`report_context`]).
pub fn cpu_number() -> u32 {
    report_context().cpu
}

/// Compile-time checks that the handles stay on their CPU: each line fails
/// to compile ("type annotations needed": two impls apply) if the type is
/// `Send` (the first pair) or `Sync` (the second).
mod stays_on_its_cpu {
    use super::{IrqsDisabled, ThisCpu};

    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

    const _: fn() = || {
        <ThisCpu as AmbiguousIfSend<_>>::check();
        <IrqsDisabled as AmbiguousIfSend<_>>::check();
        <ThisCpu as AmbiguousIfSync<_>>::check();
        <IrqsDisabled as AmbiguousIfSync<_>>::check();
    };
}

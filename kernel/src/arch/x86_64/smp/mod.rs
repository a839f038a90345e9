//! Bringing the application processors (APs) online.
//!
//! After firmware hands over, only the bootstrap processor (BSP) runs; every
//! other CPU waits in the *wait-for-SIPI* state. The BSP wakes each one with
//! the INIT-SIPI-SIPI sequence (Intel SDM Vol. 3A §9.4.4; MP spec B.4):
//!
//! 1. **Prepare.** Copy the [trampoline] to 0x8000, identity-map that page,
//!    write the kernel's CR3 and the address of [`ap_entry64`] into its data
//!    block, and for every AP: reserve a CPU index, map a stack (with an
//!    unmapped guard page below), build its GDT, TSS and IST stacks
//!    ([`gdt::prepare_application_processor`]) and write the stack's top into
//!    the AP's slot.
//! 2. **INIT IPI**: resets the AP into wait-for-SIPI; wait 10 ms on old CPUs,
//!    not at all on modern ones or under a hypervisor (Linux's rule,
//!    [`kernel::bringup::init_delay_us`]).
//! 3. **Start-up IPI** with vector 0x08: the AP starts in real mode at
//!    0x08 << 12 = 0x8000; wait 200 µs; send a **second SIPI** (the MP spec's
//!    recipe, for APs that missed the first; one already running ignores it).
//! 4. **Wait** for the AP to come online, under [`kernel::bringup`]'s rule:
//!    as long as some AP on its way makes progress. Meanwhile it walks the
//!    trampoline's stages (real → protected → long mode) and, in
//!    [`ap_entry64`], sets GS.BASE to its per-CPU block, loads its GDT/TSS and
//!    the IDT, enables its Local APIC, claims its [`HANDOVER`] slot and sets
//!    its bit in [`CPU_STATES`]. The BSP logs `AP#k online` when it sees it.
//!    An AP the BSP gives up on is reported with the last stage it reached
//!    (its progress byte); if it arrives later it parks itself and is
//!    counted as late ([`late_aps`]). Boot goes on with the others.
//!
//! **Parallel bring-up** (the default) runs steps 2–4 for all APs at once. It
//! is safe because nothing the trampoline writes is shared between APs
//! (progress bytes and stacks are per APIC id) and an AP's own set-up takes
//! no lock and allocates nothing: APs coming up together never wait for
//! each other (under an emulator, an AP descheduled while holding the heap
//! or console lock stalled all others for tens of milliseconds).
//! `smp_boot=serial` starts them one at a time, which helps when debugging a
//! CPU that hangs.
//!
//! Delays come from the TSC, calibrated against the PIT at boot.

mod tests;
pub mod trampoline;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use kernel::bringup::{self, Verdict};
use kernel::madt::Madt;
use kernel::sync::{LockRank, SpinLock};
use x86_64::structures::paging::PageTableFlags;
use x86_64::{PhysAddr, VirtAddr};

use super::percpu::{self, IdleCall};
use super::{apic, clock, gdt, interrupts, paging};
use crate::config::MAX_CPUS;

/// Where the hand-over of CPU index `i` between the BSP and its AP stands:
///
/// ```text
///            AP: compare_exchange            ┌────────┐
///   CLIMBING ───────────────────────────────►│ ONLINE │
///      │                                     └────────┘
///      │ BSP gives up: compare_exchange      ┌───────────┐  AP arrives  ┌──────┐
///      └────────────────────────────────────►│ ABANDONED │─────────────►│ LATE │ (parked)
///                                            └───────────┘              └──────┘
/// ```
///
/// Both sides move it with a compare-exchange from `CLIMBING`, so exactly one
/// wins: an AP whose exchange fails was given up on and parks itself
/// (`cli; hlt` forever) without touching shared state; a BSP whose exchange
/// fails sees an AP that made it after all. Until its exchange succeeds an AP
/// writes only what belongs to its CPU index: its progress byte, its stack,
/// its `PerCpu` block (read by others only once the CPU is online), its own
/// registers and Local APIC.
static HANDOVER: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(CLIMBING) }; MAX_CPUS];
const CLIMBING: u8 = 0;
const ONLINE: u8 = 1;
const ABANDONED: u8 = 2;
const LATE: u8 = 3;

/// APs that arrived after the BSP gave up on them, and parked.
static LATE_APS: AtomicU32 = AtomicU32::new(0);

/// How many APs arrived after the BSP had given up on them (each parked itself).
pub fn late_aps() -> u32 {
    LATE_APS.load(Ordering::Relaxed)
}

/// One bit per CPU index: set when that CPU is online.
static CPU_STATES: [AtomicU64; MAX_CPUS / 64] = [const { AtomicU64::new(0) }; MAX_CPUS / 64];

const NO_CPU: u32 = u32::MAX;

/// Size of each AP's kernel stack.
pub const AP_STACK_SIZE: u64 = 64 * 1024;
/// The unmapped page below each AP stack, so an overflow faults.
const GUARD_SIZE: u64 = 4096;

/// How long the BSP waits between the two SIPIs (MP spec: 200 µs).
const SIPI_DELAY_US: u64 = 200;

/// Stage an AP reaches in [`ap_entry64`], after the trampoline's stages 1–4.
const STAGE_RUST_ENTRY: u8 = 5;
/// Stage of an AP that is fully online.
const STAGE_ONLINE: u8 = 6;

/// How the BSP starts the APs (`smp_boot=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootOrder {
    /// One AP at a time.
    Serial,
    /// All APs at once.
    Parallel,
}

/// Marks CPU `index` online.
fn set_online(index: u32) {
    CPU_STATES[index as usize / 64].fetch_or(1 << (index % 64), Ordering::AcqRel);
}

/// Whether CPU `index` is online.
pub fn is_online(index: u32) -> bool {
    let index = index as usize;
    index < MAX_CPUS && CPU_STATES[index / 64].load(Ordering::Acquire) & (1 << (index % 64)) != 0
}

/// Indices of the CPUs online now, in increasing order.
pub fn online_cpus() -> impl Iterator<Item = u32> {
    (0..MAX_CPUS as u32).filter(|&index| is_online(index))
}

/// Sets up the boot CPU's per-CPU block: called first thing at boot.
pub fn init_boot_cpu_percpu() {
    let apic_id = super::cpu::apic_id();
    percpu::init_this_cpu(0, apic_id);
}

/// Marks the boot CPU online, once its Local APIC is up.
pub fn boot_cpu_online() {
    set_online(0);
}

/// How [`init_smp`] starts the APs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// One at a time or all at once (`smp_boot=`).
    pub order: BootOrder,
    /// Also try this APIC id, which has no CPU behind it (`smp_fake_ap=`).
    pub fake_ap: Option<u32>,
    /// The AP with this CPU index holds back until the BSP gives up on it
    /// (`smp_late_ap=`): a test of the late-arrival path.
    pub late_ap: Option<u32>,
}

/// The CPU index given with `smp_late_ap=`, `NO_CPU` if none.
static LATE_AP_TEST: AtomicU32 = AtomicU32::new(NO_CPU);

/// An AP the BSP will try to start.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    index: u32,
    apic_id: u32,
}

/// An AP that did not come online, as recorded for tests and diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct BringUpFailure {
    /// Its APIC id.
    pub apic_id: u32,
    /// The last stage it reported (see [`trampoline`]); 0 for IPI failures.
    pub stage: u8,
}

static FAILURES: SpinLock<Vec<BringUpFailure>> = SpinLock::new(LockRank::BRING_UP, Vec::new());

/// The APIC id given with `smp_fake_ap=`, `u32::MAX` if none.
pub static FAKE_AP_MARKER: AtomicU32 = AtomicU32::new(u32::MAX);

/// CPUs that should be online: the BSP plus every real AP the BSP tried.
static EXPECTED_REAL_CPUS: AtomicU32 = AtomicU32::new(1);

/// The APs that failed to come online during [`init_smp`].
pub fn bring_up_failures() -> Vec<BringUpFailure> {
    FAILURES.lock().clone()
}

/// The BSP plus every AP [`init_smp`] tried to start, the fake one excepted.
pub fn expected_real_cpus() -> u32 {
    EXPECTED_REAL_CPUS.load(Ordering::Relaxed)
}

/// Why an AP did not come online.
#[derive(Debug)]
pub enum StartError {
    /// Sending INIT or SIPI failed.
    Ipi(apic::IpiError),
    /// The AP did not come online in time; `stage` is the last stage it reported.
    Timeout {
        /// The progress byte (0: no sign of life at all).
        stage: u8,
    },
}

/// Starts every enabled AP the MADT lists (plus `options.fake_ap`, an APIC
/// id with no CPU behind it, to exercise the failure path). Returns the
/// number of CPUs online afterwards, the BSP included.
pub fn init_smp(madt: Option<&Madt>, options: Options) -> u32 {
    let started = clock::uptime_ns();
    let Options {
        order,
        fake_ap,
        late_ap,
    } = options;
    LATE_AP_TEST.store(late_ap.unwrap_or(NO_CPU), Ordering::Relaxed);
    let candidates = candidates(madt, fake_ap);
    if let Some(fake) = fake_ap {
        FAKE_AP_MARKER.store(fake, Ordering::Relaxed);
    }
    let real = candidates
        .iter()
        .filter(|c| Some(c.apic_id) != fake_ap)
        .count();
    EXPECTED_REAL_CPUS.store(1 + real as u32, Ordering::Relaxed);
    let mut prepared = started;
    if !candidates.is_empty() {
        if let Err(error) = prepare_trampoline() {
            log::error!(target: "SMP", "cannot start APs: {error}; running on the BSP alone");
            return online_cpus().count() as u32;
        }
        let mut ready = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            match prepare_ap(candidate) {
                Ok(()) => ready.push(candidate),
                Err(error) => log::error!(
                    target: "SMP",
                    "AP#{} (apic_id={}) not started: {error}",
                    candidate.index,
                    candidate.apic_id
                ),
            }
        }
        prepared = clock::uptime_ns();
        match order {
            BootOrder::Serial => ready.iter().for_each(|&ap| start_serial(ap)),
            BootOrder::Parallel => start_parallel(&ready),
        }
    }
    let online = online_cpus().count() as u32;
    let now = clock::uptime_ns();
    log::info!(
        target: "SMP",
        "{online} CPUs online in {} us (prepare {} us, start {} us; INIT wait {} us)",
        (now - started) / 1000,
        (prepared - started) / 1000,
        (now - prepared) / 1000,
        init_delay_us()
    );
    online
}

/// The APs to start, with their CPU indices: the MADT's enabled CPUs except
/// the BSP, capped to what per-CPU data and the trampoline can hold, then the
/// fake AP if asked for.
fn candidates(madt: Option<&Madt>, fake_ap: Option<u32>) -> Vec<Candidate> {
    // The BSP by both names: CPUID's initial APIC id and the Local APIC's
    // id register. They agree on sane hardware (the BSP warns otherwise);
    // excluding both means the BSP can never send INIT to itself — which
    // reset the machine when QEMU corrupted CPUID leaf 1 past 255 CPUs.
    let bsp = [percpu::this_cpu().apic_id(), apic::id()];
    let mut apic_ids: Vec<u32> = madt
        .map(|madt| {
            madt.enabled_cpus()
                .map(|cpu| cpu.apic_id)
                .filter(|id| !bsp.contains(id))
                .collect()
        })
        .unwrap_or_default();
    apic_ids.extend(fake_ap);
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen = alloc::collections::BTreeSet::from(bsp);
    for apic_id in apic_ids {
        let index = out.len() as u32 + 1;
        if apic_id == trampoline::NO_APIC_ID {
            log::warn!(target: "SMP", "APIC id {apic_id:#x} is reserved: cannot start it");
        } else if index as usize >= MAX_CPUS {
            log::warn!(target: "SMP", "APIC id {apic_id}: MAX_CPUS ({MAX_CPUS}) reached, left offline");
        } else if !seen.insert(apic_id) {
            log::warn!(target: "SMP", "APIC id {apic_id} listed twice: started once");
        } else {
            out.push(Candidate { index, apic_id });
        }
    }
    out
}

/// The trampoline page as the kernel sees it (through the physical-memory window).
fn trampoline_virt(offset: u64) -> VirtAddr {
    paging::phys_to_virt(PhysAddr::new(trampoline::TRAMPOLINE_PHYS + offset))
}

/// Copies the trampoline to 0x8000, identity-maps it and writes the shared
/// fields of its data block: CR3, the entry point, where the stacks are, and
/// an `apic_id` table that lists only the BSP so far (APs are added by
/// [`prepare_ap`]).
fn prepare_trampoline() -> Result<(), &'static str> {
    let code = trampoline::code();
    if code.len() > trampoline::CODE_LIMIT {
        return Err("trampoline code overruns its data block");
    }
    let (pml4, _) = x86_64::registers::control::Cr3::read();
    let cr3 = pml4.start_address().as_u64();
    if cr3 >= 1 << 32 {
        return Err("the PML4 is above 4 GiB, out of reach of the trampoline's 32-bit mov to CR3");
    }
    let page = trampoline_virt(0).as_mut_ptr::<u8>();
    // SAFETY: the page at physical 0x8000 lies in the low megabyte, which the
    // frame allocator never hands out and the bootloader leaves free, so the
    // kernel owns it; it is mapped writable by the physical-memory window and
    // no AP runs yet. The data block follows the code (checked above).
    unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), page, code.len());
        page.add(trampoline::CR3_OFFSET as usize)
            .cast::<u64>()
            .write(cr3);
        page.add(trampoline::ENTRY_OFFSET as usize)
            .cast::<u64>()
            .write(ap_entry64 as extern "sysv64" fn(u64) -> ! as usize as u64);
        page.add(trampoline::STACK_TOP0_OFFSET as usize)
            .cast::<u64>()
            .write(stack_top(0).as_u64());
        page.add(trampoline::STACK_STRIDE_OFFSET as usize)
            .cast::<u64>()
            .write(AP_STACK_SIZE + GUARD_SIZE);
        let ids = page.add(trampoline::APIC_IDS_OFFSET as usize).cast::<u32>();
        for index in 0..MAX_CPUS {
            ids.add(index).write(trampoline::NO_APIC_ID);
        }
        ids.write(percpu::this_cpu().apic_id());
    }
    paging::identity_map(
        PhysAddr::new(trampoline::TRAMPOLINE_PHYS),
        PageTableFlags::PRESENT | PageTableFlags::WRITABLE,
    )
    .map_err(|_| "cannot identity-map the trampoline page at 0x8000")
}

/// The top of the stack of CPU index `index` (the BSP's slot, index 0, is
/// never mapped: the BSP runs on the bootloader's stack).
fn stack_top(index: u32) -> VirtAddr {
    ap_stack_region() + GUARD_SIZE + AP_STACK_SIZE + u64::from(index) * (AP_STACK_SIZE + GUARD_SIZE)
}

/// Maps the AP's stack, builds its tables and enters its APIC id in the
/// trampoline's table, which makes the AP find its CPU index.
fn prepare_ap(ap: Candidate) -> Result<(), &'static str> {
    let bottom = stack_top(ap.index) - AP_STACK_SIZE;
    let flags = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE;
    paging::map_range(bottom, AP_STACK_SIZE, flags, &mut paging::RegisteredFrames)
        .map_err(|_| "cannot map its stack")?;
    gdt::prepare_application_processor(ap.index);
    set_progress(ap.index, 0);
    // SAFETY: the entry lies in the trampoline's data block (index <
    // MAX_CPUS, checked by `candidates`), which the kernel owns; the AP reads
    // it only after the SIPI, which is sent after this write.
    unsafe { apic_id_entry(ap.index).write_volatile(ap.apic_id) };
    Ok(())
}

/// The kernel virtual region that holds every AP's guard page and stack.
fn ap_stack_region() -> VirtAddr {
    static REGION: spin::Once<VirtAddr> = spin::Once::new();
    *REGION.call_once(|| {
        paging::reserve_region((AP_STACK_SIZE + GUARD_SIZE) * MAX_CPUS as u64)
            .expect("no free kernel virtual region for AP stacks")
    })
}

/// CPU `index`'s entry in the trampoline's `apic_id` table.
fn apic_id_entry(index: u32) -> *mut u32 {
    assert!((index as usize) < MAX_CPUS);
    trampoline_virt(trampoline::APIC_IDS_OFFSET + 4 * u64::from(index)).as_mut_ptr()
}

fn progress_byte(index: u32) -> *mut u8 {
    assert!((index as usize) < MAX_CPUS);
    trampoline_virt(trampoline::PROGRESS_OFFSET + u64::from(index)).as_mut_ptr()
}

fn progress(index: u32) -> u8 {
    // SAFETY: a byte of the trampoline data block (index < MAX_CPUS), written
    // by the AP; volatile because the AP writes it behind the compiler's back.
    unsafe { progress_byte(index).read_volatile() }
}

fn set_progress(index: u32, stage: u8) {
    // SAFETY: as in `progress`; only one agent writes at a time (the BSP
    // before the SIPI, the AP after).
    unsafe { progress_byte(index).write_volatile(stage) }
}

/// How long to wait after INIT on this machine ([`bringup::init_delay_us`]).
fn init_delay_us() -> u64 {
    // CPUID leaves 0 and 1 exist on every x86_64 CPU.
    let leaf0 = core::arch::x86_64::__cpuid(0);
    let leaf1 = core::arch::x86_64::__cpuid(1);
    let vendor = bringup::Vendor::from_cpuid(leaf0.ebx, leaf0.edx, leaf0.ecx);
    // CPUID.1:ECX bit 31: "hypervisor present", set by every mainstream
    // hypervisor, reserved (0) on bare metal.
    let hypervisor = leaf1.ecx & (1 << 31) != 0;
    bringup::init_delay_us(vendor, bringup::display_family(leaf1.eax), hypervisor)
}

/// Sends INIT, waits, sends both SIPIs: steps 2 and 3 for one AP.
fn init_sipi_sipi(aps: &[Candidate]) -> Vec<(Candidate, Result<(), StartError>)> {
    let mut results: Vec<_> = aps
        .iter()
        .map(|&ap| (ap, apic::send_init(ap.apic_id).map_err(StartError::Ipi)))
        .collect();
    clock::delay_us(init_delay_us());
    for round in 0..2 {
        for (ap, result) in results.iter_mut().filter(|(_, r)| r.is_ok()) {
            *result = apic::send_startup(ap.apic_id, trampoline::SIPI_VECTOR_PAGE)
                .map_err(StartError::Ipi);
        }
        if round == 0 {
            clock::delay_us(SIPI_DELAY_US);
        }
    }
    results
}

fn start_serial(ap: Candidate) {
    let (_, sent) = init_sipi_sipi(&[ap]).remove(0);
    match sent {
        Ok(()) => wait_until_online(&[ap]),
        Err(error) => give_up(ap, error),
    }
}

/// Parallel bring-up: all APs climb at once.
fn start_parallel(aps: &[Candidate]) {
    let sent = init_sipi_sipi(aps);
    let mut climbing = Vec::with_capacity(sent.len());
    for (ap, result) in sent {
        match result {
            Ok(()) => climbing.push(ap),
            Err(error) => give_up(ap, error),
        }
    }
    wait_until_online(&climbing);
}

/// Waits for `aps`, which have had their SIPIs, to come online, and logs
/// each as the BSP sees it arrive (the APs print nothing themselves: the
/// console lock is shared, and an AP descheduled while holding it would stall
/// the others).
///
/// When to give up is [`kernel::bringup`]'s rule: while any AP on its way
/// makes progress (a progress byte changes, or an AP comes online), the BSP
/// waits. Every AP given up on is moved to `ABANDONED` (see [`HANDOVER`])
/// and reported.
fn wait_until_online(aps: &[Candidate]) {
    let start = clock::uptime_ns() / 1000;
    let mut announced = alloc::vec![false; aps.len()];
    let mut last_progress = start;
    let mut last_state = climb_state(aps);
    loop {
        let mut still_climbing = 0;
        for (ap, announced) in aps.iter().zip(&mut announced) {
            if *announced {
                continue;
            }
            if is_online(ap.index) {
                crate::arch::x86_64::report::line(&protocol::smp::ApOnline { index: ap.index });
                *announced = true;
            } else {
                still_climbing += 1;
            }
        }
        let now = clock::uptime_ns() / 1000;
        let state = climb_state(aps);
        if state != last_state {
            last_state = state;
            last_progress = now;
        }
        match bringup::verdict(aps.len() as u64, still_climbing, start, last_progress, now) {
            Verdict::Done => return,
            Verdict::GiveUp => break,
            Verdict::Wait => core::hint::spin_loop(),
        }
    }
    for (&ap, _) in aps
        .iter()
        .zip(&announced)
        .filter(|(_, announced)| !**announced)
    {
        let stage = progress(ap.index);
        give_up(ap, StartError::Timeout { stage });
    }
}

/// A summary that changes whenever one of `aps` makes progress: the sum of
/// their progress bytes plus the number online.
fn climb_state(aps: &[Candidate]) -> u64 {
    aps.iter()
        .map(|ap| u64::from(progress(ap.index)) + u64::from(is_online(ap.index)))
        .sum()
}

/// Gives up on `ap`, which did not come online in time or could not be sent
/// its IPIs: moves it to `ABANDONED` (so it parks if it ever arrives), then
/// logs and records the failure. If the AP went online in the meantime, it
/// is announced instead.
fn give_up(ap: Candidate, error: StartError) {
    let handover = &HANDOVER[ap.index as usize];
    if handover
        .compare_exchange(CLIMBING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        crate::arch::x86_64::report::line(&protocol::smp::ApOnline { index: ap.index });
        return;
    }
    let stage = match error {
        StartError::Timeout { stage } => stage,
        StartError::Ipi(_) => 0,
    };
    FAILURES.lock().push(BringUpFailure {
        apic_id: ap.apic_id,
        stage,
    });
    let (index, apic_id) = (ap.index, ap.apic_id);
    match error {
        StartError::Timeout { .. } => crate::arch::x86_64::report::line(&protocol::smp::ApFailed {
            index,
            apic_id,
            stage,
            why: stage_name(stage),
        }),
        StartError::Ipi(error) => crate::arch::x86_64::report::line(&protocol::smp::ApFailed {
            index,
            apic_id,
            stage,
            why: format_args!("sending INIT-SIPI-SIPI failed: {error:?}"),
        }),
    }
}

/// What an AP had done when it stopped at `stage`.
fn stage_name(stage: u8) -> &'static str {
    match stage {
        0 => "no sign of life after SIPI",
        1 => "stuck in real mode",
        2 => "stuck in protected mode",
        3 => "paging enabled, far jump to 64-bit code failed",
        4 => "in 64-bit mode, did not reach ap_entry64",
        STAGE_RUST_ENTRY => "in ap_entry64, per-CPU set-up did not finish",
        _ => "online too late",
    }
}

/// Where every AP arrives from the trampoline, on its own stack, with the
/// kernel's page tables but the trampoline's GDT and no IDT. It takes no
/// lock and allocates nothing: the BSP prepared its tables
/// ([`gdt::prepare_application_processor`]) and logs its arrival.
extern "sysv64" fn ap_entry64(index: u64) -> ! {
    // The trampoline found `index` in its table, so it is below MAX_CPUS.
    let index = index as u32;
    set_progress(index, STAGE_RUST_ENTRY);
    // SAFETY: the BSP wrote this entry before the SIPI and no longer changes it.
    let apic_id = unsafe { apic_id_entry(index).read_volatile() };
    let handover = &HANDOVER[index as usize];
    if handover.load(Ordering::Acquire) != CLIMBING {
        park_late(handover);
    }
    percpu::init_this_cpu(index, apic_id);
    gdt::init_application_processor(index);
    interrupts::load();
    super::user::init_application_processor();
    apic::init_this_cpu();
    if index == LATE_AP_TEST.load(Ordering::Relaxed) {
        // The test of the late path: with its set-up done, wait (making no
        // progress) until the BSP gives up on this AP, then lose the race.
        while handover.load(Ordering::Acquire) == CLIMBING {
            core::hint::spin_loop();
        }
    }
    if handover
        .compare_exchange(CLIMBING, ONLINE, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        park_late(handover);
    }
    set_progress(index, STAGE_ONLINE);
    set_online(index);
    idle_loop()
}

/// Parks an AP that arrived after the BSP gave up on it: counts it, then
/// stops for good with interrupts off. Nothing shared is touched but the
/// counter, so the kernel's picture (that CPU is not online) stays true.
fn park_late(handover: &AtomicU8) -> ! {
    handover.store(LATE, Ordering::Release);
    LATE_APS.fetch_add(1, Ordering::Relaxed);
    super::cpu::halt_forever()
}

/// A CPU's loop when it has nothing to do: run a posted call if any, else
/// sleep until the next interrupt. The check and the `sti; hlt` happen with
/// interrupts disabled in between, so a call posted together with its
/// doorbell IPI cannot be missed: the IPI either arrives before the check
/// (and the call is seen) or wakes the `hlt`.
pub fn idle_loop() -> ! {
    let this = percpu::this_cpu();
    loop {
        x86_64::instructions::interrupts::disable();
        if let Some(call) = this.take_call() {
            x86_64::instructions::interrupts::enable();
            call.run();
            continue;
        }
        // `sti` delays interrupts until after the next instruction, so no
        // interrupt can slip in between it and `hlt`.
        x86_64::instructions::interrupts::enable_and_hlt();
    }
}

/// Why [`run_on`] could not post a call.
#[derive(Debug, PartialEq, Eq)]
pub enum RunOnError {
    /// The CPU is not online.
    Offline,
    /// A call posted earlier has not been taken yet.
    Busy,
    /// The wake-up IPI failed.
    Ipi,
}

/// Starts the scheduler tick on every online CPU, after bring-up: the BSP
/// measures the Local APIC timer rate once ([`apic::calibrate_tick`]), each
/// AP gets [`apic::init_tick`] posted to its idle loop, the BSP starts its
/// own, then waits (bounded) until every CPU's tick runs.
pub fn start_ticks() {
    if let Err(error) = apic::calibrate_tick() {
        log::error!(target: "APIC", "timer calibration failed: {error:?}; no CPU gets a tick");
        return;
    }
    let aps: Vec<u32> = online_cpus().filter(|&index| index != 0).collect();
    static INIT_TICK: IdleCall = IdleCall::new(apic::init_tick);
    for &ap in &aps {
        if let Err(error) = run_on(ap, &INIT_TICK) {
            log::error!(target: "APIC", "cannot start the tick of cpu {ap}: {error:?}");
        }
    }
    apic::init_tick();
    let deadline = clock::uptime_ns() + TICK_START_TIMEOUT_NS;
    let started = |ap: &u32| percpu::percpu_for(*ap).timer_started_ns() != 0;
    while !aps.iter().all(started) && clock::uptime_ns() < deadline {
        core::hint::spin_loop();
    }
    for ap in aps.iter().filter(|ap| !started(ap)) {
        log::warn!(target: "APIC", "cpu {ap} did not start its tick within {} ms", TICK_START_TIMEOUT_NS / 1_000_000);
    }
}

/// How long [`start_ticks`] waits for the APs to start their ticks (each
/// only programs its timer, so this is slack for vCPUs the host deschedules).
const TICK_START_TIMEOUT_NS: u64 = 5_000_000_000;

/// Makes CPU `index` run `call` from its idle loop: posts it
/// ([`PerCpu::post_call`](percpu::PerCpu::post_call)) and rings the CPU's
/// doorbell, the `CALL` IPI.
pub fn run_on(index: u32, call: &'static IdleCall) -> Result<(), RunOnError> {
    if !is_online(index) {
        return Err(RunOnError::Offline);
    }
    let target = percpu::percpu_for(index);
    target.post_call(call).map_err(|_| RunOnError::Busy)?;
    apic::send_ipi(target.apic_id(), interrupts::vector::CALL).map_err(|_| RunOnError::Ipi)
}

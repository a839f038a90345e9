//! The exception table: instructions that are allowed to fault.
//!
//! Some code must touch memory that may not be there — a test that checks the
//! page-fault path, later a probe of a device. Such accesses go through a
//! *probe*: a few instructions in assembly whose possibly-faulting instruction
//! has a known address, paired in [`TABLE`] with a *fixup* address to resume
//! at. When an exception handler finds the faulting RIP in the table, it
//! records the fault in the faulting CPU's slot, rewrites the saved RIP to the
//! fixup and returns; the probe then returns an error instead of crashing
//! the kernel. This is the mechanism Linux calls `__ex_table`.
//!
//! Entries: the `u64` read probe ([`probe_read_u64`]) and the `rep movsb` of
//! the user copies (`user::copy_{from,to}_user`, through
//! `copy_with_fixup`). One probe cannot be an entry: [`probe_exec`] calls
//! an address whose *fetch* should fault (the SMEP test), so the faulting
//! RIP is the target; it arms its CPU's slot with the target instead, and
//! the handler resumes at its fixup with the return address popped.
//!
//! Invariants:
//! - an entry's fixup lies in the same function as its instruction and expects
//!   the same stack and registers (the fault happened before any side effect;
//!   for the copy, the bytes already copied are the caller's to ignore);
//! - a CPU's fault slot is written only by that CPU's exception handler and read
//!   by that CPU's probe right after the fixup, so no other CPU races on it.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::VirtAddr;
use x86_64::structures::idt::InterruptStackFrame;

use super::percpu;
use crate::config::MAX_CPUS;

/// What a recovered fault looked like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultRecord {
    /// Exception vector (14 = page fault, 13 = general protection, ...).
    pub vector: u8,
    /// The error code the CPU pushed (0 for exceptions without one).
    pub error_code: u64,
    /// CR2 at the time of the fault: the faulting linear address for #PF.
    pub cr2: u64,
}

// `kernel_probe_read_u64(addr) -> (value, faulted)`: reads the u64 at `addr`.
// SysV returns a two-word struct in RAX:RDX. `*_insn` may fault; the handler
// then resumes at `*_fixup`, which returns (0, 1).
global_asm!(
    ".pushsection .text.kernel_probe_read_u64, \"ax\", @progbits",
    ".global kernel_probe_read_u64",
    ".global kernel_probe_read_u64_insn",
    ".global kernel_probe_read_u64_fixup",
    "kernel_probe_read_u64:",
    "kernel_probe_read_u64_insn:",
    "    mov rax, qword ptr [rdi]",
    "    xor edx, edx",
    "    ret",
    "kernel_probe_read_u64_fixup:",
    "    xor eax, eax",
    "    mov edx, 1",
    "    ret",
    ".popsection",
);

// `kernel_copy_user(dst, src, len) -> faulted`: `rep movsb`, for
// `user::copy_{from,to}_user`; a fault in it resumes at the fixup, which
// returns 1. (`rep movsb` resumes mid-copy only after the fault's handler
// returns to it; ours never does.)
global_asm!(
    ".pushsection .text.kernel_copy_user, \"ax\", @progbits",
    ".global kernel_copy_user",
    ".global kernel_copy_user_insn",
    ".global kernel_copy_user_fixup",
    "kernel_copy_user:",
    "    mov rcx, rdx",
    "kernel_copy_user_insn:",
    "    rep movsb",
    "    xor eax, eax",
    "    ret",
    "kernel_copy_user_fixup:",
    "    mov eax, 1",
    "    ret",
    ".popsection",
);

// `kernel_probe_exec(target) -> faulted`: calls `target`, which must fault on
// its first instruction fetch (SMEP) or `ret`. The fault's RIP is `target`,
// not an instruction of this table, so the probe arms its CPU's slot with
// the target first (`exec_target`); the handler then resumes at the fixup
// with the return address popped.
global_asm!(
    ".pushsection .text.kernel_probe_exec, \"ax\", @progbits",
    ".global kernel_probe_exec",
    ".global kernel_probe_exec_fixup",
    "kernel_probe_exec:",
    "    call rdi",
    "    xor eax, eax",
    "    ret",
    "kernel_probe_exec_fixup:",
    "    mov eax, 1",
    "    ret",
    ".popsection",
);

/// The probe's return value, as the assembly leaves it in RAX:RDX.
#[repr(C)]
struct ProbeReturn {
    value: u64,
    faulted: u64,
}

unsafe extern "sysv64" {
    fn kernel_probe_read_u64(addr: u64) -> ProbeReturn;
    fn kernel_copy_user(dst: u64, src: u64, len: u64) -> u64;
    fn kernel_probe_exec(target: u64) -> u64;
}

unsafe extern "C" {
    static kernel_probe_read_u64_insn: u8;
    static kernel_probe_read_u64_fixup: u8;
    static kernel_copy_user_insn: u8;
    static kernel_copy_user_fixup: u8;
    static kernel_probe_exec_fixup: u8;
}

/// One entry: where the faulting instruction is, where to resume.
struct Entry {
    instruction: fn() -> u64,
    fixup: fn() -> u64,
}

/// Every instruction that may fault on purpose.
static TABLE: [Entry; 2] = [
    Entry {
        instruction: || (&raw const kernel_probe_read_u64_insn) as u64,
        fixup: || (&raw const kernel_probe_read_u64_fixup) as u64,
    },
    Entry {
        instruction: || (&raw const kernel_copy_user_insn) as u64,
        fixup: || (&raw const kernel_copy_user_fixup) as u64,
    },
];

/// A per-CPU record of the last recovered fault, as atomics so that the
/// handler can fill it without locks.
struct FaultSlot {
    vector: AtomicU64,
    error_code: AtomicU64,
    cr2: AtomicU64,
    /// The target `probe_exec` calls, while it does; 0 otherwise.
    exec_target: AtomicU64,
}

static FAULT_SLOTS: [FaultSlot; MAX_CPUS] = [const {
    FaultSlot {
        vector: AtomicU64::new(0),
        error_code: AtomicU64::new(0),
        cr2: AtomicU64::new(0),
        exec_target: AtomicU64::new(0),
    }
}; MAX_CPUS];

fn this_cpu_slot() -> &'static FaultSlot {
    // By CPU number (the per-CPU index, `< MAX_CPUS`), not by APIC id: x2APIC
    // ids can exceed MAX_CPUS, and two CPUs whose ids wrapped to one slot
    // would read each other's faults. Before this CPU has per-CPU data (early
    // boot, where no probe runs) `cpu_number` is the APIC id; the modulo only
    // keeps that case in range.
    &FAULT_SLOTS[percpu::cpu_number() as usize % MAX_CPUS]
}

/// Reads the `u64` at `addr`, returning the fault instead of crashing if the
/// read faults (unmapped page, non-canonical address, ...).
///
/// # Safety
/// `addr` must not be memory-mapped I/O whose reads have side effects. The
/// read is a plain load: if another agent writes the location concurrently the
/// value may be torn or stale, never undefined behaviour, since it is copied out
/// as an integer.
pub unsafe fn probe_read_u64(addr: VirtAddr) -> Result<u64, FaultRecord> {
    // SAFETY: the probe is a leaf function following the SysV ABI; the only
    // memory it touches is `addr`, which the caller vouches for, and a fault
    // there is recovered through TABLE.
    let ret = unsafe { kernel_probe_read_u64(addr.as_u64()) };
    if ret.faulted == 0 {
        return Ok(ret.value);
    }
    Err(last_fault())
}

/// The fault this CPU's handler recorded last.
fn last_fault() -> FaultRecord {
    let slot = this_cpu_slot();
    FaultRecord {
        vector: slot.vector.load(Ordering::Relaxed) as u8,
        error_code: slot.error_code.load(Ordering::Relaxed),
        cr2: slot.cr2.load(Ordering::Relaxed),
    }
}

/// Copies `len` bytes from `src` to `dst` with `rep movsb`, returning the
/// fault instead of crashing if an access faults (part of the range may
/// have been copied then). SMAP's `stac`/`clac` are the caller's.
///
/// # Safety
/// Both ranges are valid for `len` bytes except where an access faults, and
/// neither is memory-mapped I/O or memory Rust code borrows elsewhere.
pub(super) unsafe fn copy_with_fixup(dst: u64, src: u64, len: usize) -> Result<(), FaultRecord> {
    // SAFETY: a leaf function following the SysV ABI; it writes only `dst`
    // (caller's contract) and a fault is recovered through TABLE. DF is 0
    // (the ABI's rule), so `rep movsb` copies upwards.
    let faulted = unsafe { kernel_copy_user(dst, src, len as u64) };
    if faulted == 0 {
        Ok(())
    } else {
        Err(last_fault())
    }
}

/// Calls the code at `target` from ring 0, expecting its first instruction
/// fetch to fault (SMEP on a user page); returns the fault, or `Ok` if the
/// code ran (and returned).
///
/// # Safety
/// `target` must be code that returns at once (a `ret`) if it runs at all.
pub unsafe fn probe_exec(target: VirtAddr) -> Result<(), FaultRecord> {
    let slot = this_cpu_slot();
    slot.exec_target.store(target.as_u64(), Ordering::Relaxed);
    // SAFETY: the probe calls `target`, which returns at once or faults on
    // the fetch (caller's contract); the fault is recovered through the
    // armed slot.
    let faulted = unsafe { kernel_probe_exec(target.as_u64()) };
    slot.exec_target.store(0, Ordering::Relaxed);
    if faulted == 0 {
        Ok(())
    } else {
        Err(last_fault())
    }
}

/// Called by exception handlers before they give up: if the faulting
/// instruction is in the exception table, records the fault, makes the frame
/// resume at the fixup and returns `true`.
pub fn try_recover(vector: u8, frame: &mut InterruptStackFrame, error_code: Option<u64>) -> bool {
    let rip = frame.instruction_pointer.as_u64();
    let slot = this_cpu_slot();
    if rip != 0 && slot.exec_target.load(Ordering::Relaxed) == rip {
        record(slot, vector, error_code);
        slot.exec_target.store(0, Ordering::Relaxed);
        let fixup = VirtAddr::new((&raw const kernel_probe_exec_fixup) as u64);
        let rsp = frame.stack_pointer + 8;
        // SAFETY: the fetch of `target` faulted right after the probe's
        // `call`: the stack holds just the return address on top of the
        // probe's frame. Popping it and resuming at the fixup (which returns
        // to the probe's caller) is exactly a return from `target`.
        unsafe {
            frame.as_mut().update(|f| {
                f.instruction_pointer = fixup;
                f.stack_pointer = rsp;
            });
        }
        return true;
    }
    let Some(entry) = TABLE.iter().find(|entry| (entry.instruction)() == rip) else {
        return false;
    };
    record(slot, vector, error_code);
    let fixup = VirtAddr::new((entry.fixup)());
    // SAFETY: by the table's invariant the fixup expects exactly the state the
    // faulting instruction left (same stack, no side effects yet), so resuming
    // there instead of re-executing the instruction is sound. Only RIP changes.
    unsafe { frame.as_mut().update(|f| f.instruction_pointer = fixup) };
    true
}

/// Records a recovered fault in this CPU's slot.
fn record(slot: &FaultSlot, vector: u8, error_code: Option<u64>) {
    slot.vector.store(u64::from(vector), Ordering::Relaxed);
    slot.error_code
        .store(error_code.unwrap_or(0), Ordering::Relaxed);
    slot.cr2.store(
        x86_64::registers::control::Cr2::read_raw(),
        Ordering::Relaxed,
    );
}

mod tests {
    use x86_64::VirtAddr;

    use super::probe_read_u64;
    use crate::arch::x86_64::interrupts::vector;
    use crate::ktest::{check, kernel_test};

    kernel_test!(
        fn probe_of_mapped_memory_reads_it() {
            let value: u64 = 0x0123_4567_89ab_cdef;
            let addr = VirtAddr::from_ptr(&raw const value);
            // SAFETY: a local variable: ordinary RAM.
            let read = unsafe { probe_read_u64(addr) };
            check!(
                read == Ok(value),
                "probe read {read:x?}, expected {value:#x}"
            );
            Ok(())
        }
    );

    kernel_test!(
        fn page_fault_is_caught_with_cr2() {
            let addr = crate::arch::x86_64::paging::unmapped_test_address();
            // SAFETY: the address is unmapped, not MMIO.
            let result = unsafe { probe_read_u64(VirtAddr::new(addr)) };
            let Err(fault) = result else {
                return Err(alloc::format!(
                    "read of unmapped {addr:#x} did not fault: {result:x?}"
                ));
            };
            check!(
                fault.vector == vector::PAGE_FAULT,
                "vector {} instead of #PF",
                fault.vector
            );
            check!(
                fault.cr2 == addr,
                "CR2 {:#x}, expected {addr:#x}",
                fault.cr2
            );
            // Error code: bit 0 clear = page not present, bit 1 clear = read.
            check!(
                fault.error_code & 0b11 == 0,
                "error code {:#x}: expected a not-present read",
                fault.error_code
            );
            Ok(())
        }
    );

    kernel_test!(
        fn general_protection_fault_is_caught() {
            // A non-canonical address: the CPU raises #GP (not #PF) before paging.
            let addr = VirtAddr::new_truncate(0).as_u64() ^ 0x8000_0000_0000_0000;
            let raw = VirtAddr::try_new(addr);
            check!(raw.is_err(), "{addr:#x} unexpectedly canonical");
            // SAFETY: the address is non-canonical: the access cannot reach memory.
            let result = unsafe { probe_read_u64(VirtAddr::new_unsafe(addr)) };
            let Err(fault) = result else {
                return Err(alloc::format!(
                    "non-canonical read did not fault: {result:x?}"
                ));
            };
            check!(fault.vector == 13, "vector {} instead of #GP", fault.vector);
            Ok(())
        }
    );
}

//! The Interrupt Descriptor Table: a handler for every CPU exception.
//!
//! Policy (vectors 0–31, Intel SDM Vol. 3A §6.15):
//! - `#BP` (breakpoint) is counted and returns: `int3` is a debugging aid.
//! - Every other exception first asks the [exception table](super::extable)
//!   whether the faulting instruction may fault; if so, the fault is recorded and
//!   execution resumes at the fixup.
//! - Otherwise the exception is fatal: the handler prints one
//!   `[EXCEPTION] cpu=N [task=T] [in_interrupt=D] vector=V name=#XX error=0x..
//!   rip=0x.. [cr2=0x..]` line (`protocol::fatal::Exception`, format in
//!   `docs/kernel-interface.md`; the context from [`percpu::report_context`]),
//!   a detail line or two with the rest, and ends the run with the failure
//!   verdict.
//! - `#DF`, NMI and `#MC` run on their own IST stacks (see [`super::gdt`]), so a
//!   kernel stack overflow is reported as a double fault instead of a reset.
//! - From ring 3 (a user thread in [`super::user::run`]), every handler
//!   starts with `user::on_entry` (`swapgs` before anything reads per-CPU
//!   data) and ends with `user::leave_to_kernel`, which makes its `iretq`
//!   return from `run`: an interrupt does its usual work first, an exception
//!   (except #DF and #MC, fatal wherever they come from) does nothing else —
//!   it is the user thread's, never the kernel's fatal path. `int3` may be
//!   used from ring 3 (gate DPL 3).
//!
//! Handlers must not allocate and must not take locks that interrupted code may
//! hold: the fatal path writes through [`crate::arch::x86_64::report::emergency`], which
//! breaks the console lock after a bounded wait.

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use x86_64::PrivilegeLevel;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

use protocol::fatal::{Exception, ExceptionDetail};

use super::{apic, extable, gdt, hooks, percpu, serial_rx, user};

/// The kernel's interrupt vectors.
///
/// 0–31 are CPU exceptions. Above them, device and IPI vectors; the Local
/// APIC prioritises by the upper nibble, so IPIs sit above the timer.
pub mod vector {
    /// Page fault.
    pub const PAGE_FAULT: u8 = 14;
    /// Double fault.
    pub const DOUBLE_FAULT: u8 = 8;
    /// Local APIC timer: the scheduler tick.
    pub const TIMER: u8 = 0x20;
    /// COM1's receive interrupt: ISA IRQ 4 through the I/O APIC. Device
    /// interrupts sit in the timer's priority class, below the IPIs.
    pub const COM1: u8 = 0x24;
    /// RESCHEDULE IPI: "your run queue has work".
    pub const RESCHEDULE: u8 = 0x30;
    /// The doorbell of `smp::run_on`: wakes the target's idle loop, which
    /// then runs the call posted to it. Counted, otherwise ignored.
    pub const CALL: u8 = 0x40;
    /// Counted and otherwise ignored: the SMP tests' probe of IPI delivery.
    pub const PING: u8 = 0x41;
    /// Where the legacy 8259 PICs are remapped before being masked: far from
    /// the vectors above, so a spurious PIC interrupt (IRQ 7 / IRQ 15, which
    /// masking cannot stop) is recognisable.
    pub const PIC_MASTER_BASE: u8 = 0xE0;
    /// Slave PIC base.
    pub const PIC_SLAVE_BASE: u8 = 0xE8;
    /// Local APIC spurious-interrupt vector (SVR); its low nibble is all ones,
    /// as older APICs require.
    pub const APIC_SPURIOUS: u8 = 0xFF;
}

/// Mnemonics of vectors 0–31 (Intel SDM Vol. 3A, table 6-1); reserved ones
/// are `#RSVD`.
const EXCEPTION_NAMES: [&str; 32] = [
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP", "#SS",
    "#GP", "#PF", "#RSVD", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#RSVD", "#RSVD", "#RSVD",
    "#RSVD", "#RSVD", "#RSVD", "#HV", "#VC", "#SX", "#RSVD",
];

/// The mnemonic of exception `vector`.
pub fn exception_name(vector: u8) -> &'static str {
    EXCEPTION_NAMES
        .get(usize::from(vector))
        .copied()
        .unwrap_or("IRQ")
}

/// How many `int3` breakpoints have been handled, on all CPUs.
static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// The number of breakpoints handled so far.
pub fn breakpoint_count() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Generates an `extern "x86-interrupt"` handler that recovers through the
/// exception table or reports the exception as fatal.
macro_rules! exception_handlers {
    ($($name:ident => $vector:literal $(, $err:ident)?;)*) => {
        $(exception_handlers!(@one $name, $vector $(, $err)?);)*
    };
    (@one $name:ident, $vector:literal) => {
        extern "x86-interrupt" fn $name(mut frame: InterruptStackFrame) {
            recover_or_die($vector, &mut frame, None);
        }
    };
    (@one $name:ident, $vector:literal, error_code) => {
        extern "x86-interrupt" fn $name(mut frame: InterruptStackFrame, error_code: u64) {
            recover_or_die($vector, &mut frame, Some(error_code));
        }
    };
}

exception_handlers! {
    divide_error => 0;
    debug => 1;
    non_maskable_interrupt => 2;
    overflow => 4;
    bound_range_exceeded => 5;
    invalid_opcode => 6;
    device_not_available => 7;
    invalid_tss => 10, error_code;
    segment_not_present => 11, error_code;
    stack_segment_fault => 12, error_code;
    general_protection_fault => 13, error_code;
    x87_floating_point => 16;
    alignment_check => 17, error_code;
    simd_floating_point => 19;
    virtualization => 20;
    cp_protection => 21, error_code;
    hv_injection => 28;
    vmm_communication => 29, error_code;
    security => 30, error_code;
}

extern "x86-interrupt" fn breakpoint(mut frame: InterruptStackFrame) {
    if user::on_entry(&frame) {
        user::leave_to_kernel(&mut frame, 3, 0, 0);
        return;
    }
    BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
}

extern "x86-interrupt" fn page_fault(mut frame: InterruptStackFrame, error: PageFaultErrorCode) {
    recover_or_die(vector::PAGE_FAULT, &mut frame, Some(error.bits()));
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, error_code: u64) -> ! {
    user::on_entry(&frame);
    fatal(vector::DOUBLE_FAULT, &frame, Some(error_code))
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    user::on_entry(&frame);
    fatal(18, &frame, None)
}

/// An interrupt handler's frame around its `body`: `swapgs` on the way in
/// from ring 3, and on the way out the return from `user::run` (module docs).
fn interrupt(frame: &mut InterruptStackFrame, vector: u8, body: impl FnOnce()) {
    let from_user = user::on_entry(frame);
    body();
    if from_user {
        user::leave_to_kernel(frame, vector, 0, 0);
    }
}

/// Runs an interrupt handler's `body` with this CPU's block and the proof
/// that interrupts are off (the interrupt gate cleared IF), counting the
/// handler in the CPU's `in_interrupt` depth meanwhile.
fn in_interrupt<R>(body: impl FnOnce(percpu::ThisCpu, &percpu::IrqsDisabled) -> R) -> R {
    percpu::with_irqs_disabled(|this, irqs| {
        this.enter_interrupt(irqs);
        let result = body(this, irqs);
        this.leave_interrupt(irqs);
        result
    })
}

/// The scheduler tick: the tick's books and the TSC-deadline re-arm
/// (`apic::on_tick`), then the registered tick handler (the scheduler's: it
/// expires this core's timers), EOI.
extern "x86-interrupt" fn timer_tick(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::TIMER, || {
        in_interrupt(|this, irqs| {
            apic::on_tick(this, irqs);
            hooks::tick();
            apic::eoi();
        });
    });
}

/// The `CALL` and `PING` vectors: counted; a `CALL` has done its work by
/// ending the target's `hlt` (the idle loop then takes the posted call).
fn counted_ipi() {
    in_interrupt(|this, _| {
        this.count_ipi_received(false);
        apic::eoi();
    });
}

extern "x86-interrupt" fn call_ipi(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::CALL, counted_ipi);
}

extern "x86-interrupt" fn ping_ipi(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::PING, counted_ipi);
}

extern "x86-interrupt" fn reschedule_ipi(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::RESCHEDULE, || {
        in_interrupt(|this, _| {
            this.count_ipi_received(true);
            // This IPI has left the IRR: a waker may send the next one. The
            // latch's release synchronizes with every waker that skipped its
            // IPI meanwhile, so this core's idle recheck sees their pushes
            // (`executor::IpiLatch`).
            this.resched_delivered();
            apic::eoi();
        });
    });
}

/// COM1 received data: drain the UART, EOI, wake the reader
/// (`serial_rx::on_interrupt`).
extern "x86-interrupt" fn com1(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::COM1, || {
        in_interrupt(|_, _| serial_rx::on_interrupt());
    });
}

/// Spurious interrupts (Local APIC or legacy PIC) get no EOI (SDM Vol. 3A
/// §11.9; 8259A datasheet: a spurious IRQ 7 has no in-service bit to clear).
fn count_spurious() {
    percpu::this_cpu().count_spurious();
}

extern "x86-interrupt" fn spurious_apic(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::APIC_SPURIOUS, count_spurious);
}

extern "x86-interrupt" fn spurious_pic_master(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::PIC_MASTER_BASE + 7, count_spurious);
}

extern "x86-interrupt" fn spurious_pic_slave(mut frame: InterruptStackFrame) {
    interrupt(&mut frame, vector::PIC_SLAVE_BASE + 7, count_spurious);
}

/// Every exception but #BP, #DF and #MC: from ring 3 the user thread's
/// (`user::leave_to_kernel`); in the kernel recovered through the exception
/// table or fatal.
fn recover_or_die(vector: u8, frame: &mut InterruptStackFrame, error_code: Option<u64>) {
    if user::on_entry(frame) {
        let cr2 = if vector == vector::PAGE_FAULT {
            Cr2::read_raw()
        } else {
            0
        };
        user::leave_to_kernel(frame, vector, error_code.unwrap_or(0), cr2);
        return;
    }
    if !extable::try_recover(vector, frame, error_code) {
        fatal(vector, frame, error_code)
    }
}

/// Reports an exception nobody expected and fails the run.
fn fatal(vector: u8, frame: &InterruptStackFrame, error_code: Option<u64>) -> ! {
    let context = percpu::report_context();
    let cpu = context.cpu;
    let name = exception_name(vector);
    let error = error_code.unwrap_or(0);
    let rip = frame.instruction_pointer.as_u64();
    let cr2 = (vector == vector::PAGE_FAULT).then(Cr2::read_raw);
    crate::arch::x86_64::report::emergency(&Exception {
        context,
        vector,
        name,
        error,
        rip,
        cr2,
    });
    if cr2.is_some() {
        let code = PageFaultErrorCode::from_bits_truncate(error);
        let pick = |flag, yes, no| if code.contains(flag) { yes } else { no };
        crate::arch::x86_64::report::emergency(&ExceptionDetail {
            cpu,
            detail: format_args!(
                "page fault: {} {} in {} mode{}",
                pick(
                    PageFaultErrorCode::PROTECTION_VIOLATION,
                    "protection violation",
                    "page not present"
                ),
                pick(PageFaultErrorCode::CAUSED_BY_WRITE, "on write", "on read"),
                pick(PageFaultErrorCode::USER_MODE, "user", "kernel"),
                pick(
                    PageFaultErrorCode::INSTRUCTION_FETCH,
                    " (instruction fetch)",
                    ""
                ),
            ),
        });
    }
    crate::arch::x86_64::report::emergency(&ExceptionDetail {
        cpu,
        detail: format_args!(
            "rsp={:#x} rflags={:#x} cs={:#x} ss={:#x}",
            frame.stack_pointer.as_u64(),
            frame.cpu_flags.bits(),
            frame.code_segment.0,
            frame.stack_segment.0,
        ),
    });
    hooks::fatal()
}

fn build_idt() -> InterruptDescriptorTable {
    let mut idt = InterruptDescriptorTable::new();
    idt.divide_error.set_handler_fn(divide_error);
    idt.debug.set_handler_fn(debug);
    idt.breakpoint
        .set_handler_fn(breakpoint)
        .set_privilege_level(PrivilegeLevel::Ring3);
    idt.overflow.set_handler_fn(overflow);
    idt.bound_range_exceeded
        .set_handler_fn(bound_range_exceeded);
    idt.invalid_opcode.set_handler_fn(invalid_opcode);
    idt.device_not_available
        .set_handler_fn(device_not_available);
    idt.invalid_tss.set_handler_fn(invalid_tss);
    idt.segment_not_present.set_handler_fn(segment_not_present);
    idt.stack_segment_fault.set_handler_fn(stack_segment_fault);
    idt.general_protection_fault
        .set_handler_fn(general_protection_fault);
    idt.page_fault.set_handler_fn(page_fault);
    idt.x87_floating_point.set_handler_fn(x87_floating_point);
    idt.alignment_check.set_handler_fn(alignment_check);
    idt.simd_floating_point.set_handler_fn(simd_floating_point);
    idt.virtualization.set_handler_fn(virtualization);
    idt.cp_protection_exception.set_handler_fn(cp_protection);
    idt.hv_injection_exception.set_handler_fn(hv_injection);
    idt.vmm_communication_exception
        .set_handler_fn(vmm_communication);
    idt.security_exception.set_handler_fn(security);
    idt[vector::TIMER].set_handler_fn(timer_tick);
    idt[vector::COM1].set_handler_fn(com1);
    idt[vector::RESCHEDULE].set_handler_fn(reschedule_ipi);
    idt[vector::CALL].set_handler_fn(call_ipi);
    idt[vector::PING].set_handler_fn(ping_ipi);
    idt[vector::APIC_SPURIOUS].set_handler_fn(spurious_apic);
    idt[vector::PIC_MASTER_BASE + 7].set_handler_fn(spurious_pic_master);
    idt[vector::PIC_SLAVE_BASE + 7].set_handler_fn(spurious_pic_slave);
    // SAFETY: (all three) the IST indices name slots that `gdt` fills with
    // stacks used by no other vector, on every CPU's TSS.
    unsafe {
        idt.double_fault
            .set_handler_fn(double_fault)
            .set_stack_index(gdt::DOUBLE_FAULT_IST_INDEX);
        idt.non_maskable_interrupt
            .set_handler_fn(non_maskable_interrupt)
            .set_stack_index(gdt::NMI_IST_INDEX);
        idt.machine_check
            .set_handler_fn(machine_check)
            .set_stack_index(gdt::MACHINE_CHECK_IST_INDEX);
    }
    idt
}

/// Loads the IDT on the calling CPU (building it on first use).
pub fn load() {
    IDT.call_once(build_idt).load();
}

mod tests {
    use core::sync::atomic::{AtomicU32, Ordering};

    use crate::ktest::{check, kernel_test};

    kernel_test!(
        fn breakpoint_returns() {
            static AFTER: AtomicU32 = AtomicU32::new(0);
            let before = super::breakpoint_count();
            x86_64::instructions::interrupts::int3();
            AFTER.store(1, Ordering::Relaxed);
            let handled = super::breakpoint_count() - before;
            check!(handled == 1, "{handled} breakpoints handled, expected 1");
            check!(
                AFTER.load(Ordering::Relaxed) == 1,
                "execution did not resume after int3"
            );
            Ok(())
        }
    );
}

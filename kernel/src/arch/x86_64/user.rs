//! Ring 3: entering a user thread's registers and coming back.
//!
//! A user thread is an executor task (issue 11). Polling it calls [`run`]
//! with the thread's saved registers, a [`UserContext`]; `run` enters ring 3
//! and returns as soon as ring 3 is left again, saying how ([`Trap`]):
//! a `syscall`, an interrupt (the timer's: the poll returns `Pending`) or an
//! exception (#PF, #GP, #UD, #DE, ...: never the kernel's fatal path). The
//! caller handles it with ordinary code and calls `run` again.
//!
//! # States of one CPU
//!
//! ```text
//!              run(ctx): push callee-saved regs; gs:[KERNEL_RSP] = rsp,
//!   kernel     gs:[CONTEXT] = ctx; build an iretq frame (user CS/SS,
//!  (GS.BASE ──►ctx.rip/rsp, ctx.rflags with IF=1, IOPL 0); load ctx's GPRs;
//!   = PerCpu)  swapgs; iretq ───────────────────────────────┐
//!      ▲                                                    ▼
//!      │                                          ring 3 (GS.BASE = user's,
//!      │                                          KERNEL_GS_BASE = PerCpu)
//!      │           syscall (IF, DF, TF, AC masked)          │
//!      │    ┌──── user_syscall_entry: swapgs; save GPRs ◄───┤
//!      │    │     RIP = rcx, RFLAGS = r11, RSP into ctx     │
//!      │    │                                               │ interrupt or
//!      │    │     x86-interrupt handler on TSS.RSP0 ◄───────┘ exception
//!      │    │     1. CS.RPL = 3: swapgs, first thing (`on_entry`)
//!      │    │     2. its usual work (tick, EOI, ...; exceptions: none)
//!      │    │     3. `leave_to_kernel`: record vector, error code, CR2,
//!      │    │        user RIP/RSP/RFLAGS in PerCpu; rewrite the frame to
//!      │    │        return to user_trap_exit (kernel CS/SS, rsp =
//!      │    │        gs:[KERNEL_RSP], IF = 0)
//!      │    │     iretq ──► user_trap_exit: all GPRs are still the
//!      │    │               user's; save them into ctx
//!      │    ▼                        │
//!      └── rsp = gs:[KERNEL_RSP]; pop callee-saved; ret ◄┘
//!          run: Trap::Syscall / Interrupt / Exception
//! ```
//!
//! # GS
//!
//! `swapgs` discipline: in the kernel GS.BASE points at the CPU's `PerCpu`
//! block and `IA32_KERNEL_GS_BASE` holds the user's GS base (0: user threads
//! get no GS of their own yet). The only way into ring 3 is `run`'s
//! `swapgs; iretq`; every way out swaps back before per-CPU data is read:
//! the `syscall` stub as its first instruction, every IDT handler first
//! thing when the saved CS has RPL 3 ([`on_entry`], in `interrupts`). The
//! interrupt exit returns to a ring-0 stub, so it does not swap again.
//! Windows with the user's GS in ring 0 are two instructions long
//! (`swapgs; iretq` and the `syscall` stub's first one) and run with IF = 0;
//! only an NMI or machine check could land there, and both are fatal. `run`
//! refuses (as a #GP trap) a RIP or RSP outside the canonical user half,
//! so the `iretq` itself cannot fault in ring 0.
//!
//! # Stacks
//!
//! `run` and the exit stubs use the stack of the task that called `run`.
//! Interrupts and exceptions from ring 3 arrive on the CPU's RSP0 stack
//! (TSS.RSP0, [`super::gdt`]), which is empty again once the handler's
//! `iretq` leaves for the exit stub. `syscall` does not switch stacks: the
//! stub switches to `run`'s stack itself (`gs:[KERNEL_RSP]`) and touches no
//! user stack.
//!
//! # Not saved
//!
//! x87/SSE/AVX state (the kernel itself uses none: its target is
//! soft-float) and FS/GS bases: a caller that runs more than one user
//! thread must switch those itself, later with `xsave`.
//!
//! # CPU features
//!
//! [`init_boot_cpu`] (and each AP) sets EFER.SCE and EFER.NXE, `STAR`,
//! `LSTAR`, `SFMASK`, and turns on SMEP, SMAP and UMIP where CPUID offers
//! them (leaf 7: EBX bits 7 and 20, ECX bit 2). With SMAP, the kernel touches
//! user pages only in [`copy_from_user`] and [`copy_to_user`], between `stac`
//! and `clac`; every IDT handler starts with `clac`.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags, KernelGsBase, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::SegmentSelector;
use x86_64::structures::idt::InterruptStackFrame;
use x86_64::{PrivilegeLevel, VirtAddr};

use super::extable;
use super::gdt::{
    KERNEL_CODE_SELECTOR, KERNEL_DATA_SELECTOR, USER_CODE_SELECTOR, USER_DATA_SELECTOR,
    USER_SELECTORS,
};
use super::interrupts::vector;
use super::percpu::{self, USER_CONTEXT, USER_KERNEL_RSP, USER_SCRATCH, UserTrapRecord};

/// The user thread's registers: what [`run`] enters ring 3 with and what it
/// saves when ring 3 is left. After a `syscall`, `rax` and the argument
/// registers hold the call, `rcx` = `rip` and `r11` = `rflags` (the CPU
/// overwrote them); the caller puts its result in `rax` and calls [`run`]
/// again, which resumes after the `syscall`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserContext {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    /// Where the thread resumes.
    pub rip: u64,
    /// The thread's stack pointer.
    pub rsp: u64,
    /// Its flags. [`run`] keeps only the arithmetic flags, TF, DF, AC and
    /// ID, and sets IF (interrupts on, IOPL 0).
    pub rflags: u64,
}

/// How ring 3 was left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// The thread executed `syscall`; the call is in the context.
    Syscall,
    /// An interrupt arrived (its handler has run: tick, EOI, ...).
    Interrupt {
        /// The vector (`TIMER_VECTOR` for a preemption).
        vector: u8,
    },
    /// The thread caused an exception.
    Exception {
        /// The vector (0 #DE, 6 #UD, 13 #GP, 14 #PF, ...).
        vector: u8,
        /// The error code the CPU pushed, 0 if the vector has none.
        error_code: u64,
        /// CR2 for a page fault (the address), 0 otherwise.
        cr2: u64,
    },
}

/// The timer's vector, as [`Trap::Interrupt`] reports a preemption.
pub const TIMER_VECTOR: u8 = vector::TIMER;

/// The end of the user half: user addresses are below it (the canonical
/// lower half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// The first user address: the null page is never user memory.
pub const USER_START: u64 = 0x1000;

/// The longest copy [`copy_from_user`] and [`copy_to_user`] make at once.
pub const MAX_COPY: usize = 1 << 20;

/// A copy from or to user memory failed: the range is not user memory, or a
/// page in it is not mapped for the user. The caller reports EFAULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFault {
    /// The address that failed: the faulting one, or the range's start if it
    /// was refused before any access.
    pub address: u64,
}

/// #GP, which [`run`] reports for a context it refuses to enter.
const GENERAL_PROTECTION: u8 = 13;

/// RFLAGS bits a user thread may set: CF, PF, AF, ZF, SF, TF, DF, OF, AC,
/// ID. Not IOPL, NT, RF, VM, VIF, VIP; IF is forced on.
const USER_RFLAGS: u64 = 0x0000_0000_0024_0dd5;

/// The CPU features this module turned on, as bits.
static FEATURES: AtomicU8 = AtomicU8::new(0);
/// Whether SMAP is on (on every CPU: they enable what the BSP found).
static SMAP_ON: AtomicBool = AtomicBool::new(false);

const SMEP: u8 = 1;
const SMAP: u8 = 2;
const UMIP: u8 = 4;

/// What CPUID leaf 7 offers of SMEP, SMAP, UMIP.
fn detect() -> u8 {
    let max = core::arch::x86_64::__cpuid(0).eax;
    if max < 7 {
        return 0;
    }
    let leaf7 = core::arch::x86_64::__cpuid_count(7, 0);
    let mut found = 0;
    if leaf7.ebx & (1 << 7) != 0 {
        found |= SMEP;
    }
    if leaf7.ebx & (1 << 20) != 0 {
        found |= SMAP;
    }
    if leaf7.ecx & (1 << 2) != 0 {
        found |= UMIP;
    }
    found
}

/// Sets up `syscall` and the CR4 protections `features` names on the
/// calling CPU.
fn enable(features: u8) {
    // SAFETY: EFER.SCE enables `syscall`, whose target LSTAR points at the
    // entry stub below, and EFER.NXE makes the NX bit of page-table entries
    // meaningful (the kernel already maps data NX; the bootloader turned NXE
    // on for that). Setting neither changes how the running code executes.
    unsafe {
        Efer::update(|flags| {
            flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS | EferFlags::NO_EXECUTE_ENABLE);
        });
    }
    Star::write(
        USER_SELECTORS.code,
        USER_SELECTORS.data,
        SegmentSelector(KERNEL_CODE_SELECTOR),
        SegmentSelector(KERNEL_DATA_SELECTOR),
    )
    .expect("STAR: the GDT's selectors are in syscall/sysret order");
    LStar::write(VirtAddr::new(user_syscall_entry as *const () as u64));
    SFMask::write(
        RFlags::INTERRUPT_FLAG
            | RFlags::DIRECTION_FLAG
            | RFlags::TRAP_FLAG
            | RFlags::ALIGNMENT_CHECK,
    );
    KernelGsBase::write(VirtAddr::zero());
    let mut cr4 = Cr4Flags::empty();
    if features & SMEP != 0 {
        cr4 |= Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION;
    }
    if features & SMAP != 0 {
        cr4 |= Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION;
    }
    if features & UMIP != 0 {
        cr4 |= Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION;
    }
    // SAFETY: CR0.WP makes ring 0 honour read-only pages too, so
    // `copy_to_user` cannot write a user page mapped read-only; the kernel
    // writes no read-only page of its own.
    unsafe { Cr0::update(|flags| flags.insert(Cr0Flags::WRITE_PROTECT)) };
    // SAFETY: the CPU offers these (CPUID leaf 7). SMEP: the kernel never
    // executes a user page. SMAP: it touches user pages only inside
    // `copy_*_user` between stac and clac (no lower-half page is
    // user-accessible before `run`'s callers map one). UMIP only restricts
    // ring 3.
    unsafe { Cr4::update(|flags| flags.insert(cr4)) };
}

/// Turns on `syscall` and SMEP, SMAP, UMIP (where offered) on the boot CPU
/// and logs what is on. Once, after the logger is up.
pub fn init_boot_cpu() {
    let features = detect();
    FEATURES.store(features, Ordering::Relaxed);
    SMAP_ON.store(features & SMAP != 0, Ordering::Relaxed);
    enable(features);
    let on = |bit, name| if features & bit != 0 { name } else { "-" };
    log::info!(
        target: "USER",
        "syscall on (LSTAR {:#x}), NXE, WP on, {} {} {}",
        user_syscall_entry as *const () as u64,
        on(SMEP, "SMEP"),
        on(SMAP, "SMAP"),
        on(UMIP, "UMIP"),
    );
}

/// The same on an AP: the features the boot CPU turned on (the CPUs of one
/// machine offer the same). Takes no lock, allocates nothing.
pub fn init_application_processor() {
    enable(FEATURES.load(Ordering::Relaxed));
}

/// Whether SMEP is on.
pub fn smep_enabled() -> bool {
    FEATURES.load(Ordering::Relaxed) & SMEP != 0
}

/// Whether SMAP is on.
pub fn smap_enabled() -> bool {
    SMAP_ON.load(Ordering::Relaxed)
}

// The entry and exit stubs (module docs, "States of one CPU").
/// The stores of the user's general registers, all but `rax` (which each
/// exit path saves through the scratch slot), into the context whose
/// address is in `rax`: shared by the `syscall` and the trap exit paths.
macro_rules! save_user_gprs {
    () => {
        concat!(
            "    mov [rax + {rbx}], rbx\n",
            "    mov [rax + {rcx}], rcx\n",
            "    mov [rax + {rdx}], rdx\n",
            "    mov [rax + {rsi}], rsi\n",
            "    mov [rax + {rdi}], rdi\n",
            "    mov [rax + {rbp}], rbp\n",
            "    mov [rax + {r8}], r8\n",
            "    mov [rax + {r9}], r9\n",
            "    mov [rax + {r10}], r10\n",
            "    mov [rax + {r11}], r11\n",
            "    mov [rax + {r12}], r12\n",
            "    mov [rax + {r13}], r13\n",
            "    mov [rax + {r14}], r14\n",
            "    mov [rax + {r15}], r15\n",
        )
    };
}

// `user_enter(ctx) -> 0 (syscall) | 1 (interrupt or exception)`, sysv64.
global_asm!(
    ".pushsection .text.user_entry, \"ax\", @progbits",
    ".global user_enter",
    ".global user_syscall_entry",
    ".global user_trap_exit",
    "user_enter:",
    "    push rbx",
    "    push rbp",
    "    push r12",
    "    push r13",
    "    push r14",
    "    push r15",
    "    mov qword ptr gs:[{kernel_rsp}], rsp",
    "    mov qword ptr gs:[{context}], rdi",
    "    push {user_ss}",
    "    push qword ptr [rdi + {rsp}]",
    "    push qword ptr [rdi + {rflags}]",
    "    push {user_cs}",
    "    push qword ptr [rdi + {rip}]",
    "    mov rax, [rdi + {rax}]",
    "    mov rbx, [rdi + {rbx}]",
    "    mov rcx, [rdi + {rcx}]",
    "    mov rdx, [rdi + {rdx}]",
    "    mov rsi, [rdi + {rsi}]",
    "    mov rbp, [rdi + {rbp}]",
    "    mov r8, [rdi + {r8}]",
    "    mov r9, [rdi + {r9}]",
    "    mov r10, [rdi + {r10}]",
    "    mov r11, [rdi + {r11}]",
    "    mov r12, [rdi + {r12}]",
    "    mov r13, [rdi + {r13}]",
    "    mov r14, [rdi + {r14}]",
    "    mov r15, [rdi + {r15}]",
    "    mov rdi, [rdi + {rdi}]",
    "    swapgs",
    "    iretq",
    // Both exits end here, on run's stack, with the kind in eax.
    "user_exit:",
    "    pop r15",
    "    pop r14",
    "    pop r13",
    "    pop r12",
    "    pop rbp",
    "    pop rbx",
    "    ret",
    // LSTAR: IF, DF, TF, AC are clear (SFMASK); rcx = user RIP, r11 = RFLAGS.
    "user_syscall_entry:",
    "    swapgs",
    "    mov qword ptr gs:[{scratch}], rax",
    "    mov rax, qword ptr gs:[{context}]",
    save_user_gprs!(),
    "    mov [rax + {rsp}], rsp",
    "    mov [rax + {rip}], rcx",
    "    mov [rax + {rflags}], r11",
    "    mov rcx, qword ptr gs:[{scratch}]",
    "    mov [rax + {rax}], rcx",
    "    mov rsp, qword ptr gs:[{kernel_rsp}]",
    "    xor eax, eax",
    "    jmp user_exit",
    // Where an IDT handler that interrupted ring 3 returns to (ring 0,
    // IF = 0, rsp = gs:[KERNEL_RSP]), with the user's GPRs.
    "user_trap_exit:",
    "    mov qword ptr gs:[{scratch}], rax",
    "    mov rax, qword ptr gs:[{context}]",
    save_user_gprs!(),
    "    mov rcx, qword ptr gs:[{scratch}]",
    "    mov [rax + {rax}], rcx",
    "    mov rsp, qword ptr gs:[{kernel_rsp}]",
    "    mov eax, 1",
    "    jmp user_exit",
    ".popsection",
    kernel_rsp = const USER_KERNEL_RSP,
    context = const USER_CONTEXT,
    scratch = const USER_SCRATCH,
    user_ss = const USER_DATA_SELECTOR,
    user_cs = const USER_CODE_SELECTOR,
    rax = const core::mem::offset_of!(UserContext, rax),
    rbx = const core::mem::offset_of!(UserContext, rbx),
    rcx = const core::mem::offset_of!(UserContext, rcx),
    rdx = const core::mem::offset_of!(UserContext, rdx),
    rsi = const core::mem::offset_of!(UserContext, rsi),
    rdi = const core::mem::offset_of!(UserContext, rdi),
    rbp = const core::mem::offset_of!(UserContext, rbp),
    r8 = const core::mem::offset_of!(UserContext, r8),
    r9 = const core::mem::offset_of!(UserContext, r9),
    r10 = const core::mem::offset_of!(UserContext, r10),
    r11 = const core::mem::offset_of!(UserContext, r11),
    r12 = const core::mem::offset_of!(UserContext, r12),
    r13 = const core::mem::offset_of!(UserContext, r13),
    r14 = const core::mem::offset_of!(UserContext, r14),
    r15 = const core::mem::offset_of!(UserContext, r15),
    rip = const core::mem::offset_of!(UserContext, rip),
    rsp = const core::mem::offset_of!(UserContext, rsp),
    rflags = const core::mem::offset_of!(UserContext, rflags),
);

unsafe extern "sysv64" {
    fn user_enter(ctx: *mut UserContext) -> u64;
    fn user_syscall_entry();
    fn user_trap_exit();
}

/// Whether `addr` may be a user RIP or RSP: canonical and in the lower half.
fn user_address(addr: u64) -> bool {
    addr < USER_END
}

/// Enters ring 3 with `ctx`'s registers and returns when the thread makes a
/// `syscall` or is interrupted, with `ctx` holding its registers then
/// (module docs). Interrupts are on in ring 3 and off in the kernel parts of
/// `run`; the caller's interrupt flag is restored.
///
/// A `rip` or `rsp` outside the user half is not entered: `run` returns
/// `Trap::Exception` #GP (what jumping there would have caused).
pub fn run(ctx: &mut UserContext) -> Trap {
    if !user_address(ctx.rip) || !user_address(ctx.rsp) {
        return Trap::Exception {
            vector: GENERAL_PROTECTION,
            error_code: 0,
            cr2: 0,
        };
    }
    ctx.rflags = (ctx.rflags & USER_RFLAGS) | RFlags::INTERRUPT_FLAG.bits() | 0x2;
    x86_64::instructions::interrupts::without_interrupts(|| {
        // SAFETY: `user_enter` follows the sysv64 ABI (it saves and restores
        // the callee-saved registers and returns on the same stack); it reads
        // and writes only `*ctx`, exclusively borrowed for the call, and this
        // CPU's PerCpu block. The RIP and RSP it enters are user addresses
        // (checked above), the segments the user ones, RFLAGS has IF = 1,
        // IOPL 0, so the CPU runs the thread in ring 3 and comes back only
        // through the stubs. Interrupts are off until the iretq, so nothing
        // else uses this CPU's user state meanwhile.
        let kind = unsafe { user_enter(core::ptr::from_mut(ctx)) };
        let this = percpu::this_cpu();
        this.leave_user_run();
        if kind == 0 {
            return Trap::Syscall;
        }
        let record = this.user_trap();
        ctx.rip = record.rip;
        ctx.rsp = record.rsp;
        ctx.rflags = record.rflags;
        if record.vector < 32 {
            Trap::Exception {
                vector: record.vector,
                error_code: record.error_code,
                cr2: record.cr2,
            }
        } else {
            Trap::Interrupt {
                vector: record.vector,
            }
        }
    })
}

/// First thing in every IDT handler: if the interrupted code ran in ring 3,
/// `swapgs` (so per-CPU data is the kernel's again); with SMAP, `clac`
/// (the interrupted code's AC must not open user pages to the handler; its
/// `iretq` restores AC). Returns whether ring 3 was interrupted.
#[inline(always)]
pub(super) fn on_entry(frame: &InterruptStackFrame) -> bool {
    let from_user = frame.code_segment.rpl() == PrivilegeLevel::Ring3;
    if from_user {
        // SAFETY: the CPU came from ring 3, where GS.BASE is the user's and
        // KERNEL_GS_BASE this CPU's PerCpu block (`run` swapped them on the
        // way out): this swaps them back. Nothing in this handler has read
        // GS yet.
        unsafe { asm!("swapgs", options(nostack, preserves_flags)) };
    }
    if smap_enabled() {
        // SAFETY: SMAP is on, so `clac` exists; it only clears RFLAGS.AC.
        unsafe { asm!("clac", options(nostack, nomem)) };
    }
    from_user
}

/// Last thing in an IDT handler that interrupted ring 3: records how ring 3
/// was left and makes the handler's `iretq` go to `user_trap_exit`, which
/// returns from [`run`] on its stack (module docs).
pub(super) fn leave_to_kernel(
    frame: &mut InterruptStackFrame,
    vector: u8,
    error_code: u64,
    cr2: u64,
) {
    percpu::with_irqs_disabled(|this, irqs| {
        let kernel_rsp = this.user_kernel_rsp();
        assert!(kernel_rsp != 0, "ring 3 interrupted outside user::run");
        this.record_user_trap(
            irqs,
            UserTrapRecord {
                vector,
                error_code,
                cr2,
                rip: frame.instruction_pointer.as_u64(),
                rsp: frame.stack_pointer.as_u64(),
                rflags: frame.cpu_flags.bits(),
            },
        );
        // SAFETY: the frame is this handler's own; its iretq now returns to
        // `user_trap_exit` in ring 0 with interrupts off, on `run`'s stack
        // (which `run` left at `kernel_rsp`, below nothing live). The
        // registers the stub needs (all GPRs the user's) are what the
        // handler's epilogue restores anyway.
        unsafe {
            frame.as_mut().update(|f| {
                f.instruction_pointer = VirtAddr::new(user_trap_exit as *const () as u64);
                f.code_segment = SegmentSelector(KERNEL_CODE_SELECTOR);
                f.cpu_flags = RFlags::empty();
                f.stack_pointer = VirtAddr::new(kernel_rsp);
                f.stack_segment = SegmentSelector(KERNEL_DATA_SELECTOR);
            });
        }
    });
}

/// Checks that `[addr, addr + len)` is user memory: not the null page, not
/// past the user half, no overflow, `len` at most [`MAX_COPY`], and every
/// page mapped for the user (writable if `write`) in the active page table
/// — the lower half is not only the user's (the kernel image and the AP
/// trampoline live there), and SMAP does not stop the kernel from touching
/// a kernel page.
fn check_range(addr: u64, len: usize, write: bool) -> Result<(), UserFault> {
    let fault = UserFault { address: addr };
    if len > MAX_COPY || addr < USER_START {
        return Err(fault);
    }
    match addr.checked_add(len as u64) {
        Some(end) if end <= USER_END => {}
        _ => return Err(fault),
    }
    if len == 0 {
        return Ok(());
    }
    super::paging::check_user_range(addr, len as u64, write)
        .map_err(|address| UserFault { address })
}

/// Copies `len` bytes with user pages opened (SMAP) for the copy only.
///
/// # Safety
/// One of `dst`, `src` is kernel memory valid for `len` bytes; the other is
/// a range [`check_range`] accepted.
unsafe fn copy(dst: u64, src: u64, len: usize) -> Result<(), UserFault> {
    if len == 0 {
        return Ok(());
    }
    let smap = smap_enabled();
    if smap {
        // SAFETY: SMAP is on, so `stac` exists; it opens user pages to the
        // kernel until the `clac` below, and only the copy runs in between.
        unsafe { asm!("stac", options(nostack, nomem)) };
    }
    // SAFETY: the caller's contract; a fault on the user side is recovered
    // through the exception table.
    let result = unsafe { extable::copy_with_fixup(dst, src, len) };
    if smap {
        // SAFETY: as for `stac`.
        unsafe { asm!("clac", options(nostack, nomem)) };
    }
    result.map_err(|fault| UserFault {
        address: if fault.vector == vector::PAGE_FAULT {
            fault.cr2
        } else {
            src.min(dst)
        },
    })
}

/// Copies `dst.len()` bytes from user address `src` into `dst`.
///
/// # Errors
/// [`UserFault`] if the range is not user memory or a page of it is not
/// mapped readable for the user (`dst` may then be partly written).
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), UserFault> {
    check_range(src, dst.len(), false)?;
    // SAFETY: `dst` is kernel memory of `dst.len()` bytes, exclusively
    // borrowed; `src` passed the range check.
    unsafe { copy(dst.as_mut_ptr() as u64, src, dst.len()) }
}

/// Copies `src` to user address `dst`.
///
/// # Errors
/// [`UserFault`] if the range is not user memory or a page of it is not
/// mapped writable for the user (a prefix may have been written if the
/// mapping changed during the copy).
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), UserFault> {
    check_range(dst, src.len(), true)?;
    // SAFETY: `src` is kernel memory of `src.len()` bytes; `dst` passed the
    // range check.
    unsafe { copy(dst, src.as_ptr() as u64, src.len()) }
}

#[path = "user_tests.rs"]
mod tests;

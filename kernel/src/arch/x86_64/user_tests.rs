//! In-kernel tests of ring 3: hand-assembled user code on two user pages
//! mapped into the current page table, in a lower-half PML4 slot the boot
//! tables leave unused ([`paging::user_test_region`]):
//!
//! ```text
//!   region + 0x0000  code   user, read-only, executable
//!   region + 0x1000  data   user, writable, no-execute (also the stack)
//!   region + 0x2000  —      unmapped
//! ```

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use x86_64::VirtAddr;
use x86_64::structures::paging::PageTableFlags;

use super::{
    MAX_COPY, Trap, UserContext, UserFault, copy_from_user, copy_to_user, run, smap_enabled,
    smep_enabled,
};
use crate::arch::x86_64::interrupts::vector;
use crate::arch::x86_64::percpu::{self, IdleCall};
use crate::arch::x86_64::{clock, extable, paging, smp};
use crate::ktest::{TestResult, check, kernel_test};

/// The test pages.
struct Pages {
    code: u64,
    data: u64,
    /// The code page's frame, as the kernel writes it (physical window).
    code_window: u64,
}

const PF_PRESENT: u64 = 1;
const PF_WRITE: u64 = 2;
const PF_USER: u64 = 4;
const PF_FETCH: u64 = 0x10;

fn pages() -> Result<&'static Pages, alloc::string::String> {
    static PAGES: Once<Option<Pages>> = Once::new();
    PAGES
        .call_once(|| {
            let region = paging::user_test_region()?;
            let code = paging::map_user_page(region, PageTableFlags::empty()).ok()?;
            paging::map_user_page(
                region + 0x1000,
                PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE,
            )
            .ok()?;
            log::info!(target: "USER", "test pages at {:#x}", region.as_u64());
            Some(Pages {
                code: region.as_u64(),
                data: region.as_u64() + 0x1000,
                code_window: paging::phys_to_virt(code.start_address()).as_u64(),
            })
        })
        .as_ref()
        .ok_or_else(|| "no unused lower-half PML4 slot, or mapping failed".into())
}

impl Pages {
    /// Writes `code` at the start of the code page; returns its user address.
    fn load(&self, code: &[u8]) -> u64 {
        assert!(code.len() <= 2048);
        // SAFETY: the window maps the code page's frame, which only these
        // tests use (one at a time, on one CPU); no user code runs meanwhile.
        unsafe {
            core::ptr::copy_nonoverlapping(code.as_ptr(), self.code_window as *mut u8, code.len());
        }
        self.code
    }

    /// A context that starts at `rip` with the stack in the data page.
    fn context(&self, rip: u64) -> UserContext {
        UserContext {
            rip,
            rsp: self.data + 0xf00,
            rflags: 0x202,
            ..UserContext::default()
        }
    }
}

/// Register numbers as x86 encodes them.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RSP: u8 = 4;
const R11: u8 = 11;

/// A tiny assembler for the few instructions the tests need.
#[derive(Default)]
struct Code(Vec<u8>);

impl Code {
    /// `mov reg, imm64`
    fn mov_imm(&mut self, reg: u8, imm: u64) {
        self.0.extend([0x48 | (reg >> 3), 0xb8 + (reg & 7)]);
        self.0.extend(imm.to_le_bytes());
    }

    /// `xor rcx, reg`
    fn xor_rcx(&mut self, reg: u8) {
        self.0.extend([
            0x48 | ((reg >> 3) << 2),
            0x31,
            0xc0 | ((reg & 7) << 3) | RCX,
        ]);
    }

    /// `or r11, rcx`
    fn or_r11_rcx(&mut self) {
        self.0.extend([0x49, 0x09, 0xcb]);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

const SYSCALL: [u8; 2] = [0x0f, 0x05];
const UD2: [u8; 2] = [0x0f, 0x0b];

/// The value the register test gives register `reg`.
fn value(reg: u8) -> u64 {
    0x0123_4567_89ab_0000 ^ (u64::from(reg) * 0x1111) ^ (u64::from(reg) << 60)
}

/// Every register but RSP.
const GPRS: [u8; 15] = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

fn reg_of(ctx: &UserContext, reg: u8) -> u64 {
    [
        ctx.rax, ctx.rcx, ctx.rdx, ctx.rbx, ctx.rsp, ctx.rbp, ctx.rsi, ctx.rdi, ctx.r8, ctx.r9,
        ctx.r10, ctx.r11, ctx.r12, ctx.r13, ctx.r14, ctx.r15,
    ][usize::from(reg)]
}

/// Runs `ctx` until ring 3 is left other than by an interrupt (a timer tick
/// may preempt the thread anywhere: running it again resumes it).
fn run_through_interrupts(ctx: &mut UserContext) -> Trap {
    loop {
        match run(ctx) {
            Trap::Interrupt { .. } => {}
            trap => return trap,
        }
    }
}

kernel_test!(
    fn syscall_saves_every_register_and_resumes() {
        let pages = pages()?;
        let mut code = Code::default();
        for reg in GPRS {
            code.mov_imm(reg, value(reg));
        }
        code.bytes(&SYSCALL);
        let after_first = code.len();
        // Second part: r11 |= (expected ^ actual) for rax (the result the
        // kernel put there) and every register the ABI preserves.
        check_registers(&mut code, 0x5555_aaaa_1234_5678, pages.data + 0xf00);
        let after_second = code.len() - UD2.len() as u64;
        let start = pages.load(&code.0);

        let mut ctx = pages.context(start);
        let trap = run_through_interrupts(&mut ctx);
        check!(trap == Trap::Syscall, "first run: {trap:?}");
        for reg in GPRS.into_iter().filter(|&r| r != RCX && r != R11) {
            let got = reg_of(&ctx, reg);
            check!(
                got == value(reg),
                "register {reg}: {got:#x}, expected {:#x}",
                value(reg)
            );
        }
        check!(ctx.rip == start + after_first, "rip {:#x}", ctx.rip);
        check!(ctx.rcx == ctx.rip, "rcx {:#x} is not the rip", ctx.rcx);
        check!(
            ctx.r11 == ctx.rflags && ctx.rflags & 0x200 != 0,
            "r11 {:#x}, rflags {:#x}: expected equal, with IF",
            ctx.r11,
            ctx.rflags
        );
        check!(ctx.rsp == pages.data + 0xf00, "rsp {:#x}", ctx.rsp);

        ctx.rax = 0x5555_aaaa_1234_5678;
        let trap = run_through_interrupts(&mut ctx);
        check!(trap == Trap::Syscall, "second run: {trap:?}");
        check!(ctx.rip == start + after_second, "rip {:#x}", ctx.rip);
        check!(ctx.rax == 2, "the report call is {}, expected 2", ctx.rax);
        check!(
            ctx.rdi == 0,
            "user code saw registers change across the syscall (xor mask {:#x})",
            ctx.rdi
        );
        Ok(())
    }
);

/// Appends: r11 = OR of (value(reg) ^ reg) over every register `run`
/// preserves but rcx and r11 (and `rax_value` for rax), rsp included; then
/// `mov rdi, r11; mov eax, 2; syscall; ud2`.
fn check_registers(code: &mut Code, rax_value: u64, rsp: u64) {
    code.bytes(&[0x45, 0x31, 0xdb]); // xor r11d, r11d
    code.mov_imm(RCX, rax_value);
    code.xor_rcx(RAX);
    code.or_r11_rcx();
    for reg in GPRS
        .into_iter()
        .filter(|&r| r != RAX && r != RCX && r != R11)
    {
        code.mov_imm(RCX, value(reg));
        code.xor_rcx(reg);
        code.or_r11_rcx();
    }
    code.mov_imm(RCX, rsp);
    code.xor_rcx(RSP);
    code.or_r11_rcx();
    code.bytes(&[0x4c, 0x89, 0xdf]); // mov rdi, r11
    code.bytes(&[0xb8, 2, 0, 0, 0]); // mov eax, 2
    code.bytes(&SYSCALL);
    code.bytes(&UD2);
}

kernel_test!(
    fn interrupt_saves_every_register_and_resumes() {
        let pages = pages()?;
        let mut code = Code::default();
        for reg in GPRS {
            code.mov_imm(reg, value(reg));
        }
        let spin = code.len();
        code.bytes(&[0xeb, 0xfe]); // jmp $
        check_registers(&mut code, value(RAX), pages.data + 0xf00);
        let start = pages.load(&code.0);

        let mut ctx = pages.context(start);
        let mut interrupts = 0;
        while ctx.rip != start + spin {
            let trap = run(&mut ctx);
            check!(
                matches!(trap, Trap::Interrupt { .. }),
                "before the loop: {trap:?}"
            );
            interrupts += 1;
            check!(interrupts < 1000, "the loop was never reached");
        }
        for reg in GPRS {
            let got = reg_of(&ctx, reg);
            check!(
                got == value(reg),
                "after an interrupt, register {reg}: {got:#x}, expected {:#x}",
                value(reg)
            );
        }
        check!(ctx.rsp == pages.data + 0xf00, "rsp {:#x}", ctx.rsp);
        check!(
            ctx.rflags & 0x200 != 0,
            "rflags {:#x} without IF",
            ctx.rflags
        );
        ctx.rip += 2;
        let trap = run_through_interrupts(&mut ctx);
        check!(
            trap == Trap::Syscall && ctx.rax == 2,
            "{trap:?}, rax {:#x}",
            ctx.rax
        );
        check!(
            ctx.rdi == 0,
            "user code saw registers change across run (xor mask {:#x})",
            ctx.rdi
        );
        Ok(())
    }
);

/// Runs `code` (at the code page's start) from `ctx`'s other registers and
/// expects exception `want` with an error code that has `error_bits`.
fn expect_exception(
    name: &str,
    mut ctx: UserContext,
    want: u8,
    error_bits: u64,
    rip: u64,
) -> TestResult {
    let trap = run_through_interrupts(&mut ctx);
    let Trap::Exception {
        vector, error_code, ..
    } = trap
    else {
        return Err(format!("{name}: {trap:?}, expected exception {want}"));
    };
    check!(vector == want, "{name}: vector {vector}, expected {want}");
    check!(
        error_code & error_bits == error_bits,
        "{name}: error code {error_code:#x} lacks {error_bits:#x}"
    );
    check!(
        ctx.rip == rip,
        "{name}: rip {:#x}, expected {rip:#x}",
        ctx.rip
    );
    Ok(())
}

kernel_test!(
    fn user_exceptions_come_back_as_traps() {
        let pages = pages()?;
        let code = pages.code;
        pages.load(&UD2);
        expect_exception("ud2", pages.context(code), 6, 0, code)?;

        pages.load(&[0x31, 0xc9, 0x48, 0xf7, 0xf1]); // xor ecx, ecx; div rcx
        expect_exception("div by 0", pages.context(code), 0, 0, code + 2)?;

        pages.load(&[0xcc]); // int3
        expect_exception("int3", pages.context(code), 3, 0, code + 1)?;

        // A kernel address (the heap): present, but not the user's.
        let kernel = Box::new(0u64);
        let kernel_addr = core::ptr::from_ref(&*kernel) as u64;
        pages.load(&[0x48, 0x8b, 0x00]); // mov rax, [rax]
        let mut ctx = pages.context(code);
        ctx.rax = kernel_addr;
        let trap = run_through_interrupts(&mut ctx);
        check!(
            trap == Trap::Exception {
                vector: vector::PAGE_FAULT,
                error_code: PF_PRESENT | PF_USER,
                cr2: kernel_addr,
            },
            "read of kernel {kernel_addr:#x}: {trap:?}"
        );

        // A write to the read-only code page.
        pages.load(&[0x48, 0x89, 0x00]); // mov [rax], rax
        let mut ctx = pages.context(code);
        ctx.rax = code;
        expect_exception(
            "write to code",
            ctx,
            vector::PAGE_FAULT,
            PF_PRESENT | PF_WRITE | PF_USER,
            code,
        )?;

        // Executing the no-execute data page, an unmapped page.
        let nx = pages.context(pages.data);
        let fetch = PF_PRESENT | PF_USER | PF_FETCH;
        expect_exception("fetch from NX", nx, vector::PAGE_FAULT, fetch, pages.data)?;
        let unmapped = pages.data + 0x1000;
        let ctx = pages.context(unmapped);
        expect_exception(
            "fetch unmapped",
            ctx,
            vector::PAGE_FAULT,
            PF_USER | PF_FETCH,
            unmapped,
        )?;

        // IOPL is forced to 0: `cli` in ring 3 is a #GP even if asked for 3.
        pages.load(&[0xfa]); // cli
        let mut ctx = pages.context(code);
        ctx.rflags = 0x3202;
        expect_exception("cli", ctx, 13, 0, code)?;

        // GS in ring 3 is the user's (base 0), not the kernel's per-CPU
        // block: `mov rax, gs:[0]` faults at address 0.
        pages.load(&[0x65, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0]);
        let mut ctx = pages.context(code);
        let trap = run_through_interrupts(&mut ctx);
        check!(
            matches!(
                trap,
                Trap::Exception {
                    vector: 14,
                    cr2: 0,
                    ..
                }
            ),
            "gs:[0] in ring 3: {trap:?}, expected a #PF at 0"
        );

        // A kernel RIP is refused before ring 3: #GP.
        let mut ctx = pages.context(kernel_addr);
        let trap = run(&mut ctx);
        check!(
            matches!(trap, Trap::Exception { vector: 13, .. }),
            "kernel rip: {trap:?}"
        );
        Ok(())
    }
);

kernel_test!(
    fn user_loop_is_preempted_by_the_timer() {
        let pages = pages()?;
        let start = pages.load(&[0xeb, 0xfe]); // jmp $
        let mut ctx = pages.context(start);
        for _ in 0..100 {
            let trap = run(&mut ctx);
            let Trap::Interrupt { vector } = trap else {
                return Err(format!("jmp $: {trap:?}"));
            };
            check!(ctx.rip == start, "rip {:#x} after {trap:?}", ctx.rip);
            if vector == super::TIMER_VECTOR {
                return Ok(());
            }
        }
        Err("100 interrupts, none from the timer".into())
    }
);

kernel_test!(
    fn user_copies_check_ranges_and_recover_faults() {
        let pages = pages()?;
        let mut buf = [0u8; 16];
        let kernel = Box::new([0u8; 16]);
        let unmapped = pages.data + 0x1000;
        for (name, addr, len) in [
            ("null", 0, 16),
            ("kernel heap", core::ptr::from_ref(&*kernel) as u64, 16),
            ("kernel image", core::ptr::from_ref(&GPRS) as u64, 8),
            ("unmapped", unmapped, 16),
            ("straddling", unmapped - 8, 16),
            ("overflowing", u64::MAX - 7, 16),
            ("end of the user half", super::USER_END - 8, 16),
        ] {
            let result = copy_from_user(&mut buf[..len], addr);
            check!(
                result.is_err(),
                "copy_from_user({name} {addr:#x}) succeeded"
            );
            let result = copy_to_user(addr, &buf[..len]);
            check!(result.is_err(), "copy_to_user({name} {addr:#x}) succeeded");
        }
        let result = copy_from_user(&mut buf, unmapped - 8);
        // (The page walk refuses it before the copy starts.)
        check!(
            result == Err(UserFault { address: unmapped }),
            "straddling copy: {result:?}, expected a fault at {unmapped:#x}"
        );
        // The copy itself recovers a fault (a mapping gone after the walk):
        // the exception-table path, straddling into the unmapped page.
        let mut buf = [0u8; 16];
        // SAFETY: `buf` is ours; the source is user memory, then unmapped.
        let raw = unsafe { super::copy(buf.as_mut_ptr() as u64, unmapped - 8, 16) };
        check!(
            raw == Err(UserFault { address: unmapped }),
            "the copy's fault was not recovered as a #PF at {unmapped:#x}: {raw:x?}"
        );
        let mut big = alloc::vec![0u8; MAX_COPY + 1];
        check!(
            copy_from_user(&mut big, pages.data).is_err(),
            "a copy longer than MAX_COPY"
        );
        check!(
            copy_to_user(pages.code, b"x").is_err(),
            "copy_to_user into a read-only page succeeded"
        );

        let message = b"hello, ring 3";
        copy_to_user(pages.data + 100, message)
            .map_err(|fault| format!("good copy_to_user: {fault:?}"))?;
        let mut back = [0u8; 13];
        copy_from_user(&mut back, pages.data + 100)
            .map_err(|fault| format!("good copy_from_user: {fault:?}"))?;
        check!(&back == message, "read back {back:?}");
        // Across a page boundary inside mapped memory: code page → data page.
        let mut two = [0u8; 8];
        copy_from_user(&mut two, pages.data - 4)
            .map_err(|fault| format!("copy across pages: {fault:?}"))?;
        Ok(())
    }
);

kernel_test!(
    fn smap_and_smep_stop_the_kernel() {
        let pages = pages()?;
        if smap_enabled() {
            // SAFETY: a user page of ordinary RAM.
            let read = unsafe { extable::probe_read_u64(VirtAddr::new(pages.data)) };
            let Err(fault) = read else {
                return Err(format!("SMAP: kernel read of a user page gave {read:x?}"));
            };
            check!(
                fault.vector == vector::PAGE_FAULT && fault.error_code & PF_PRESENT != 0,
                "SMAP: {fault:x?}, expected a protection #PF"
            );
        } else {
            log::info!(target: "USER", "SMAP test skipped: the CPU does not offer SMAP");
        }
        if smep_enabled() {
            let target = pages.code + 0x800;
            // SAFETY: the window maps the code page's frame (see `Pages::load`).
            unsafe { ((pages.code_window + 0x800) as *mut u8).write(0xc3) }; // ret
            // SAFETY: the target is a `ret`.
            let result = unsafe { extable::probe_exec(VirtAddr::new(target)) };
            let Err(fault) = result else {
                return Err("SMEP: the kernel executed a user page".into());
            };
            check!(
                fault.vector == vector::PAGE_FAULT && fault.error_code & PF_FETCH != 0,
                "SMEP: {fault:x?}, expected an instruction-fetch #PF"
            );
        } else {
            log::info!(target: "USER", "SMEP test skipped: the CPU does not offer SMEP");
        }
        Ok(())
    }
);

/// What [`user_threads_run_on_every_ap`]'s call on an AP found: 0 not yet,
/// 1 all good, otherwise the step that failed (2..).
static AP_RESULT: AtomicU64 = AtomicU64::new(0);

/// On an AP: a `syscall` round trip, a `ud2`, and a timer preemption of
/// `jmp $` (the AP's own STAR/LSTAR, GDT user segments and RSP0 stack).
fn user_thread_on_this_cpu() {
    let outcome = (|| {
        let pages = pages().map_err(|_| 2u64)?;
        // mov eax, 0x77; syscall; ud2; jmp $
        let start = pages.load(&[0xb8, 0x77, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b, 0xeb, 0xfe]);
        let mut ctx = pages.context(start);
        if run_through_interrupts(&mut ctx) != Trap::Syscall || ctx.rax != 0x77 {
            return Err(3);
        }
        match run_through_interrupts(&mut ctx) {
            Trap::Exception { vector: 6, .. } if ctx.rip == start + 7 => {}
            _ => return Err(4),
        }
        ctx.rip = start + 9;
        for _ in 0..100 {
            if run(&mut ctx)
                == (Trap::Interrupt {
                    vector: super::TIMER_VECTOR,
                })
            {
                return Ok(());
            }
        }
        Err(5)
    })();
    AP_RESULT.store(outcome.map_or_else(|step| step, |()| 1), Ordering::Release);
}

static ON_AP: IdleCall = IdleCall::new(user_thread_on_this_cpu);

kernel_test!(
    fn user_threads_run_on_every_ap() {
        pages()?;
        let me = percpu::this_cpu().index();
        for cpu in smp::online_cpus().filter(|&cpu| cpu != me) {
            AP_RESULT.store(0, Ordering::Release);
            let until = clock::uptime_ns() + 2_000_000_000;
            while let Err(error) = smp::run_on(cpu, &ON_AP) {
                check!(
                    clock::uptime_ns() < until,
                    "run_on(cpu {cpu}) failed: {error:?}"
                );
                core::hint::spin_loop();
            }
            let result = loop {
                let result = AP_RESULT.load(Ordering::Acquire);
                if result != 0 || clock::uptime_ns() > until {
                    break result;
                }
                core::hint::spin_loop();
            };
            check!(
                result == 1,
                "cpu {cpu}: user thread check failed at step {result} (0: no answer)"
            );
        }
        Ok(())
    }
);

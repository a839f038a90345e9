//! The AP start-up trampoline: real mode → protected mode → long mode.
//!
//! An application processor starts, after the start-up IPI, in 16-bit real
//! mode at `CS:IP = (vector << 8):0000`, i.e. physical [`TRAMPOLINE_PHYS`]
//! (0x8000, vector 0x08), with paging off and no stack (Intel SDM Vol. 3A
//! §9.4.4 "MP Initialization Example", §9.8 "Initializing Long Mode").
//! The code below is assembled into the kernel image, copied to 0x8000 by the
//! BSP, and walks the AP up to the kernel's 64-bit entry point:
//!
//! | stage | the AP has…                                           | progress byte |
//! | ----- | ----------------------------------------------------- | ------------- |
//! | 1     | entered real mode at 0x8000, found its CPU index      | 1 |
//! | 2     | loaded the trampoline GDT, set CR0.PE, far-jumped     | 2 |
//! | 3     | set CR4.PAE, loaded CR3, set EFER.LME/NXE, CR0.PG/WP  | 3 |
//! | 4     | far-jumped into 64-bit code, loaded its stack         | 4 |
//! | 5     | reached `ap_entry64` (Rust)                           | 5 |
//! | 6     | finished its per-CPU set-up: online                   | 6 |
//!
//! Memory layout of the trampoline page (offsets from 0x8000):
//!
//! ```text
//! 0x000 ┌────────────────────────────────┐
//!       │ code16 / code32 / code64       │  ≤ 0x300 bytes (checked at run time)
//!       │ GDT (null, code32, data, code64) + GDT pointer
//! 0x300 ├────────────────────────────────┤
//!       │ cr3:          u64 (PML4 < 4 GiB) │  written by the BSP
//! 0x308 │ entry:        u64 (ap_entry64) │  written by the BSP
//! 0x310 │ stack_top0:   u64              │  stack top of CPU index 0 (BSP writes)
//! 0x318 │ stack_stride: u64              │  CPU i's top = stack_top0 + i × stride
//! 0x320 │ progress[MAX_CPUS]: u8         │  by CPU index; written by each AP
//! 0x520 │ apic_id[MAX_CPUS]: u32         │  by CPU index; written by the BSP
//! 0xD20 └────────────────────────────────┘
//! ```
//!
//! **Who am I?** Every AP reads its own APIC id in its first instructions —
//! the 32-bit x2APIC id from CPUID leaf 0Bh when the CPU has that leaf (it
//! is valid in xAPIC mode too), else the 8-bit initial APIC id of leaf 1 —
//! and finds its CPU index by searching the `apic_id` table. Everything per
//! AP is indexed by that CPU index, so APIC ids of any size work (past 255
//! with x2APIC) and all APs can run the trampoline at the same time
//! (parallel bring-up). An AP whose id is not in the table stops (`cli;
//! hlt`) without writing anything. The shared fields are read-only for APs;
//! the GDT's descriptors have their accessed bits preset, so concurrent APs
//! never write to it either.
//!
//! The trampoline page must be identity-mapped in the kernel's page tables:
//! the instruction after the one that sets CR0.PG is fetched at its physical
//! address, now translated through CR3.

use core::arch::global_asm;

use crate::config::MAX_CPUS;

/// Physical (and identity-mapped virtual) address of the trampoline.
pub const TRAMPOLINE_PHYS: u64 = 0x8000;
/// The start-up IPI vector: the trampoline's page number.
pub const SIPI_VECTOR_PAGE: u8 = (TRAMPOLINE_PHYS >> 12) as u8;
/// Room for the code and its GDT.
pub const CODE_LIMIT: usize = 0x300;
/// Offset of the PML4 address.
pub const CR3_OFFSET: u64 = 0x300;
/// Offset of the 64-bit entry point.
pub const ENTRY_OFFSET: u64 = 0x308;
/// Offset of CPU index 0's stack top.
pub const STACK_TOP0_OFFSET: u64 = 0x310;
/// Offset of the distance between two CPU indices' stack tops.
pub const STACK_STRIDE_OFFSET: u64 = 0x318;
/// Offset of the per-CPU-index progress bytes.
pub const PROGRESS_OFFSET: u64 = 0x320;
/// Offset of the per-CPU-index APIC ids (u32).
pub const APIC_IDS_OFFSET: u64 = PROGRESS_OFFSET + MAX_CPUS as u64;
/// An `apic_id` table entry that matches no CPU.
pub const NO_APIC_ID: u32 = u32::MAX;

// The offsets above are repeated as literals in the assembly (0x8300 =
// 0x8000 + CR3_OFFSET, and so on); these checks keep the two in step.
const _: () = assert!(TRAMPOLINE_PHYS + CR3_OFFSET == 0x8300);
const _: () = assert!(TRAMPOLINE_PHYS + ENTRY_OFFSET == 0x8308);
const _: () = assert!(TRAMPOLINE_PHYS + STACK_TOP0_OFFSET == 0x8310);
const _: () = assert!(TRAMPOLINE_PHYS + STACK_STRIDE_OFFSET == 0x8318);
const _: () = assert!(TRAMPOLINE_PHYS + PROGRESS_OFFSET == 0x8320);
const _: () = assert!(TRAMPOLINE_PHYS + APIC_IDS_OFFSET == 0x8520);
const _: () = assert!(MAX_CPUS == 512, "the assembly's table search runs to 512");
const _: () = assert!(APIC_IDS_OFFSET + 4 * MAX_CPUS as u64 <= 0x1000);

global_asm!(
    r#"
    .pushsection .rodata.ap_trampoline, "a"
    .balign 4096
    .global ap_trampoline_start
    .global ap_trampoline_end

    .code16
ap_trampoline_start:
    cli
    cld
    xorw    %ax, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    /* Stage 1: who am I? The x2APIC id (CPUID leaf 0Bh, EDX) if the CPU
       has that leaf (max basic leaf >= 0Bh and EBX[15:0] != 0 for sub-leaf
       0, the SDM's test), else the initial APIC id (CPUID.1:EBX[31:24]). */
    xorl    %eax, %eax
    cpuid
    cmpl    $0x0B, %eax
    jb      1f
    movl    $0x0B, %eax
    xorl    %ecx, %ecx
    cpuid
    testw   %bx, %bx
    jnz     2f
1:
    movl    $1, %eax
    cpuid
    shrl    $24, %ebx
    movl    %ebx, %edx
2:
    /* Find it in the apic_id table: its position is this AP's CPU index,
       which %esi keeps for the rest of the trip. */
    xorl    %esi, %esi
3:
    cmpl    %edx, 0x8520(, %esi, 4)
    je      5f
    incl    %esi
    cmpl    $512, %esi
    jb      3b
    /* Not in the table: the BSP did not start this CPU. Stop. */
4:
    cli
    hlt
    jmp     4b
5:
    movb    $1, 0x8320(%esi)
    /* Stage 2: protected mode. */
    lgdtl   (ap_gdt_pointer - ap_trampoline_start + 0x8000)
    movl    %cr0, %eax
    orl     $1, %eax                    /* CR0.PE */
    movl    %eax, %cr0
    ljmpl   $0x08, $(ap_protected - ap_trampoline_start + 0x8000)

    .code32
ap_protected:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movb    $2, 0x8320(%esi)
    /* Stage 3: enable long mode: PAE, the kernel's PML4, EFER.LME (+NXE:
       the kernel's page tables use the no-execute bit), then paging. */
    movl    %cr4, %eax
    orl     $(1 << 5), %eax             /* CR4.PAE */
    movl    %eax, %cr4
    movl    0x8300, %eax
    movl    %eax, %cr3
    movl    $0xC0000080, %ecx           /* IA32_EFER */
    rdmsr
    orl     $((1 << 8) | (1 << 11)), %eax   /* LME | NXE */
    wrmsr
    movl    %cr0, %eax
    orl     $((1 << 31) | (1 << 16)), %eax  /* PG | WP */
    movl    %eax, %cr0
    movb    $3, 0x8320(%esi)
    ljmpl   $0x18, $(ap_long - ap_trampoline_start + 0x8000)

    .code64
ap_long:
    /* The upper halves of the registers are undefined after the switch. */
    movl    %esi, %esi
    movb    $4, 0x8320(%rsi)
    movq    0x8318, %rax                /* stack top = top0 + index × stride */
    imulq   %rsi, %rax
    addq    0x8310, %rax
    movq    %rax, %rsp
    movq    %rsi, %rdi                  /* ap_entry64(cpu_index) */
    movq    0x8308, %rax
    xorl    %ebp, %ebp
    pushq   $0                          /* as if called: RSP+8 is 16-aligned */
    jmpq    *%rax

    .balign 8
ap_gdt:
    .quad   0
    .quad   0x00CF9B000000FFFF          /* 0x08: 32-bit code, 4 GiB, accessed */
    .quad   0x00CF93000000FFFF          /* 0x10: data, 4 GiB, accessed */
    .quad   0x00AF9B000000FFFF          /* 0x18: 64-bit code (L=1), accessed */
ap_gdt_end:
ap_gdt_pointer:
    .word   ap_gdt_end - ap_gdt - 1
    .long   ap_gdt - ap_trampoline_start + 0x8000
ap_trampoline_end:
    .popsection
"#,
    options(att_syntax)
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
}

/// The trampoline's machine code, as assembled into the kernel image.
pub fn code() -> &'static [u8] {
    let start = &raw const ap_trampoline_start;
    let end = &raw const ap_trampoline_end;
    // SAFETY: both symbols delimit the assembled trampoline in the kernel's
    // read-only data; `end` follows `start` in the same section.
    unsafe { core::slice::from_raw_parts(start, end.offset_from(start) as usize) }
}

//! The Global Descriptor Table and the Task State Segment.
//!
//! In long mode segmentation is mostly gone, but the CPU still needs a GDT
//! with a 64-bit code segment, and a TSS for one feature that matters: the
//! **Interrupt Stack Table** (Intel SDM Vol. 3A §6.14.5). An IDT entry that
//! names an IST slot makes the CPU switch to that stack before pushing the
//! exception frame, whatever the current stack is. That is the only way to
//! report a kernel stack overflow: the overflow's page fault cannot push its
//! frame onto the overflowing stack, the CPU escalates to a double fault, and
//! the double fault runs on its own IST stack.
//!
//! The GDT also holds the user segments, in the order `syscall`/`sysret`
//! need (SDM Vol. 3A §5.8.8; the `STAR` MSR, [`super::user`]): kernel code
//! (0x08) and kernel data = code + 8 (0x10), then user data (0x18, RPL 3:
//! 0x1b) and user code = data + 8 (0x20, RPL 3: 0x23), then the TSS. The
//! TSS's `RSP0` is the top of a per-CPU stack the CPU switches to when an
//! interrupt or exception arrives in ring 3.
//!
//! Invariants:
//! - each CPU loads its own GDT and TSS (a busy TSS cannot be loaded twice);
//! - the tables are `'static`: the CPU keeps pointers to them forever;
//! - IST stacks are used only by the exceptions that name them, and those
//!   handlers never return into a context that could re-enter them
//!   (#DF and #MC are fatal; NMI is fatal for now).

use alloc::boxed::Box;
use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, Ordering};

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

use crate::config::MAX_CPUS;

/// IST slot (0-based, as the `x86_64` crate counts) used by #DF.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 0;
/// IST slot used by NMI: an NMI can arrive at any instruction, even one that
/// has just switched stacks.
pub const NMI_IST_INDEX: u16 = 1;
/// IST slot used by #MC.
pub const MACHINE_CHECK_IST_INDEX: u16 = 2;

/// Size of each IST stack.
const IST_STACK_SIZE: usize = 16 * 1024;

/// Size of each CPU's ring-0 stack for interrupts and exceptions taken in
/// ring 3 (TSS.RSP0): the timer tick runs the scheduler's tick handler on it.
const RSP0_STACK_SIZE: usize = 32 * 1024;

/// Kernel code selector: `STAR[47:32]`, what `syscall` loads into CS.
pub const KERNEL_CODE_SELECTOR: u16 = 0x08;
/// Kernel data selector: `syscall` loads CS + 8 into SS.
pub const KERNEL_DATA_SELECTOR: u16 = 0x10;
/// User data selector with RPL 3: `sysret` loads `STAR[63:48]` + 8 into SS.
pub const USER_DATA_SELECTOR: u16 = 0x18 | 3;
/// User (64-bit) code selector with RPL 3: `sysret` loads `STAR[63:48]` + 16.
pub const USER_CODE_SELECTOR: u16 = 0x20 | 3;

/// A stack the CPU switches to through the IST. Interior mutability, because
/// the CPU writes it behind the compiler's back; this also keeps it in `.bss`
/// rather than in read-only data.
/// The same holds for the RSP0 stack.
#[repr(C, align(16))]
struct IstStack<const SIZE: usize = IST_STACK_SIZE>(UnsafeCell<[u8; SIZE]>);

// SAFETY: Rust code never reads or writes the stack's contents; only the CPU
// uses it, as the stack of the one exception vector that names its IST slot
// (or, for RSP0, of the interrupts taken in ring 3 on its one CPU).
unsafe impl<const SIZE: usize> Sync for IstStack<SIZE> {}

impl<const SIZE: usize> IstStack<SIZE> {
    const fn new() -> Self {
        Self(UnsafeCell::new([0; SIZE]))
    }

    /// The initial stack pointer: stacks grow down, so the end of the array.
    fn top(&self) -> VirtAddr {
        VirtAddr::from_ptr(self.0.get()) + SIZE as u64
    }
}

/// The boot CPU's IST stacks, in slot order. Application processors get
/// theirs from the heap, allocated by the BSP before it starts them.
static BOOT_CPU_IST_STACKS: [IstStack; 3] = [IstStack::new(), IstStack::new(), IstStack::new()];

/// The boot CPU's RSP0 stack (APs: from the heap, like their IST stacks).
static BOOT_CPU_RSP0_STACK: IstStack<RSP0_STACK_SIZE> = IstStack::new();

/// The segment selectors of one CPU's GDT.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    /// 64-bit kernel code segment.
    pub code: SegmentSelector,
    /// Kernel data segment (loaded into SS, DS, ES).
    pub data: SegmentSelector,
    /// This CPU's TSS.
    pub tss: SegmentSelector,
}

/// The user segment selectors (RPL 3), the same in every CPU's GDT.
#[derive(Clone, Copy, Debug)]
pub struct UserSelectors {
    /// 64-bit user code segment.
    pub code: SegmentSelector,
    /// User data segment (SS in ring 3).
    pub data: SegmentSelector,
}

/// The user segment selectors.
pub const USER_SELECTORS: UserSelectors = UserSelectors {
    code: SegmentSelector(USER_CODE_SELECTOR),
    data: SegmentSelector(USER_DATA_SELECTOR),
};

static BOOT_CPU_TSS: Once<TaskStateSegment> = Once::new();
static BOOT_CPU_GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Builds a TSS whose IST slots point at the stack tops `tops` (slot order)
/// and whose RSP0 is `rsp0`.
fn tss_with_ist(tops: [VirtAddr; 3], rsp0: VirtAddr) -> TaskStateSegment {
    let mut tss = TaskStateSegment::new();
    tss.privilege_stack_table[0] = rsp0;
    for (slot, top) in [
        DOUBLE_FAULT_IST_INDEX,
        NMI_IST_INDEX,
        MACHINE_CHECK_IST_INDEX,
    ]
    .into_iter()
    .zip(tops)
    {
        tss.interrupt_stack_table[usize::from(slot)] = top;
    }
    tss
}

/// Allocates one IST stack for an AP and returns its top. The memory is
/// leaked (the CPU uses it forever) and deliberately not zeroed: only the
/// CPU writes it, before reading, and zeroing 48 KiB per AP under QEMU TCG
/// cost ~13 ms each — most of the BSP's preparation at 64 CPUs. No Rust
/// reference to it is ever made.
fn alloc_ist_stack(size: usize) -> VirtAddr {
    let layout = Layout::from_size_align(size, 16).expect("IST stack layout");
    // SAFETY: the layout has a non-zero size.
    let bottom = unsafe { alloc::alloc::alloc(layout) };
    if bottom.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    VirtAddr::from_ptr(bottom) + size as u64
}

/// Builds a GDT: null, kernel code, kernel data, user data, user code, TSS
/// (the order `STAR` needs; module docs).
fn gdt_with_tss(tss: &'static TaskStateSegment) -> (GlobalDescriptorTable, Selectors) {
    let mut gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    let tss = gdt.append(Descriptor::tss_segment(tss));
    assert!(
        code.0 == KERNEL_CODE_SELECTOR
            && data.0 == KERNEL_DATA_SELECTOR
            && user_data.0 == USER_DATA_SELECTOR
            && user_code.0 == USER_CODE_SELECTOR,
        "GDT layout differs from the selectors STAR and the user entry assume"
    );
    (gdt, Selectors { code, data, tss })
}

/// Loads `gdt`, reloads every segment register from it and loads the TSS.
fn load(gdt: &'static GlobalDescriptorTable, selectors: Selectors) {
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded: `code` is a present
    // 64-bit code segment, `data` a present writable data segment and `tss` an
    // available TSS descriptor that no other CPU has loaded (each CPU has its
    // own TSS). Reloading CS/SS this way cannot change the current stack or
    // instruction pointer.
    unsafe {
        CS::set_reg(selectors.code);
        SS::set_reg(selectors.data);
        DS::set_reg(selectors.data);
        ES::set_reg(selectors.data);
        load_tss(selectors.tss);
    }
}

/// Installs the boot CPU's GDT and TSS. Called once, first thing in boot.
pub fn init_boot_cpu() {
    let tss = BOOT_CPU_TSS.call_once(|| {
        tss_with_ist(
            BOOT_CPU_IST_STACKS.each_ref().map(IstStack::top),
            BOOT_CPU_RSP0_STACK.top(),
        )
    });
    let (gdt, selectors) = BOOT_CPU_GDT.call_once(|| gdt_with_tss(tss));
    load(gdt, *selectors);
}

/// The tables of one application processor, built by the BSP before the AP
/// starts: the AP itself allocates nothing, so APs coming up together never
/// contend for the heap lock (under an emulator with fewer host cores than
/// virtual CPUs, a descheduled lock holder stalled every other AP for tens of
/// milliseconds).
struct ApTables {
    gdt: GlobalDescriptorTable,
    selectors: Selectors,
}

/// Each AP's tables by CPU index, published by [`prepare_application_processor`].
static AP_TABLES: [AtomicPtr<ApTables>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

/// Builds the GDT, TSS, IST and RSP0 stacks of the AP with CPU index `index`, on
/// the calling CPU (the BSP, before the AP's start-up IPI). All are leaked:
/// the AP will use them forever.
///
/// # Panics
/// If `index` is not below `MAX_CPUS`.
pub fn prepare_application_processor(index: u32) {
    let tops = [
        alloc_ist_stack(IST_STACK_SIZE),
        alloc_ist_stack(IST_STACK_SIZE),
        alloc_ist_stack(IST_STACK_SIZE),
    ];
    let rsp0 = alloc_ist_stack(RSP0_STACK_SIZE);
    let tss: &'static TaskStateSegment = Box::leak(Box::new(tss_with_ist(tops, rsp0)));
    let (gdt, selectors) = gdt_with_tss(tss);
    let tables = Box::into_raw(Box::new(ApTables { gdt, selectors }));
    let previous = AP_TABLES[index as usize].swap(tables, Ordering::AcqRel);
    assert!(
        previous.is_null(),
        "AP tables of cpu {index} prepared twice"
    );
}

/// Installs the GDT and TSS that [`prepare_application_processor`] built for
/// the calling AP (CPU index `index`).
///
/// # Panics
/// If none were prepared for `index`.
pub fn init_application_processor(index: u32) {
    let tables = AP_TABLES[index as usize].load(Ordering::Acquire);
    assert!(!tables.is_null(), "no GDT prepared for cpu {index}");
    // SAFETY: the pointer came from `Box::into_raw` in
    // `prepare_application_processor` and is never freed: the tables live for
    // the rest of the kernel's life. Only this CPU loads them (one index per CPU).
    let tables: &'static ApTables = unsafe { &*tables };
    load(&tables.gdt, tables.selectors);
}

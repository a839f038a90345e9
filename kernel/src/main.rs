//! The kernel binary: boot path from the bootloader's entry to the idle loop.
//!
//! ```text
//! bootloader ──► kernel_main(&BootInfo)
//!   1. time zero (TSC), GDT + TSS (IST stacks), IDT        no output possible yet
//!   2. COM1 console, kernel arguments (ramdisk), logger   ──► [BOOT] first line
//!   3. page tables → frame allocator → heap               ──► [MEM]
//!   4. TSC calibrated against the PIT, CPUID cross-check   ──► [TIME]
//!   5. MADT → legacy PICs masked → BSP Local APIC          ──► [SMP] CPUs detected, BSP online
//!      → I/O APICs mapped, all masked → COM1 RX on IRQ 4  ──► [IOAPIC] …, [SERIAL] COM1 receive on
//!   6. interrupts on; APs started (INIT-SIPI-SIPI)        ──► [SMP] AP#N online
//!   7. LAPIC timer measured on the BSP; every CPU ticking ──► [APIC] coreN timer @XHz
//!   8. test=…  → in-kernel tests, verdict, exit
//!      otherwise the per-core executors run the workload ──► [SCHED][coreN] run X
//!      (duration=… → [STATS], exit)
//! ```
//!
//! Per-CPU data (GS.BASE) is set in step 1, so every later step, and every
//! exception report, knows which CPU it runs on.
#![no_std]
#![no_main]
#![feature(abi_x86_interrupt, used_with_arg)]

extern crate alloc;

mod arch;
mod ktest;
mod logger;
mod memory;
mod process;
mod sched;
mod services;
mod stats;
mod time;
mod verdict;
mod workloads;

use core::fmt;
use core::panic::PanicInfo;

use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::{BootInfo, entry_point};
use kernel::cmdline::{self, KernelArgs, SmpBoot};
use kernel::config;
use kernel::{tsc_cpuid, tsc_windows};
use protocol::boot::ArgWarning;
use protocol::fatal::Panic;
use protocol::time::Tsc;
use x86_64::VirtAddr;

use crate::arch::{
    acpi, apic, console, gdt, interrupts, ioapic, lock_hooks, paging, percpu, report, serial_rx,
    smp, tsc, user,
};

/// What the kernel asks of the bootloader.
const BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    // All physical memory mapped at an offset the bootloader picks.
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.kernel_stack_size = 256 * 1024;
    // Keep the bootloader's dynamic mappings (it takes the lowest free PML4
    // slots) out of the user window (`kernel::user_layout`): it marks every
    // slot from the window's first on as used.
    config.mappings.dynamic_range_end = Some(kernel::user_layout::USER_WINDOW_START - 1);
    config
};

entry_point!(kernel_main, config = &BOOTLOADER_CONFIG);

fn kernel_main(boot_info: &'static mut BootInfo) -> ! {
    time::mark_boot();
    // main wires the layers (ADR 0004): an unexpected exception ends the run
    // through the verdict.
    arch::set_fatal_hook(verdict::fail);
    gdt::init_boot_cpu();
    interrupts::load();
    smp::init_boot_cpu_percpu();
    lock_hooks::install();
    // Without a console nothing can be reported; the run then ends by its
    // duration or the host's timeout, and the missing [BOOT] line says why.
    let console_ok = console::init().is_ok();
    let boot_info: &'static BootInfo = boot_info;

    let cmdline_text = kernel_command_line(boot_info);
    let args = cmdline::parse(cmdline_text.unwrap_or(""), |_| {});
    logger::init(args.log);
    user::init_boot_cpu();
    let regions: &'static [_] = &boot_info.memory_regions;
    report::line(&protocol::boot::Boot {
        version: config::VERSION,
        mode: memory::boot_mode(regions),
        usable_memory_mib: memory::usable_bytes(regions) >> 20,
    });
    if !console_ok {
        log::warn!(target: "BOOT", "COM1 did not initialise cleanly");
    }
    match cmdline_text {
        Some(text) => log::info!(target: "BOOT", "kernel args: \"{}\"", text.trim()),
        None => log::warn!(target: "BOOT", "kernel args are not UTF-8: ignored"),
    }
    // Printed whatever the log level: `log=` itself may be the bad word.
    cmdline::parse(cmdline_text.unwrap_or(""), |issue| {
        report::line(&ArgWarning(issue));
    });

    init_memory(boot_info);
    init_time();

    let madt = acpi::init(boot_info.rsdp_addr.into_option());
    apic::init_boot_cpu(madt);
    ioapic::init(madt);
    serial_rx::init();
    smp::boot_cpu_online();
    x86_64::instructions::interrupts::enable();
    let order = match args.smp_boot {
        SmpBoot::Serial => smp::BootOrder::Serial,
        SmpBoot::Parallel => smp::BootOrder::Parallel,
    };
    smp::init_smp(
        madt,
        smp::Options {
            order,
            fake_ap: args.smp_fake_ap,
            late_ap: args.smp_late_ap,
        },
    );
    smp::start_ticks();

    run(&args)
}

/// The kernel command line: the bootloader ramdisk as text (empty if none).
/// `None` if it is not UTF-8.
fn kernel_command_line(boot_info: &'static BootInfo) -> Option<&'static str> {
    let Some(addr) = boot_info.ramdisk_addr.into_option() else {
        return Some("");
    };
    let len = boot_info.ramdisk_len as usize;
    // SAFETY: the bootloader mapped the ramdisk at `addr` for `ramdisk_len`
    // bytes, in memory it marks as used by the bootloader, which the kernel
    // never reuses or writes, so the slice is valid and immutable forever.
    let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, len) };
    core::str::from_utf8(bytes).ok()
}

fn init_memory(boot_info: &'static BootInfo) {
    let Some(offset) = boot_info.physical_memory_offset.into_option() else {
        panic!("the bootloader did not map physical memory (BOOTLOADER_CONFIG asks it to)");
    };
    // SAFETY: the bootloader mapped all physical memory at `offset` because
    // BOOTLOADER_CONFIG asks for it; this is the only call.
    unsafe { paging::init(VirtAddr::new(offset)) };
    memory::init_frames(&boot_info.memory_regions);
    match memory::heap::init() {
        Ok((base, size)) => log::info!(
            target: "MEM",
            "heap {} MiB at {:#x}, {} frames in use",
            size >> 20,
            base.as_u64(),
            memory::frame::in_use()
        ),
        Err(error) => panic!("kernel heap setup failed: {error}"),
    }
}

fn init_time() {
    let c = match time::init() {
        Ok(c) => c,
        Err(error) => panic!("TSC calibration against the PIT failed: {error:?}"),
    };
    let raw = tsc::cpuid_leaves();
    log::debug!(target: "TIME", "TSC CPUID leaves: {raw:x?}");
    let check = tsc_cpuid::CrossCheck {
        measured_hz: c.hz,
        cpuid: tsc_cpuid::decode(&raw),
    };
    let leaves = check.leaves();
    report::line(&Tsc::<&dyn fmt::Display> {
        mhz: &tsc_cpuid::Mhz(c.hz),
        error: &tsc_cpuid::UnsignedPercent(c.error_ppm),
        windows: c.windows as u32,
        cpuid: leaves.as_dyn(),
    });
    if c.error_ppm > tsc_windows::BOUND_PPM {
        log::warn!(
            target: "TIME",
            "TSC calibration misses its ±{} ppm bound (all {} PIT windows were disturbed: a busy host?)",
            tsc_windows::BOUND_PPM,
            c.windows
        );
    }
    for disagreement in check.disagreements() {
        log::warn!(target: "TIME", "{disagreement}");
    }
}

/// What the kernel does once it is up: the tests, or the idle loop.
fn run(args: &KernelArgs<'_>) -> ! {
    if let Some(filter) = args.test {
        ktest::run(filter);
    }
    log::info!(target: "BOOT", "boot complete in {} ms", time::uptime_ms());
    // The workloads sit above `sched` (ADR 0004): main hands them over.
    sched::start(args, spawn_services_and_workload)
}

/// What `sched::start` runs once the executor exists: the kernel services,
/// then the workload that may use them.
fn spawn_services_and_workload(
    executor: &'static executor::Executor<sched::KernelPlatform>,
    args: &KernelArgs<'_>,
) {
    services::start(executor);
    process::init(executor);
    workloads::spawn(executor, args);
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let context = percpu::report_context();
    let message = info.message();
    match info.location() {
        Some(at) => report::emergency(&Panic::<&dyn fmt::Display> {
            context,
            message: &message,
            location: &format_args!("{}:{}", at.file(), at.line()),
        }),
        None => report::emergency(&Panic::<&dyn fmt::Display> {
            context,
            message: &message,
            location: &"<unknown>",
        }),
    }
    verdict::fail()
}

//! Reads address 0. The kernel must end the program with a page fault; if
//! the read returns, the program exits with 1 so the host sees the failure.
#![no_std]
#![no_main]

rt::entry!(main);

fn main() -> i32 {
    rt::print("fault: reading address 0\n");
    let value: u64;
    // SAFETY: the read targets the unmapped page at 0 and faults; from the
    // program's point of view it touches no memory Rust knows about.
    unsafe {
        core::arch::asm!(
            "mov {value}, qword ptr [{zero}]",
            value = out(reg) value,
            zero = in(reg) 0u64,
            options(nostack, readonly),
        );
    }
    rt::print("fault: the read returned\n");
    core::hint::black_box(value);
    1
}

//! The hardware-free half of the kernel.
//!
//! The kernel is one package with two targets. This library holds logic that
//! needs no machine — the kernel command-line parser, the ELF loader's
//! parser (`elf`), the user address layout (`user_layout`), ... — so that it runs
//! under plain `cargo test` on the host. The binary (`main.rs`) holds everything
//! that touches hardware and links this library like any other crate.
//!
//! Rule: nothing in this library may use `asm!`, port I/O, MSRs or raw physical
//! memory. If it needs the machine, it belongs to the binary. (`unsafe` is
//! allowed only where a lock hands out `&mut T` from `&self`.)
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod bringup;
pub mod byte_ring;
pub mod cmdline;
pub mod config;
pub mod cpu_books;
pub mod elf;
pub mod heap_size;
pub mod madt;
pub mod monitor;
pub mod sync;
pub mod syscall;
pub mod tick;
pub mod tsc_cpuid;
pub mod tsc_windows;
pub mod user_layout;

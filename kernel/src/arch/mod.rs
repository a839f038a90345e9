//! Architecture support. Only `cfg` and re-exports live here: everything that
//! touches registers, ports, MSRs or page tables is under `x86_64/`, and the
//! rest of the kernel reaches the machine only through what it exports.

pub mod x86_64;

pub use x86_64::hooks::{set_fatal_hook, set_tick_handler};

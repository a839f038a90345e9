//! Printing the lines the host checks: `arch`'s printer
//! ([`crate::arch::x86_64::report`]), re-exported for the layers above.

pub use crate::arch::x86_64::report::{emergency, last, line};

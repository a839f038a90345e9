//! Printing the lines the host checks: `arch`'s printer
//! ([`crate::arch::report`]), re-exported for the layers above.

pub use crate::arch::report::{emergency, last, line};

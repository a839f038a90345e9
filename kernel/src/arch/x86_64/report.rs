//! Printing the lines the host checks.
//!
//! It lives in `arch`, next to the console it writes to, because the
//! hardware layer prints checked lines too (AP arrivals, the Local APIC
//! mode, exception reports) and may not call up (ADR 0004); the layers above
//! reach it through the `arch` facade (`arch::report`).
//!
//! Every line `cargo xtask` reads is a [`protocol`] type, and this module is
//! how the kernel prints one: whatever the log level (`log=` filters only
//! free-text lines) and with one console write per line or block, so no
//! other line can come between the lines of a block. `protocol::Report` is
//! sealed: only the protocol's types get printed here, so the kernel cannot
//! print a checked line in a form the host does not parse.

use protocol::Report;

use super::console;

/// Prints a checked line (or block) and a newline.
pub fn line(line: &impl Report) {
    console::write(format_args!("{line}\n"));
}

/// Prints a checked line on a fatal path (panic, exception), breaking the
/// console lock if its holder does not let go.
pub fn emergency(line: &impl Report) {
    console::emergency(format_args!("{line}\n"));
}

/// Prints the run's last line (the verdict) like [`emergency`], and keeps
/// the console, so that it stays the last line.
pub fn last(line: &impl Report) {
    console::last(format_args!("{line}\n"));
}

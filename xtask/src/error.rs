//! The error type of `cargo xtask`: a message for the user, nothing more.
//!
//! Every failure that stops a command (a missing tool, a failed build, an unwritable
//! file) becomes an [`Error`] whose text says what went wrong and, where possible, what
//! to do about it. `main` prints it as `[xtask] error: <message>` and exits with 1.

use std::fmt;

/// A fatal error with a message for the user.
#[derive(Debug)]
pub struct Error(String);

/// The result type of fallible xtask operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds what was being done to a lower-level error (usually an `io::Error`).
pub trait Context<T> {
    /// Wraps the error as `<what>: <error>`.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| Error(format!("{}: {error}", what())))
    }
}

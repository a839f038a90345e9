//! The form of the kernel's log lines: `[TARGET] LEVEL message`.
//!
//! Log lines are free text for people; the host checks none of them except
//! the few warnings that are also [`Report`](crate::Report)s
//! ([`ArgWarning`](crate::boot::ArgWarning), [`ApFailed`](crate::smp::ApFailed)),
//! which use this form so that every warning looks alike.

use core::fmt;

/// The level of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `[T] ERROR …`
    Error,
    /// `[T] WARN …`
    Warn,
    /// `[T] …`: the normal progress lines carry no level word.
    Info,
    /// `[T] …`: opt-in detail (`log=debug`) reads like progress.
    Debug,
    /// `[T] TRACE …`
    Trace,
}

impl Level {
    /// The level word with its trailing space, or nothing.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Error => "ERROR ",
            Self::Warn => "WARN ",
            Self::Info | Self::Debug => "",
            Self::Trace => "TRACE ",
        }
    }
}

/// One log line: `[{target}] {level word}{message}`.
#[derive(Clone, Copy, Debug)]
pub struct Log<'a, M> {
    /// The subsystem, without brackets: `SMP`.
    pub target: &'a str,
    /// The level.
    pub level: Level,
    /// The text.
    pub message: M,
}

impl<M: fmt::Display> fmt::Display for Log<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}{}",
            self.target,
            self.level.prefix(),
            self.message
        )
    }
}

/// The message of a warning line of `tag` (`[SMP]`): the text after
/// `[SMP] WARN `.
pub fn warning<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    crate::text::tagged(line, tag)?.strip_prefix(Level::Warn.prefix())
}

/// Writes the warning `[{tag}] WARN {message}`; `tag` with its brackets.
pub(crate) fn write_warning(
    f: &mut fmt::Formatter<'_>,
    tag: &str,
    message: fmt::Arguments<'_>,
) -> fmt::Result {
    write!(f, "{tag} {}{message}", Level::Warn.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_warnings() {
        let line = |level| {
            Log {
                target: "SMP",
                level,
                message: "x",
            }
            .to_string()
        };
        assert_eq!(line(Level::Warn), "[SMP] WARN x");
        assert_eq!(line(Level::Error), "[SMP] ERROR x");
        assert_eq!(line(Level::Info), "[SMP] x");
        assert_eq!(line(Level::Debug), "[SMP] x");
        assert_eq!(line(Level::Trace), "[SMP] TRACE x");
        assert_eq!(warning(&line(Level::Warn), crate::tag::SMP), Some("x"));
        assert_eq!(warning(&line(Level::Info), crate::tag::SMP), None);
    }
}

//! `[BOOT]`: the kernel's first line and the argument warnings.

use core::fmt;

use crate::args::ArgIssue;
use crate::tag::BOOT;
use crate::text::{Fields, ParseError, decimal, tagged};

/// How the machine booted, as the kernel tells from the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootMode {
    /// Legacy BIOS.
    Bios,
    /// UEFI.
    Uefi,
    /// The memory map names neither.
    Unknown,
}

impl BootMode {
    /// The value of `mode=`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::Uefi => "uefi",
            Self::Unknown => "unknown",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Bios, Self::Uefi, Self::Unknown]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

impl fmt::Display for BootMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first kernel line: `[BOOT] kernel v0.1.0 mode=bios usable_memory=510MiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boot<'a> {
    /// The kernel's version.
    pub version: &'a str,
    /// BIOS or UEFI.
    pub mode: BootMode,
    /// Usable RAM in MiB.
    pub usable_memory_mib: u64,
}

const BOOT_FORM: &str = "[BOOT] kernel vV mode=M usable_memory=NMiB";

impl<'a> Boot<'a> {
    /// Parses the line: `None` for any line but `[BOOT] kernel v…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, BOOT)?.strip_prefix("kernel v")?;
        Some((|| {
            let (version, rest) = rest.split_once(' ').ok_or(ParseError::Form(BOOT_FORM))?;
            let fields = Fields::new(rest);
            let mode = BootMode::parse(fields.str("mode")?).ok_or(ParseError::BadValue("mode"))?;
            let usable_memory_mib = fields
                .str("usable_memory")?
                .strip_suffix("MiB")
                .and_then(decimal)
                .ok_or(ParseError::BadValue("usable_memory"))?;
            Ok(Self {
                version,
                mode,
                usable_memory_mib,
            })
        })())
    }
}

impl fmt::Display for Boot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{BOOT} kernel v{} mode={} usable_memory={}MiB",
            self.version, self.mode, self.usable_memory_mib
        )
    }
}

/// A kernel argument the kernel could not use:
/// `[BOOT] WARN unknown kernel argument 'bogus=1' (valid keys: …)`.
/// Printed whatever the log level: `log=` itself may be the bad word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgWarning<'a>(pub ArgIssue<'a>);

impl ArgWarning<'_> {
    /// The text of a `[BOOT] WARN` line, to compare with an expected
    /// [`ArgIssue`]'s `Display`; `None` for any other line.
    pub fn parse(line: &str) -> Option<&str> {
        crate::log::warning(line, BOOT)
    }
}

impl fmt::Display for ArgWarning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::log::write_warning(f, BOOT, format_args!("{}", self.0))
    }
}

crate::report!(['a] Boot<'a>, ['a] ArgWarning<'a>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_line_round_trips() {
        for mode in [BootMode::Bios, BootMode::Uefi, BootMode::Unknown] {
            let boot = Boot {
                version: "0.1.0",
                mode,
                usable_memory_mib: 510,
            };
            let line = boot.to_string();
            assert_eq!(Boot::parse(&line), Some(Ok(boot)));
        }
        assert_eq!(
            Boot {
                version: "0.1.0",
                mode: BootMode::Uefi,
                usable_memory_mib: 510
            }
            .to_string(),
            "[BOOT] kernel v0.1.0 mode=uefi usable_memory=510MiB"
        );
    }

    #[test]
    fn other_boot_lines_are_not_the_boot_line() {
        assert_eq!(Boot::parse("[BOOT] kernel args: \"duration=2\""), None);
        assert_eq!(Boot::parse("[BOOT] WARN x"), None);
        assert_eq!(
            Boot::parse("[BOOT] kernel v0.1.0 mode=dos usable_memory=1MiB"),
            Some(Err(ParseError::BadValue("mode")))
        );
        assert_eq!(
            Boot::parse("[BOOT] kernel v0.1.0 mode=bios"),
            Some(Err(ParseError::Missing("usable_memory")))
        );
        assert_eq!(
            Boot::parse("[BOOT] kernel v0.1.0 mode=bios usable_memory=1GiB"),
            Some(Err(ParseError::BadValue("usable_memory")))
        );
    }

    #[test]
    fn arg_warning_round_trips() {
        let issue = ArgIssue::BadValue {
            word: "log=loud",
            expected: "a level",
        };
        let line = ArgWarning(issue).to_string();
        assert_eq!(
            line,
            "[BOOT] WARN kernel argument 'log=loud': expected a level"
        );
        assert_eq!(ArgWarning::parse(&line), Some(issue.to_string().as_str()));
        assert_eq!(ArgWarning::parse("[BOOT] kernel args: \"\""), None);
    }
}

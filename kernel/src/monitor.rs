//! The kernel monitor's hardware-free half: turning the bytes typed on the
//! serial console into lines ([`LineEditor`]) and lines into commands
//! ([`Command::parse`]). The service that runs them is in the binary
//! (`services::monitor`); the words and answer lines are
//! `protocol::monitor`'s.
//!
//! Bad input never stops the monitor: a line that is not UTF-8 or longer
//! than [`MAX_LINE`] bytes comes out as a [`LineError`] once its end arrives
//! (the bytes in between are dropped, not buffered), control bytes other
//! than the editing keys are ignored, and a command it cannot run is a
//! [`CommandError`] with a message naming what was wrong.

use core::fmt;

pub use protocol::monitor::{MAX_LINE, PROMPT, cmd};

/// The most tasks one `spawn` may start.
pub const MAX_SPAWN: u32 = 100_000;

/// A command line, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Nothing but white space: print the prompt again.
    Empty,
    /// `help`.
    Help,
    /// `cpus`.
    Cpus,
    /// `tasks`.
    Tasks,
    /// `stats`.
    Stats,
    /// `spawn N`, `1 ≤ N ≤ MAX_SPAWN`.
    Spawn(u32),
    /// `ping CPU`.
    Ping(u32),
    /// `ipc`.
    Ipc,
    /// `quit`.
    Quit,
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError<'a> {
    /// The first word is no command.
    Unknown(&'a str),
    /// The command needs an argument.
    MissingArgument {
        /// The command.
        cmd: &'static str,
        /// What the argument is.
        what: &'static str,
    },
    /// The argument is not a number in range.
    BadArgument {
        /// The command.
        cmd: &'static str,
        /// The argument as typed.
        arg: &'a str,
        /// What it must be.
        expected: &'static str,
    },
    /// Words after the last argument.
    TooManyArguments {
        /// The command.
        cmd: &'static str,
    },
}

impl CommandError<'_> {
    /// The command word the error is about, `?` for an unknown one.
    pub fn cmd(&self) -> &'static str {
        match *self {
            Self::Unknown(_) => "?",
            Self::MissingArgument { cmd, .. }
            | Self::BadArgument { cmd, .. }
            | Self::TooManyArguments { cmd } => cmd,
        }
    }
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(word) => write!(f, "unknown command '{word}' (try {})", cmd::HELP),
            Self::MissingArgument { cmd, what } => write!(f, "{cmd} needs {what}"),
            Self::BadArgument { cmd, arg, expected } => {
                write!(f, "{cmd}: '{arg}' is not {expected}")
            }
            Self::TooManyArguments { cmd } => write!(f, "{cmd}: too many arguments"),
        }
    }
}

impl Command {
    /// Parses one command line (already free of its line end).
    ///
    /// # Errors
    /// A [`CommandError`] naming what is wrong.
    pub fn parse(line: &str) -> Result<Self, CommandError<'_>> {
        let mut words = line.split_whitespace();
        let Some(word) = words.next() else {
            return Ok(Self::Empty);
        };
        let command = match word {
            cmd::HELP => Self::Help,
            cmd::CPUS => Self::Cpus,
            cmd::TASKS => Self::Tasks,
            cmd::STATS => Self::Stats,
            cmd::IPC => Self::Ipc,
            cmd::QUIT => Self::Quit,
            cmd::SPAWN => Self::Spawn(number(
                cmd::SPAWN,
                words.next(),
                "a task count",
                1,
                MAX_SPAWN,
            )?),
            cmd::PING => Self::Ping(number(cmd::PING, words.next(), "a CPU index", 0, u32::MAX)?),
            other => return Err(CommandError::Unknown(other)),
        };
        if words.next().is_some() {
            return Err(CommandError::TooManyArguments {
                cmd: command.word(),
            });
        }
        Ok(command)
    }

    /// The command's word (`""` for [`Command::Empty`]).
    pub fn word(self) -> &'static str {
        match self {
            Self::Empty => "",
            Self::Help => cmd::HELP,
            Self::Cpus => cmd::CPUS,
            Self::Tasks => cmd::TASKS,
            Self::Stats => cmd::STATS,
            Self::Spawn(_) => cmd::SPAWN,
            Self::Ping(_) => cmd::PING,
            Self::Ipc => cmd::IPC,
            Self::Quit => cmd::QUIT,
        }
    }
}

/// The argument of `cmd`, a decimal number in `min..=max`.
fn number<'a>(
    cmd: &'static str,
    arg: Option<&'a str>,
    what: &'static str,
    min: u32,
    max: u32,
) -> Result<u32, CommandError<'a>> {
    let arg = arg.ok_or(CommandError::MissingArgument { cmd, what })?;
    arg.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or(CommandError::BadArgument {
            cmd,
            arg,
            expected: what,
        })
}

/// Why a typed line was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Longer than [`MAX_LINE`] bytes; carries how many bytes it had.
    TooLong(usize),
    /// Not UTF-8.
    NotUtf8,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(len) => write!(f, "line of {len} bytes dropped (at most {MAX_LINE})"),
            Self::NotUtf8 => f.write_str("line dropped: not UTF-8"),
        }
    }
}

/// What one byte did to the line being typed.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit<'a> {
    /// Nothing to show.
    Nothing,
    /// Echo these bytes back (the terminal is raw: the kernel echoes).
    Echo(&'a [u8]),
    /// The line is complete (the editor is empty again).
    Line(Result<&'a str, LineError>),
}

/// A line being typed, with the editing a serial terminal needs: backspace
/// (BS or DEL) removes the last character, Ctrl-U or Ctrl-C the whole line;
/// CR, LF or CR LF end it. Fixed size, no allocation; bytes past
/// [`MAX_LINE`] are counted, not kept.
#[derive(Debug)]
pub struct LineEditor {
    buf: [u8; MAX_LINE],
    len: usize,
    /// Bytes typed beyond `MAX_LINE` in this line.
    overflow: usize,
    /// The last byte was CR (so a following LF is the same line end).
    after_cr: bool,
}

/// Erases one character on a terminal.
const RUB_OUT: &[u8] = b"\x08 \x08";

impl LineEditor {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_LINE],
            len: 0,
            overflow: 0,
            after_cr: false,
        }
    }

    /// Takes one byte.
    pub fn push(&mut self, byte: u8) -> Edit<'_> {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\n' if after_cr => Edit::Nothing,
            b'\r' | b'\n' => self.finish(),
            0x08 | 0x7f => {
                if self.overflow > 0 {
                    self.overflow -= 1;
                    return Edit::Nothing;
                }
                if self.len == 0 {
                    return Edit::Nothing;
                }
                // Drop a whole UTF-8 character: continuation bytes, then its
                // first byte.
                while self.len > 1 && self.buf[self.len - 1] & 0xC0 == 0x80 {
                    self.len -= 1;
                }
                self.len -= 1;
                Edit::Echo(RUB_OUT)
            }
            0x03 | 0x15 => {
                self.len = 0;
                self.overflow = 0;
                Edit::Echo(b"^U\r\n")
            }
            byte if byte < 0x20 => Edit::Nothing,
            byte => {
                if self.len == MAX_LINE {
                    self.overflow += 1;
                    return Edit::Nothing;
                }
                self.buf[self.len] = byte;
                self.len += 1;
                let at = self.len - 1;
                Edit::Echo(&self.buf[at..self.len])
            }
        }
    }

    fn finish(&mut self) -> Edit<'_> {
        let (len, overflow) = (self.len, self.overflow);
        self.len = 0;
        self.overflow = 0;
        if overflow > 0 {
            return Edit::Line(Err(LineError::TooLong(len + overflow)));
        }
        Edit::Line(core::str::from_utf8(&self.buf[..len]).map_err(|_| LineError::NotUtf8))
    }
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// Feeds `bytes`; returns the lines completed and everything echoed.
    fn type_in(editor: &mut LineEditor, bytes: &[u8]) -> (Vec<Result<String, LineError>>, Vec<u8>) {
        let (mut lines, mut echo) = (Vec::new(), Vec::new());
        for &byte in bytes {
            match editor.push(byte) {
                Edit::Nothing => {}
                Edit::Echo(e) => echo.extend_from_slice(e),
                Edit::Line(line) => lines.push(line.map(String::from)),
            }
        }
        (lines, echo)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(Command::parse("help"), Ok(Command::Help));
        assert_eq!(Command::parse("  cpus  "), Ok(Command::Cpus));
        assert_eq!(Command::parse("spawn 100"), Ok(Command::Spawn(100)));
        assert_eq!(Command::parse("ping 1"), Ok(Command::Ping(1)));
        assert_eq!(Command::parse(""), Ok(Command::Empty));
        assert_eq!(Command::parse("quit"), Ok(Command::Quit));
        for word in cmd::ALL {
            let line = match word {
                cmd::SPAWN | cmd::PING => std::format!("{word} 1"),
                _ => String::from(word),
            };
            assert_eq!(Command::parse(&line).map(Command::word), Ok(word));
        }
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let error = Command::parse("frobnicate now").unwrap_err();
        assert_eq!(error, CommandError::Unknown("frobnicate"));
        assert_eq!(error.cmd(), "?");
        assert!(std::format!("{error}").contains("try help"));
        assert_eq!(
            Command::parse("spawn"),
            Err(CommandError::MissingArgument {
                cmd: "spawn",
                what: "a task count"
            })
        );
        for bad in ["spawn 0", "spawn -1", "spawn lots", "spawn 100001"] {
            assert!(
                matches!(
                    Command::parse(bad),
                    Err(CommandError::BadArgument { cmd: "spawn", .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            Command::parse("help me"),
            Err(CommandError::TooManyArguments { cmd: "help" })
        );
    }

    #[test]
    fn lines_end_with_cr_lf_or_both_and_are_echoed() {
        let mut editor = LineEditor::new();
        let (lines, echo) = type_in(&mut editor, b"help\r\ncpus\rtasks\n\r\n");
        assert_eq!(
            lines,
            [
                Ok("help".into()),
                Ok("cpus".into()),
                Ok("tasks".into()),
                Ok("".into())
            ]
        );
        assert_eq!(echo, b"helpcpustasks");
    }

    #[test]
    fn backspace_and_kill_edit_the_line() {
        let mut editor = LineEditor::new();
        let (lines, echo) = type_in(&mut editor, b"hepp\x7f\x7flp\r");
        assert_eq!(lines, [Ok("help".into())]);
        assert!(echo.ends_with(b"lp"));
        let (lines, _) = type_in(&mut editor, b"junk\x15cpus\r");
        assert_eq!(lines, [Ok("cpus".into())]);
        // A two-byte character goes with one backspace.
        let (lines, _) = type_in(&mut editor, "aé\x7fb\r".as_bytes());
        assert_eq!(lines, [Ok("ab".into())]);
        // Backspace on an empty line does nothing.
        let (lines, echo) = type_in(&mut editor, b"\x7f\x7fx\r");
        assert_eq!((lines, echo), (vec![Ok("x".into())], b"x".to_vec()));
    }

    #[test]
    fn bad_lines_are_dropped_whole_and_the_editor_goes_on() {
        let mut editor = LineEditor::new();
        let long = [b'a'; MAX_LINE + 20];
        let (lines, echo) = type_in(&mut editor, &long);
        assert!(lines.is_empty());
        assert_eq!(echo.len(), MAX_LINE, "bytes past the limit are not echoed");
        let (lines, _) = type_in(&mut editor, b"\rhelp\r");
        assert_eq!(
            lines,
            [Err(LineError::TooLong(MAX_LINE + 20)), Ok("help".into())]
        );
        let (lines, _) = type_in(&mut editor, b"\xff\xfe\rcpus\r");
        assert_eq!(lines, [Err(LineError::NotUtf8), Ok("cpus".into())]);
        // Control bytes other than the editing keys are ignored.
        let (lines, _) = type_in(&mut editor, b"\x1b[Ah\x00elp\r");
        assert_eq!(lines, [Ok("[Ahelp".into())]);
    }

    #[test]
    fn a_flood_never_grows_the_editor() {
        let mut editor = LineEditor::new();
        for round in 0..10_000u32 {
            let _ = editor.push((round % 251) as u8);
        }
        assert!(editor.len <= MAX_LINE);
    }
}

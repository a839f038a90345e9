//! `[SERIAL]`: COM1 input, as the manual kernel test `serial_rx::tests::rx_echo`
//! reports it.
//!
//! The test prints [`Ready`] once the receive interrupt is on, the host then
//! types a line on QEMU's stdin (the guest's COM1), and the test prints what
//! it received as [`Got`].

use core::fmt;

use crate::tag::SERIAL;
use crate::text::{Fields, ParseError, tagged};

/// `[SERIAL] ready`: the kernel waits for a line on COM1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready;

impl Ready {
    /// Whether `line` is this line.
    pub fn parse(line: &str) -> bool {
        tagged(line, SERIAL) == Some("ready")
    }
}

impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SERIAL} ready")
    }
}

/// `[SERIAL] bytes=N interrupts=M overflowed=O got=<line>`: a line arrived
/// through the receive interrupt. `got=` comes last and runs to the end
/// of the line (it may hold spaces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Got<'a> {
    /// Bytes read from the UART so far (kept or dropped).
    pub bytes: u64,
    /// Receive interrupts handled so far.
    pub interrupts: u64,
    /// Bytes dropped because the ring was full.
    pub overflowed: u64,
    /// The line, without its end.
    pub line: &'a str,
}

const GOT_FORM: &str = "[SERIAL] bytes=N interrupts=M overflowed=O got=LINE";

impl<'a> Got<'a> {
    /// Parses the line: `None` for any line but `[SERIAL] bytes=…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, SERIAL)?;
        if !rest.starts_with("bytes=") {
            return None;
        }
        Some((|| {
            let (numbers, line) = rest.split_once(" got=").ok_or(ParseError::Form(GOT_FORM))?;
            let fields = Fields::new(numbers);
            Ok(Self {
                bytes: fields.u64("bytes")?,
                interrupts: fields.u64("interrupts")?,
                overflowed: fields.u64("overflowed")?,
                line,
            })
        })())
    }
}

impl fmt::Display for Got<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SERIAL} bytes={} interrupts={} overflowed={} got={}",
            self.bytes, self.interrupts, self.overflowed, self.line
        )
    }
}

crate::report!([] Ready, ['a] Got<'a>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_round_trips() {
        assert!(Ready::parse(&Ready.to_string()));
        assert!(!Ready::parse("[SERIAL] bytes=1"));
        assert!(!Ready::parse("[BOOT] ready"));
    }

    #[test]
    fn got_round_trips_with_spaces_in_the_line() {
        let got = Got {
            bytes: 12,
            interrupts: 3,
            overflowed: 0,
            line: "hello kernel",
        };
        let text = got.to_string();
        assert_eq!(
            text,
            "[SERIAL] bytes=12 interrupts=3 overflowed=0 got=hello kernel"
        );
        assert_eq!(Got::parse(&text), Some(Ok(got)));
    }

    #[test]
    fn got_rejects_broken_lines() {
        assert_eq!(Got::parse("[SERIAL] ready"), None);
        assert_eq!(Got::parse("[BOOT] bytes=1"), None);
        assert_eq!(
            Got::parse("[SERIAL] bytes=1 interrupts=1 overflowed=0"),
            Some(Err(ParseError::Form(GOT_FORM)))
        );
        assert_eq!(
            Got::parse("[SERIAL] bytes=x interrupts=1 overflowed=0 got=a"),
            Some(Err(ParseError::BadValue("bytes")))
        );
    }
}

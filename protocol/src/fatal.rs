//! How a run ends: `[PANIC]`, `[EXCEPTION]` and the last line, `[EXIT]`.
//! The kernel prints these on its emergency path, which may break the
//! console lock; formatting them takes no lock and allocates nothing.

use core::fmt;

use crate::exit::ExitCode;
use crate::tag::{EXCEPTION, EXIT, PANIC};
use crate::text::{Fields, ParseError, decimal, tagged};

/// Where a panic or exception happened: `cpu=N [task=T] [in_interrupt=D]`
/// (the optional fields are left out when there is no task or no interrupt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The CPU number.
    pub cpu: u32,
    /// The task the CPU was polling, if any.
    pub task: Option<u64>,
    /// How deep in interrupt handlers the CPU was (0: not in one).
    pub in_interrupt: u32,
}

impl Context {
    /// Parses `cpu=N [task=T] [in_interrupt=D] rest`; returns the context
    /// and the rest.
    fn parse_prefix(rest: &str) -> Result<(Self, &str), ParseError> {
        let rest = rest
            .strip_prefix("cpu=")
            .ok_or(ParseError::Missing("cpu"))?;
        let (cpu, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut context = Self {
            cpu: decimal(cpu)
                .and_then(|cpu| u32::try_from(cpu).ok())
                .ok_or(ParseError::BadValue("cpu"))?,
            task: None,
            in_interrupt: 0,
        };
        if let Some(after) = rest.strip_prefix("task=") {
            let (task, after) = after.split_once(' ').unwrap_or((after, ""));
            context.task = Some(decimal(task).ok_or(ParseError::BadValue("task"))?);
            rest = after;
        }
        if let Some(after) = rest.strip_prefix("in_interrupt=") {
            let (depth, after) = after.split_once(' ').unwrap_or((after, ""));
            context.in_interrupt = decimal(depth)
                .and_then(|d| u32::try_from(d).ok())
                .ok_or(ParseError::BadValue("in_interrupt"))?;
            rest = after;
        }
        Ok((context, rest))
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu={}", self.cpu)?;
        if let Some(task) = self.task {
            write!(f, " task={task}")?;
        }
        if self.in_interrupt > 0 {
            write!(f, " in_interrupt={}", self.in_interrupt)?;
        }
        Ok(())
    }
}

/// A kernel panic: `[PANIC] cpu=0 [task=T] [in_interrupt=D] <message> at <file:line>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Panic<D> {
    /// Where it panicked.
    pub context: Context,
    /// The panic message.
    pub message: D,
    /// `file:line`, or `<unknown>`.
    pub location: D,
}

const PANIC_FORM: &str = "[PANIC] cpu=N MESSAGE at FILE:LINE";

impl<'a> Panic<&'a str> {
    /// Parses the line: `None` for any line but `[PANIC] …`. The location
    /// is what follows the last ` at `.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, PANIC)?;
        Some(Self::parse_rest(rest))
    }

    fn parse_rest(rest: &'a str) -> Result<Self, ParseError> {
        let (context, rest) = Context::parse_prefix(rest)?;
        let (message, location) = rest
            .rsplit_once(" at ")
            .ok_or(ParseError::Form(PANIC_FORM))?;
        Ok(Self {
            context,
            message,
            location,
        })
    }
}

impl<D: fmt::Display> fmt::Display for Panic<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PANIC} {} {} at {}",
            self.context, self.message, self.location
        )
    }
}

/// An unexpected CPU exception:
/// `[EXCEPTION] cpu=0 vector=14 name=#PF error=0x2 rip=0x… cr2=0x…`
/// (`cr2` for page faults only). [`ExceptionDetail`] lines may follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception<'a> {
    /// Where it happened.
    pub context: Context,
    /// The vector.
    pub vector: u8,
    /// Its mnemonic (`#PF`).
    pub name: &'a str,
    /// The error code (0 if the exception has none).
    pub error: u64,
    /// The faulting instruction.
    pub rip: u64,
    /// The faulting address of a page fault.
    pub cr2: Option<u64>,
}

impl<'a> Exception<'a> {
    /// Parses the line: `None` for any line but `[EXCEPTION] cpu=N vector=…`
    /// (detail lines have no `vector=`).
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let fields = Fields::new(tagged(line, EXCEPTION)?);
        fields.get("vector")?;
        Some(Self::from_fields(fields))
    }

    fn from_fields(fields: Fields<'a>) -> Result<Self, ParseError> {
        Ok(Self {
            context: Context {
                cpu: fields.u32("cpu")?,
                task: match fields.get("task") {
                    None => None,
                    Some(_) => Some(fields.u64("task")?),
                },
                in_interrupt: match fields.get("in_interrupt") {
                    None => 0,
                    Some(_) => fields.u32("in_interrupt")?,
                },
            },
            vector: u8::try_from(fields.u64("vector")?)
                .map_err(|_| ParseError::BadValue("vector"))?,
            name: fields.str("name")?,
            error: fields.hex("error")?,
            rip: fields.hex("rip")?,
            cr2: match fields.get("cr2") {
                None => None,
                Some(_) => Some(fields.hex("cr2")?),
            },
        })
    }
}

impl fmt::Display for Exception<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{EXCEPTION} {} vector={} name={} error={:#x} rip={:#x}",
            self.context, self.vector, self.name, self.error, self.rip
        )?;
        match self.cr2 {
            Some(cr2) => write!(f, " cr2={cr2:#x}"),
            None => Ok(()),
        }
    }
}

/// More about the exception, for people: `[EXCEPTION] cpu=0 <detail>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionDetail<D> {
    /// The CPU.
    pub cpu: u32,
    /// The text (`page fault: page not present on read in kernel mode`).
    pub detail: D,
}

impl<D: fmt::Display> fmt::Display for ExceptionDetail<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{EXCEPTION} cpu={} {}", self.cpu, self.detail)
    }
}

/// The kernel's verdict, its last line: `[EXIT] success` / `[EXIT] failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(pub ExitCode);

impl Exit {
    /// Parses the line: `None` for any line but `[EXIT] …`.
    pub fn parse(line: &str) -> Option<Result<Self, ParseError>> {
        let word = tagged(line, EXIT)?;
        Some(
            [ExitCode::Success, ExitCode::Failure]
                .into_iter()
                .find(|code| code.word() == word)
                .map(Self)
                .ok_or(ParseError::BadValue("[EXIT]")),
        )
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{EXIT} {}", self.0.word())
    }
}

crate::report!(
    [D: core::fmt::Display] Panic<D>,
    ['a] Exception<'a>,
    [D: core::fmt::Display] ExceptionDetail<D>,
    [] Exit,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_round_trips() {
        let panic = Panic {
            context: Context::default(),
            message: "deliberate panic at last",
            location: "kernel/src/ktest.rs:10",
        };
        let line = panic.to_string();
        assert_eq!(
            line,
            "[PANIC] cpu=0 deliberate panic at last at kernel/src/ktest.rs:10"
        );
        assert_eq!(Panic::parse(&line), Some(Ok(panic)));
        // In a task, inside an interrupt handler: both context fields.
        let in_task = Panic {
            context: Context {
                cpu: 2,
                task: Some(7),
                in_interrupt: 1,
            },
            ..panic
        };
        let line = in_task.to_string();
        assert!(
            line.starts_with("[PANIC] cpu=2 task=7 in_interrupt=1 deliberate"),
            "{line}"
        );
        assert_eq!(Panic::parse(&line), Some(Ok(in_task)));
        assert_eq!(Panic::parse("[EXIT] failure"), None);
        assert!(matches!(Panic::parse("[PANIC] oops"), Some(Err(_))));
    }

    #[test]
    fn exception_round_trips() {
        let page_fault = Exception {
            context: Context {
                cpu: 1,
                task: None,
                in_interrupt: 0,
            },
            vector: 14,
            name: "#PF",
            error: 0x2,
            rip: 0xffff_8000_0000_1234,
            cr2: Some(0xdead_b000),
        };
        let line = page_fault.to_string();
        assert_eq!(
            line,
            "[EXCEPTION] cpu=1 vector=14 name=#PF error=0x2 rip=0xffff800000001234 \
             cr2=0xdeadb000"
        );
        assert_eq!(Exception::parse(&line), Some(Ok(page_fault)));
        let in_task = Exception {
            context: Context {
                task: Some(3),
                ..page_fault.context
            },
            ..page_fault
        };
        let line = in_task.to_string();
        assert!(
            line.starts_with("[EXCEPTION] cpu=1 task=3 vector=14"),
            "{line}"
        );
        assert_eq!(Exception::parse(&line), Some(Ok(in_task)));
        let double_fault = Exception {
            vector: 8,
            name: "#DF",
            cr2: None,
            ..page_fault
        };
        assert_eq!(
            Exception::parse(&double_fault.to_string()),
            Some(Ok(double_fault))
        );
        let detail = ExceptionDetail {
            cpu: 1,
            detail: "rsp=0x1 rflags=0x2",
        }
        .to_string();
        assert_eq!(detail, "[EXCEPTION] cpu=1 rsp=0x1 rflags=0x2");
        assert_eq!(Exception::parse(&detail), None);
        assert!(matches!(
            Exception::parse("[EXCEPTION] cpu=0 vector=14 name=#PF error=2 rip=0x1"),
            Some(Err(ParseError::BadValue("error")))
        ));
    }

    #[test]
    fn exit_round_trips() {
        for code in [ExitCode::Success, ExitCode::Failure] {
            assert_eq!(Exit::parse(&Exit(code).to_string()), Some(Ok(Exit(code))));
        }
        assert_eq!(Exit(ExitCode::Success).to_string(), "[EXIT] success");
        assert!(matches!(Exit::parse("[EXIT] maybe"), Some(Err(_))));
    }
}

//! The kernel monitor's dialogue on the serial console: the commands a
//! person (or the host, in a boot scenario) types, and the `[MON]` lines the
//! kernel answers with.
//!
//! Every command's answer ends with exactly one [`Done`] line
//! (`[MON] ok cmd=NAME` or `[MON] error cmd=NAME reason=TEXT`), so a script
//! knows when to send the next command. The [`PROMPT`] is printed (without a
//! newline) only after an answer, that is only once someone has typed; the
//! host strips it from the start of a line before looking for tags.

use core::fmt;

use crate::tag::MON;
use crate::text::{Fields, ParseError, tagged};

/// What the monitor prints when it waits for a command.
pub const PROMPT: &str = "kmon> ";

/// The longest command line the monitor accepts, in bytes.
pub const MAX_LINE: usize = 80;

/// The command words.
pub mod cmd {
    /// List the commands.
    pub const HELP: &str = "help";
    /// Online CPUs: APIC ids, ticks, idle share.
    pub const CPUS: &str = "cpus";
    /// Live tasks per core, by priority and state.
    pub const TASKS: &str = "tasks";
    /// The `[STATS]` block.
    pub const STATS: &str = "stats";
    /// `spawn N`: N yield-loop tasks.
    pub const SPAWN: &str = "spawn";
    /// `ping CPU`: an IPC round trip to that CPU's echo service.
    pub const PING: &str = "ping";
    /// The name service's table.
    pub const IPC: &str = "ipc";
    /// End the run with success.
    pub const QUIT: &str = "quit";
    /// Every command, in `help` order.
    pub const ALL: [&str; 8] = [HELP, CPUS, TASKS, STATS, SPAWN, PING, IPC, QUIT];
}

/// The monitor is listening: `[MON] ready, type help` (once, when it has
/// found the serial service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready;

impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MON} ready, type {}", cmd::HELP)
    }
}

impl Ready {
    /// Whether `line` is the ready line.
    pub fn parse(line: &str) -> bool {
        tagged(line, MON).is_some_and(|rest| rest.starts_with("ready"))
    }
}

/// The last line of a command's answer: `[MON] ok cmd=NAME` or
/// `[MON] error cmd=NAME reason=TEXT` (`NAME` is `?` for a line that named
/// no command; `TEXT` runs to the end of the line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done<'a> {
    /// The command ran.
    Ok {
        /// The command word.
        cmd: &'a str,
    },
    /// The line was not a command the monitor could run.
    Error {
        /// The command word, `?` if none.
        cmd: &'a str,
        /// Why, for a person.
        reason: &'a str,
    },
}

impl<'a> Done<'a> {
    /// Parses the line: `None` for any line but `[MON] ok …` / `[MON] error …`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, MON)?;
        if let Some(rest) = rest.strip_prefix("ok ") {
            return Some(Fields::new(rest).str("cmd").map(|cmd| Self::Ok { cmd }));
        }
        let rest = rest.strip_prefix("error ")?;
        Some((|| {
            let cmd = Fields::new(rest).str("cmd")?;
            let (_, reason) = rest
                .split_once(" reason=")
                .ok_or(ParseError::Missing("reason"))?;
            Ok(Self::Error { cmd, reason })
        })())
    }
}

impl fmt::Display for Done<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok { cmd } => write!(f, "{MON} ok cmd={cmd}"),
            Self::Error { cmd, reason } => write!(f, "{MON} error cmd={cmd} reason={reason}"),
        }
    }
}

crate::numbers_line!(
    /// One line of `cpus`, per online CPU:
    /// `[MON] cpu index=1 apic_id=1 ticks=812 idle_pct=97`.
    CpuLine, "[MON] cpu", {
        /// The CPU index.
        index,
        /// Its APIC id.
        apic_id,
        /// Timer interrupts taken.
        ticks,
        /// Share of the time its executor slept in `hlt`, in percent, since
        /// the previous `cpus` (or boot).
        idle_pct,
    }
);

crate::numbers_line!(
    /// One line of `tasks`, per executor core: its live tasks by priority,
    /// then by state — being polled, queued, or waiting for a wake-up (live,
    /// neither running nor queued):
    /// `[MON] tasks core=0 live_high=1 live_normal=101 live_low=1 running=1 queued=99 waiting=3`.
    TasksLine, "[MON] tasks", {
        /// The executor core.
        core,
        /// Live high-priority tasks homed on it.
        live_high,
        /// Live normal-priority tasks homed on it.
        live_normal,
        /// Live low-priority tasks homed on it.
        live_low,
        /// Being polled now (0 or 1).
        running,
        /// In its run queues.
        queued,
        /// Neither queued nor running: waiting for a wake-up.
        waiting,
    }
);

crate::numbers_line!(
    /// The answer to `spawn N`: `[MON] spawned count=100 live_tasks=112`.
    Spawned, "[MON] spawned", {
        /// Tasks spawned.
        count,
        /// Live tasks in the executor afterwards.
        live_tasks,
    }
);

crate::numbers_line!(
    /// The answer to `ping CPU`: `[MON] ping cpu=1 rtt_us=41 rtt_cycles=107311`,
    /// a request to CPU's echo service and its reply.
    Ping, "[MON] ping", {
        /// The CPU whose echo service answered.
        cpu,
        /// The round trip, in microseconds.
        rtt_us,
        /// The round trip, in TSC cycles.
        rtt_cycles,
    }
);

/// A user process, in `tasks`' answer after the per-core lines:
/// `[MON] process pid=5 threads=4 name=threads` (its live threads are tasks
/// like the others, counted in the per-core lines too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessLine<'a> {
    /// The process id.
    pub pid: u64,
    /// Its live threads.
    pub threads: u64,
    /// The program.
    pub name: &'a str,
}

impl<'a> ProcessLine<'a> {
    /// Parses the line: `None` for any line but `[MON] process …`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, MON)?.strip_prefix("process ")?;
        let fields = Fields::new(rest);
        Some((|| {
            Ok(Self {
                pid: fields.u64("pid")?,
                threads: fields.u64("threads")?,
                name: fields.str("name")?,
            })
        })())
    }
}

impl fmt::Display for ProcessLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{MON} process pid={} threads={} name={}",
            self.pid, self.threads, self.name
        )
    }
}

/// The answer to `help`:
/// `[MON] help commands=help,cpus,tasks,stats,spawn N,ping CPU,ipc,quit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Help;

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MON} help commands=")?;
        for (i, word) in cmd::ALL.iter().enumerate() {
            let arg = match *word {
                cmd::SPAWN => " N",
                cmd::PING => " CPU",
                _ => "",
            };
            let comma = if i == 0 { "" } else { "," };
            write!(f, "{comma}{word}{arg}")?;
        }
        Ok(())
    }
}

impl Help {
    /// The command words the line lists: `None` for any line but
    /// `[MON] help …`.
    pub fn parse(line: &str) -> Option<Result<impl Iterator<Item = &str>, ParseError>> {
        let rest = tagged(line, MON)?.strip_prefix("help ")?;
        Some(
            rest.strip_prefix("commands=")
                .ok_or(ParseError::Missing("commands"))
                .map(|list| {
                    list.split(',')
                        .map(|entry| entry.split(' ').next().unwrap_or(entry))
                }),
        )
    }
}

/// One entry of the name service, for `ipc`:
/// `[MON] name name=echo.1 type=ipc::call::Request<u64, u64>` (the type runs
/// to the end of the line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameLine<'a> {
    /// The registered name.
    pub name: &'a str,
    /// The type of the messages its port carries.
    pub type_name: &'a str,
}

impl<'a> NameLine<'a> {
    /// Parses the line: `None` for any line but `[MON] name …`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, MON)?.strip_prefix("name ")?;
        Some((|| {
            let name = Fields::new(rest).str("name")?;
            let (_, type_name) = rest
                .split_once(" type=")
                .ok_or(ParseError::Missing("type"))?;
            Ok(Self { name, type_name })
        })())
    }
}

impl fmt::Display for NameLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MON} name name={} type={}", self.name, self.type_name)
    }
}

crate::report!(
    [] Ready,
    ['a] Done<'a>,
    [] CpuLine,
    [] TasksLine,
    [] Spawned,
    [] Ping,
    [] Help,
    ['a] NameLine<'a>,
    ['a] ProcessLine<'a>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_lines_round_trip() {
        for done in [
            Done::Ok { cmd: cmd::HELP },
            Done::Error {
                cmd: "?",
                reason: "unknown command 'frob' (try help)",
            },
        ] {
            let line = done.to_string();
            assert_eq!(Done::parse(&line), Some(Ok(done)));
        }
        assert_eq!(Done::parse("[MON] cpu index=0"), None);
        assert_eq!(Done::parse("[SCHED] ok"), None);
        assert!(Done::parse("[MON] error cmd=x").unwrap().is_err());
    }

    #[test]
    fn number_lines_round_trip() {
        let ping = Ping {
            cpu: 1,
            rtt_us: 41,
            rtt_cycles: 107_311,
        };
        assert_eq!(Ping::parse(&ping.to_string()), Some(Ok(ping)));
        let tasks = TasksLine {
            core: 2,
            live_high: 0,
            live_normal: 8,
            live_low: 1,
            running: 1,
            queued: 6,
            waiting: 2,
        };
        assert_eq!(TasksLine::parse(&tasks.to_string()), Some(Ok(tasks)));
        // `[MON] cpu` is not `[MON] cpus…`-anything else.
        assert_eq!(CpuLine::parse("[MON] spawned count=1 live_tasks=2"), None);
    }

    #[test]
    fn help_lists_every_command() {
        let line = Help.to_string();
        assert_eq!(
            line,
            "[MON] help commands=help,cpus,tasks,stats,spawn N,ping CPU,ipc,quit"
        );
        let words: Vec<&str> = Help::parse(&line).unwrap().unwrap().collect();
        assert_eq!(words, cmd::ALL);
    }

    #[test]
    fn name_lines_round_trip() {
        let line = NameLine {
            name: "echo.1",
            type_name: "ipc::call::Request<u64, u64>",
        };
        assert_eq!(NameLine::parse(&line.to_string()), Some(Ok(line)));
    }

    #[test]
    fn process_lines_round_trip() {
        let line = ProcessLine {
            pid: 5,
            threads: 4,
            name: "threads",
        };
        assert_eq!(
            line.to_string(),
            "[MON] process pid=5 threads=4 name=threads"
        );
        assert_eq!(ProcessLine::parse(&line.to_string()), Some(Ok(line)));
        assert_eq!(ProcessLine::parse("[MON] tasks core=0"), None);
    }

    #[test]
    fn the_prompt_is_not_a_tag() {
        assert!(!PROMPT.starts_with('['));
        assert!(cmd::ALL.iter().all(|c| !c.contains(' ')));
    }
}

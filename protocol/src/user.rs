//! User programs' lines: what they print, how their threads end, and the
//! results of `workload=user` and `workload=syscallstress`.

use core::fmt;

use crate::tag::{SYSCALLSTRESS, USER};
use crate::text::{ParseError, decimal, hex, split};

/// What a user thread wrote with the `write` system call, one line per call:
/// `[USER][core2] run yield_loop` (`text` runs to the end of the line; the
/// kernel replaces control characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserWrote<'a> {
    /// The CPU the thread ran on.
    pub core: u32,
    /// What it wrote.
    pub text: &'a str,
}

const WROTE_FORM: &str = "[USER][coreN] TEXT";

impl<'a> UserWrote<'a> {
    /// Parses the line: `None` for any line but `[USER][core…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = line.strip_prefix(USER)?.strip_prefix("[core")?;
        Some((|| {
            let (core, text) = split(rest, "] ", WROTE_FORM)?;
            let core = decimal(core)
                .and_then(|core| u32::try_from(core).ok())
                .ok_or(ParseError::BadValue("core"))?;
            Ok(Self { core, text })
        })())
    }
}

impl fmt::Display for UserWrote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{USER}[core{}] {}", self.core, self.text)
    }
}

/// A user thread killed for a fault or a bad system call:
/// `[USER] pid=3 tid=1 killed: page fault (#PF error=0x4 cr2=0x0) at rip=0x401020`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserKilled<D> {
    /// The process.
    pub pid: u64,
    /// The thread.
    pub tid: u64,
    /// Why, for people.
    pub reason: D,
    /// Where.
    pub rip: u64,
}

const KILLED_FORM: &str = "[USER] pid=P tid=T killed: REASON at rip=0xADDR";

impl<'a> UserKilled<&'a str> {
    /// Parses the line: `None` for any line but `[USER] pid=… killed: …`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = line.strip_prefix(USER)?.strip_prefix(" pid=")?;
        if !rest.contains(" killed: ") {
            return None;
        }
        Some((|| {
            let (pid, rest) = split(rest, " tid=", KILLED_FORM)?;
            let (tid, rest) = split(rest, " killed: ", KILLED_FORM)?;
            let (reason, rip) = rest
                .rsplit_once(" at rip=")
                .ok_or(ParseError::Form(KILLED_FORM))?;
            Ok(Self {
                pid: decimal(pid).ok_or(ParseError::BadValue("pid"))?,
                tid: decimal(tid).ok_or(ParseError::BadValue("tid"))?,
                reason,
                rip: hex(rip).ok_or(ParseError::BadValue("rip"))?,
            })
        })())
    }
}

impl<D: fmt::Display> fmt::Display for UserKilled<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{USER} pid={} tid={} killed: {} at rip={:#x}",
            self.pid, self.tid, self.reason, self.rip
        )
    }
}

crate::numbers_line!(
    /// A process ended: `[USER] exit pid=3 code=0 threads=1`.
    UserExit, "[USER] exit", {
        /// The process.
        pid,
        /// Its exit status (as an unsigned 32-bit value).
        code,
        /// Threads it ran.
        threads,
    }
);

crate::numbers_line!(
    /// End of `workload=user`:
    /// `[USER] result processes=9 exited=4 killed=1 moved=12 round_trips=100 expected=100 threads_cores=2`.
    UserResult, "[USER] result", {
        /// Processes started.
        processes,
        /// Processes that ended by `exit`.
        exited,
        /// Threads killed for a fault.
        killed,
        /// Times a user thread ran on another CPU than it last ran on or, the
        /// first time, was placed on (stolen or migrated).
        moved,
        /// Ping-pong round trips between the two processes.
        round_trips,
        /// Round trips asked for.
        expected,
        /// Distinct CPUs the multi-threaded program's threads ran on.
        threads_cores,
    }
);

crate::numbers_line!(
    /// End of `workload=syscallstress`:
    /// `[SYSCALLSTRESS] threads=8 calls=120000 ok=70000 errors=50000 wrong=0 killed=0`.
    SyscallStress, SYSCALLSTRESS, {
        /// Threads issuing calls.
        threads,
        /// System calls made.
        calls,
        /// Calls that succeeded.
        ok,
        /// Calls that returned an error.
        errors,
        /// Hostile calls that did not return the error they must (or good
        /// ones that failed).
        wrong,
        /// Threads killed (none expected).
        killed,
    }
);

crate::report!(['a] UserWrote<'a>, [D: fmt::Display] UserKilled<D>, [] UserExit, [] UserResult, [] SyscallStress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let wrote = UserWrote {
            core: 2,
            text: "run yield_loop",
        };
        assert_eq!(wrote.to_string(), "[USER][core2] run yield_loop");
        assert_eq!(UserWrote::parse(&wrote.to_string()), Some(Ok(wrote)));
        let killed = UserKilled {
            pid: 3,
            tid: 1,
            reason: "page fault (#PF error=0x4 cr2=0x0)",
            rip: 0x40_1020,
        };
        assert_eq!(
            killed.to_string(),
            "[USER] pid=3 tid=1 killed: page fault (#PF error=0x4 cr2=0x0) at rip=0x401020"
        );
        assert_eq!(UserKilled::parse(&killed.to_string()), Some(Ok(killed)));
        let exit = UserExit {
            pid: 3,
            code: 0,
            threads: 1,
        };
        assert_eq!(UserExit::parse(&exit.to_string()), Some(Ok(exit)));
        assert_eq!(UserKilled::parse(&exit.to_string()), None);
        assert_eq!(UserWrote::parse("[USER] exit pid=1 code=0 threads=1"), None);
    }
}

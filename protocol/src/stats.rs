//! `[STATS]`: the statistics block of a `duration=` run (and of every
//! `stats=` interval): a `total` line, then one line per online CPU.
//!
//! The kernel prints the block as one [`StatsBlock`], in one piece: no line of
//! another CPU may come between its lines. [`StatsReader`] checks that on the
//! host.

use core::fmt;

use crate::tag::STATS;
use crate::text::{Fields, ParseError, tagged};

/// The prefix of the `total` line.
const TOTAL: &str = "[STATS] total";

crate::numbers_line!(
    /// The first line of the block:
    /// `[STATS] total cpus_online=4 cpus_expected=4 cpus_late=0 uptime_ms=2000`.
    StatsTotal, TOTAL, {
        /// CPUs online; the block has one `cpu=` line for each.
        cpus_online,
        /// The BSP and every real AP the kernel tried to start.
        cpus_expected,
        /// APs that arrived after the BSP gave up on them (parked, never online).
        cpus_late,
        /// Time since boot.
        uptime_ms,
    }
);

/// Defines [`StatsCpu`] and [`Counter`] from one list: the key names, their
/// print order and the fields cannot disagree.
macro_rules! counters {
    ($( $(#[$meta:meta])* $field:ident => $variant:ident, )*) => {
        /// One CPU's line of the block:
        /// `[STATS] cpu=K apic_id=A ticks=… ticks_lost=… … spurious=…`
        /// (the counters are explained in the README).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct StatsCpu {
            /// The CPU index.
            pub cpu: u32,
            /// Its APIC id.
            pub apic_id: u32,
            $( $(#[$meta])* pub $field: u64, )*
        }

        /// A counter of [`StatsCpu`], for checks that name one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter {
            $( $(#[$meta])* $variant, )*
        }

        impl Counter {
            /// Every counter, in print order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant),*];

            /// The counter's key.
            pub const fn key(self) -> &'static str {
                match self {
                    $( Counter::$variant => stringify!($field), )*
                }
            }
        }

        impl StatsCpu {
            /// The value of `counter`.
            pub const fn get(&self, counter: Counter) -> u64 {
                match counter {
                    $( Counter::$variant => self.$field, )*
                }
            }

            fn from_fields(fields: Fields<'_>) -> Result<Self, ParseError> {
                Ok(Self {
                    cpu: fields.u32("cpu")?,
                    apic_id: fields.u32("apic_id")?,
                    $( $field: fields.u64(stringify!($field))?, )*
                })
            }
        }
    };
}

counters! {
    /// Timer interrupts taken.
    ticks => Ticks,
    /// Ticks due by the time the line was printed that never came.
    ticks_lost => TicksLost,
    /// Ticks that came at least 1.5 periods after the previous one.
    ticks_late => TicksLate,
    /// How long the CPU's timer has run.
    timer_ms => TimerMs,
    /// Future polls.
    polls => Polls,
    /// Distinct tasks that ran on the CPU.
    tasks_run => TasksRun,
    /// `yield_now` calls.
    yields => Yields,
    /// Wake-ups of tasks homed here from this CPU.
    wakes_local => WakesLocal,
    /// Wake-ups of tasks homed here from another CPU.
    wakes_remote => WakesRemote,
    /// IPIs sent.
    ipi_sent => IpiSent,
    /// IPIs received.
    ipi_received => IpiReceived,
    /// RESCHEDULE IPIs received.
    resched_ipis => ReschedIpis,
    /// Tasks taken from other CPUs when idle.
    steals => Steals,
    /// Tasks moved here by the balancer.
    migrations => Migrations,
    /// Times the CPU slept in `hlt`.
    idle_halts => IdleHalts,
    /// Spurious interrupts.
    spurious => Spurious,
    /// RESCHEDULE IPIs the executor asked for to wake this CPU (the
    /// kernel's latch sends at most one at a time, so `resched_ipis` can be
    /// fewer).
    resched_requested => ReschedRequested,
    /// Polls of a task taken from the LIFO slot.
    lifo_polls => LifoPolls,
    /// IPC messages this CPU put on a port.
    ipc_sent => IpcSent,
    /// IPC messages this CPU took off a port.
    ipc_received => IpcReceived,
    /// IPC messages discarded on this CPU because their port's receive right
    /// was dropped with them still queued.
    ipc_dropped => IpcDropped,
    /// System calls made by user threads on this CPU.
    syscalls => Syscalls,
    /// User threads interrupted on this CPU that gave the core to other
    /// work (timer or IPI taken in ring 3).
    user_preemptions => UserPreemptions,
    /// User threads killed on this CPU for a fault.
    user_faults => UserFaults,
}

impl StatsCpu {
    /// Parses the line: `None` for any line but `[STATS] cpu=…`.
    pub fn parse(line: &str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, STATS)?;
        if !rest.starts_with("cpu=") {
            return None;
        }
        Some(Self::from_fields(Fields::new(rest)))
    }
}

impl fmt::Display for StatsCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STATS} cpu={} apic_id={}", self.cpu, self.apic_id)?;
        for &counter in Counter::ALL {
            write!(f, " {}={}", counter.key(), self.get(counter))?;
        }
        Ok(())
    }
}

/// The whole block: the `total` line and one line per CPU, `\n` between
/// them (no newline at the end, like every line). The kernel prints it with
/// one write, so that no other line can come between.
#[derive(Clone, Copy, Debug)]
pub struct StatsBlock<'a> {
    /// The `total` line; its `cpus_online` is `cpus.len()`.
    pub total: StatsTotal,
    /// The online CPUs' lines.
    pub cpus: &'a [StatsCpu],
}

impl fmt::Display for StatsBlock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.total)?;
        for cpu in self.cpus {
            write!(f, "\n{cpu}")?;
        }
        Ok(())
    }
}

// Only the block is a `Report`: the kernel cannot print a lone line of it.
crate::report!(['a] StatsBlock<'a>);

/// A `[STATS]` line in a [`StatsReader`]'s stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsLine {
    /// A block starts.
    Total(StatsTotal),
    /// A CPU line of the current block.
    Cpu(StatsCpu),
}

/// How a stream of lines breaks the block rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// A `[STATS]` line that does not parse.
    Malformed(ParseError),
    /// Another line came inside a block, with `missing` CPU lines to go.
    Interleaved {
        /// CPU lines still due.
        missing: u64,
    },
    /// A block ended (a new one started, or the output ended) `missing` CPU
    /// lines short.
    CutShort {
        /// CPU lines that never came.
        missing: u64,
    },
    /// A `cpu=` line outside a block.
    Stray,
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed [STATS] line ({why})"),
            Self::Interleaved { missing } => write!(
                f,
                "another line inside a [STATS] block ({missing} cpu= lines still due)"
            ),
            Self::CutShort { missing } => {
                write!(f, "[STATS] block {missing} cpu= lines short")
            }
            Self::Stray => f.write_str("[STATS] cpu= line outside a block"),
        }
    }
}

/// Reads a run's lines one by one and checks that each `[STATS]` block
/// arrives whole: its `total` line, then exactly `cpus_online` `cpu=` lines,
/// nothing in between. Errors do not stop it: the lines of a broken block
/// still come out.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsReader {
    /// CPU lines the current block still owes.
    missing: u64,
}

impl StatsReader {
    /// Feeds the next line: the `[STATS]` line it is, if it is one, or
    /// the rule it breaks.
    pub fn feed(&mut self, line: &str) -> Result<Option<StatsLine>, BlockError> {
        if let Some(total) = StatsTotal::parse(line) {
            let total = total.map_err(BlockError::Malformed)?;
            let missing = core::mem::replace(&mut self.missing, total.cpus_online);
            return match missing {
                0 => Ok(Some(StatsLine::Total(total))),
                missing => Err(BlockError::CutShort { missing }),
            };
        }
        if let Some(cpu) = StatsCpu::parse(line) {
            let cpu = cpu.map_err(BlockError::Malformed)?;
            if self.missing == 0 {
                return Err(BlockError::Stray);
            }
            self.missing -= 1;
            return Ok(Some(StatsLine::Cpu(cpu)));
        }
        match self.missing {
            0 => Ok(None),
            missing => Err(BlockError::Interleaved { missing }),
        }
    }

    /// The end of the output: a block still open is cut short.
    pub fn finish(&self) -> Result<(), BlockError> {
        match self.missing {
            0 => Ok(()),
            missing => Err(BlockError::CutShort { missing }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of CPU `cpu` with every counter a different value (so a
    /// swapped pair shows), written key by key from [`Counter::ALL`].
    fn cpu_text(cpu: u32) -> String {
        let mut text = format!("[STATS] cpu={cpu} apic_id={}", cpu + 1);
        for (i, counter) in Counter::ALL.iter().enumerate() {
            text.push_str(&format!(" {}={}", counter.key(), 1000 * cpu as usize + i));
        }
        text
    }

    fn cpu(cpu: u32) -> StatsCpu {
        StatsCpu::parse(&cpu_text(cpu)).unwrap().unwrap()
    }

    #[test]
    fn total_line_round_trips() {
        let total = StatsTotal {
            cpus_online: 4,
            cpus_expected: 4,
            cpus_late: 0,
            uptime_ms: 2000,
        };
        let line = total.to_string();
        assert_eq!(
            line,
            "[STATS] total cpus_online=4 cpus_expected=4 cpus_late=0 uptime_ms=2000"
        );
        assert_eq!(StatsTotal::parse(&line), Some(Ok(total)));
        assert_eq!(StatsCpu::parse(&line), None);
        assert_eq!(
            StatsTotal::parse("[STATS] total cpus_online=2 uptime_ms=9"),
            Some(Err(ParseError::Missing("cpus_expected")))
        );
    }

    #[test]
    fn cpu_line_round_trips_with_every_counter() {
        let line = cpu(3);
        assert_eq!((line.cpu, line.apic_id), (3, 4));
        for (i, &counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(line.get(counter), 3000 + i as u64, "{counter:?}");
        }
        let text = line.to_string();
        assert_eq!(text, cpu_text(3));
        assert!(text.starts_with("[STATS] cpu=3 apic_id=4 ticks=3000 ticks_lost=3001 "));
        assert_eq!(StatsCpu::parse(&text), Some(Ok(line)));
        assert_eq!(StatsTotal::parse(&text), None);
    }

    #[test]
    fn every_key_is_required() {
        let text = cpu(0).to_string();
        for &counter in Counter::ALL {
            let without: Vec<&str> = text
                .split(' ')
                .filter(|word| !word.starts_with(&format!("{}=", counter.key())))
                .collect();
            assert_eq!(
                StatsCpu::parse(&without.join(" ")),
                Some(Err(ParseError::Missing(counter.key()))),
            );
        }
    }

    #[test]
    fn block_round_trips_through_the_reader() {
        let cpus = [cpu(0), cpu(1), cpu(2)];
        let total = StatsTotal {
            cpus_online: 3,
            cpus_expected: 4,
            cpus_late: 1,
            uptime_ms: 2001,
        };
        let block = StatsBlock { total, cpus: &cpus }.to_string();
        let mut reader = StatsReader::default();
        let mut read = Vec::new();
        for line in block.lines() {
            read.push(reader.feed(line).unwrap().unwrap());
        }
        reader.finish().unwrap();
        let expected: Vec<StatsLine> = core::iter::once(StatsLine::Total(total))
            .chain(cpus.iter().copied().map(StatsLine::Cpu))
            .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn reader_finds_broken_blocks() {
        let cpus = [cpu(0), cpu(1)];
        let total = StatsTotal {
            cpus_online: 2,
            ..StatsTotal::default()
        };
        let block = StatsBlock { total, cpus: &cpus }.to_string();
        let lines: Vec<&str> = block.lines().collect();
        let run = |lines: &[&str]| {
            let mut reader = StatsReader::default();
            let mut errors: Vec<BlockError> =
                lines.iter().filter_map(|l| reader.feed(l).err()).collect();
            errors.extend(reader.finish().err());
            errors
        };
        assert_eq!(run(&lines), []);
        // Another core's line inside the block (seen in 7 of 82 runs).
        let interleaved = [lines[0], lines[1], "[SCHED][core1] run B", lines[2]];
        assert_eq!(run(&interleaved), [BlockError::Interleaved { missing: 1 }]);
        // Lines after a block are fine.
        assert_eq!(run(&[lines[0], lines[1], lines[2], "[EXIT] success"]), []);
        assert_eq!(
            run(&[lines[0], lines[1]]),
            [BlockError::CutShort { missing: 1 }]
        );
        assert_eq!(
            run(&[lines[0], lines[1], lines[0], lines[1], lines[2]]),
            [BlockError::CutShort { missing: 1 }]
        );
        assert_eq!(run(&[lines[1]]), [BlockError::Stray]);
        assert!(matches!(
            run(&["[STATS] total cpus_online=x"])[..],
            [BlockError::Malformed(_)]
        ));
        // A warning of the STATS subsystem outside a block is no [STATS] line.
        assert_eq!(run(&["[STATS] WARN IPIs still in flight after 100 ms"]), []);
    }
}

//! The scheduler's lines: where tasks A–D run, and the result line of each
//! workload that has one (`[SLEEP]`, `[PINGPONG]`, `[BURST]`, `[BENCH]`).

use core::fmt;

use crate::tag::{BENCH, BURST, PINGPONG, SCHED, SLEEP};
use crate::text::{Fields, ParseError, decimal, split};

/// Task `name` ran on CPU `core`: `[SCHED][core2] run A` (each of tasks A–D,
/// at most every 100 ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRan<'a> {
    /// The CPU index.
    pub core: u32,
    /// The task's name.
    pub name: &'a str,
}

const TASK_RAN_FORM: &str = "[SCHED][coreN] run X";

impl<'a> TaskRan<'a> {
    /// Parses the line: `None` for any line but `[SCHED][core…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = line.strip_prefix(SCHED)?.strip_prefix("[core")?;
        Some((|| {
            let (core, rest) = split(rest, "] run ", TASK_RAN_FORM)?;
            let core = decimal(core)
                .and_then(|core| u32::try_from(core).ok())
                .ok_or(ParseError::BadValue("core"))?;
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(ParseError::BadValue("run"));
            }
            Ok(Self { core, name: rest })
        })())
    }
}

impl fmt::Display for TaskRan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHED}[core{}] run {}", self.core, self.name)
    }
}

crate::numbers_line!(
    /// End of `workload=sleep`:
    /// `[SLEEP] sleepers=1000 woke=1000 early=0 late=3 max_late_us=30127 late_limit_us=20000`.
    Sleep, SLEEP, {
        /// Tasks that slept.
        sleepers,
        /// Sleepers that woke.
        woke,
        /// Sleepers that woke before their deadline.
        early,
        /// Sleepers that woke more than `late_limit_us` after it.
        late,
        /// The latest wake-up after a deadline.
        max_late_us,
        /// Two ticks: what counts as late.
        late_limit_us,
    }
);

crate::numbers_line!(
    /// End of `workload=pingpong`: `[PINGPONG] pairs=2 round_trips=1000 expected=1000`.
    PingPong, PINGPONG, {
        /// Pairs of tasks on different cores.
        pairs,
        /// Round trips completed, over all pairs.
        round_trips,
        /// Round trips asked for.
        expected,
    }
);

crate::numbers_line!(
    /// End of `workload=burst`:
    /// `[BURST] tasks=100000 ran=100000 once=100000 live_tasks=0 spawn_ms=812 total_ms=1630`.
    Burst, BURST, {
        /// Tasks spawned.
        tasks,
        /// Task runs counted.
        ran,
        /// Tasks that ran exactly once.
        once,
        /// Live tasks besides those alive when the burst began (the driver, the
        /// kernel services) once all ran (0: all freed).
        live_tasks,
        /// Time to spawn them all.
        spawn_ms,
        /// Time until all ran and were freed.
        total_ms,
    }
);

/// A figure of the `[BENCH]` line: cycles, or `na` (needs a second CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// TSC cycles per op.
    Cycles(u64),
    /// Not measured: one CPU.
    Na,
}

impl Figure {
    /// The cycles, if measured.
    pub const fn cycles(self) -> Option<u64> {
        match self {
            Self::Cycles(cycles) => Some(cycles),
            Self::Na => None,
        }
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cycles(cycles) => write!(f, "{cycles}"),
            Self::Na => f.write_str("na"),
        }
    }
}

/// The `[BENCH]` line of `workload=bench` (`docs/kernel-interface.md` §2.1):
/// `[BENCH] cpus=2 spawn_cycles=9046 yield_cycles=1132 wake_local_cycles=1717
/// wake_remote_rtt_cycles=38179 steal_cycles=40955 ipc_rtt_cycles=61214 syscall_cycles=700 user_ipc_rtt_cycles=90000 samples=31
/// statistic=median tsc_mhz=2613`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bench<'a> {
    /// CPUs the kernel measured with.
    pub cpus: u64,
    /// Spawn + first poll + completion of an empty task.
    pub spawn_cycles: Figure,
    /// One `yield_now` of a task alone on its core.
    pub yield_cycles: Figure,
    /// One wake between two tasks on one core.
    pub wake_local_cycles: Figure,
    /// One round trip between tasks on cores 0 and 1 (`na` with one CPU).
    pub wake_remote_rtt_cycles: Figure,
    /// One stolen task (`na` with one CPU).
    pub steal_cycles: Figure,
    /// One IPC call from core 0 to the echo service on core 1 and its reply
    /// (`na` with one CPU).
    pub ipc_rtt_cycles: Figure,
    /// One null system call (`getcpu`) from ring 3, measured in ring 3.
    pub syscall_cycles: Figure,
    /// One round trip between two user processes on cores 0 and 1 over
    /// mailboxes, measured in ring 3 (`na` with one CPU).
    pub user_ipc_rtt_cycles: Figure,
    /// Samples per figure.
    pub samples: u64,
    /// How the samples are summed up (`median`).
    pub statistic: &'a str,
    /// The TSC rate, to convert cycles to time.
    pub tsc_mhz: u64,
}

impl Bench<'_> {
    /// The figures' keys, in print order.
    pub const FIGURE_KEYS: [&'static str; 8] = [
        "spawn_cycles",
        "yield_cycles",
        "wake_local_cycles",
        "wake_remote_rtt_cycles",
        "steal_cycles",
        "ipc_rtt_cycles",
        "syscall_cycles",
        "user_ipc_rtt_cycles",
    ];

    /// The figures that need a second CPU: `na` with `cpus=1`, and only then.
    pub const MULTI_CPU_KEYS: [&'static str; 4] = [
        "wake_remote_rtt_cycles",
        "steal_cycles",
        "ipc_rtt_cycles",
        "user_ipc_rtt_cycles",
    ];

    /// Each figure with its key, in print order.
    pub fn figures(&self) -> [(&'static str, Figure); 8] {
        let [spawn, yields, local, remote, steal, ipc, syscall, user_ipc] = Self::FIGURE_KEYS;
        [
            (spawn, self.spawn_cycles),
            (yields, self.yield_cycles),
            (local, self.wake_local_cycles),
            (remote, self.wake_remote_rtt_cycles),
            (steal, self.steal_cycles),
            (ipc, self.ipc_rtt_cycles),
            (syscall, self.syscall_cycles),
            (user_ipc, self.user_ipc_rtt_cycles),
        ]
    }
}

impl<'a> Bench<'a> {
    /// Parses and checks the line: every figure present, each a positive
    /// number of cycles, or `na` for the [`Self::MULTI_CPU_KEYS`] when (and
    /// only when) `cpus=1`. `None` for any line but `[BENCH]`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let fields = Fields::new(crate::text::tagged(line, BENCH)?);
        Some((|| {
            let cpus = fields.u64("cpus")?;
            if cpus == 0 {
                return Err(ParseError::BadValue("cpus"));
            }
            let figure = |key: &'static str| {
                let multi_cpu = Self::MULTI_CPU_KEYS.contains(&key);
                match fields.str(key)? {
                    "na" if cpus == 1 && multi_cpu => Ok(Figure::Na),
                    value => match decimal(value) {
                        Some(cycles) if cycles > 0 && !(cpus == 1 && multi_cpu) => {
                            Ok(Figure::Cycles(cycles))
                        }
                        _ => Err(ParseError::BadValue(key)),
                    },
                }
            };
            let [spawn, yields, local, remote, steal, ipc, syscall, user_ipc] = Self::FIGURE_KEYS;
            Ok(Self {
                cpus,
                spawn_cycles: figure(spawn)?,
                yield_cycles: figure(yields)?,
                wake_local_cycles: figure(local)?,
                wake_remote_rtt_cycles: figure(remote)?,
                steal_cycles: figure(steal)?,
                ipc_rtt_cycles: figure(ipc)?,
                syscall_cycles: figure(syscall)?,
                user_ipc_rtt_cycles: figure(user_ipc)?,
                samples: fields.u64("samples")?,
                statistic: fields.str("statistic")?,
                tsc_mhz: fields.u64("tsc_mhz")?,
            })
        })())
    }
}

impl fmt::Display for Bench<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{BENCH} cpus={}", self.cpus)?;
        for (key, figure) in self.figures() {
            write!(f, " {key}={figure}")?;
        }
        write!(
            f,
            " samples={} statistic={} tsc_mhz={}",
            self.samples, self.statistic, self.tsc_mhz
        )
    }
}

crate::report!(
    ['a] TaskRan<'a>,
    [] Sleep,
    [] PingPong,
    [] Burst,
    ['a] Bench<'a>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ran_round_trips() {
        let ran = TaskRan { core: 3, name: "A" };
        assert_eq!(ran.to_string(), "[SCHED][core3] run A");
        assert_eq!(TaskRan::parse(&ran.to_string()), Some(Ok(ran)));
        assert!(matches!(
            TaskRan::parse("[SCHED][core] run A"),
            Some(Err(_))
        ));
        assert_eq!(TaskRan::parse("[SCHED] run A"), None);
        assert_eq!(TaskRan::parse("[SCHED] send RESCHED IPI → core1"), None);
    }

    #[test]
    fn workload_lines_round_trip() {
        let sleep = Sleep {
            sleepers: 1000,
            woke: 1000,
            early: 0,
            late: 3,
            max_late_us: 30_127,
            late_limit_us: 20_000,
        };
        assert_eq!(
            sleep.to_string(),
            "[SLEEP] sleepers=1000 woke=1000 early=0 late=3 max_late_us=30127 \
             late_limit_us=20000"
        );
        assert_eq!(Sleep::parse(&sleep.to_string()), Some(Ok(sleep)));
        let pingpong = PingPong {
            pairs: 2,
            round_trips: 1000,
            expected: 1000,
        };
        assert_eq!(
            pingpong.to_string(),
            "[PINGPONG] pairs=2 round_trips=1000 expected=1000"
        );
        assert_eq!(PingPong::parse(&pingpong.to_string()), Some(Ok(pingpong)));
        let burst = Burst {
            tasks: 100_000,
            ran: 100_000,
            once: 100_000,
            live_tasks: 0,
            spawn_ms: 812,
            total_ms: 1630,
        };
        assert_eq!(
            burst.to_string(),
            "[BURST] tasks=100000 ran=100000 once=100000 live_tasks=0 spawn_ms=812 \
             total_ms=1630"
        );
        assert_eq!(Burst::parse(&burst.to_string()), Some(Ok(burst)));
        assert_eq!(Sleep::parse("[PINGPONG] pairs=1"), None);
        assert_eq!(
            PingPong::parse("[PINGPONG] pairs=2 round_trips=1000"),
            Some(Err(ParseError::Missing("expected")))
        );
    }

    fn bench(cpus: u64, remote: Figure, steal: Figure) -> Bench<'static> {
        Bench {
            cpus,
            spawn_cycles: Figure::Cycles(9046),
            yield_cycles: Figure::Cycles(1132),
            wake_local_cycles: Figure::Cycles(1717),
            wake_remote_rtt_cycles: remote,
            steal_cycles: steal,
            ipc_rtt_cycles: match remote {
                Figure::Na => Figure::Na,
                Figure::Cycles(_) => Figure::Cycles(61_214),
            },
            syscall_cycles: Figure::Cycles(700),
            user_ipc_rtt_cycles: match remote {
                Figure::Na => Figure::Na,
                Figure::Cycles(_) => Figure::Cycles(90_000),
            },
            samples: 31,
            statistic: "median",
            tsc_mhz: 2613,
        }
    }

    #[test]
    fn bench_line_round_trips() {
        let two = bench(2, Figure::Cycles(38_179), Figure::Cycles(40_955));
        assert_eq!(
            two.to_string(),
            "[BENCH] cpus=2 spawn_cycles=9046 yield_cycles=1132 wake_local_cycles=1717 \
             wake_remote_rtt_cycles=38179 steal_cycles=40955 ipc_rtt_cycles=61214 syscall_cycles=700 user_ipc_rtt_cycles=90000 samples=31 statistic=median \
             tsc_mhz=2613"
        );
        assert_eq!(Bench::parse(&two.to_string()), Some(Ok(two)));
        let one = bench(1, Figure::Na, Figure::Na);
        assert_eq!(Bench::parse(&one.to_string()), Some(Ok(one)));
        assert_eq!(Bench::parse("[BOOT] x"), None);
    }

    #[test]
    fn bench_na_only_with_one_cpu() {
        let bad = [
            // na with two CPUs
            bench(2, Figure::Na, Figure::Cycles(5)).to_string(),
            // a cross-core figure with one CPU
            bench(1, Figure::Cycles(4), Figure::Na).to_string(),
            // na for a single-CPU figure
            "[BENCH] cpus=1 spawn_cycles=na yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=na steal_cycles=na ipc_rtt_cycles=na syscall_cycles=6 user_ipc_rtt_cycles=na samples=1 statistic=median tsc_mhz=1"
                .to_owned(),
            // zero, garbage, missing
            "[BENCH] cpus=2 spawn_cycles=0 yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=4 steal_cycles=5 ipc_rtt_cycles=6 syscall_cycles=6 user_ipc_rtt_cycles=6 samples=1 statistic=median tsc_mhz=1"
                .to_owned(),
            "[BENCH] cpus=2 spawn_cycles=1 yield_cycles=x wake_local_cycles=3 \
             wake_remote_rtt_cycles=4 steal_cycles=5 ipc_rtt_cycles=6 syscall_cycles=6 user_ipc_rtt_cycles=6 samples=1 statistic=median tsc_mhz=1"
                .to_owned(),
            "[BENCH] cpus=2 spawn_cycles=1 yield_cycles=2 wake_local_cycles=3 \
             wake_remote_rtt_cycles=4"
                .to_owned(),
            "[BENCH] spawn_cycles=1".to_owned(),
            "[BENCH] cpus=0".to_owned(),
        ];
        for line in bad {
            assert!(
                matches!(Bench::parse(&line), Some(Err(_))),
                "accepted {line}"
            );
        }
    }
}

//! The boot scenarios of `cargo xtask test`: one row per boot, checked against a list of
//! expectations.
//!
//! To test a new behaviour, add a row to [`SCENARIOS`]; to change what a boot must show
//! (for example `cpus_online` once application processors come up), edit its row.

use std::collections::HashSet;
use std::time::Duration;

use protocol::SCHED_HZ;
use protocol::args::{self, ArgIssue};
use protocol::boot::{ArgWarning, Boot, BootMode};
use protocol::fatal::{Exception, Panic};
use protocol::ipc::{IpcResult, IpcStress};
use protocol::ktest::Ktest;
use protocol::monitor::{self, CpuLine, Done, NameLine, Spawned, TasksLine};
use protocol::sched::{Burst, PingPong, Sleep, TaskRan};
use protocol::serial;
use protocol::smp::{ApFailed, ApOnline, ApicMode, ApicTimer, LapicMode};
use protocol::stats::{Counter, StatsTotal};
use protocol::text::ParseError;
use protocol::time::Tsc;
use protocol::user::{SyscallStress, UserKilled, UserResult, UserWrote};

use crate::boot::BootReport;
use crate::image::{self, Firmware};
use crate::output::{self, VerdictKind};
use crate::runner::{InputStep, SerialInput};

/// One boot and what it must show.
#[derive(Debug)]
pub struct Scenario {
    /// The check's name (`[test] PASS <name>`).
    pub name: &'static str,
    /// Number of CPUs.
    pub smp: u16,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// The kernel command line, one `key=value` word per pair.
    pub kernel_args: &'static [KernelArg],
    /// Host timeout in seconds.
    pub timeout_secs: u64,
    /// Extra QEMU arguments (e.g. `-m 32M`); usually none.
    pub qemu_args: &'static [&'static str],
    /// The boot runs the kernel's x2APIC driver, which needs a QEMU that emulates
    /// x2APIC (`qemu::lacks_x2apic`); without one the scenario is skipped.
    pub x2apic: bool,
    /// Everything that must hold; the first that does not is the failure reason.
    pub expect: &'static [Expect],
}

/// One word of the kernel command line, `(key, value)`: a key of `protocol::args`
/// with one of its values. A key the kernel does not know is for testing its
/// warnings; the scenario must then expect [`Expect::UnknownArg`] for the word.
pub type KernelArg = (&'static str, &'static str);

/// One expectation about a boot. Each is about lines of the `protocol` crate, read
/// with its parsers: a line that is there but malformed fails the check.
#[derive(Debug)]
pub enum Expect {
    /// The verdict has this kind (a `Failure` means the kernel wrote
    /// `protocol::exit::ExitCode::Failure`).
    Verdict(VerdictKind),
    /// The `[BOOT]` line says `mode=` with the scenario's firmware.
    BootMode,
    /// Every `[STATS]` block is whole, and the last one's `total` line says
    /// `cpus_online` = the scenario's `smp` and at least this `uptime_ms`.
    Stats {
        /// Lower bound of `uptime_ms`.
        min_uptime_ms: u64,
    },
    /// At least `min` `[STATS]` blocks, each whole.
    StatsBlocks {
        /// How many at least.
        min: usize,
    },
    /// The last `[STATS]` block's `total` line is exactly this, except `uptime_ms`.
    StatsTotal {
        /// CPUs online.
        cpus_online: u64,
        /// CPUs the kernel tried to start.
        cpus_expected: u64,
        /// APs that came too late.
        cpus_late: u64,
    },
    /// Every CPU came up: `[SMP] AP#k online` for k in 1..smp, the last `[STATS]`
    /// block's `cpus_online` = `cpus_expected` = smp, a `cpu=k` line for k in 0..smp,
    /// and the IPI books balance (the sums of `ipi_sent` and `ipi_received` over all
    /// CPUs are equal).
    EveryCpuAccountedFor,
    /// Every CPU's timer ran, no CPU got more ticks than its timer's run time
    /// allows (one tick of slack), and `ticks + ticks_lost` covers every tick
    /// due (see `check_ticks`). Lost ticks are reported, not failed.
    TicksMatchTimer,
    /// Under `-icount` (deterministic time): every CPU got every tick due, to
    /// one, none lost, none late.
    TicksExact,
    /// The calibration is right: every `[APIC] coreN timer @XHz (divide D`
    /// line, one per CPU, has `X × D` within ±1 % of QEMU's 1 GHz Local APIC
    /// timer clock. The LAPIC rate is measured against the TSC, so a wrong
    /// TSC calibration shows here — which the tick check cannot see: ticks
    /// and uptime both run on the TSC and agree with each other either way.
    CalibrationMatchesQemu,
    /// The `[TIME] TSC` line is there with every part: the PIT calibration and
    /// what each CPUID leaf says about the TSC rate (`kernel::tsc_cpuid`).
    /// Presence only: under TCG every leaf is absent, which is no failure.
    TscCrossChecked,
    /// `[SMP] Local APIC mode:` names this mode.
    ApicMode(ApicMode),
    /// `[SMP] WARN AP#index (apic_id=…) failed to start at stage …` for this AP.
    ApFailed {
        /// The AP's CPU index.
        index: u32,
        /// Its APIC id.
        apic_id: u32,
        /// The stage it got to.
        stage: u8,
    },
    /// Each named task printed a `[SCHED][coreN] run X` line; with 2+ CPUs the
    /// lines name at least two different cores.
    TasksRan(&'static [&'static str]),
    /// Every CPU's line of the last `[STATS]` block has `counter` ≥ `min`.
    EachCpuAtLeast {
        /// The counter.
        counter: Counter,
        /// Its lower bound.
        min: u64,
    },
    /// The sum over all CPUs of the `counters` (last `[STATS]` block) is ≥ `min`.
    SumAtLeast {
        /// The counters, added up over all CPUs.
        counters: &'static [Counter],
        /// The sum's lower bound.
        min: u64,
    },
    /// A workload's result line (`[SLEEP]`, `[IPC]`, `[USER] result`, …) is
    /// there, well formed, and holds what `what` says; [`result_line!`]
    /// builds it from the line's type and the requirement.
    ResultLine {
        /// What the line must show, for the failure message.
        what: &'static str,
        /// Finds and parses the line, then checks the requirement.
        check: fn(&[String], &str) -> Result<(), String>,
    },
    /// User programs wrote `[USER][coreN] <text>` from at least `min`
    /// distinct CPUs.
    UserWroteOnCores {
        /// The text.
        text: &'static str,
        /// Distinct CPUs required.
        min: usize,
    },
    /// A `[USER] … killed: <reason>` line whose reason contains this.
    UserKilledFor(&'static str),
    /// The in-kernel test whose name ends with this passed (`[KTEST] pass`).
    KtestPassed(&'static str),
    /// The kernel warned that it does not know this argument's key.
    UnknownArg(KernelArg),
    /// The kernel warned that `key` came `times` times and which word took
    /// effect (`None`: no value was valid).
    RepeatedArg {
        /// The key.
        key: &'static str,
        /// How often it came.
        times: u32,
        /// The word that won.
        wins: Option<KernelArg>,
    },
    /// `[PANIC] cpu=0 …`.
    PanicOnCpu0,
    /// A `[PANIC]` line whose message contains every one of these strings.
    PanicSays(&'static [&'static str]),
    /// `[EXCEPTION] cpu=0 vector=V name=N …`, with `cr2=` for a page fault.
    ExceptionOnCpu0 {
        /// The vector.
        vector: u8,
        /// Its mnemonic.
        name: &'static str,
    },
    /// The whole check (image and boot) took less than this.
    Within(Duration),
    /// The `[BENCH]` line of `workload=bench` is there with `cpus` = the scenario's
    /// `smp`, every figure, each a positive number (`na` only for the cross-core
    /// figures with one CPU). Presence and format only: no figure is judged.
    BenchLine,
    /// COM1 input: after `[SERIAL] ready` the host types this line (and `\r`) on
    /// QEMU's stdin; the kernel must report it back in `[SERIAL] … got=<line>`,
    /// having counted at least one receive interrupt, every byte and no overflow.
    SerialEcho(&'static str),
    /// The kernel monitor, driven through COM1: after `[MON] ready` the host
    /// types [`MONITOR_SCRIPT`]'s commands one by one, each once the previous
    /// one's `[MON] ok|error` line has come, and checks every answer
    /// ([`check_monitor_session`]); `quit` must end the run.
    MonitorSession,
}

/// The lines of [`Expect::MonitorSession`], in order, and the `[MON]` done
/// line each one must end with (`?`: an error that names no command). Among
/// them three bad ones: a junk command, bytes that are not UTF-8, and a
/// 2000-byte line; the monitor must answer each with an error and go on.
const MONITOR_SCRIPT: &[(&[u8], &str)] = &[
    (b"help", monitor::cmd::HELP),
    (b"cpus", monitor::cmd::CPUS),
    (b"spawn 100", monitor::cmd::SPAWN),
    (b"tasks", monitor::cmd::TASKS),
    (b"ping 1", monitor::cmd::PING),
    (b"ipc", monitor::cmd::IPC),
    (b"stats", monitor::cmd::STATS),
    (b"frobnicate now", "?"),
    (b"\xff\xfe ping", "?"),
    (&[b'x'; 2000], "?"),
    (b"quit", monitor::cmd::QUIT),
];

/// Whether `line` is a `[MON] ok` or `[MON] error` line.
fn monitor_done(line: &str) -> bool {
    matches!(Done::parse(line), Some(Ok(_)))
}

/// [`Expect::ResultLine`] for the result line of type `$line` (found with
/// its `parse`), which must satisfy `$accept`, described by `$what`.
macro_rules! result_line {
    ($line:ty, $what:expr, $accept:expr $(,)?) => {
        Expect::ResultLine {
            what: $what,
            check: |lines, what| {
                let accept: fn(&$line) -> bool = $accept;
                check_result(lines, <$line>::parse, &accept, what)
            },
        }
    };
}

/// Tasks A–D, the default workload.
const TASKS_A_TO_D: &[&str] = &["A", "B", "C", "D"];

/// A normal timed run: success, the right boot mode, every CPU online and
/// accounted for, ticks that match the clock, tasks A–D spread over cores.
const DURATION_RUN: &[Expect] = &[
    Expect::Verdict(VerdictKind::Success),
    Expect::BootMode,
    Expect::Stats {
        min_uptime_ms: 2000,
    },
    Expect::EveryCpuAccountedFor,
    Expect::TicksMatchTimer,
    Expect::CalibrationMatchesQemu,
    Expect::TscCrossChecked,
    Expect::TasksRan(TASKS_A_TO_D),
];

/// A CPU model with x2APIC (CPUID.01H:ECX\[21\]): QEMU 10's `max` has it
/// anyway, `+x2apic` says what the row is about (QEMU 7.2's TCG only warns that
/// it cannot provide it).
const X2APIC_CPU: &[&str] = &["-cpu", "max,+x2apic"];

/// [`DURATION_RUN`] with the Local APIC in x2APIC mode.
const X2APIC_RUN: &[Expect] = &[
    Expect::Verdict(VerdictKind::Success),
    Expect::BootMode,
    Expect::ApicMode(ApicMode::X2Apic),
    Expect::Stats {
        min_uptime_ms: 2000,
    },
    Expect::EveryCpuAccountedFor,
    Expect::TicksMatchTimer,
    Expect::CalibrationMatchesQemu,
    Expect::TscCrossChecked,
    Expect::TasksRan(TASKS_A_TO_D),
];

/// A word with a key the kernel does not know (`args-warnings`).
const BOGUS_ARG: KernelArg = ("bogus", "1");

/// The winner of a repeated `duration=` (`args-warnings`).
const HALF_SECOND: KernelArg = (args::DURATION, "0.5");

/// All boot scenarios, run in this order.
/// What every `workload=ipcstress` run must show: no deadlock (the run
/// ends), every call answered right, full and closed ports met and every
/// refused message handed back, the closing ports drained, and the IPC
/// books balanced (in `EveryCpuAccountedFor`).
const IPCSTRESS_EXPECT: &[Expect] = &[
    Expect::Verdict(VerdictKind::Success),
    Expect::EveryCpuAccountedFor,
    result_line!(
        IpcStress,
        "calls = replies > 0, hops, full, closed and drained > 0, \
               handed_back = full + closed",
        |s| {
            s.calls > 0
                && s.calls == s.replies
                && s.hops > 0
                && s.full > 0
                && s.closed > 0
                && s.drained > 0
                && s.handed_back == s.full + s.closed
        }
    ),
];

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "boot-bios-smp1",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-bios-smp2",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-bios-smp4",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-bios-smp8",
        smp: 8,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 90,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        // 64 CPUs on this machine's 2 host cores: every one must come online
        // and report; lost ticks are expected, extra ticks are not.
        name: "boot-bios-smp64",
        smp: 64,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "3")],
        timeout_secs: 180,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        // Every line the host checks is printed whatever the log level:
        // `log=` filters only free-text lines.
        name: "boot-bios-smp4-log-warn",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2"), (args::LOG, args::log::WARN)],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        // Under -icount, guest time follows the instructions executed, not
        // the host's clock: no tick can be lost to load, so the tick count
        // must be exact. This is where a timer at the wrong rate cannot hide.
        name: "ticks-exact-icount",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 90,
        qemu_args: &["-icount", "shift=4,sleep=off"],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            Expect::TicksExact,
            Expect::CalibrationMatchesQemu,
        ],
    },
    Scenario {
        name: "boot-x2apic-smp4",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        // QEMU >= 9.0 only (older TCG has no x2APIC: the kernel would run
        // xAPIC and the mode line would fail the check); skipped there.
        qemu_args: X2APIC_CPU,
        x2apic: true,
        expect: X2APIC_RUN,
    },
    Scenario {
        name: "boot-x2apic-smp8",
        smp: 8,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 90,
        qemu_args: X2APIC_CPU,
        x2apic: true,
        expect: X2APIC_RUN,
    },
    Scenario {
        name: "smp-serial-bring-up",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "2"),
            (args::SMP_BOOT, args::smp_boot::SERIAL),
        ],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "smp-fake-ap-times-out",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2"), (args::SMP_FAKE_AP, "200")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::Stats {
                min_uptime_ms: 2000,
            },
            Expect::EveryCpuAccountedFor,
            Expect::ApFailed {
                index: 4,
                apic_id: 200,
                stage: 0,
            },
        ],
    },
    Scenario {
        // AP 3 holds back until the BSP gives up on it, then must park itself
        // and be counted as late, not come online behind the BSP's back.
        name: "smp-late-ap-parks",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2"), (args::SMP_LATE_AP, "3")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::ApFailed {
                index: 3,
                apic_id: 3,
                stage: 5,
            },
            Expect::StatsTotal {
                cpus_online: 3,
                cpus_expected: 4,
                cpus_late: 1,
            },
        ],
    },
    Scenario {
        name: "smp-fake-ap-kernel-test",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::SMP_FAKE_AP, "200"),
            (args::TEST, "smp::tests::fake_ap_timed_out_and_boot_went_on"),
        ],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::KtestPassed("smp::tests::fake_ap_timed_out_and_boot_went_on"),
        ],
    },
    Scenario {
        name: "workload-imbalance",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "3"),
            (args::WORKLOAD, args::workload::IMBALANCE),
        ],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            Expect::EachCpuAtLeast {
                counter: Counter::TasksRun,
                min: 1,
            },
            Expect::SumAtLeast {
                counters: &[Counter::Steals, Counter::Migrations],
                min: 1,
            },
        ],
    },
    Scenario {
        name: "workload-sleep",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "3"),
            (args::WORKLOAD, args::workload::SLEEP),
        ],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        // Every sleeper wakes, none early. How late is load's business (a
        // vCPU the host deschedules wakes its sleepers late): counted in
        // `late=`, judged only under -icount below.
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            result_line!(Sleep, "sleepers=1000 woke=1000 early=0", |s| s.sleepers
                == 1000
                && s.woke == 1000
                && s.early == 0),
        ],
    },
    Scenario {
        // Deterministic time: no sleeper may wake more than two ticks late.
        name: "workload-sleep-icount",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "3"),
            (args::WORKLOAD, args::workload::SLEEP),
        ],
        timeout_secs: 60,
        qemu_args: &["-icount", "shift=4,sleep=off"],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            result_line!(Sleep, "sleepers=1000 woke=1000 early=0 late=0", |s| s
                .sleepers
                == 1000
                && s.woke == 1000
                && s.early == 0
                && s.late == 0),
        ],
    },
    Scenario {
        name: "workload-ipc",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "3"), (args::WORKLOAD, args::workload::IPC)],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            // Also: Σ ipc_sent = Σ ipc_received + Σ ipc_dropped.
            Expect::EveryCpuAccountedFor,
            result_line!(IpcResult, "calls=4000 replies=4000 expected=4000", |i| i
                .calls
                == 4000
                && i.replies == 4000
                && i.expected == 4000),
            Expect::SumAtLeast {
                counters: &[Counter::IpcReceived],
                min: 4000,
            },
        ],
    },
    Scenario {
        name: "workload-ipcstress-smp4",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "30"),
            (args::WORKLOAD, args::workload::IPCSTRESS),
        ],
        timeout_secs: 120,
        qemu_args: &[],
        x2apic: false,
        expect: IPCSTRESS_EXPECT,
    },
    Scenario {
        name: "workload-ipcstress-smp8",
        smp: 8,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "30"),
            (args::WORKLOAD, args::workload::IPCSTRESS),
        ],
        timeout_secs: 150,
        qemu_args: &[],
        x2apic: false,
        expect: IPCSTRESS_EXPECT,
    },
    Scenario {
        // User programs in ring 3 as executor tasks: yield loops spread
        // over the CPUs (stolen or migrated), a two-process ping-pong over
        // mailboxes, a multi-threaded program on several CPUs at once, and
        // a program killed for its fault while the rest runs on.
        name: "workload-user",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "5"),
            (args::WORKLOAD, args::workload::USER),
        ],
        timeout_secs: 90,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            result_line!(
                UserResult,
                "exited >= 4, killed = 1, round_trips = expected, threads on >= 2 \
                       CPUs, moved > 0",
                |u| {
                    u.exited >= 4
                        && u.killed == 1
                        && u.round_trips == u.expected
                        && u.threads_cores >= 2
                        && u.moved > 0
                }
            ),
            Expect::UserWroteOnCores {
                text: "run yield_loop",
                min: 2,
            },
            Expect::UserKilledFor("page fault"),
            Expect::SumAtLeast {
                counters: &[Counter::UserFaults],
                min: 1,
            },
            Expect::SumAtLeast {
                counters: &[Counter::Syscalls],
                min: 100,
            },
        ],
    },
    Scenario {
        // Seed task 11.3: user threads on every core making good and
        // hostile system calls for 30 s; every one must get its answer.
        name: "workload-syscallstress-smp4",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "30"),
            (args::WORKLOAD, args::workload::SYSCALLSTRESS),
        ],
        timeout_secs: 120,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            result_line!(
                SyscallStress,
                "wrong = 0, killed = 0, ok > 0, errors > 0, calls = ok + errors",
                |s| {
                    s.wrong == 0
                        && s.killed == 0
                        && s.ok > 0
                        && s.errors > 0
                        && s.calls == s.ok + s.errors
                }
            ),
        ],
    },
    Scenario {
        name: "workload-pingpong",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[
            (args::DURATION, "3"),
            (args::WORKLOAD, args::workload::PINGPONG),
        ],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            result_line!(PingPong, "pairs=2 round_trips=1000 expected=1000", |p| p
                .pairs
                == 2
                && p.round_trips == 1000
                && p.expected == 1000),
            Expect::SumAtLeast {
                counters: &[Counter::WakesRemote],
                min: 1,
            },
            Expect::SumAtLeast {
                counters: &[Counter::ReschedIpis],
                min: 1,
            },
            Expect::SumAtLeast {
                counters: &[Counter::ReschedRequested],
                min: 1,
            },
        ],
    },
    Scenario {
        name: "workload-bench",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[(args::WORKLOAD, args::workload::BENCH)],
        timeout_secs: 120,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            Expect::BenchLine,
        ],
    },
    Scenario {
        name: "workload-burst",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::WORKLOAD, args::workload::BURST)],
        timeout_secs: 120,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::EveryCpuAccountedFor,
            // Every one of 100,000 tasks ran exactly once and was freed.
            result_line!(
                Burst,
                "tasks=100000 ran=100000 once=100000 live_tasks=0",
                |b| {
                    b.tasks == 100_000 && b.ran == 100_000 && b.once == 100_000 && b.live_tasks == 0
                }
            ),
            Expect::SumAtLeast {
                counters: &[Counter::TasksRun],
                min: 100_000,
            },
            Expect::EachCpuAtLeast {
                counter: Counter::TasksRun,
                min: 1,
            },
        ],
    },
    Scenario {
        name: "small-memory-32m",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        // The heap is sized from free memory (half of it, 4-64 MiB): a fixed
        // 64 MiB heap did not boot here (`FrameAllocationFailed`).
        qemu_args: &["-m", "32M"],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "stats-periodic",
        smp: 2,
        firmware: Firmware::Bios,
        // Reports come every 0.5 s from when the supervisor starts, and the
        // run lasts 3 s from then too: room for 5 periodic reports plus the
        // final one however late a busy host lets boot finish.
        kernel_args: &[(args::DURATION, "3"), (args::STATS, "0.5")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::StatsBlocks { min: 4 },
        ],
    },
    Scenario {
        name: "soak-30s-smp4",
        smp: 4,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "30")],
        timeout_secs: 150,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::Stats {
                min_uptime_ms: 30_000,
            },
            Expect::EveryCpuAccountedFor,
            Expect::TicksMatchTimer,
            Expect::CalibrationMatchesQemu,
            Expect::TasksRan(TASKS_A_TO_D),
        ],
    },
    Scenario {
        name: "boot-uefi-smp1",
        smp: 1,
        firmware: Firmware::Uefi,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "boot-uefi-smp4",
        smp: 4,
        firmware: Firmware::Uefi,
        kernel_args: &[(args::DURATION, "2")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "args-warnings",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[BOGUS_ARG, (args::DURATION, "9"), HALF_SECOND],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::UnknownArg(BOGUS_ARG),
            Expect::RepeatedArg {
                key: args::DURATION,
                times: 2,
                wins: Some(HALF_SECOND),
            },
            // The winner took effect: a 9 s run would have hit the timeout.
            Expect::Within(Duration::from_secs(30)),
        ],
    },
    Scenario {
        // COM1 receive: ISA IRQ 4 through the I/O APIC into the kernel's ring.
        name: "serial-rx",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[(args::TEST, "serial_rx::tests::rx_echo")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::SerialEcho("hello from the host"),
        ],
    },
    Scenario {
        // The kernel monitor, typed at through COM1: each command's answer,
        // a junk line's error, and `quit` ending the run with success.
        name: "monitor-session",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[],
        timeout_secs: 90,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Success),
            Expect::MonitorSession,
            Expect::EveryCpuAccountedFor,
        ],
    },
    Scenario {
        // The ring-3 tests on a CPU model with SMEP, SMAP and UMIP (QEMU's
        // default model has none, so `kernel-tests` skips those checks).
        name: "user-cpu-max",
        smp: 2,
        firmware: Firmware::Bios,
        kernel_args: &[(args::TEST, "x86_64::user::")],
        timeout_secs: 120,
        qemu_args: &["-cpu", "max"],
        x2apic: false,
        expect: &[Expect::Verdict(VerdictKind::Success)],
    },
    Scenario {
        name: "fail-detect-panic",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[(args::TEST, "harness::deliberate_panic")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[Expect::Verdict(VerdictKind::Failure), Expect::PanicOnCpu0],
    },
    Scenario {
        // A lock taken against the rank order panics, naming both ranks.
        name: "fail-detect-lock-order",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[(args::TEST, "harness::lock_order_violation")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Failure),
            Expect::PanicOnCpu0,
            Expect::PanicSays(&["lock rank violation", "HEAP(16)", "TIMERS(20)"]),
        ],
    },
    Scenario {
        name: "fail-detect-page-fault",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[(args::TEST, "harness::unexpected_page_fault")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Failure),
            Expect::ExceptionOnCpu0 {
                vector: 14,
                name: "#PF",
            },
        ],
    },
    Scenario {
        name: "fail-detect-double-fault",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[(args::TEST, "harness::stack_overflow")],
        timeout_secs: 60,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Failure),
            Expect::ExceptionOnCpu0 {
                vector: 8,
                name: "#DF",
            },
        ],
    },
    Scenario {
        name: "fail-detect-timeout",
        smp: 1,
        firmware: Firmware::Bios,
        kernel_args: &[],
        timeout_secs: 5,
        qemu_args: &[],
        x2apic: false,
        expect: &[
            Expect::Verdict(VerdictKind::Timeout),
            Expect::Within(Duration::from_secs(20)),
        ],
    },
];

/// The scale tier (`cargo xtask test --scale`; with the default tier's
/// `boot-bios-smp64`, the issue's sweep of 16 to 255 CPUs): many CPUs under TCG on a
/// 2-core host take minutes, so CI leaves them out. Longer runs than the
/// default tier: a vCPU can wait seconds for its first turn on a host core.
pub const SCALE_SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "scale-bios-smp16",
        smp: 16,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "3")],
        timeout_secs: 120,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "scale-bios-smp32",
        smp: 32,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "3")],
        timeout_secs: 150,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        name: "scale-bios-smp128",
        smp: 128,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "6")],
        timeout_secs: 300,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
    Scenario {
        // Past 255 CPUs: x2APIC ids above 255 need QEMU's q35 machine with
        // an IOMMU doing interrupt remapping (EIM), and QEMU >= 9.0.
        name: "scale-x2apic-smp264",
        smp: 264,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "15")],
        timeout_secs: 900,
        qemu_args: &[
            "-machine",
            "q35,kernel-irqchip=split",
            "-device",
            "intel-iommu,intremap=on,eim=on",
            "-cpu",
            "max,+x2apic",
        ],
        x2apic: true,
        expect: X2APIC_RUN,
    },
    Scenario {
        name: "scale-bios-smp255",
        smp: 255,
        firmware: Firmware::Bios,
        kernel_args: &[(args::DURATION, "10")],
        timeout_secs: 600,
        qemu_args: &[],
        x2apic: false,
        expect: DURATION_RUN,
    },
];

impl Scenario {
    /// What the host types on the guest's COM1 during the boot, if an expectation
    /// asks for it ([`Expect::SerialEcho`]).
    pub fn serial_input(&self) -> Option<SerialInput> {
        self.expect.iter().find_map(|expect| match expect {
            Expect::SerialEcho(line) => Some(SerialInput::once(
                serial::Ready::parse,
                format!("{line}\r").into_bytes(),
            )),
            Expect::MonitorSession => Some(SerialInput {
                steps: MONITOR_SCRIPT
                    .iter()
                    .enumerate()
                    .map(|(i, (typed, _))| InputStep {
                        after: if i == 0 {
                            monitor::Ready::parse
                        } else {
                            monitor_done
                        },
                        bytes: [*typed, b"\r"].concat(),
                    })
                    .collect(),
            }),
            _ => None,
        })
    }

    /// Checks every expectation against a finished boot that took `elapsed` in total.
    pub fn check(&self, report: &BootReport, elapsed: Duration) -> Result<(), String> {
        self.expect
            .iter()
            .try_for_each(|expect| self.check_one(expect, report, elapsed))
    }

    fn check_one(
        &self,
        expect: &Expect,
        report: &BootReport,
        elapsed: Duration,
    ) -> Result<(), String> {
        let lines = &report.finished.serial;
        match expect {
            Expect::Verdict(kind) => check_verdict(*kind, report),
            Expect::BootMode => check_boot_mode(self.firmware, lines),
            Expect::Stats { min_uptime_ms } => {
                check_stats(u64::from(self.smp), *min_uptime_ms, lines)
            }
            Expect::StatsBlocks { min } => check_stats_blocks(*min, lines),
            Expect::StatsTotal {
                cpus_online,
                cpus_expected,
                cpus_late,
            } => check_stats_total((*cpus_online, *cpus_expected, *cpus_late), lines),
            Expect::EveryCpuAccountedFor => check_every_cpu(self.smp, lines),
            Expect::TicksMatchTimer => check_ticks(lines),
            Expect::TicksExact => check_ticks_exact(lines),
            Expect::CalibrationMatchesQemu => check_calibration(self.smp, lines),
            Expect::TscCrossChecked => output::first(lines, Tsc::parse)
                .ok_or("no [TIME] TSC line")?
                .map(drop),
            Expect::ApicMode(mode) => check_apic_mode(*mode, lines),
            Expect::ApFailed {
                index,
                apic_id,
                stage,
            } => check_ap_failed((*index, *apic_id, *stage), lines),
            Expect::TasksRan(names) => check_tasks_ran(names, self.smp, lines),
            Expect::EachCpuAtLeast { counter, min } => check_each_cpu(*counter, *min, lines),
            Expect::SumAtLeast { counters, min } => check_sum(counters, *min, lines),
            Expect::ResultLine { what, check } => check(lines, what),
            Expect::UserWroteOnCores { text, min } => check_user_wrote(text, *min, lines),
            Expect::UserKilledFor(reason) => {
                let (killed, malformed) = output::all(lines, UserKilled::parse);
                if let Some(line) = malformed.first() {
                    return Err(format!("malformed line: {line}"));
                }
                if killed.iter().any(|k| k.reason.contains(reason)) {
                    Ok(())
                } else {
                    Err(format!("no thread killed for '{reason}': {killed:?}"))
                }
            }
            Expect::KtestPassed(name) => check_ktest_passed(name, lines),
            Expect::UnknownArg(arg) => check_unknown_arg(*arg, lines),
            Expect::RepeatedArg { key, times, wins } => {
                check_repeated_arg(key, *times, *wins, lines)
            }
            Expect::PanicOnCpu0 => check_panic_on_cpu0(lines),
            Expect::PanicSays(words) => check_panic_says(words, lines),
            Expect::ExceptionOnCpu0 { vector, name } => {
                check_exception_on_cpu0(*vector, name, lines)
            }
            Expect::BenchLine => check_bench_line(self.smp, lines),
            Expect::SerialEcho(sent) => check_serial_echo(sent, lines),
            Expect::MonitorSession => check_monitor_session(self.smp, lines),
            Expect::Within(limit) if elapsed < *limit => Ok(()),
            Expect::Within(limit) => Err(format!(
                "took {:.1} s, limit {} s",
                elapsed.as_secs_f64(),
                limit.as_secs()
            )),
        }
    }
}

fn check_verdict(kind: VerdictKind, report: &BootReport) -> Result<(), String> {
    if report.verdict.kind == kind {
        Ok(())
    } else {
        Err(format!(
            "expected verdict {kind:?}, got {:?} ({})",
            report.verdict.kind, report.verdict
        ))
    }
}

fn check_boot_mode(firmware: Firmware, lines: &[String]) -> Result<(), String> {
    let boot = output::first(lines, Boot::parse).ok_or("no [BOOT] kernel line")??;
    let expected = match firmware {
        Firmware::Bios => BootMode::Bios,
        Firmware::Uefi => BootMode::Uefi,
    };
    if boot.mode == expected {
        Ok(())
    } else {
        Err(format!(
            "[BOOT] says mode={}, expected mode={expected}",
            boot.mode
        ))
    }
}

fn check_every_cpu(smp: u16, lines: &[String]) -> Result<(), String> {
    let (online, malformed) = output::all(lines, ApOnline::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    for index in 1..u32::from(smp) {
        if !online.contains(&ApOnline { index }) {
            return Err(format!("no '{}' line", ApOnline { index }));
        }
    }
    let stats = output::parse_stats(lines);
    let block = stats.last()?;
    // The kernel's own count: a run that lost CPUs is no success.
    let total = &block.total;
    if total.cpus_online != total.cpus_expected || total.cpus_expected != u64::from(smp) {
        return Err(format!(
            "[STATS] total cpus_online={} cpus_expected={} (QEMU -smp {smp})",
            total.cpus_online, total.cpus_expected
        ));
    }
    let (mut sent, mut received) = (0, 0);
    let (mut ipc_sent, mut ipc_received, mut ipc_dropped) = (0, 0, 0);
    for cpu in 0..u32::from(smp) {
        let line = block
            .cpu(cpu)
            .ok_or_else(|| format!("no [STATS] cpu={cpu} line"))?;
        sent += line.ipi_sent;
        received += line.ipi_received;
        ipc_sent += line.ipc_sent;
        ipc_received += line.ipc_received;
        ipc_dropped += line.ipc_dropped;
    }
    // Every message put on a port was taken off it, or discarded with its
    // port's receive right: none lost, none delivered twice.
    if ipc_sent != ipc_received + ipc_dropped {
        return Err(format!(
            "IPC books do not balance: sum ipc_sent={ipc_sent}, sum ipc_received=\
             {ipc_received}, sum ipc_dropped={ipc_dropped}"
        ));
    }
    if sent != received {
        return Err(format!(
            "IPI books do not balance: sum ipi_sent={sent}, sum ipi_received={received}"
        ));
    }
    Ok(())
}

/// Every CPU's ticks against how long its timer ran, with
/// `due = timer_ms × SCHED_HZ / 1000`. What each part means:
///
/// - **the timer ran**: `timer_ms > 0` (a CPU that came up without a tick
///   fails);
/// - **no extra ticks**: `ticks ≤ due + 1`, `due` taken over `timer_ms + 1`
///   (the kernel truncates to whole milliseconds);
/// - **the books add up**: `ticks + ticks_lost ≥ due`. The kernel counts as
///   lost every tick due by the moment it printed the line that has not come
///   (`kernel/src/stats.rs`), so the sum can fall short only if it
///   under-reports.
///
/// Lost ticks themselves are no failure: a descheduled vCPU loses them (two
/// host CPU hogs: 18 % of a CPU's ticks; 128 virtual CPUs on 2 host cores:
/// most of them), and the kernel keeps time from the TSC. A timer at the
/// wrong rate is caught where it can be told from load: by
/// [`Expect::CalibrationMatchesQemu`], and exactly by [`Expect::TicksExact`]
/// under `-icount`, where time is deterministic.
fn check_ticks(lines: &[String]) -> Result<(), String> {
    for_each_cpu_ticks(lines, |t| {
        let what = t.describe();
        let due_max = ((t.timer_ms + 1) * u64::from(SCHED_HZ)).div_ceil(1000);
        if t.timer_ms == 0 {
            Err(format!("{what}: its timer never ran"))
        } else if t.ticks > due_max + 1 {
            Err(format!("{what}: more ticks than time"))
        } else if t.ticks + t.lost < t.due() {
            Err(format!("{what}: ticks + ticks_lost short of the ticks due"))
        } else {
            Ok(())
        }
    })
}

/// See [`Expect::TicksExact`]: every CPU got its ticks on time, to one tick.
fn check_ticks_exact(lines: &[String]) -> Result<(), String> {
    for_each_cpu_ticks(lines, |t| {
        let what = t.describe();
        if t.timer_ms == 0 {
            Err(format!("{what}: its timer never ran"))
        } else if t.ticks.abs_diff(t.due()) > 1 || t.lost > 1 || t.late > 0 {
            Err(format!(
                "{what}: under -icount every tick is due on time (±1, none lost or late)"
            ))
        } else {
            Ok(())
        }
    })
}

/// One CPU's tick counters from its `[STATS] cpu=` line.
struct CpuTicks {
    cpu: u32,
    ticks: u64,
    lost: u64,
    late: u64,
    timer_ms: u64,
}

impl CpuTicks {
    /// Ticks due over `timer_ms`.
    fn due(&self) -> u64 {
        self.timer_ms * u64::from(SCHED_HZ) / 1000
    }

    fn describe(&self) -> String {
        format!(
            "cpu {}: ticks={} ticks_lost={} ticks_late={}, due {} (timer_ms={} at {SCHED_HZ} Hz)",
            self.cpu,
            self.ticks,
            self.lost,
            self.late,
            self.due(),
            self.timer_ms
        )
    }
}

/// Runs `check` on every CPU's tick counters (last `[STATS]` block); the first error
/// wins.
fn for_each_cpu_ticks(
    lines: &[String],
    mut check: impl FnMut(&CpuTicks) -> Result<(), String>,
) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    let block = stats.last()?;
    if block.cpus.is_empty() {
        return Err("no [STATS] cpu= lines".to_owned());
    }
    for line in &block.cpus {
        check(&CpuTicks {
            cpu: line.cpu,
            ticks: line.ticks,
            lost: line.ticks_lost,
            late: line.ticks_late,
            timer_ms: line.timer_ms,
        })?;
    }
    Ok(())
}

/// QEMU's Local APIC timer input clock (TCG and KVM alike): 1 GHz.
const QEMU_APIC_CLOCK_HZ: u64 = 1_000_000_000;

/// See [`Expect::CalibrationMatchesQemu`]: one timer line per CPU, each
/// rate × divider within ±1 % of [`QEMU_APIC_CLOCK_HZ`].
fn check_calibration(smp: u16, lines: &[String]) -> Result<(), String> {
    let (timers, malformed) = output::all(lines, ApicTimer::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for timer in timers {
        let (core, hz, divide) = (timer.core, timer.hz, u64::from(timer.divide));
        let clock = hz * divide;
        if clock.abs_diff(QEMU_APIC_CLOCK_HZ) * 100 > QEMU_APIC_CLOCK_HZ {
            return Err(format!(
                "core{core}: Local APIC timer calibrated at {hz} Hz × {divide} = {clock} Hz, \
                 QEMU's is {QEMU_APIC_CLOCK_HZ} Hz (±1 %): the TSC calibration is off"
            ));
        }
        seen.insert(core);
    }
    if seen.len() != usize::from(smp) {
        return Err(format!(
            "{} '[APIC] coreN timer' lines for {smp} CPUs",
            seen.len()
        ));
    }
    Ok(())
}

fn check_apic_mode(mode: ApicMode, lines: &[String]) -> Result<(), String> {
    let line = output::first(lines, LapicMode::parse).ok_or("no Local APIC mode line")??;
    if line.mode == mode {
        Ok(())
    } else {
        Err(format!("{line}, expected {}", mode.as_str()))
    }
}

fn check_ap_failed(
    (index, apic_id, stage): (u32, u32, u8),
    lines: &[String],
) -> Result<(), String> {
    let (failures, malformed) = output::all(lines, ApFailed::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    if failures
        .iter()
        .any(|f| (f.index, f.apic_id, f.stage) == (index, apic_id, stage))
    {
        Ok(())
    } else {
        Err(format!(
            "no warning that AP#{index} (apic_id={apic_id}) failed to start at stage {stage} \
             (found {failures:?})"
        ))
    }
}

fn check_tasks_ran(names: &[&str], smp: u16, lines: &[String]) -> Result<(), String> {
    let (runs, malformed) = output::all(lines, TaskRan::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    for name in names {
        if !runs.iter().any(|ran| ran.name == *name) {
            return Err(format!("no '[SCHED][coreN] run {name}' line"));
        }
    }
    let mut cores: Vec<u32> = runs.iter().map(|ran| ran.core).collect();
    cores.sort_unstable();
    cores.dedup();
    if smp >= 2 && cores.len() < 2 {
        return Err(format!(
            "tasks ran on cores {cores:?} only; expected at least two"
        ));
    }
    Ok(())
}

fn check_each_cpu(counter: Counter, min: u64, lines: &[String]) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    let block = stats.last()?;
    if block.cpus.is_empty() {
        return Err("no [STATS] cpu= lines".to_owned());
    }
    for line in &block.cpus {
        let value = line.get(counter);
        if value < min {
            return Err(format!(
                "cpu {}: {}={value}, expected at least {min}",
                line.cpu,
                counter.key()
            ));
        }
    }
    Ok(())
}

fn check_sum(counters: &[Counter], min: u64, lines: &[String]) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    let block = stats.last()?;
    let sum: u64 = block
        .cpus
        .iter()
        .flat_map(|line| counters.iter().map(|&counter| line.get(counter)))
        .sum();
    if sum >= min {
        Ok(())
    } else {
        let keys: Vec<&str> = counters.iter().map(|counter| counter.key()).collect();
        Err(format!(
            "sum of {} over all CPUs is {sum}, expected at least {min}",
            keys.join(" + ")
        ))
    }
}

fn check_stats(cpus_online: u64, min_uptime_ms: u64, lines: &[String]) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    let total = &stats.last()?.total;
    if total.cpus_online != cpus_online {
        return Err(format!(
            "[STATS] total cpus_online={}, expected {cpus_online}",
            total.cpus_online
        ));
    }
    if total.uptime_ms < min_uptime_ms {
        return Err(format!(
            "[STATS] total uptime_ms={}, expected at least {min_uptime_ms}",
            total.uptime_ms
        ));
    }
    Ok(())
}

fn check_stats_blocks(min: usize, lines: &[String]) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    stats.last()?;
    if stats.blocks.len() >= min {
        Ok(())
    } else {
        Err(format!(
            "{} [STATS] blocks, expected at least {min}",
            stats.blocks.len()
        ))
    }
}

fn check_stats_total(
    (cpus_online, cpus_expected, cpus_late): (u64, u64, u64),
    lines: &[String],
) -> Result<(), String> {
    let stats = output::parse_stats(lines);
    let total = stats.last()?.total;
    let expected = StatsTotal {
        cpus_online,
        cpus_expected,
        cpus_late,
        uptime_ms: total.uptime_ms,
    };
    if total == expected {
        Ok(())
    } else {
        Err(format!("{total}, expected {expected}"))
    }
}

/// The result line of a workload (`parse`) must be there and pass `accept`.
fn check_result<'a, T: std::fmt::Debug>(
    lines: &'a [String],
    parse: impl Fn(&'a str) -> Option<Result<T, ParseError>>,
    accept: &fn(&T) -> bool,
    what: &str,
) -> Result<(), String> {
    let (found, malformed) = output::all(lines, parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    match found.first() {
        None => Err(format!("no result line (expected {what})")),
        Some(line) if accept(line) => Ok(()),
        Some(line) => Err(format!("{line:?}, expected {what}")),
    }
}

/// The answers of [`MONITOR_SCRIPT`]: one done line per command, in order;
/// `help` lists every command; `cpus` and `tasks` one line per CPU; `spawn
/// 100` 100 tasks, which `tasks` then shows at low priority; `ping 1` a round
/// trip to CPU 1; `ipc` the echo and serial services; the junk line an
/// unknown-command error.
fn check_monitor_session(smp: u16, lines: &[String]) -> Result<(), String> {
    let (done, malformed) = output::all(lines, Done::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    let order: Vec<&str> = done
        .iter()
        .map(|d| match d {
            Done::Ok { cmd } | Done::Error { cmd, .. } => *cmd,
        })
        .collect();
    let expected: Vec<&str> = MONITOR_SCRIPT.iter().map(|(_, cmd)| *cmd).collect();
    if order != expected {
        return Err(format!("monitor answered {order:?}, expected {expected:?}"));
    }
    let errors: Vec<&str> = done
        .iter()
        .filter_map(|d| match d {
            Done::Error { reason, .. } => Some(*reason),
            Done::Ok { .. } => None,
        })
        .collect();
    // The 2000-byte line: its length as the editor counted it may be short
    // of 2000 on a loaded host, where part of the flood overflows the
    // receive ring and is dropped (and counted) in the interrupt handler;
    // what must hold is that the line is refused as too long.
    let expected_errors = [
        "unknown command 'frobnicate'",
        "not UTF-8",
        "bytes dropped (at most 80)",
    ];
    if errors.len() != expected_errors.len()
        || !errors
            .iter()
            .zip(expected_errors)
            .all(|(reason, wanted)| reason.contains(wanted))
    {
        return Err(format!(
            "errors {errors:?}, expected ones saying {expected_errors:?}"
        ));
    }
    let help: Vec<&str> = lines
        .iter()
        .find_map(|line| monitor::Help::parse(line))
        .ok_or("no [MON] help line")?
        .map_err(|why| why.to_string())?
        .collect();
    if help != monitor::cmd::ALL {
        return Err(format!("help lists {help:?}"));
    }
    let (cpus, _) = output::all(lines, CpuLine::parse);
    let indices: Vec<u64> = cpus.iter().map(|c| c.index).collect();
    if indices != (0..u64::from(smp)).collect::<Vec<_>>() || cpus.iter().any(|c| c.idle_pct > 100) {
        return Err(format!("cpus answered {cpus:?}"));
    }
    let (spawned, _) = output::all(lines, Spawned::parse);
    match spawned.as_slice() {
        [s] if s.count == 100 && s.live_tasks >= 100 => {}
        other => return Err(format!("spawn 100 answered {other:?}")),
    }
    let (tasks, _) = output::all(lines, TasksLine::parse);
    let low: u64 = tasks.iter().map(|t| t.live_low).sum();
    if tasks.len() != usize::from(smp) || low < 100 {
        return Err(format!(
            "tasks answered {tasks:?} (expected {smp} lines, >= 100 low-priority tasks)"
        ));
    }
    let (pings, _) = output::all(lines, monitor::Ping::parse);
    match pings.as_slice() {
        [p] if p.cpu == 1 && p.rtt_cycles > 0 => {}
        other => return Err(format!("ping 1 answered {other:?}")),
    }
    let (names, _) = output::all(lines, NameLine::parse);
    for wanted in ["echo.0", "echo.1", "serial"] {
        if !names.iter().any(|n| n.name == wanted) {
            return Err(format!("ipc does not list {wanted}: {names:?}"));
        }
    }
    Ok(())
}

/// `[USER][coreN] text` lines from at least `min` distinct CPUs.
fn check_user_wrote(text: &str, min: usize, lines: &[String]) -> Result<(), String> {
    let (wrote, malformed) = output::all(lines, UserWrote::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    let cores: HashSet<u32> = wrote
        .iter()
        .filter(|w| w.text == text)
        .map(|w| w.core)
        .collect();
    if cores.len() >= min {
        Ok(())
    } else {
        Err(format!(
            "'[USER][coreN] {text}' from CPUs {cores:?}, expected at least {min}"
        ))
    }
}

fn check_ktest_passed(name: &str, lines: &[String]) -> Result<(), String> {
    let (events, malformed) = output::all(lines, Ktest::parse);
    if let Some(line) = malformed.first() {
        return Err(format!("malformed line: {line}"));
    }
    let suffix = format!("::{name}");
    let passed = events.iter().any(|event| {
        matches!(event, Ktest::Pass { name: passed, .. }
            if *passed == name || passed.ends_with(&suffix))
    });
    if passed {
        Ok(())
    } else {
        Err(format!("no [KTEST] pass line for {name}"))
    }
}

fn check_unknown_arg((key, value): KernelArg, lines: &[String]) -> Result<(), String> {
    let word = image::kernel_arg(key, value);
    check_arg_warning(&ArgIssue::UnknownKey { word: &word }, lines)
}

fn check_repeated_arg(
    key: &str,
    times: u32,
    wins: Option<KernelArg>,
    lines: &[String],
) -> Result<(), String> {
    let wins = wins.map(|(key, value)| image::kernel_arg(key, value));
    let issue = ArgIssue::Repeated {
        key,
        times,
        wins: wins.as_deref(),
    };
    check_arg_warning(&issue, lines)
}

fn check_arg_warning(issue: &ArgIssue<'_>, lines: &[String]) -> Result<(), String> {
    let expected = issue.to_string();
    if lines
        .iter()
        .any(|line| ArgWarning::parse(line) == Some(expected.as_str()))
    {
        Ok(())
    } else {
        Err(format!("no warning '{}'", ArgWarning(*issue)))
    }
}

fn check_panic_on_cpu0(lines: &[String]) -> Result<(), String> {
    let panic = output::first(lines, Panic::parse).ok_or("no [PANIC] line")??;
    if panic.context.cpu == 0 {
        Ok(())
    } else {
        Err(format!("{panic}, expected cpu=0"))
    }
}

fn check_serial_echo(sent: &str, lines: &[String]) -> Result<(), String> {
    if !lines.iter().any(|line| serial::Ready::parse(line)) {
        return Err("no [SERIAL] ready line".to_owned());
    }
    let got = output::first(lines, serial::Got::parse).ok_or("no [SERIAL] got= line")??;
    let typed = sent.len() as u64 + 1;
    if got.line == sent && got.interrupts > 0 && got.overflowed == 0 && got.bytes >= typed {
        Ok(())
    } else {
        Err(format!(
            "{got}: expected got={sent} with bytes>={typed}, interrupts>0, overflowed=0"
        ))
    }
}

fn check_panic_says(words: &[&str], lines: &[String]) -> Result<(), String> {
    let panic = output::first(lines, Panic::parse).ok_or("no [PANIC] line")??;
    match words.iter().find(|word| !panic.message.contains(**word)) {
        None => Ok(()),
        Some(word) => Err(format!("{panic}: the message does not say {word:?}")),
    }
}

fn check_exception_on_cpu0(vector: u8, name: &str, lines: &[String]) -> Result<(), String> {
    let exception = output::first(lines, Exception::parse).ok_or("no [EXCEPTION] line")??;
    let page_fault = vector == 14;
    if (exception.context.cpu, exception.vector, exception.name) == (0, vector, name)
        && exception.cr2.is_some() == page_fault
    {
        Ok(())
    } else {
        Err(format!(
            "{exception}, expected cpu=0 vector={vector} name={name}{}",
            if page_fault { " with cr2=" } else { "" }
        ))
    }
}

fn check_bench_line(smp: u16, lines: &[String]) -> Result<(), String> {
    let bench = output::parse_bench_line(lines)
        .ok_or("no [BENCH] line")?
        .map_err(|why| format!("bad [BENCH] line: {why}"))?;
    if bench.cpus == u64::from(smp) {
        Ok(())
    } else {
        Err(format!("[BENCH] cpus={}, expected {smp}", bench.cpus))
    }
}

#[cfg(test)]
mod tests {

    use protocol::stats::{StatsBlock, StatsCpu};

    use super::*;
    use protocol::fatal::Context;

    fn own(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|line| (*line).to_owned()).collect()
    }

    /// A `[STATS]` block of these CPU lines, as the kernel prints it.
    fn block(cpus: &[StatsCpu]) -> Vec<String> {
        let total = StatsTotal {
            cpus_online: cpus.len() as u64,
            cpus_expected: cpus.len() as u64,
            cpus_late: 0,
            uptime_ms: 2000,
        };
        StatsBlock { total, cpus }
            .to_string()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A CPU line with these tick counters: `(cpu, ticks, ticks_lost, ticks_late, timer_ms)`.
    fn ticks(
        (cpu, ticks, ticks_lost, ticks_late, timer_ms): (u32, u64, u64, u64, u64),
    ) -> StatsCpu {
        StatsCpu {
            cpu,
            ticks,
            ticks_lost,
            ticks_late,
            timer_ms,
            ..StatsCpu::default()
        }
    }

    fn tick_block(cpus: &[(u32, u64, u64, u64, u64)]) -> Vec<String> {
        block(&cpus.iter().copied().map(ticks).collect::<Vec<_>>())
    }

    #[test]
    fn ticks_must_match_timer_time() {
        let ok = tick_block(&[
            (0, 196, 4, 0, 2000),
            (1, 201, 0, 0, 2009),
            // Two host CPU hogs (measured): 28 ticks never came, 35 late.
            (3, 130, 28, 35, 1580),
            // 255 vCPUs on 2 host cores: a CPU the host starved for seconds.
            (6, 0, 276, 0, 2767),
        ]);
        assert!(check_ticks(&ok).is_ok(), "{:?}", check_ticks(&ok));
        // The old kernel counted losses only up to a CPU's last tick (255
        // CPUs, measured): the books did not add up.
        let unaccounted = tick_block(&[(0, 76, 631, 72, 8772)]);
        assert!(
            check_ticks(&unaccounted)
                .unwrap_err()
                .contains("cpu 0: ticks=76")
        );
        let extra = tick_block(&[(0, 203, 0, 0, 2009)]);
        assert!(check_ticks(&extra).unwrap_err().contains("more ticks"));
        // A CPU whose timer never started used to pass (0 of 0 expected).
        let no_timer = tick_block(&[(0, 0, 0, 0, 0)]);
        assert!(check_ticks(&no_timer).unwrap_err().contains("never ran"));
        let old_format = own(&[
            "[STATS] total cpus_online=1 cpus_expected=1 cpus_late=0 uptime_ms=2000",
            "[STATS] cpu=0 ticks=200 timer_ms=2000",
        ]);
        assert!(check_ticks(&old_format).is_err(), "ticks_lost is required");
        assert!(check_ticks(&tick_block(&[])).is_err());
    }

    #[test]
    fn icount_ticks_must_be_exact() {
        // Measured under -icount shift=4,sleep=off.
        let ok = tick_block(&[(0, 169, 0, 0, 1690)]);
        assert!(
            check_ticks_exact(&ok).is_ok(),
            "{:?}",
            check_ticks_exact(&ok)
        );
        // A timer at half its rate: every gap is two periods. Under load it
        // would pass as lost ticks; under -icount it cannot.
        let half_rate = tick_block(&[(0, 85, 84, 84, 1690)]);
        assert!(check_ticks(&half_rate).is_ok());
        assert!(check_ticks_exact(&half_rate).is_err());
        let one_lost = tick_block(&[(0, 167, 2, 1, 1690)]);
        assert!(check_ticks_exact(&one_lost).is_err());
    }

    fn timer(core: u32, hz: u64) -> String {
        ApicTimer {
            core,
            hz,
            divide: 16,
            mode: "Periodic",
            tick_hz: SCHED_HZ,
        }
        .to_string()
    }

    #[test]
    fn calibration_must_match_qemus_apic_clock() {
        let ok = vec![timer(0, 62_494_743), timer(1, 62_484_456)];
        assert!(check_calibration(2, &ok).is_ok());
        // A TSC calibrated 20 % high makes the LAPIC rate 20 % high too.
        let high = vec![timer(0, 75_000_000)];
        assert!(check_calibration(1, &high).unwrap_err().contains("off"));
        assert!(
            check_calibration(2, &[timer(0, 62_500_000)]).is_err(),
            "a CPU without a timer line"
        );
        let malformed = own(&["[APIC] core1 timer @62500000Hz"]);
        assert!(
            check_calibration(1, &malformed)
                .unwrap_err()
                .contains("malformed")
        );
    }

    fn ran(core: u32, name: &str) -> String {
        TaskRan { core, name }.to_string()
    }

    #[test]
    fn tasks_must_all_run_on_two_cores() {
        let spread = vec![ran(0, "A"), ran(1, "B"), ran(1, "C"), ran(0, "D")];
        assert!(check_tasks_ran(TASKS_A_TO_D, 4, &spread).is_ok());
        let one_core = vec![ran(0, "A"), ran(0, "B"), ran(0, "C"), ran(0, "D")];
        assert!(check_tasks_ran(TASKS_A_TO_D, 1, &one_core).is_ok());
        assert!(
            check_tasks_ran(TASKS_A_TO_D, 2, &one_core)
                .unwrap_err()
                .contains("two")
        );
        let missing = vec![ran(0, "A")];
        assert!(
            check_tasks_ran(TASKS_A_TO_D, 1, &missing)
                .unwrap_err()
                .contains("run B")
        );
    }

    #[test]
    fn counter_sums_and_minimums() {
        let lines = block(&[
            StatsCpu {
                cpu: 0,
                tasks_run: 3,
                ..StatsCpu::default()
            },
            StatsCpu {
                cpu: 1,
                steals: 2,
                migrations: 1,
                ..StatsCpu::default()
            },
        ]);
        assert!(check_sum(&[Counter::Steals, Counter::Migrations], 1, &lines).is_ok());
        assert!(
            check_sum(&[Counter::Steals], 3, &lines)
                .unwrap_err()
                .contains("sum of steals")
        );
        assert!(
            check_each_cpu(Counter::TasksRun, 1, &lines)
                .unwrap_err()
                .contains("cpu 1: tasks_run=0")
        );
    }

    #[test]
    fn every_cpu_needs_the_kernels_own_count_to_match() {
        let run = |total: StatsTotal| {
            let cpus = [
                StatsCpu {
                    cpu: 0,
                    ipi_sent: 1,
                    ipi_received: 1,
                    ..StatsCpu::default()
                },
                StatsCpu {
                    cpu: 1,
                    ipi_sent: 2,
                    ipi_received: 2,
                    ..StatsCpu::default()
                },
            ];
            let mut lines = vec![ApOnline { index: 1 }.to_string()];
            lines.extend(
                StatsBlock {
                    total,
                    cpus: &cpus[..total.cpus_online as usize],
                }
                .to_string()
                .lines()
                .map(str::to_owned),
            );
            check_every_cpu(2, &lines)
        };
        let total = |cpus_online, cpus_expected| StatsTotal {
            cpus_online,
            cpus_expected,
            cpus_late: 0,
            uptime_ms: 9,
        };
        assert!(run(total(2, 2)).is_ok());
        // A CPU the kernel tried to start and lost.
        assert!(run(total(2, 3)).unwrap_err().contains("cpus_expected=3"));
        // The kernel expected fewer than QEMU has (say, MAX_CPUS cut the MADT).
        assert!(run(total(1, 1)).is_err());
        // No AP#1 line.
        let lines = block(&[
            StatsCpu::default(),
            StatsCpu {
                cpu: 1,
                ..StatsCpu::default()
            },
        ]);
        assert!(
            check_every_cpu(2, &lines)
                .unwrap_err()
                .contains("AP#1 online")
        );
    }

    #[test]
    fn ipc_books_must_balance_across_cpus() {
        let run = |dropped: u64| {
            // CPU 0 sends 5; CPU 1 receives 3, and 2 went with a dropped
            // receive right (or did not, when `dropped` says otherwise).
            let cpus = [
                StatsCpu {
                    cpu: 0,
                    ipc_sent: 5,
                    ..StatsCpu::default()
                },
                StatsCpu {
                    cpu: 1,
                    ipc_received: 3,
                    ipc_dropped: dropped,
                    ..StatsCpu::default()
                },
            ];
            let mut lines = vec![ApOnline { index: 1 }.to_string()];
            let total = StatsTotal {
                cpus_online: 2,
                cpus_expected: 2,
                cpus_late: 0,
                uptime_ms: 9,
            };
            lines.extend(
                StatsBlock { total, cpus: &cpus }
                    .to_string()
                    .lines()
                    .map(str::to_owned),
            );
            check_every_cpu(2, &lines)
        };
        assert!(run(2).is_ok());
        assert!(
            run(1)
                .unwrap_err()
                .contains("IPC books do not balance: sum ipc_sent=5")
        );
    }

    /// A transcript of [`MONITOR_SCRIPT`] as a good kernel answers it.
    fn monitor_transcript() -> Vec<String> {
        let mut lines = vec![monitor::Ready.to_string()];
        let ok = |cmd| Done::Ok { cmd }.to_string();
        lines.push(monitor::Help.to_string());
        lines.push(ok("help"));
        for index in 0..2 {
            lines.push(
                CpuLine {
                    index,
                    apic_id: index,
                    ticks: 5,
                    idle_pct: 40,
                }
                .to_string(),
            );
        }
        lines.push(ok("cpus"));
        lines.push(
            Spawned {
                count: 100,
                live_tasks: 108,
            }
            .to_string(),
        );
        lines.push(ok("spawn"));
        for core in 0..2 {
            lines.push(
                TasksLine {
                    core,
                    live_high: 2,
                    live_normal: 1,
                    live_low: 50,
                    running: 1,
                    queued: 50,
                    waiting: 2,
                }
                .to_string(),
            );
        }
        lines.push(ok("tasks"));
        lines.push(
            monitor::Ping {
                cpu: 1,
                rtt_us: 9,
                rtt_cycles: 9000,
            }
            .to_string(),
        );
        lines.push(ok("ping"));
        for name in ["echo.0", "echo.1", "serial"] {
            lines.push(
                NameLine {
                    name,
                    type_name: "T",
                }
                .to_string(),
            );
        }
        lines.push(ok("ipc"));
        lines.push(ok("stats"));
        for reason in [
            "unknown command 'frobnicate' (try help)",
            "line dropped: not UTF-8",
            "line of 2000 bytes dropped (at most 80)",
        ] {
            lines.push(Done::Error { cmd: "?", reason }.to_string());
        }
        lines.push(ok("quit"));
        lines
    }

    #[test]
    fn a_monitor_session_is_checked_answer_by_answer() {
        let good = monitor_transcript();
        assert_eq!(check_monitor_session(2, &good), Ok(()));
        // The not-UTF-8 line answered as if it were fine.
        let lenient: Vec<String> = good
            .iter()
            .map(|l| l.replace("reason=line dropped: not UTF-8", "reason=ok"))
            .collect();
        assert!(
            check_monitor_session(2, &lenient)
                .unwrap_err()
                .contains("not UTF-8")
        );
        // An answer missing: no `ok cmd=tasks`.
        let short: Vec<String> = good
            .iter()
            .filter(|l| *l != "[MON] ok cmd=tasks")
            .cloned()
            .collect();
        assert!(
            check_monitor_session(2, &short)
                .unwrap_err()
                .contains("monitor answered")
        );
        // Too few spawned tasks shown by `tasks`.
        let lost: Vec<String> = good
            .iter()
            .map(|l| l.replace("live_low=50", "live_low=10"))
            .collect();
        assert!(
            check_monitor_session(2, &lost)
                .unwrap_err()
                .contains("low-priority")
        );
        // One CPU missing from `cpus`.
        assert!(
            check_monitor_session(3, &good)
                .unwrap_err()
                .contains("cpus answered")
        );
    }

    #[test]
    fn scenario_names_are_unique() {
        let names: HashSet<_> = SCENARIOS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SCENARIOS.len());
    }

    #[test]
    fn failure_lines() {
        let panic = vec![
            Panic {
                context: Context::default(),
                message: "deliberate",
                location: "kernel/src/ktest.rs:10",
            }
            .to_string(),
        ];
        assert!(check_panic_on_cpu0(&panic).is_ok());
        assert!(check_panic_on_cpu0(&[]).is_err());
        let page_fault = Exception {
            context: Context::default(),
            vector: 14,
            name: "#PF",
            error: 0,
            rip: 1,
            cr2: Some(0),
        };
        let lines = vec![page_fault.to_string()];
        assert!(check_exception_on_cpu0(14, "#PF", &lines).is_ok());
        assert!(check_exception_on_cpu0(8, "#DF", &lines).is_err());
        let no_cr2 = vec![
            Exception {
                cr2: None,
                ..page_fault
            }
            .to_string(),
        ];
        assert!(check_exception_on_cpu0(14, "#PF", &no_cr2).is_err());
    }

    #[test]
    fn kernel_args_use_known_keys_unless_testing_the_warning() {
        for scenario in SCENARIOS.iter().chain(SCALE_SCENARIOS) {
            for &arg in scenario.kernel_args {
                let known = args::VALID_KEYS.contains(&arg.0);
                let warned = scenario
                    .expect
                    .iter()
                    .any(|e| matches!(e, Expect::UnknownArg(word) if *word == arg));
                assert!(known || warned, "{}: unknown key in {arg:?}", scenario.name);
            }
        }
    }

    #[test]
    fn arg_expectations_build_the_kernels_words() {
        let lines: Vec<String> = [
            ArgIssue::UnknownKey { word: "bogus=1" },
            ArgIssue::Repeated {
                key: "duration",
                times: 2,
                wins: Some("duration=0.5"),
            },
        ]
        .iter()
        .map(|issue| ArgWarning(*issue).to_string())
        .collect();
        assert!(check_unknown_arg(BOGUS_ARG, &lines).is_ok());
        assert!(check_unknown_arg((args::DURATION, "9"), &lines).is_err());
        assert!(check_repeated_arg(args::DURATION, 2, Some(HALF_SECOND), &lines).is_ok());
        assert!(check_repeated_arg(args::DURATION, 3, Some(HALF_SECOND), &lines).is_err());
        assert!(check_repeated_arg(args::DURATION, 2, None, &lines).is_err());
    }

    #[test]
    fn arg_warning_expectation() {
        let issue = ArgIssue::UnknownKey { word: "bogus=1" };
        let lines = vec![ArgWarning(issue).to_string()];
        assert!(check_arg_warning(&issue, &lines).is_ok());
        let other = ArgIssue::UnknownKey { word: "bogus=2" };
        assert!(check_arg_warning(&other, &lines).is_err());
    }

    #[test]
    fn workload_results() {
        let sleep = |late| {
            vec![
                Sleep {
                    sleepers: 1000,
                    woke: 1000,
                    early: 0,
                    late,
                    max_late_us: 1,
                    late_limit_us: 20_000,
                }
                .to_string(),
            ]
        };
        let Expect::ResultLine { what, check } = &SCENARIOS
            .iter()
            .find(|s| s.name == "workload-sleep-icount")
            .unwrap()
            .expect[2]
        else {
            panic!("the third expectation of workload-sleep-icount is its [SLEEP] line");
        };
        assert!(check(&sleep(0), what).is_ok());
        assert!(check(&sleep(1), what).unwrap_err().contains("late=0"));
        assert!(check(&[], what).unwrap_err().contains("no result line"));
    }

    #[test]
    fn ktest_and_smp_lines() {
        let lines = vec![
            Ktest::Pass {
                name: "arch::x86_64::smp::tests::fake_ap",
                us: 1,
            }
            .to_string(),
            ApFailed {
                index: 4,
                apic_id: 200,
                stage: 0,
                why: "no answer",
            }
            .to_string(),
            LapicMode {
                mode: ApicMode::XApic,
            }
            .to_string(),
        ];
        assert!(check_ktest_passed("smp::tests::fake_ap", &lines).is_ok());
        assert!(check_ktest_passed("tests::fake", &lines).is_err());
        assert!(check_ap_failed((4, 200, 0), &lines).is_ok());
        assert!(check_ap_failed((4, 200, 5), &lines).is_err());
        assert!(check_apic_mode(ApicMode::XApic, &lines).is_ok());
        assert!(check_apic_mode(ApicMode::X2Apic, &lines).is_err());
    }

    #[test]
    fn stats_expectations() {
        let lines = block(&[StatsCpu::default()]);
        assert!(check_stats(1, 2000, &lines).is_ok());
        assert!(
            check_stats(4, 2000, &lines)
                .unwrap_err()
                .contains("cpus_online=1")
        );
        assert!(
            check_stats(1, 3000, &lines)
                .unwrap_err()
                .contains("uptime_ms")
        );
        assert!(check_stats(1, 0, &[]).is_err());
        assert!(check_stats_total((1, 1, 0), &lines).is_ok());
        assert!(check_stats_total((1, 2, 0), &lines).is_err());
        let two_blocks: Vec<String> = lines.iter().chain(&lines).cloned().collect();
        assert!(check_stats_blocks(2, &two_blocks).is_ok());
        assert!(check_stats_blocks(3, &two_blocks).is_err());
    }

    #[test]
    fn bench_expectation() {
        let line = |cpus: u16| {
            own(&[&format!(
                "[BENCH] cpus={cpus} spawn_cycles=9 yield_cycles=1 wake_local_cycles=2 \
                 wake_remote_rtt_cycles=3 steal_cycles=4 ipc_rtt_cycles=5 syscall_cycles=6 user_ipc_rtt_cycles=7 samples=31 statistic=median tsc_mhz=1"
            )])
        };
        assert!(check_bench_line(2, &line(2)).is_ok());
        assert!(
            check_bench_line(4, &line(2))
                .unwrap_err()
                .contains("cpus=2")
        );
        assert!(
            check_bench_line(1, &line(1))
                .unwrap_err()
                .contains("wake_remote_rtt_cycles")
        );
        assert!(check_bench_line(2, &[]).unwrap_err().contains("no [BENCH]"));
    }

    #[test]
    fn boot_mode_expectation() {
        let lines = vec![
            Boot {
                version: "0.1.0",
                mode: BootMode::Uefi,
                usable_memory_mib: 1,
            }
            .to_string(),
        ];
        assert!(check_boot_mode(Firmware::Uefi, &lines).is_ok());
        assert!(check_boot_mode(Firmware::Bios, &lines).is_err());
    }
}

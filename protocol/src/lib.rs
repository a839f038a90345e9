//! The kernel ⇄ host protocol, written once.
//!
//! The kernel tells `cargo xtask` how a run went in two ways: lines on COM1 and
//! the exit code it writes to QEMU's `isa-debug-exit` port. `docs/kernel-interface.md`
//! is the contract in prose; this crate is the contract in code, and the only
//! place where a tag (`[STATS]`), a key name (`ticks_lost`), the shape of a
//! checked line, an exit code or `SCHED_HZ` is spelled out.
//!
//! # Why a crate
//!
//! The kernel used to print with format strings and xtask parsed with string
//! literals and its own copies of `SCHED_HZ` and the exit codes: two copies of
//! one contract, kept equal by hand. Here every line the host checks is a type.
//! Its [`Display`](core::fmt::Display) impl is how the kernel prints it; the
//! `parse` function next to it is how xtask reads it; and the round-trip tests
//! in each module show that whatever the kernel can print parses back to the
//! same value. The kernel prints checked lines only through types that
//! implement the sealed [`Report`] trait, so it cannot print one in a form
//! xtask does not parse.
//!
//! # What lives here
//!
//! | module | what |
//! | --- | --- |
//! | [`tag`] | every tag the host looks for |
//! | [`boot`], [`smp`], [`time`], [`sched`], [`ipc`], [`serial`], [`user`], [`stats`], [`ktest`], [`fatal`] | the checked lines, by subsystem |
//! | [`stats`] | also the `[STATS]` block, printed as one unit, and a reader that checks it arrived as one |
//! | [`monitor`] | the kernel monitor: its prompt, command words and `[MON]` answers |
//! | [`log`] | the form of the kernel's free-text log lines (`[SMP] WARN …`) |
//! | [`args`] | the kernel argument keys, their fixed values (`workload=sleep`) and the warnings about them |
//! | [`exit`] | the `isa-debug-exit` port, the exit codes and QEMU's statuses |
//! | [`syscall`] | the system-call numbers and error codes, shared with user programs |
//! | [`text`] | the small parsing toolkit the line types share |
//!
//! # Rules
//!
//! - `no_std`, no `alloc`, no `unsafe`, no dependencies: the kernel links it
//!   for `x86_64-unknown-none` before it has a heap, and formatting a line must
//!   never allocate (the console lock is held while a line is formatted).
//! - A line's `Display` never ends with a newline; whoever prints adds one.
//!   A block ([`stats::StatsBlock`]) separates its lines with `\n`.
//! - `parse` returns `None` for a line that is not of its kind (another tag,
//!   or another line of the same tag) and `Some(Err(_))` for one that is but
//!   does not follow the contract: the host reports those instead of guessing.
//! - Free-text lines (`[MEM] heap …`, warnings) are not protocol: the host
//!   never checks them, and `log=` filters them.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod args;
pub mod boot;
pub mod exit;
pub mod fatal;
pub mod ipc;
pub mod ktest;
pub mod log;
pub mod monitor;
pub mod sched;
pub mod serial;
pub mod smp;
pub mod stats;
pub mod syscall;
pub mod text;
pub mod time;
pub mod user;

/// Scheduler tick rate: how often the Local APIC timer interrupts each core.
/// The host needs it to know how many ticks a CPU's timer owes
/// (`ticks + ticks_lost ≈ timer_ms × SCHED_HZ / 1000`).
pub const SCHED_HZ: u32 = 100;

/// The most CPUs the kernel manages; CPUs the firmware lists beyond it stay
/// offline. The host needs it to bound `cargo xtask run --smp`.
pub const MAX_CPUS: usize = 512;

/// Every tag a checked line starts with.
pub mod tag {
    /// Boot: the first kernel line, argument warnings.
    pub const BOOT: &str = "[BOOT]";
    /// Time: the TSC calibration.
    pub const TIME: &str = "[TIME]";
    /// SMP bring-up.
    pub const SMP: &str = "[SMP]";
    /// The Local APIC timers.
    pub const APIC: &str = "[APIC]";
    /// The scheduler (`[SCHED][coreN] run X`).
    pub const SCHED: &str = "[SCHED]";
    /// End of `workload=sleep`.
    pub const SLEEP: &str = "[SLEEP]";
    /// End of `workload=pingpong`.
    pub const PINGPONG: &str = "[PINGPONG]";
    /// End of `workload=burst`.
    pub const BURST: &str = "[BURST]";
    /// End of `workload=bench`.
    pub const BENCH: &str = "[BENCH]";
    /// COM1 input (`serial_rx::tests::rx_echo`).
    pub const SERIAL: &str = "[SERIAL]";
    /// The statistics block.
    pub const STATS: &str = "[STATS]";
    /// The in-kernel test harness.
    pub const KTEST: &str = "[KTEST]";
    /// A kernel panic.
    pub const PANIC: &str = "[PANIC]";
    /// An unexpected CPU exception.
    pub const EXCEPTION: &str = "[EXCEPTION]";
    /// The verdict, last line of a run.
    pub const EXIT: &str = "[EXIT]";
    /// The kernel monitor's answers.
    pub const MON: &str = "[MON]";
    /// The result of `workload=ipc`.
    pub const IPC: &str = "[IPC]";
    /// The result of `workload=ipcstress`.
    pub const IPCSTRESS: &str = "[IPCSTRESS]";
    /// User programs: what they write, how they end.
    pub const USER: &str = "[USER]";
    /// The result of `workload=syscallstress`.
    pub const SYSCALLSTRESS: &str = "[SYSCALLSTRESS]";
}

mod sealed {
    /// Only this crate's line types may be [`Report`](super::Report)s.
    pub trait Sealed {}
}

/// A checked line (or block of lines): printed whatever the log level, parsed
/// by the host. Sealed: the kernel's `report` takes only this crate's types.
pub trait Report: core::fmt::Display + sealed::Sealed {}

/// Implements [`Report`] for line types, each written as
/// `[impl generics] Type`: `report!([] ApOnline, ['a] Boot<'a>, [D: Display] Panic<D>)`.
macro_rules! report {
    ($([$($generics:tt)*] $ty:ty),* $(,)?) => {
        $(
            impl<$($generics)*> crate::sealed::Sealed for $ty {}
            impl<$($generics)*> crate::Report for $ty {}
        )*
    };
}
pub(crate) use report;

/// Defines a line of `key=value` words, all unsigned integers, after a fixed
/// prefix: the struct, its `Display`, `KEYS` and `parse`. The field names are
/// the key names. (Not a [`Report`] by itself: `report!` says which are.)
macro_rules! numbers_line {
    (
        $(#[$meta:meta])*
        $name:ident, $prefix:expr, {
            $( $(#[$field_meta:meta])* $field:ident ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: u64, )*
        }

        impl $name {
            /// The key names, in print order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Parses the line: `None` if it does not start with its prefix.
            pub fn parse(line: &str) -> Option<Result<Self, crate::text::ParseError>> {
                let fields = crate::text::Fields::new(crate::text::tagged(line, $prefix)?);
                Some((|| Ok(Self { $( $field: fields.u64(stringify!($field))?, )* }))())
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str($prefix)?;
                $( write!(f, concat!(" ", stringify!($field), "={}"), self.$field)?; )*
                Ok(())
            }
        }
    };
}
pub(crate) use numbers_line;

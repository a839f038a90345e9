//! `cargo xtask`: the single entry point for building, running and testing the kernel.
//!
//! ```text
//! cargo xtask run [OPTIONS] [-- KERNEL_ARGS...]   build, boot once in QEMU, print the verdict
//! cargo xtask test [--filter SUBSTR] [--list]     lint, host tests, in-kernel tests, boots
//! cargo xtask bench [--smp N] [--host-only|--kernel-only]   executor figures, for comparing commits
//! ```
//!
//! xtask runs on the user's default toolchain; everything it builds uses the pinned
//! nightly ([`toolchain::TOOLCHAIN`]), which it installs when missing. The contract with
//! the kernel (arguments, output lines, exit codes) is `docs/kernel-interface.md`.
//!
//! Module map: [`toolchain`] and [`process`] run cargo and rustup; [`image`] builds the
//! kernel and disk images; [`qemu`], [`kvm`] and [`runner`] start QEMU and watch it;
//! [`output`] parses what the kernel prints and decides the verdict; [`boot`] ties one
//! boot together; [`run`], [`mod@test`] and [`bench`] are the subcommands, [`scenarios`] the
//! table of boot tests.
//!
//! `cargo xtask bench` runs the host benchmarks (the `bench` crate: our executor against
//! Tokio and async-executor) and boots the kernel's `workload=bench`; it prints tables and
//! writes `target/bench/{host,kernel}-<unix-time>.json` plus `*-latest.json`. Figures are
//! never asserted on: they are for comparing commits on one machine.

#![forbid(unsafe_code)]

mod bench;
mod boot;
mod error;
mod image;
mod kvm;
// The kernel's layering rule, checked by a host test over its sources.
#[cfg(test)]
mod layers;
mod output;
mod process;
mod qemu;
mod run;
mod runner;
mod scenarios;
mod test;
mod toolchain;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build, run and test the kernel.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, run and test the kernel (see docs/kernel-interface.md)",
    after_help = after_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Task {
    /// Build the kernel and boot it once in QEMU; exit 0 only if the kernel reports success.
    ///
    /// The rest of the help names QEMU's exit statuses: [`run_long_about`].
    #[command(long_about = run_long_about())]
    Run(run::RunArgs),
    /// Run every check: rustfmt and clippy, host unit tests, in-kernel tests, boot scenarios.
    ///
    /// Prints `[test] PASS <name>` / `[test] FAIL <name>: <why>` per check and ends with
    /// `N passed, M failed`; exits non-zero if anything failed.
    Test(test::TestArgs),
    /// Measure the executor: host benches against Tokio and async-executor, and the
    /// kernel's benchmark workload; print tables, write target/bench/*.json.
    ///
    /// Figures are for comparing commits on one machine (under QEMU TCG the kernel's
    /// cycles are an emulator's, not hardware's); nothing is asserted on them.
    Bench(bench::BenchArgs),
}

/// The examples and environment after `cargo xtask --help`.
fn after_help() -> String {
    let log_debug = image::kernel_arg(protocol::args::LOG, protocol::args::log::DEBUG);
    format!(
        "Examples:\n  \
        cargo xtask run --duration 5 --smp 2\n  \
        cargo xtask run --uefi -- {log_debug}\n  \
        cargo xtask test --filter boot-uefi\n  \
        cargo xtask bench --kernel-only --smp 4\n\n\
        Environment:\n  \
        XTASK_QEMU=PATH  run this qemu-system-x86_64 and install none \
        (default: QEMU >= 9.0 from PATH, installed as root on Debian bookworm)"
    )
}

/// `cargo xtask run --help`: how the verdict is read, with the statuses from `protocol`.
fn run_long_about() -> String {
    use protocol::exit::{ExitCode as Kernel, QEMU_STATUS_RESET};
    format!(
        "Build the kernel and boot it once in QEMU; exit 0 only if the kernel reports \
         success.\n\n\
         Serial output is shown live. The kernel's verdict comes from QEMU's isa-debug-exit \
         status: {} success, {} failure, {QEMU_STATUS_RESET} CPU reset (triple fault); a \
         host timeout kills QEMU. The last line is `[xtask] verdict: ...`.",
        Kernel::Success.qemu_status(),
        Kernel::Failure.qemu_status(),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Task::Run(args) => run::run(args),
        Task::Test(args) => test::run(args),
        Task::Bench(args) => bench::run(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("[xtask] error: {error}");
            ExitCode::FAILURE
        }
    }
}

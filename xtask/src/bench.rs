//! `cargo xtask bench`: the executor's figures, for comparing commits.
//!
//! Two parts, both by default:
//!
//! - **host** (`--host-only`): `cargo run --release -p bench`, our executor against
//!   Tokio and async-executor on 1 and 2 threads (the `bench` crate's docs say what is
//!   measured and how it deviates from Tokio's benches). It prints its table and writes
//!   `target/bench/host-<unix-time>.json` and `host-latest.json`.
//! - **kernel** (`--kernel-only`): builds the kernel (release), boots `workload=bench` at
//!   `--smp N` (default 2), parses the `[BENCH]` line (`docs/kernel-interface.md` §2.1),
//!   prints it as a table and writes `target/bench/kernel-<unix-time>.json` and
//!   `kernel-latest.json`. Under TCG the cycles are those of an emulator: they compare
//!   commits on one host, not hardware.
//!
//! Nothing here judges a figure: the command fails only when a part cannot run (a build,
//! a boot, a missing or malformed `[BENCH]` line).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

use crate::boot::{self, BootSpec};
use crate::error::{Context, Result};
use crate::image::{self, Firmware, Profile};
use crate::kvm::{self, Accel, KvmMode};
use crate::output::{self, BenchLine};
use crate::process;
use crate::qemu;
use crate::toolchain;

/// Host safety net for the kernel benchmark boot (it takes about a second of guest time).
const KERNEL_TIMEOUT: Duration = Duration::from_secs(300);

/// Options of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// CPUs for the kernel benchmark boot.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=255))]
    pub smp: u16,
    /// Run only the host benchmarks (our executor vs Tokio and async-executor).
    #[arg(long, conflicts_with = "kernel_only")]
    pub host_only: bool,
    /// Run only the kernel benchmark (help: [`kernel_only_help`]).
    #[arg(long, help = kernel_only_help())]
    pub kernel_only: bool,
    /// Measured rounds of the host benchmarks (after one warm-up round).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Hardware acceleration for the kernel boot: `auto` uses KVM only if a probe shows
    /// that it works.
    #[arg(long, value_enum, default_value_t = KvmMode::Auto)]
    pub kvm: KvmMode,
}

/// Runs `cargo xtask bench`; returns whether every part ran.
pub fn run(args: &BenchArgs) -> Result<bool> {
    toolchain::ensure_installed()?;
    let out = toolchain::target_dir().join("bench");
    if !args.kernel_only {
        host(args, &out)?;
    }
    if !args.host_only {
        return kernel(args, &out);
    }
    Ok(true)
}

/// The host part: the `bench` binary prints and writes its own results.
fn host(args: &BenchArgs, out: &Path) -> Result<()> {
    println!("[xtask] building and running the host benchmarks (about 1-3 minutes)");
    let rounds = args.rounds.to_string();
    let out = out.display().to_string();
    process::run(&mut toolchain::cargo([
        "run",
        "--release",
        "--quiet",
        "-p",
        "bench",
        "--",
        "--rounds",
        rounds.as_str(),
        "--out",
        out.as_str(),
    ]))
}

/// `--kernel-only`'s help, naming the workload.
fn kernel_only_help() -> String {
    format!(
        "Run only the kernel benchmark ({} under QEMU)",
        bench_workload()
    )
}

/// The kernel argument that runs the benchmarks: `workload=bench`.
fn bench_workload() -> String {
    image::kernel_arg(protocol::args::WORKLOAD, protocol::args::workload::BENCH)
}

/// The kernel part: boot `workload=bench`, parse, print, write.
fn kernel(args: &BenchArgs, out: &Path) -> Result<bool> {
    qemu::ensure_installed(false)?;
    let accel = kvm::choose(args.kvm)?;
    let artifacts = image::build(Profile::Release)?;
    let workload = bench_workload();
    println!("[xtask] booting {workload} at --smp {}", args.smp);
    let spec = BootSpec {
        label: "bench".to_owned(),
        firmware: Firmware::Bios,
        smp: args.smp,
        kernel_args: vec![workload],
        timeout: Some(KERNEL_TIMEOUT),
        accel,
        gdb: false,
        extra_qemu_args: Vec::new(),
        echo: false,
        serial_input: None,
        keyboard: false,
    };
    let report = boot::boot(&artifacts, &spec)?;
    let parsed = output::parse_bench_line(&report.finished.serial);
    let bench = match (&report.verdict, parsed) {
        (verdict, Some(Ok(bench))) if verdict.is_success() => bench,
        (verdict, parsed) => {
            let why = match parsed {
                None => "no [BENCH] line".to_owned(),
                Some(Err(why)) => format!("bad [BENCH] line: {why}"),
                Some(Ok(_)) => "the [BENCH] line is there".to_owned(),
            };
            println!("[xtask] kernel benchmark FAILED: {why}; verdict: {verdict}");
            println!(
                "[xtask] kept {} (disk image, ramdisk, serial.log)",
                report.dir.path().display()
            );
            return Ok(false);
        }
    };
    println!("{}", kernel_table(&bench, accel));
    let unix_time = unix_time();
    let json = kernel_json(
        &bench,
        &KernelMeta {
            unix_time,
            git_commit: git_commit(),
            accel,
            smp: args.smp,
            host_load_average: load_average(),
        },
    );
    let written = write_results(out, "kernel", unix_time, &json)?;
    println!("[xtask] wrote {written}");
    report.dir.remove()?;
    Ok(true)
}

fn accel_name(accel: Accel) -> &'static str {
    match accel {
        Accel::Tcg => "tcg",
        Accel::Kvm => "kvm",
    }
}

/// What the figures can be compared with, printed under the table and stored in the JSON.
fn accel_note(accel: Accel) -> &'static str {
    match accel {
        Accel::Tcg => {
            "QEMU TCG (software emulation): figures are for comparing commits on this host, \
             not hardware"
        }
        Accel::Kvm => "KVM guest: figures of a virtual machine on this host",
    }
}

/// The `[BENCH]` figures as a table: cycles and, with `tsc_mhz`, nanoseconds.
fn kernel_table(bench: &BenchLine, accel: Accel) -> String {
    let tsc_mhz = bench.tsc_mhz;
    let mut table = format!(
        "[bench] kernel: {}, cpus={}, {} of {} samples\n\
         {:<24} {:>10} {:>10}\n",
        bench_workload(),
        bench.cpus,
        bench.statistic,
        bench.samples,
        "figure",
        "cycles",
        "ns"
    );
    for (key, figure) in &bench.figures {
        let (cycles, ns) = match (figure, tsc_mhz) {
            (Some(c), mhz) if mhz > 0 => (
                c.to_string(),
                format!("{:.1}", *c as f64 * 1000.0 / mhz as f64),
            ),
            (Some(c), _) => (c.to_string(), "?".to_owned()),
            (None, _) => ("na".to_owned(), "na".to_owned()),
        };
        table.push_str(&format!("{key:<24} {cycles:>10} {ns:>10}\n"));
    }
    table.push_str(&format!("[bench] {}", accel_note(accel)));
    table
}

/// Facts about a kernel benchmark run that the `[BENCH]` line does not carry.
struct KernelMeta {
    unix_time: u64,
    git_commit: String,
    accel: Accel,
    smp: u16,
    host_load_average: String,
}

/// The kernel results as JSON (hand-written: a flat object of numbers and strings).
fn kernel_json(bench: &BenchLine, meta: &KernelMeta) -> String {
    let figures: Vec<String> = bench
        .figures
        .iter()
        .map(|(key, figure)| {
            let value = figure.map_or("null".to_owned(), |c| c.to_string());
            format!("    {}: {value}", json_string(key))
        })
        .collect();
    format!(
        "{{\n  \"kind\": \"kernel\",\n  \"unix_time\": {},\n  \"git_commit\": {},\n  \
         \"accel\": {},\n  \"note\": {},\n  \"smp\": {},\n  \"cpus\": {},\n  \
         \"statistic\": {},\n  \"samples\": {},\n  \"tsc_mhz\": {},\n  \
         \"host_load_average\": {},\n  \"unit\": \"TSC cycles (null: na, needs 2+ CPUs)\",\n  \
         \"figures\": {{\n{}\n  }}\n}}\n",
        meta.unix_time,
        json_string(&meta.git_commit),
        json_string(accel_name(meta.accel)),
        json_string(accel_note(meta.accel)),
        meta.smp,
        bench.cpus,
        json_string(&bench.statistic),
        bench.samples,
        bench.tsc_mhz,
        json_string(&meta.host_load_average),
        figures.join(",\n"),
    )
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `<kind>-<unix_time>.json` and `<kind>-latest.json` into `dir`; returns the
/// paths for the message.
fn write_results(dir: &Path, kind: &str, unix_time: u64, json: &str) -> Result<String> {
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    let paths: [PathBuf; 2] = [
        dir.join(format!("{kind}-{unix_time}.json")),
        dir.join(format!("{kind}-latest.json")),
    ];
    for path in &paths {
        std::fs::write(path, json).context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(format!("{} and {}", paths[0].display(), paths[1].display()))
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The commit the figures belong to (`-dirty` with uncommitted changes), or `unknown`.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        let mut command = Command::new("git");
        command.args(args).current_dir(toolchain::workspace_root());
        process::stdout_of(&mut command).map(|out| out.trim().to_owned())
    };
    match (
        git(&["rev-parse", "--short", "HEAD"]),
        git(&["status", "--porcelain", "--untracked-files=no"]),
    ) {
        (Ok(commit), Ok(changes)) if !changes.is_empty() => format!("{commit}-dirty"),
        (Ok(commit), _) => commit,
        (Err(_), _) => "unknown".to_owned(),
    }
}

/// The host's load average (`/proc/loadavg`, three fields), or `unknown`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|cli| cli.bench)
    }

    fn line(text: &str) -> BenchLine {
        output::parse_bench_line(&[text.to_owned()])
            .unwrap()
            .unwrap()
    }

    #[test]
    fn options() {
        let args = parse(&[]).unwrap();
        assert_eq!((args.smp, args.rounds), (2, 15));
        assert!(!args.host_only && !args.kernel_only);
        assert!(parse(&["--host-only", "--kernel-only"]).is_err());
        assert!(parse(&["--smp", "0"]).is_err());
        assert!(parse(&["--rounds", "0"]).is_err());
        assert_eq!(parse(&["--smp", "4"]).unwrap().smp, 4);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn kernel_results() {
        let bench = line(
            "[BENCH] cpus=1 spawn_cycles=900 yield_cycles=100 wake_local_cycles=170 \
             wake_remote_rtt_cycles=na steal_cycles=na ipc_rtt_cycles=na syscall_cycles=6 user_ipc_rtt_cycles=na samples=31 \
             statistic=median tsc_mhz=1000",
        );
        let table = kernel_table(&bench, Accel::Tcg);
        assert!(table.contains("spawn_cycles"));
        assert!(table.contains("900.0"), "{table}");
        assert!(table.contains("not hardware"));
        let json = kernel_json(
            &bench,
            &KernelMeta {
                unix_time: 7,
                git_commit: "abc".to_owned(),
                accel: Accel::Tcg,
                smp: 1,
                host_load_average: "1.0 2.0 3.0".to_owned(),
            },
        );
        assert!(json.contains("\"spawn_cycles\": 900,"), "{json}");
        assert!(json.contains("\"steal_cycles\": null,"), "{json}");
        assert!(json.contains("\"user_ipc_rtt_cycles\": null\n"), "{json}");
        assert!(json.contains("\"tsc_mhz\": 1000,"), "{json}");
        assert!(json.contains("\"accel\": \"tcg\""), "{json}");
    }
}

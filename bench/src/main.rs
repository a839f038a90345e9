//! `cargo xtask bench`, host part: our executor ([`executor::host::Harness`]
//! on N std threads) against Tokio's multi-thread runtime with N workers and
//! `async-executor` on N threads, for N = 1 and 2, on the seven benches of
//! Tokio's `benches/rt_multi_threaded.rs`: `spawn_many_local`,
//! `spawn_many_remote_idle`, `spawn_many_remote_busy1`,
//! `spawn_many_remote_busy2`, `ping_pong`, `yield_many`, `chained_spawn`.
//!
//! ```text
//! cargo run --release -p bench -- [--rounds R] [--warmup W] [--threads 1,2] [--filter SUBSTR] [--out DIR]
//! ```
//! (`cargo xtask bench --host-only` runs exactly this.)
//!
//! # What is measured
//!
//! For each N, all three runtimes are started once and kept for the whole
//! run. For each bench, `W` warm-up rounds (default 1, discarded) then `R`
//! rounds (default 15); a round takes one *sample* of each runtime in turn —
//! ours, tokio, async-executor — so slow drifts of the machine (colleagues'
//! builds) hit all three alike. A sample runs the bench body
//! `iters_per_sample` times back to back and gives nanoseconds per op:
//!
//! | bench | op | ops per iteration |
//! | --- | --- | --- |
//! | `spawn_many_*` but busy2, `chained_spawn` | one spawned task (spawn to completion) | 10,000 / 1,000 |
//! | `spawn_many_remote_busy2` | one spawned task | 1,000 |
//! | `yield_many` | one `yield_now` | 200 tasks × 1,000 |
//! | `ping_pong` | one ping-pong (two spawns, two oneshot messages) | 1,000 |
//!
//! The table and `target/bench/host-<unix-time>.json` (and
//! `host-latest.json`) give the median over the `R` rounds per runtime and
//! the ratio ours/Tokio of the medians (below 1: we are faster). Figures
//! depend on the machine and its load (the load average is recorded): compare
//! runs of one machine, not machines.
//!
//! Iteration counts (`benches.rs`, [`benches::BENCHES`]) are set so that one
//! sample takes roughly 5–50 ms on a 2-core machine, and a whole default run
//! (2 × 7 benches × 16 rounds × 3 runtimes) stays under about 3 minutes there.
//!
//! # Deviations from Tokio's `rt_multi_threaded.rs`
//!
//! - **No criterion.** Our own loop: warm-up rounds, then a fixed number of
//!   rounds alternating the runtimes, median of ns/op; criterion's adaptive
//!   iteration counts and statistics would not let the runtimes alternate.
//! - **N = 1 and 2 workers**, not 4 (`NUM_WORKERS`): the build machines have
//!   2 cores. The busy benches scale their background load with N as the
//!   original does with `NUM_WORKERS` (busy1: 2N yield+stall loops; busy2: N
//!   spawn+stall chains).
//! - **Runtimes are started once per N**, not once per bench function, and
//!   the busy background tasks are started and stopped around each sample
//!   (so that they never load another runtime's sample).
//! - **`block_on`** is the main thread blocking on a future: Tokio's
//!   `Runtime::block_on`; ours `executor::host::block_on` (parks the main
//!   thread, which is not a core); async-executor `futures_lite`'s
//!   `block_on` *without* running the executor on the main thread (that
//!   would add an N+1st worker). As in the original, the spawning future of
//!   `spawn_many_local`, `ping_pong` and `chained_spawn` runs on the main
//!   thread, so their first spawns come from outside the workers (for Tokio
//!   too: its `block_on` thread is not a worker).
//! - **`tokio::spawn` / `rt.spawn` / `rt_handle.spawn`** (spawn from inside a
//!   task or from outside) are all `Spawner::spawn`: for Tokio a `Handle`
//!   (exactly what `tokio::spawn` uses), for ours `Executor::spawn` at
//!   `Priority::Normal` (placement on the least-loaded core; from a non-core
//!   thread), for async-executor `Executor::spawn` (its global queue).
//!   Spawned tasks capture the spawner instead of finding it in a thread-local.
//! - **Awaiting a handle**: Tokio's `JoinHandle` gives a `Result`, which the
//!   Tokio adapter unwraps; ours and async-executor's `Task` give the value.
//!   Tasks nobody awaits are detached explicitly (`JoinHandle::detach`,
//!   `Task::detach`: dropping an async-executor `Task` cancels it).
//! - **`ping_pong` uses `futures-channel`'s oneshot for all three runtimes**
//!   (Tokio's bench uses `tokio::sync::oneshot`), so the channel is the same
//!   and only the scheduler differs.
//! - **`yield_now`**: `tokio::task::yield_now` (which defers the wake to the
//!   end of the worker's tick), ours `executor::yield_now`, async-executor
//!   `futures_lite::future::yield_now` (wake then `Pending`).
//! - **Our `Config`**: `max_tasks: 1 << 20` instead of the default 4096, which
//!   the 10,000-task benches exceed (TODO in `rt.rs`, issue "Executor v2");
//!   every run queue is then sized for 2^21 tasks (about 96 MiB per core,
//!   allocated once per N, and leaked with the harness's executor);
//!   the harness's ticker ticks every 10 ms (the kernel's 100 Hz); the
//!   benches use no timers.
//! - `mpsc::sync_channel` signalling, `stall()` (10 µs of `yield_now`
//!   spinning) and every task count are as in the original.
#![forbid(unsafe_code)]

mod benches;
mod rt;

use std::{
    fmt::Write as _,
    path::PathBuf,
    process::{Command, ExitCode},
    time::{SystemTime, UNIX_EPOCH},
};

use benches::{BENCHES, Bench};
use rt::{Runtime, async_exec::AsyncExecutor, ours::Ours, tokio_rt::Tokio};
use serde_json::{Value, json};

/// The runtimes, in sample order and table order.
const RUNTIMES: [&str; 3] = [Ours::NAME, Tokio::NAME, AsyncExecutor::NAME];

/// Command-line options.
#[derive(Debug)]
struct Options {
    rounds: usize,
    warmup: usize,
    threads: Vec<usize>,
    filter: Option<String>,
    out: PathBuf,
}

const USAGE: &str = "usage: bench [--rounds R (15)] [--warmup W (1)] [--threads 1,2] \
                     [--filter SUBSTR] [--out DIR (target/bench)]";

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            rounds: 15,
            warmup: 1,
            threads: vec![1, 2],
            filter: None,
            out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench"),
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            let number = |text: String| {
                text.parse::<usize>()
                    .map_err(|_| format!("{arg}: '{text}' is not a number"))
            };
            match arg.as_str() {
                "--rounds" => options.rounds = number(value()?)?.max(1),
                "--warmup" => options.warmup = number(value()?)?,
                "--threads" => {
                    options.threads = value()?
                        .split(',')
                        .map(|n| number(n.to_owned()))
                        .collect::<Result<_, _>>()?;
                    if options.threads.contains(&0) {
                        return Err("--threads: at least 1".to_owned());
                    }
                }
                "--filter" => options.filter = Some(value()?),
                "--out" => options.out = PathBuf::from(value()?),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown option '{other}'\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// The result of one bench at one N.
struct Row {
    bench: Bench,
    threads: usize,
    /// ns/op of every kept sample, per runtime (in [`RUNTIMES`] order).
    samples: [Vec<f64>; 3],
}

impl Row {
    fn medians(&self) -> [f64; 3] {
        self.samples.each_ref().map(|s| median(s))
    }

    fn ratio(&self) -> f64 {
        let [ours, tokio, _] = self.medians();
        ours / tokio
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let benches: Vec<Bench> = BENCHES
        .iter()
        .filter(|b| options.filter.as_deref().is_none_or(|f| b.name.contains(f)))
        .copied()
        .collect();
    if benches.is_empty() {
        eprintln!("no bench matches the filter");
        return ExitCode::FAILURE;
    }
    let load_before = load_average();
    println!(
        "[bench] host: ours vs tokio vs async-executor, threads {:?}, {} warm-up + {} rounds; load average {}",
        options.threads, options.warmup, options.rounds, load_before
    );
    println!("{}", header());
    let mut rows = Vec::new();
    for &threads in &options.threads {
        let ours = Ours::start(threads);
        let tokio = Tokio::start(threads);
        let async_executor = AsyncExecutor::start(threads);
        for &bench in &benches {
            let mut row = Row {
                bench,
                threads,
                samples: Default::default(),
            };
            for round in 0..options.warmup + options.rounds {
                let taken = [
                    bench.sample(&ours, threads),
                    bench.sample(&tokio, threads),
                    bench.sample(&async_executor, threads),
                ];
                if round >= options.warmup {
                    for (samples, ns) in row.samples.iter_mut().zip(taken) {
                        samples.push(ns);
                    }
                }
            }
            println!("{}", format_row(&row));
            rows.push(row);
        }
        ours.shutdown();
        tokio.shutdown();
        async_executor.shutdown();
    }
    let load_after = load_average();
    println!(
        "[bench] ratio = ours / tokio (median ns per op; below 1: ours is faster); load average now {load_after}"
    );
    match write_json(&options, &rows, &load_before, &load_after) {
        Ok(paths) => {
            println!("[bench] wrote {paths}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("[bench] cannot write the results: {error}");
            ExitCode::FAILURE
        }
    }
}

fn header() -> String {
    format!(
        "{:<24} {:>2} {:<13} {:>12} {:>12} {:>15} {:>11}",
        "bench", "N", "op", "ours ns/op", "tokio ns/op", "async-ex ns/op", "ours/tokio"
    )
}

fn format_row(row: &Row) -> String {
    let [ours, tokio, async_executor] = row.medians();
    format!(
        "{:<24} {:>2} {:<13} {:>12.1} {:>12.1} {:>15.1} {:>11.3}",
        row.bench.name,
        row.threads,
        row.bench.op,
        ours,
        tokio,
        async_executor,
        row.ratio()
    )
}

/// `/proc/loadavg`'s first three fields, or `unknown`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `git rev-parse --short HEAD` (with `-dirty` when the tree has changes), or
/// `unknown`.
fn git_commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(commit) = run(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    match run(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
        _ => commit,
    }
}

fn row_json(row: &Row) -> Value {
    let medians = row.medians();
    let mut median_map = serde_json::Map::new();
    let mut sample_map = serde_json::Map::new();
    for (i, name) in RUNTIMES.iter().enumerate() {
        median_map.insert((*name).to_owned(), json!(medians[i]));
        sample_map.insert((*name).to_owned(), json!(row.samples[i]));
    }
    json!({
        "bench": row.bench.name,
        "threads": row.threads,
        "op": row.bench.op,
        "ops_per_iter": row.bench.ops_per_iter,
        "iters_per_sample": row.bench.iters_per_sample,
        "median_ns_per_op": median_map,
        "ratio_ours_tokio": row.ratio(),
        "samples_ns_per_op": sample_map,
    })
}

/// Writes `host-<unix-time>.json` and `host-latest.json` into `options.out`;
/// returns the paths written, for the message.
fn write_json(
    options: &Options,
    rows: &[Row],
    load_before: &str,
    load_after: &str,
) -> std::io::Result<String> {
    let unix_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let document = json!({
        "kind": "host",
        "unix_time": unix_time,
        "git_commit": git_commit(),
        "host_cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "runtimes": RUNTIMES,
        "statistic": "median over rounds of ns per op",
        "ratio": "ours / tokio of the medians (below 1: ours is faster)",
        "warmup_rounds": options.warmup,
        "rounds": options.rounds,
        "results": rows.iter().map(row_json).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::create_dir_all(&options.out)?;
    let stamped = options.out.join(format!("host-{unix_time}.json"));
    let latest = options.out.join("host-latest.json");
    std::fs::write(&stamped, &text)?;
    std::fs::write(&latest, &text)?;
    let mut paths = String::new();
    let _ = write!(paths, "{} and {}", stamped.display(), latest.display());
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn options_parse() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|a| (*a).to_owned()));
        let options = parse(&["--rounds", "3", "--threads", "2", "--filter", "yield"]).unwrap();
        assert_eq!((options.rounds, options.warmup), (3, 1));
        assert_eq!(options.threads, [2]);
        assert_eq!(options.filter.as_deref(), Some("yield"));
        assert!(parse(&["--threads", "0"]).is_err());
        assert!(parse(&["--rounds"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}

//! The kernel monitor: a service that reads commands from the serial
//! service and answers them on the console (`help`, `cpus`, `tasks`,
//! `stats`, `spawn N`, `ping CPU`, `ipc`, `quit`).
//!
//! The dialogue is `protocol::monitor`'s: every answer ends with one
//! `[MON] ok cmd=…` or `[MON] error cmd=… reason=…` line, then the prompt
//! (no newline). Besides one `[MON] ready` line when it starts, it is silent
//! until someone types. Commands run in the monitor's own task; `spawn`'s
//! tasks are low priority, so the monitor stays responsive.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use executor::{CoreId, Priority, yield_now};
use kernel::monitor::{Command, PROMPT};
use protocol::monitor::{
    CpuLine, Done, Help, NameLine, Ping, ProcessLine, Ready, Spawned, TasksLine,
};

use super::Exec;
use super::echo;
use super::ipc::{NAMES, lookup_within};
use super::serial::{self, ReadLine};
use crate::arch::{console, percpu, report, smp, tsc};
use crate::{stats, time, verdict};

/// How long the monitor waits for the serial service to register.
const SERIAL_WAIT: Duration = Duration::from_secs(5);

/// Starts the monitor; it waits for the serial service to appear.
pub fn start(executor: Exec) {
    executor.spawn(Priority::High, run(executor)).detach();
}

/// Idle cycles and TSC of one CPU when `cpus` last looked.
#[derive(Clone, Copy, Default)]
struct IdleMark {
    idle_cycles: u64,
    tsc: u64,
}

async fn run(executor: Exec) {
    let serial = match lookup_within::<ReadLine>(executor, serial::NAME, SERIAL_WAIT).await {
        Ok(serial) => serial,
        Err(why) => {
            log::warn!(target: "MON", "no serial service ({why:?}): no monitor");
            return;
        }
    };
    report::line(&Ready);
    let mut marks: Vec<IdleMark> = Vec::new();
    while let Some(line) = serial::read_line(&serial).await {
        let done = match line {
            Err(error) => {
                let reason = format!("{error}");
                report::line(&Done::Error {
                    cmd: "?",
                    reason: &reason,
                });
                console::write_raw(PROMPT.as_bytes());
                continue;
            }
            Ok(line) => match Command::parse(&line) {
                Err(error) => Err((error.cmd(), format!("{error}"))),
                Ok(Command::Empty) => {
                    console::write_raw(PROMPT.as_bytes());
                    continue;
                }
                Ok(command) => run_command(executor, command, &mut marks)
                    .await
                    .map(|()| command.word())
                    .map_err(|reason| (command.word(), reason)),
            },
        };
        match done {
            Ok(cmd) => report::line(&Done::Ok { cmd }),
            Err((cmd, reason)) => report::line(&Done::Error {
                cmd,
                reason: &reason,
            }),
        }
        console::write_raw(PROMPT.as_bytes());
    }
    log::warn!(target: "MON", "the serial service is gone: the monitor stops");
}

/// Runs one command; `Err` carries the reason for the error line.
async fn run_command(
    executor: Exec,
    command: Command,
    marks: &mut Vec<IdleMark>,
) -> Result<(), String> {
    match command {
        Command::Empty => {}
        Command::Help => report::line(&Help),
        Command::Cpus => cpus(marks),
        Command::Tasks => tasks(executor),
        Command::Stats => {
            stats::settle_ipis();
            stats::print();
        }
        Command::Spawn(n) => {
            for _ in 0..n {
                executor
                    .spawn(Priority::Low, async {
                        loop {
                            yield_now().await;
                        }
                    })
                    .detach();
            }
            report::line(&Spawned {
                count: u64::from(n),
                live_tasks: executor.live_tasks() as u64,
            });
        }
        Command::Ping(cpu) => {
            let echo = echo::service(cpu)
                .ok_or_else(|| format!("no CPU {cpu} (online: {})", stats::cpus_online()))?;
            let (start_ns, start_tsc) = (time::uptime_ns(), tsc::read());
            match echo.call(start_tsc).await {
                Ok(answer) if answer == start_tsc => {}
                _ => return Err(format!("CPU {cpu}'s echo service did not answer")),
            }
            report::line(&Ping {
                cpu: u64::from(cpu),
                rtt_us: (time::uptime_ns() - start_ns) / 1_000,
                rtt_cycles: tsc::read() - start_tsc,
            });
        }
        Command::Ipc => {
            for (name, type_name) in NAMES.names() {
                report::line(&NameLine { name, type_name });
            }
        }
        Command::Quit => {
            report::line(&Done::Ok {
                cmd: command.word(),
            });
            stats::settle_ipis();
            stats::print();
            verdict::succeed();
        }
    }
    Ok(())
}

/// `cpus`: one line per online CPU; the idle share is since the previous
/// `cpus` (the first time: since boot).
fn cpus(marks: &mut Vec<IdleMark>) {
    let now = tsc::read();
    for index in smp::online_cpus() {
        let cpu = percpu::percpu_for(index);
        let slot = index as usize;
        if marks.len() <= slot {
            marks.resize(slot + 1, IdleMark::default());
        }
        let idle_cycles = cpu.counters().idle_cycles();
        let mark = marks[slot];
        let elapsed = now.saturating_sub(mark.tsc).max(1);
        let idle = idle_cycles.saturating_sub(mark.idle_cycles);
        marks[slot] = IdleMark {
            idle_cycles,
            tsc: now,
        };
        report::line(&CpuLine {
            index: u64::from(index),
            apic_id: u64::from(cpu.apic_id()),
            ticks: cpu.ticks(),
            idle_pct: (u128::from(idle) * 100 / u128::from(elapsed)).min(100) as u64,
        });
    }
}

/// One user process, for `tasks`: pid, live threads, program name.
pub type ProcessInfo = (u64, u64, &'static str);

/// Calls its argument once per live user process.
pub type ProcessLister = fn(&mut dyn FnMut(ProcessInfo));

/// Where `tasks` finds the user processes: the process layer registers it
/// (it sits above `services`, ADR 0004); without one `tasks` lists none.
static PROCESSES: spin::Once<ProcessLister> = spin::Once::new();

/// Registers the lister of live user processes.
///
/// # Panics
/// If one is registered already.
pub fn set_process_lister(lister: ProcessLister) {
    kernel::sync::set_once(&PROCESSES, lister, "process lister");
}

/// `tasks`: one line per executor core, then one per user process.
fn tasks(executor: Exec) {
    for core in 0..executor.cores() as u32 {
        let tasks = executor.core_tasks(CoreId(core));
        let cpu = percpu::percpu_for(executor.platform().cpu_of(CoreId(core)));
        let running = u64::from(cpu.current_task().is_some());
        let live: usize = tasks.live.iter().sum();
        let queued: usize = tasks.queued.iter().sum();
        report::line(&TasksLine {
            core: u64::from(core),
            live_high: tasks.live[Priority::High as usize] as u64,
            live_normal: tasks.live[Priority::Normal as usize] as u64,
            live_low: tasks.live[Priority::Low as usize] as u64,
            running,
            queued: queued as u64,
            waiting: (live as u64).saturating_sub(queued as u64 + running),
        });
    }
    if let Some(list) = PROCESSES.get() {
        list(&mut |(pid, threads, name)| {
            report::line(&ProcessLine { pid, threads, name });
        });
    }
}

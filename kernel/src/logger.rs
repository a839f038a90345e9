//! The `log` facade's backend: every record becomes one console line.
//!
//! Format (`protocol::log::Log`, shared with the checked warnings):
//! `[TARGET] LEVEL message`, where the level word is left out at
//! `info` (the normal progress lines) and at `debug` (opt-in detail lines
//! such as `[SCHED] send RESCHED IPI → coreN`, which keep the seed plan's form). Kernel code names its subsystem as the
//! target, so lines read `[BOOT] ...`, `[MEM] ...`, `[SMP] WARN ...`:
//!
//! ```ignore
//! log::info!(target: "MEM", "heap {} MiB at {:#x}", size, base);
//! ```
//!
//! Records of dependencies carry their module path as target
//! (`[acpi::madt] WARN ...`). The level comes from the `log=` kernel argument.
//!
//! Only free-text lines come through here. The lines the host checks are
//! `protocol` types printed by [`crate::arch::report`] whatever the level, so that
//! `log=warn` (or `off`) cannot hide them.

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::arch::console;
use kernel::cmdline::LogLevel;
use protocol::log as log_form;

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => log_form::Level::Error,
            Level::Warn => log_form::Level::Warn,
            Level::Info => log_form::Level::Info,
            Level::Debug => log_form::Level::Debug,
            Level::Trace => log_form::Level::Trace,
        };
        let line = log_form::Log {
            target: record.target(),
            level,
            message: record.args(),
        };
        console::write(format_args!("{line}\n"));
    }

    fn flush(&self) {}
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Off => LevelFilter::Off,
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    }
}

/// Installs the logger at `level`. Called once, right after the console.
pub fn init(level: LogLevel) {
    // `set_logger` fails only if a logger is already set: then keep it.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level_filter(level));
}

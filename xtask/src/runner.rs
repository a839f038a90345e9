//! Running QEMU: live serial output, capture, host timeout.
//!
//! QEMU runs with `-serial stdio`, so its stdout is the guest's COM1. A reader thread
//! splits it into lines ([`LineSplitter`]), optionally echoes each line as it arrives
//! (`cargo xtask run`) and collects them for the verdict; a second thread does the same
//! for QEMU's own stderr. The main thread waits for QEMU and kills it when the host
//! timeout expires. QEMU's stdin is `/dev/null` unless `cargo xtask run` hands it the
//! terminal ([`Streams::keyboard`]) or the run types on the guest's COM1
//! ([`SerialInput`]: then a pipe, written by the serial reader once the awaited line
//! arrives); QEMU then leaves the terminal's settings alone, so Ctrl-C reaches both
//! xtask and QEMU.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};
use crate::output::{self, Exit, LineSplitter};
use crate::process;

/// How often the waiting loop checks whether QEMU has exited.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Where the output of a run goes besides the captured lines.
#[derive(Debug, Clone)]
pub struct Streams {
    /// Print serial lines to stdout and QEMU's stderr to stderr as they arrive.
    pub echo: bool,
    /// Also write the serial lines to this file.
    pub serial_log: Option<PathBuf>,
    /// Bytes to type on the guest's COM1, if any.
    pub input: Option<SerialInput>,
    /// Without `input`: hand QEMU this process's stdin, so that what a person
    /// types (or pipes in) reaches the guest's COM1 (the kernel monitor).
    /// Otherwise QEMU's stdin is `/dev/null`.
    pub keyboard: bool,
}

/// A script typed on QEMU's stdin — the guest's COM1 receive line under
/// `-serial stdio` — step by step: each step's bytes go out right after the
/// first serial line (following the previous step) for which its `after`
/// holds, so the kernel is known to be listening, or done with the last one.
#[derive(Debug, Clone)]
pub struct SerialInput {
    /// The steps, in order.
    pub steps: Vec<InputStep>,
}

/// One step of a [`SerialInput`].
#[derive(Debug, Clone)]
pub struct InputStep {
    /// Which serial line to wait for.
    pub after: fn(&str) -> bool,
    /// What to send then.
    pub bytes: Vec<u8>,
}

impl SerialInput {
    /// A one-step script.
    pub fn once(after: fn(&str) -> bool, bytes: Vec<u8>) -> Self {
        Self {
            steps: vec![InputStep { after, bytes }],
        }
    }
}

/// What a finished QEMU run produced.
#[derive(Debug)]
pub struct Finished {
    /// How QEMU ended.
    pub exit: Exit,
    /// The serial output, cleaned and split into lines.
    pub serial: Vec<String>,
    /// QEMU's stderr, split into lines.
    pub stderr: Vec<String>,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

/// Runs `command` (a QEMU command line) to completion or until `timeout`.
pub fn run(mut command: Command, timeout: Option<Duration>, streams: &Streams) -> Result<Finished> {
    let started = Instant::now();
    let stdin = if streams.input.is_some() {
        Stdio::piped()
    } else if streams.keyboard {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    let mut child = command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(|| format!("cannot start `{}`", process::display(&command)))?;
    let serial_log = match &streams.serial_log {
        Some(path) => {
            Some(File::create(path).context(|| format!("cannot create {}", path.display()))?)
        }
        None => None,
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let input = match (&streams.input, child.stdin.take()) {
        (Some(input), Some(pipe)) => Some((input.clone(), pipe)),
        _ => None,
    };
    let serial_reader = spawn_reader(
        stdout,
        streams.echo.then_some(Echo::Stdout),
        serial_log,
        input,
    );
    let stderr_reader = spawn_reader(stderr, streams.echo.then_some(Echo::Stderr), None, None);
    let status = wait_with_timeout(&mut child, timeout)?;
    let elapsed = started.elapsed();
    let exit = match (status, timeout) {
        (Some(status), _) => exit_of(status),
        (None, Some(timeout)) => Exit::TimedOut(timeout),
        (None, None) => unreachable!("without a timeout the wait only ends when QEMU exits"),
    };
    let serial = join_reader(serial_reader)?;
    let stderr = join_reader(stderr_reader)?;
    let exit = match (exit, output::qemu_terminated_by_signal(&stderr)) {
        (Exit::Status(0), Some(signal)) => Exit::Signal(signal),
        (exit, _) => exit,
    };
    Ok(Finished {
        exit,
        serial,
        stderr,
        elapsed,
    })
}

/// Where a reader thread echoes its lines.
#[derive(Debug, Clone, Copy)]
enum Echo {
    Stdout,
    Stderr,
}

/// Reads `source` to its end on a new thread; returns the lines. With `input`, writes
/// each step's bytes to the pipe after the line it waits for (a failed write is not an
/// error here: QEMU may have exited, and the scenario's checks see what arrived).
fn spawn_reader(
    mut source: impl Read + Send + 'static,
    echo: Option<Echo>,
    mut log: Option<File>,
    mut input: Option<(SerialInput, ChildStdin)>,
) -> JoinHandle<io::Result<Vec<String>>> {
    thread::spawn(move || {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        let mut next_step = 0;
        let mut buffer = [0u8; 4096];
        loop {
            let n = source.read(&mut buffer)?;
            let new_lines = if n == 0 {
                splitter.finish().into_iter().collect()
            } else {
                splitter.push(&buffer[..n])
            };
            for line in new_lines {
                emit(&line, echo, log.as_mut())?;
                if let Some((script, pipe)) = input.as_mut()
                    && let Some(step) = script.steps.get(next_step)
                    && (step.after)(&line)
                {
                    let _ = pipe.write_all(&step.bytes).and_then(|()| pipe.flush());
                    next_step += 1;
                }
                lines.push(line);
            }
            if n == 0 {
                // The pipe stays open until QEMU exits: EOF is not part of the input.
                drop(input);
                return Ok(lines);
            }
        }
    })
}

/// Echoes one line and appends it to the log.
fn emit(line: &str, echo: Option<Echo>, log: Option<&mut File>) -> io::Result<()> {
    match echo {
        Some(Echo::Stdout) => writeln!(io::stdout().lock(), "{line}")?,
        Some(Echo::Stderr) => writeln!(io::stderr().lock(), "{line}")?,
        None => {}
    }
    if let Some(log) = log {
        writeln!(log, "{line}")?;
    }
    Ok(())
}

fn join_reader(reader: JoinHandle<io::Result<Vec<String>>>) -> Result<Vec<String>> {
    reader
        .join()
        .map_err(|_| Error::new("the QEMU output reader thread panicked"))?
        .context(|| "cannot read QEMU's output".to_owned())
}

/// Waits for `child`; with a timeout, kills it when the timeout expires and returns
/// `None`.
pub fn wait_with_timeout(
    child: &mut Child,
    timeout: Option<Duration>,
) -> Result<Option<ExitStatus>> {
    let Some(timeout) = timeout else {
        return child
            .wait()
            .map(Some)
            .context(|| "cannot wait for QEMU".to_owned());
    };
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child
            .try_wait()
            .context(|| "cannot wait for QEMU".to_owned())?
        {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            kill(child)?;
            return Ok(None);
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Kills `child` and reaps it.
fn kill(child: &mut Child) -> Result<()> {
    // `kill` fails only if the process has already exited, which is fine: reap it.
    let _ = child.kill();
    child
        .wait()
        .context(|| "cannot reap killed QEMU".to_owned())?;
    Ok(())
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Status(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => unreachable!("a Unix process exits with a status or by a signal"),
    }
}

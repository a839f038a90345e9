//! One boot of the kernel: image, QEMU, verdict.
//!
//! Shared by `cargo xtask run` (one boot, output echoed live) and `cargo xtask test`
//! (many boots, output captured and shown only for failures).

use std::time::Duration;

use crate::error::Result;
use crate::image::{self, Artifacts, Firmware, RunDir};
use crate::kvm::Accel;
use crate::output::{self, Verdict};
use crate::process;
use crate::qemu::{self, QemuConfig};
use crate::runner::{self, Finished, SerialInput, Streams};

/// Everything that describes one boot.
#[derive(Debug, Clone)]
pub struct BootSpec {
    /// Names the run directory (`target/xtask/<label>-...`).
    pub label: String,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// Number of CPUs.
    pub smp: u16,
    /// The kernel command line, word by word.
    pub kernel_args: Vec<String>,
    /// Host safety net: kill QEMU after this long.
    pub timeout: Option<Duration>,
    /// TCG or KVM.
    pub accel: Accel,
    /// Wait for GDB before starting the CPU.
    pub gdb: bool,
    /// Extra QEMU arguments, appended last.
    pub extra_qemu_args: Vec<String>,
    /// Print the QEMU command and stream the output live.
    pub echo: bool,
    /// Bytes to type on the guest's COM1 once a given line appears.
    pub serial_input: Option<SerialInput>,
    /// Pass a terminal's keystrokes to the guest's COM1 (`cargo xtask run`).
    pub keyboard: bool,
}

/// The result of one boot.
#[derive(Debug)]
pub struct BootReport {
    /// The verdict from exit status and output.
    pub verdict: Verdict,
    /// Exit, output and duration of the QEMU process.
    pub finished: Finished,
    /// The QEMU command line, for messages.
    pub command_line: String,
    /// The run directory with image, ramdisk and serial log.
    pub dir: RunDir,
}

/// Makes the image for `spec` and boots it.
pub fn boot(artifacts: &Artifacts, spec: &BootSpec) -> Result<BootReport> {
    let dir = RunDir::create(&spec.label)?;
    let image = image::make_image(artifacts, &dir, spec.firmware, &spec.kernel_args)?;
    let command = qemu::command(&QemuConfig {
        image,
        firmware: spec.firmware,
        smp: spec.smp,
        accel: spec.accel,
        gdb: spec.gdb,
        extra_args: spec.extra_qemu_args.clone(),
    });
    let command_line = process::display(&command);
    if spec.echo {
        println!("[xtask] {command_line}");
    }
    let streams = Streams {
        echo: spec.echo,
        serial_log: Some(dir.serial_log()),
        input: spec.serial_input.clone(),
        keyboard: spec.keyboard,
    };
    let finished = runner::run(command, spec.timeout, &streams)?;
    let verdict = output::verdict(finished.exit, &finished.serial);
    Ok(BootReport {
        verdict,
        finished,
        command_line,
        dir,
    })
}

//! `image-builder`: turns the kernel ELF and a ramdisk into a bootable disk image.
//!
//! This is a separate binary (not part of `xtask`) because the `bootloader` crate's
//! build script compiles the BIOS and UEFI boot stages with `-Zbuild-std`, which needs
//! the pinned nightly toolchain. `cargo xtask` builds it with that toolchain and calls
//! it once per boot:
//!
//! ```text
//! image-builder --kernel <ELF> --ramdisk <FILE> (--bios <OUT> | --uefi <OUT>)
//! ```
//!
//! The ramdisk carries the kernel command line (see `docs/kernel-interface.md` §1).
//! The bootloader's own logging is switched off, so the serial port carries only the
//! kernel's lines (and, under UEFI, whatever the firmware prints).

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bootloader::{BiosBoot, BootConfig, UefiBoot};
use clap::{ArgGroup, Parser};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    about = "Make a BIOS or UEFI disk image from the kernel ELF and a ramdisk",
    group(ArgGroup::new("firmware").required(true).args(["bios", "uefi"]))
)]
struct Args {
    /// The kernel ELF executable.
    #[arg(long, value_name = "ELF")]
    kernel: PathBuf,
    /// The ramdisk file (the kernel command line).
    #[arg(long, value_name = "FILE")]
    ramdisk: PathBuf,
    /// Write a BIOS (MBR) disk image to this path.
    #[arg(long, value_name = "OUT")]
    bios: Option<PathBuf>,
    /// Write a UEFI (GPT) disk image to this path.
    #[arg(long, value_name = "OUT")]
    uefi: Option<PathBuf>,
}

/// The bootloader configuration: no bootloader logging on serial or screen.
fn boot_config() -> BootConfig {
    let mut config = BootConfig::default();
    config.serial_logging = false;
    config.frame_buffer_logging = false;
    config
}

/// Checks that an input file exists, so the error names the flag, not a temp file.
fn require_file(flag: &str, path: &Path) -> Result<(), String> {
    if path.is_file() {
        Ok(())
    } else {
        Err(format!("{flag} {}: no such file", path.display()))
    }
}

/// Writes the image selected by the arguments.
fn build(args: &Args) -> Result<(), String> {
    require_file("--kernel", &args.kernel)?;
    require_file("--ramdisk", &args.ramdisk)?;
    let config = boot_config();
    let (out, result) = match (&args.bios, &args.uefi) {
        (Some(out), None) => (
            out,
            BiosBoot::new(&args.kernel)
                .set_ramdisk(&args.ramdisk)
                .set_boot_config(&config)
                .create_disk_image(out),
        ),
        (None, Some(out)) => (
            out,
            UefiBoot::new(&args.kernel)
                .set_ramdisk(&args.ramdisk)
                .set_boot_config(&config)
                .create_disk_image(out),
        ),
        _ => unreachable!("clap enforces exactly one of --bios and --uefi"),
    };
    result.map_err(|error| format!("cannot create disk image {}: {error:#}", out.display()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match build(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("image-builder: error: {message}");
            ExitCode::FAILURE
        }
    }
}

//! Building the kernel and the image builder, and making one disk image per boot.
//!
//! The kernel arguments travel as the bootloader's ramdisk (`docs/kernel-interface.md`
//! §1), so every boot with different arguments needs its own image. The kernel and the
//! `image-builder` tool are built once; each boot then gets a fresh run directory
//! `target/xtask/<label>-<pid>-<n>/` holding
//!
//! - `ramdisk`: the kernel arguments joined by spaces, plus a newline;
//! - `bios.img` or `uefi.img`: the disk image (under 0.1 s to make);
//! - `serial.log`: everything the boot printed on the serial port (written by the runner).
//!
//! Callers delete the directory after a successful boot and keep it for failures.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Context, Error, Result};
use crate::process;
use crate::toolchain::{self, KERNEL_TARGET};

/// Which firmware boots the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// Legacy BIOS (SeaBIOS, QEMU's default), MBR image.
    Bios,
    /// UEFI (OVMF), GPT image.
    Uefi,
}

impl Firmware {
    /// `bios` or `uefi`: the name the kernel prints as `mode=`.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// The kernel build profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (opt-level 1, debug info, debug assertions).
    Debug,
    /// `cargo build --release`.
    Release,
}

/// The built programs a boot needs.
#[derive(Debug, Clone)]
pub struct Artifacts {
    /// The kernel ELF as built, debug info included (what `--gdb` loads).
    pub kernel: PathBuf,
    /// The same ELF without its `.debug_*` sections: what the disk image
    /// carries. A debug kernel is ~9 MB, 8 of them debug info, and the BIOS
    /// loader reads it 512 bytes at a time; on a busy host that took 30–120 s
    /// (issue 8). Stripped, it is a few hundred KB.
    pub boot_kernel: PathBuf,
    /// The host `image-builder` executable.
    pub image_builder: PathBuf,
}

/// Builds the user programs, the kernel (which embeds them) and the image
/// builder with the pinned toolchain.
pub fn build(profile: Profile) -> Result<Artifacts> {
    build_user_programs()?;
    let kernel = build_kernel(profile)?;
    let boot_kernel = strip_debug_info(&kernel)?;
    Ok(Artifacts {
        kernel,
        boot_kernel,
        image_builder: build_image_builder()?,
    })
}

/// Writes `kernel.boot` beside `kernel`: the ELF without debug sections
/// (`llvm-objcopy --strip-debug` from the pinned toolchain's `llvm-tools`).
fn strip_debug_info(kernel: &Path) -> Result<PathBuf> {
    let objcopy = llvm_tool("llvm-objcopy")?;
    let out = kernel.with_file_name("kernel.boot");
    let mut command = Command::new(&objcopy);
    command.arg("--strip-debug").arg(kernel).arg(&out);
    process::clean_env(&mut command);
    process::run(&mut command)?;
    Ok(out)
}

/// The path of an LLVM tool of the pinned toolchain's `llvm-tools` component:
/// `<sysroot>/lib/rustlib/<host>/bin/<name>`.
fn llvm_tool(name: &str) -> Result<PathBuf> {
    let mut rustc = Command::new("rustc");
    rustc.arg(format!("+{}", toolchain::TOOLCHAIN)).arg("-vV");
    process::clean_env(&mut rustc);
    let version = process::stdout_of(&mut rustc)?;
    let host = version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::trim)
        .ok_or_else(|| Error::new("rustc -vV printed no 'host:' line"))?
        .to_owned();
    let mut sysroot = Command::new("rustc");
    sysroot
        .arg(format!("+{}", toolchain::TOOLCHAIN))
        .args(["--print", "sysroot"]);
    process::clean_env(&mut sysroot);
    let root = PathBuf::from(process::stdout_of(&mut sysroot)?.trim());
    let tool = root.join("lib/rustlib").join(host).join("bin").join(name);
    if tool.is_file() {
        Ok(tool)
    } else {
        Err(Error::new(format!(
            "{} not found: the pinned toolchain's llvm-tools component is missing \
             (rustup component add llvm-tools --toolchain {})",
            tool.display(),
            toolchain::TOOLCHAIN
        )))
    }
}

/// The directory of the user workspace (`user/`, a workspace of its own).
pub fn user_dir() -> PathBuf {
    toolchain::workspace_root().join("user")
}

/// The user programs the kernel embeds (`user/*`, binaries of the same name).
pub const USER_PROGRAMS: [&str; 9] = [
    "hello",
    "yield_loop",
    "fault",
    "ping",
    "pong",
    "threads",
    "stress",
    "ubench",
    "upong",
];

/// `cargo +T build --release` in `user/` (its `.cargo/config.toml` sets the
/// target and the link options), into `target/user/`: where the kernel's
/// build script looks for the programs to embed (ADR 0006). Always release:
/// the programs are tiny either way and their layout should not depend on
/// the kernel's profile.
fn build_user_programs() -> Result<PathBuf> {
    println!("[xtask] building user programs");
    let target_dir = toolchain::target_dir().join("user");
    let mut command = toolchain::cargo(["build", "--release", "--target-dir"]);
    command.arg(&target_dir).current_dir(user_dir());
    process::run(&mut command)?;
    let dir = target_dir.join(KERNEL_TARGET).join("release");
    for program in USER_PROGRAMS {
        let path = dir.join(program);
        if !path.is_file() {
            return Err(Error::new(format!(
                "the user build did not produce {}",
                path.display()
            )));
        }
    }
    Ok(dir)
}

/// `cargo +T build -p kernel --target x86_64-unknown-none [--release]`.
fn build_kernel(profile: Profile) -> Result<PathBuf> {
    let mut args = vec!["build", "-p", "kernel", "--target", KERNEL_TARGET];
    let dir = match profile {
        Profile::Debug => "debug",
        Profile::Release => {
            args.push("--release");
            "release"
        }
    };
    println!("[xtask] building kernel ({dir})");
    process::run(&mut toolchain::cargo(args))?;
    Ok(toolchain::target_dir()
        .join(KERNEL_TARGET)
        .join(dir)
        .join("kernel"))
}

/// `cargo +T build -p image-builder` (host target; its build script needs nightly).
fn build_image_builder() -> Result<PathBuf> {
    println!("[xtask] building image-builder");
    process::run(&mut toolchain::cargo(["build", "-p", "image-builder"]))?;
    Ok(toolchain::target_dir().join("debug").join("image-builder"))
}

/// A per-boot directory under `target/xtask/`.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates a fresh, empty directory `target/xtask/<label>-<pid>-<n>/`.
    ///
    /// The process id keeps concurrent xtask processes apart and `n` the boots of one
    /// process. A leftover directory with the same name (an old process that had the
    /// same id) is replaced.
    pub fn create(label: &str) -> Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{label}-{}-{n}", std::process::id());
        let path = toolchain::target_dir().join("xtask").join(name);
        if path.exists() {
            fs::remove_dir_all(&path)
                .context(|| format!("cannot remove stale {}", path.display()))?;
        }
        fs::create_dir_all(&path).context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file where the runner stores the serial output.
    pub fn serial_log(&self) -> PathBuf {
        self.path.join("serial.log")
    }

    /// Deletes the directory (after a successful boot: nothing to inspect).
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path).context(|| format!("cannot remove {}", self.path.display()))
    }
}

/// One word of the kernel command line, `key=value`: the one place the host
/// writes that form (the keys and values are `protocol::args`').
pub fn kernel_arg(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

/// The ramdisk text for these kernel arguments: joined by single spaces, one newline.
pub fn ramdisk_contents(kernel_args: &[String]) -> String {
    format!("{}\n", kernel_args.join(" "))
}

/// Writes the ramdisk into `dir` and makes the disk image; returns the image path.
pub fn make_image(
    artifacts: &Artifacts,
    dir: &RunDir,
    firmware: Firmware,
    kernel_args: &[String],
) -> Result<PathBuf> {
    let ramdisk = dir.path().join("ramdisk");
    fs::write(&ramdisk, ramdisk_contents(kernel_args))
        .context(|| format!("cannot write {}", ramdisk.display()))?;
    let image = dir.path().join(format!("{}.img", firmware.name()));
    let mut command = Command::new(&artifacts.image_builder);
    command
        .arg("--kernel")
        .arg(&artifacts.boot_kernel)
        .arg("--ramdisk")
        .arg(&ramdisk)
        .arg(format!("--{}", firmware.name()))
        .arg(&image);
    process::run(&mut command)?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramdisk_joins_arguments() {
        use protocol::args::{self, log, test};
        let args = [
            kernel_arg(args::TEST, test::ALL),
            kernel_arg(args::LOG, log::DEBUG),
        ];
        assert_eq!(ramdisk_contents(&args), "test=all log=debug\n");
        assert_eq!(ramdisk_contents(&[]), "\n");
    }

    /// The kernel embeds, the user workspace builds and xtask checks the
    /// same programs.
    #[test]
    fn user_program_lists_agree() {
        let build_script = include_str!("../../kernel/build.rs");
        let members = include_str!("../../user/Cargo.toml");
        for program in USER_PROGRAMS {
            let quoted = format!("\"{program}\"");
            assert!(
                build_script.contains(&quoted),
                "kernel/build.rs lacks {quoted}"
            );
            assert!(members.contains(&quoted), "user/Cargo.toml lacks {quoted}");
        }
        let start = build_script
            .find("const PROGRAMS")
            .expect("kernel/build.rs has a PROGRAMS list");
        let listed = &build_script[start..];
        let listed = &listed[..listed.find("];").expect("the list ends")];
        assert_eq!(listed.matches('"').count(), 2 * USER_PROGRAMS.len());
    }

    #[test]
    fn run_dirs_are_unique() {
        let a = RunDir::create("unit-test").unwrap();
        let b = RunDir::create("unit-test").unwrap();
        assert_ne!(a.path(), b.path());
        assert!(a.path().is_dir());
        a.remove().unwrap();
        b.remove().unwrap();
    }
}

//! The pinned nightly toolchain and the cargo commands that use it.
//!
//! `cargo xtask` runs on whatever toolchain the user has (usually stable), but the kernel
//! (`abi_x86_interrupt`, `-Zbuild-std` in the bootloader's build script) needs nightly.
//! There is deliberately no `rust-toolchain.toml`: with `RUSTUP_AUTO_INSTALL=0` a pinned
//! toolchain that is not installed makes *every* cargo call fail, including the one that
//! would install it. Instead xtask checks for [`TOOLCHAIN`] with its components and
//! target, installs what is missing through rustup, and then runs every cargo command
//! as `cargo +TOOLCHAIN ...` from the workspace root with a clean environment.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::process;

/// The nightly toolchain every cargo invocation of xtask uses.
pub const TOOLCHAIN: &str = "nightly-2026-10-30";

/// Components the build needs: the bootloader builds its stages with `-Zbuild-std`
/// (`rust-src`) and `llvm-tools`; `cargo xtask test` runs clippy and rustfmt.
pub const COMPONENTS: [&str; 4] = ["rust-src", "llvm-tools", "clippy", "rustfmt"];

/// The kernel's compilation target.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// The workspace root (the parent of the xtask crate).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the xtask crate lives inside the workspace")
}

/// The workspace's target directory. Always `<root>/target`: `CARGO_TARGET_DIR` is one of
/// the variables the clean environment removes.
pub fn target_dir() -> PathBuf {
    workspace_root().join("target")
}

/// `cargo +TOOLCHAIN <args>` in the workspace root, with the inherited build variables
/// removed.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new("cargo");
    command
        .arg(format!("+{TOOLCHAIN}"))
        .args(args)
        .current_dir(workspace_root());
    process::clean_env(&mut command);
    command
}

/// What of the pinned toolchain is missing.
#[derive(Debug, PartialEq, Eq)]
enum Missing {
    /// The whole toolchain.
    Toolchain,
    /// Some components and/or the kernel target of an installed toolchain.
    Parts(Vec<String>),
}

/// Makes sure [`TOOLCHAIN`] with [`COMPONENTS`] and [`KERNEL_TARGET`] is installed,
/// installing what is missing (and saying so).
pub fn ensure_installed() -> Result<()> {
    if process::find_in_path("rustup").is_none() {
        return Err(Error::new(format!(
            "rustup is not in PATH; install it (https://rustup.rs), then run: {}",
            install_command_line()
        )));
    }
    match missing()? {
        None => return Ok(()),
        Some(Missing::Toolchain) => println!(
            "[xtask] installing Rust toolchain {TOOLCHAIN} (+{}, target {KERNEL_TARGET})",
            COMPONENTS.join(", ")
        ),
        Some(Missing::Parts(parts)) => println!(
            "[xtask] installing into Rust toolchain {TOOLCHAIN}: {}",
            parts.join(", ")
        ),
    }
    // `rustup toolchain install` also adds missing components and targets to an
    // installed toolchain.
    process::run(&mut install_command())?;
    match missing()? {
        None => Ok(()),
        Some(still) => Err(Error::new(format!(
            "after `{}`, still missing: {still:?}",
            install_command_line()
        ))),
    }
}

fn install_command() -> Command {
    let mut command = rustup();
    command.args([
        "toolchain",
        "install",
        TOOLCHAIN,
        "--profile",
        "minimal",
        "--component",
        &COMPONENTS.join(","),
        "--target",
        KERNEL_TARGET,
    ]);
    command
}

fn install_command_line() -> String {
    process::display(&install_command())
}

fn rustup() -> Command {
    let mut command = Command::new("rustup");
    process::clean_env(&mut command);
    command
}

/// Asks rustup what is installed; `None` if nothing is missing.
fn missing() -> Result<Option<Missing>> {
    let toolchains = process::stdout_of(rustup().args(["toolchain", "list"]))?;
    if !toolchain_listed(&toolchains, TOOLCHAIN) {
        return Ok(Some(Missing::Toolchain));
    }
    let components = process::stdout_of(rustup().args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        TOOLCHAIN,
    ]))?;
    let targets = process::stdout_of(rustup().args([
        "target",
        "list",
        "--installed",
        "--toolchain",
        TOOLCHAIN,
    ]))?;
    let mut parts: Vec<String> = COMPONENTS
        .iter()
        .filter(|component| !component_listed(&components, component))
        .map(|component| component.to_string())
        .collect();
    if !targets.lines().any(|line| line.trim() == KERNEL_TARGET) {
        parts.push(format!("target {KERNEL_TARGET}"));
    }
    Ok((!parts.is_empty()).then_some(Missing::Parts(parts)))
}

/// True if `rustup toolchain list` output names `toolchain` (as `nightly-2026-10-30` or
/// `nightly-2026-10-30-<host triple>`, possibly followed by `(default)`).
fn toolchain_listed(list: &str, toolchain: &str) -> bool {
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .any(|name| {
            name == toolchain
                || name
                    .strip_prefix(toolchain)
                    .is_some_and(|rest| rest.starts_with('-'))
        })
}

/// True if `rustup component list --installed` output names `component` (components are
/// listed as `rust-src` or `clippy-x86_64-unknown-linux-gnu`).
fn component_listed(list: &str, component: &str) -> bool {
    list.lines().map(str::trim).any(|name| {
        name == component
            || name
                .strip_prefix(component)
                .is_some_and(|rest| rest.starts_with("-x86_64") || rest.starts_with("-aarch64"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_list_parsing() {
        let list = "stable-x86_64-unknown-linux-gnu (active, default)\n\
                    nightly-x86_64-unknown-linux-gnu\n\
                    nightly-2026-10-30-x86_64-unknown-linux-gnu\n";
        assert!(toolchain_listed(list, "nightly-2026-10-30"));
        assert!(!toolchain_listed(list, "nightly-2026-10-3"));
        assert!(!toolchain_listed(list, "nightly-2026-11-01"));
        assert!(toolchain_listed(
            "nightly-2026-10-30 (default)\n",
            "nightly-2026-10-30"
        ));
    }

    #[test]
    fn component_list_parsing() {
        let list = "cargo-x86_64-unknown-linux-gnu\nllvm-tools-x86_64-unknown-linux-gnu\n\
                    rust-src\nrust-std-x86_64-unknown-none\nrustc-x86_64-unknown-linux-gnu\n";
        assert!(component_listed(list, "rust-src"));
        assert!(component_listed(list, "llvm-tools"));
        assert!(!component_listed(list, "clippy"));
        assert!(!component_listed(list, "rust"));
        assert!(!component_listed(list, "rustfmt"));
    }
}

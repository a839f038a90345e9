//! Running host programs: a clean environment for cargo, readable command lines,
//! and checked execution.
//!
//! `cargo xtask` itself runs under `cargo run`, which exports `CARGO_*` variables
//! describing the *xtask* build (manifest dir, target dir, rustflags, ...). Passing them
//! on to the cargo that builds the kernel would mix the two builds, so every cargo or
//! rustup we start gets the environment cleaned by [`clean_env`] (see
//! [`is_inherited_build_var`] for the exact rule).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Context, Error, Result};

/// True for environment variables set by an outer cargo/rustup that must not reach the
/// cargo we start: every `CARGO*` variable (except the user's own configuration:
/// `CARGO_HOME`, `CARGO_TERM_*`, `CARGO_NET_*`, `CARGO_HTTP_*`), `__CARGO_*`, and the
/// compiler overrides `RUSTUP_TOOLCHAIN`, `RUSTC`, `RUSTC_WRAPPER`,
/// `RUSTC_WORKSPACE_WRAPPER`, `RUSTDOC`, `RUSTFLAGS`, `RUSTDOCFLAGS`.
pub fn is_inherited_build_var(name: &str) -> bool {
    const COMPILER_OVERRIDES: [&str; 7] = [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTDOC",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
    ];
    const KEPT_CARGO_PREFIXES: [&str; 3] = ["CARGO_TERM_", "CARGO_NET_", "CARGO_HTTP_"];
    if name.starts_with("__CARGO_") || COMPILER_OVERRIDES.contains(&name) {
        return true;
    }
    name.starts_with("CARGO")
        && name != "CARGO_HOME"
        && !KEPT_CARGO_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Removes the inherited build variables from `command`'s environment.
pub fn clean_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_inherited_build_var) {
            command.env_remove(name);
        }
    }
    command
}

/// The command line of `command`, for messages: `cargo +nightly build -p kernel`.
pub fn display(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes an argument for display when it contains spaces or is empty.
fn quote(arg: &OsStr) -> String {
    let arg = arg.to_string_lossy();
    if arg.is_empty() || arg.contains(char::is_whitespace) {
        format!("'{arg}'")
    } else {
        arg.into_owned()
    }
}

/// Runs `command` with inherited stdio and fails unless it exits successfully.
pub fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .context(|| format!("cannot run `{}`", display(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "`{}` failed ({status})",
            display(command)
        )))
    }
}

/// Runs `command` to completion with its output captured; does not check the status.
pub fn capture(command: &mut Command) -> Result<Output> {
    command
        .output()
        .context(|| format!("cannot run `{}`", display(command)))
}

/// Runs `command`, requires success and returns its stdout as text.
pub fn stdout_of(command: &mut Command) -> Result<String> {
    let output = capture(command)?;
    if !output.status.success() {
        return Err(Error::new(format!(
            "`{}` failed ({}): {}",
            display(command),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Finds an executable by name in `PATH`.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_vars_are_stripped() {
        for name in [
            "CARGO",
            "CARGO_MANIFEST_DIR",
            "CARGO_TARGET_DIR",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_PKG_NAME",
            "__CARGO_FIX_PLZ",
            "RUSTUP_TOOLCHAIN",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTDOC",
            "RUSTFLAGS",
        ] {
            assert!(is_inherited_build_var(name), "{name} should be stripped");
        }
    }

    #[test]
    fn user_config_is_kept() {
        for name in [
            "CARGO_HOME",
            "CARGO_TERM_COLOR",
            "CARGO_NET_OFFLINE",
            "CARGO_HTTP_PROXY",
            "RUSTUP_HOME",
            "PATH",
            "HOME",
            "RUST_BACKTRACE",
        ] {
            assert!(!is_inherited_build_var(name), "{name} should be kept");
        }
    }

    #[test]
    fn display_quotes_spaces() {
        let mut command = Command::new("qemu");
        command.args(["-m", "1G", "a b", ""]);
        assert_eq!(display(&command), "qemu -m 1G 'a b' ''");
    }
}

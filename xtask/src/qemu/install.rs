//! Installing QEMU from Debian bookworm-backports, and what apt-get says about it.
//!
//! Debian 12 (bookworm) ships QEMU 7.2, whose TCG has no x2APIC; bookworm-backports
//! ships QEMU 10 (see `docs/adr/0003-qemu-from-bookworm-backports.md`). As root on
//! bookworm, [`from_backports`]:
//!
//! 1. adds [`SOURCES_FILE`] unless some apt source already names bookworm-backports;
//! 2. runs `apt-get update`;
//! 3. simulates the install (`apt-get -s install --no-install-recommends -t
//!    bookworm-backports qemu-system-x86`) and refuses if apt would remove any
//!    package (a `Remv` line): the machine keeps everything it had;
//! 4. says which packages it installs, then installs them with `--no-remove` as well,
//!    so apt aborts rather than remove anything should the plan change meanwhile.
//!
//! If it refuses or fails, a source file it added is taken out again.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::error::{Context, Error, Result};
use crate::process;

/// The apt source file xtask adds for bookworm-backports.
pub const SOURCES_FILE: &str = "/etc/apt/sources.list.d/bookworm-backports.sources";

/// Its contents (deb822 format), signed by Debian's archive keyring.
const SOURCES_TEXT: &str = "\
# Added by `cargo xtask` for QEMU >= 9 (x2APIC under TCG); see docs/adr/.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

/// The suite QEMU comes from.
pub const SUITE: &str = "bookworm-backports";

/// The Debian package of `qemu-system-x86_64`.
pub const PACKAGE: &str = "qemu-system-x86";

/// Where apt reads its sources.
const APT_SOURCES: &str = "/etc/apt/sources.list";
const APT_SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// The `VERSION_CODENAME` of an `/etc/os-release` text (`bookworm`), quotes removed.
pub fn os_codename(os_release: &str) -> Option<&str> {
    os_release.lines().find_map(|line| {
        let value = line.trim().strip_prefix("VERSION_CODENAME=")?;
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty()).then_some(value)
    })
}

/// The machine's Debian codename, if `/etc/os-release` names one.
pub fn this_codename() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    os_codename(&text).map(str::to_owned)
}

/// What `apt-get -s install` would do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Packages installed or upgraded: `name old → new` or `name new`.
    pub installs: Vec<String>,
    /// Packages removed: `name version`.
    pub removals: Vec<String>,
}

/// Parses `apt-get -s` output. The lines that matter:
///
/// ```text
/// Inst qemu-system-x86 [1:7.2+dfsg-7+deb12u18+b3] (1:10.0.3+ds-1~bpo12+1 Debian Backports:bookworm-backports [amd64])
/// Inst libslirp0 (4.8.0-1~bpo12+1 Debian Backports:bookworm-backports [amd64])
/// Remv qemu-system-gui [1:7.2+dfsg-7+deb12u18+b3]
/// ```
///
/// (`[old]` only for an upgrade; `Conf` lines repeat the installs.)
pub fn parse_plan(output: &str) -> Plan {
    let mut plan = Plan::default();
    for line in output.lines() {
        let mut words = line.split_whitespace();
        let (Some(action), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let rest = line
            .split_once(name)
            .map_or("", |(_, rest)| rest)
            .trim_start();
        // `[old]` comes right after the name; `(new suite [arch])` after that.
        let (old, rest) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((old, rest)) => (Some(old), rest.trim_start()),
            None => (None, rest),
        };
        let new = rest
            .strip_prefix('(')
            .and_then(|new| new.split_whitespace().next());
        match action {
            "Inst" => plan.installs.push(match (old, new) {
                (Some(old), Some(new)) => format!("{name} {old} → {new}"),
                (None, Some(new)) => format!("{name} {new}"),
                _ => name.to_owned(),
            }),
            "Remv" => plan
                .removals
                .push(old.map_or_else(|| name.to_owned(), |old| format!("{name} {old}"))),
            _ => {}
        }
    }
    plan
}

/// True if an apt source file's text enables `suite` (commented lines do not count).
fn names_suite(text: &str, suite: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .any(|line| line.split_whitespace().any(|word| word == suite))
}

/// True if some apt source already enables [`SUITE`].
fn backports_configured() -> bool {
    let mut files = vec![Path::new(APT_SOURCES).to_path_buf()];
    if let Ok(entries) = fs::read_dir(APT_SOURCES_DIR) {
        files.extend(
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| {
                    path.extension()
                        .is_some_and(|ext| ext == "list" || ext == "sources")
                }),
        );
    }
    files
        .iter()
        .any(|file| fs::read_to_string(file).is_ok_and(|text| names_suite(&text, SUITE)))
}

/// `apt-get <args>` without questions.
fn apt_get(args: &[&str]) -> Command {
    let mut command = Command::new("apt-get");
    command.env("DEBIAN_FRONTEND", "noninteractive").args(args);
    command
}

/// The install arguments, after `install` (or `-s install`).
const INSTALL_ARGS: [&str; 4] = ["--no-install-recommends", "-t", SUITE, PACKAGE];

/// Installs [`PACKAGE`] from [`SUITE`] as described in the module doc. Fails, having
/// changed no package, if apt would remove one or cannot find the suite.
pub fn from_backports() -> Result<()> {
    let added = if backports_configured() {
        false
    } else {
        println!(
            "[xtask] adding apt source {SOURCES_FILE} \
             (deb http://deb.debian.org/debian {SUITE} main)"
        );
        fs::write(SOURCES_FILE, SOURCES_TEXT).context(|| format!("cannot write {SOURCES_FILE}"))?;
        true
    };
    let result = update_and_install();
    if result.is_err() && added {
        println!("[xtask] removing {SOURCES_FILE} again");
        fs::remove_file(SOURCES_FILE).context(|| format!("cannot remove {SOURCES_FILE}"))?;
    }
    result
}

fn update_and_install() -> Result<()> {
    println!("[xtask] apt-get update");
    process::run(&mut apt_get(&["update"]))?;
    let mut simulate = apt_get(&["-s", "install"]);
    simulate.args(INSTALL_ARGS);
    let output = process::capture(&mut simulate)?;
    if !output.status.success() {
        return Err(Error::new(format!(
            "`{}` failed ({}): {}",
            process::display(&simulate),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let plan = parse_plan(&String::from_utf8_lossy(&output.stdout));
    if !plan.removals.is_empty() {
        return Err(Error::new(format!(
            "refusing to install {PACKAGE} from {SUITE}: apt would remove {}",
            plan.removals.join(", ")
        )));
    }
    if plan.installs.is_empty() {
        return Err(Error::new(format!(
            "`{}` plans no install: is {PACKAGE} from {SUITE} already installed?",
            process::display(&simulate)
        )));
    }
    println!(
        "[xtask] installing {} packages from {SUITE} (no package is removed):",
        plan.installs.len()
    );
    for install in &plan.installs {
        println!("[xtask]   {install}");
    }
    let mut install = apt_get(&["install", "-y", "--no-remove"]);
    install.args(INSTALL_ARGS);
    process::run(&mut install)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codename_from_os_release() {
        let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                        VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(os_codename(bookworm), Some("bookworm"));
        assert_eq!(
            os_codename("ID=ubuntu\nVERSION_CODENAME=\"noble\"\n"),
            Some("noble")
        );
        assert_eq!(os_codename("ID=arch\n"), None);
        assert_eq!(os_codename("VERSION_CODENAME=\n"), None);
    }

    #[test]
    fn plan_lists_installs_and_removals() {
        let output = "\
NOTE: This is only a simulation!
Reading package lists...
The following packages will be upgraded:
  qemu-system-x86
Inst libslirp0 (4.8.0-1~bpo12+1 Debian Backports:bookworm-backports [amd64])
Inst qemu-system-x86 [1:7.2+dfsg-7+deb12u18+b3] (1:10.0.3+ds-1~bpo12+1 Debian Backports:bookworm-backports [amd64])
Remv qemu-system-gui [1:7.2+dfsg-7+deb12u18+b3]
Conf libslirp0 (4.8.0-1~bpo12+1 Debian Backports:bookworm-backports [amd64])
";
        let plan = parse_plan(output);
        assert_eq!(
            plan.installs,
            [
                "libslirp0 4.8.0-1~bpo12+1",
                "qemu-system-x86 1:7.2+dfsg-7+deb12u18+b3 → 1:10.0.3+ds-1~bpo12+1",
            ]
        );
        assert_eq!(plan.removals, ["qemu-system-gui 1:7.2+dfsg-7+deb12u18+b3"]);
        assert_eq!(
            parse_plan("0 upgraded, 0 newly installed\n"),
            Plan::default()
        );
    }

    #[test]
    fn sources_that_enable_backports() {
        assert!(names_suite(SOURCES_TEXT, SUITE));
        assert!(names_suite(
            "deb http://deb.debian.org/debian bookworm-backports main\n",
            SUITE
        ));
        assert!(!names_suite(
            "# deb http://deb.debian.org/debian bookworm-backports main\n",
            SUITE
        ));
        assert!(!names_suite(
            "Suites: bookworm bookworm-updates\nComponents: main\n",
            SUITE
        ));
    }
}

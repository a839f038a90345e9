//! Embeds the user programs (ADR 0006).
//!
//! `cargo xtask` builds `user/` into `target/user/` before the kernel; this
//! script writes `$OUT_DIR/user_programs.rs`, a table of
//! `(name, include_bytes!(path))`, which `process::programs` includes. The
//! directory is `$KERNEL_USER_PROGRAMS` if set, else
//! `target/user/x86_64-unknown-none/release/`. A program that is not there
//! (a plain `cargo build -p kernel`, `cargo clippy` on a clean clone, the
//! host tests of the library) is embedded as an empty image, which the
//! loader reports as "not built" — the kernel still builds.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

/// The programs of `user/` the kernel embeds.
const PROGRAMS: [&str; 9] = [
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

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-env-changed=KERNEL_USER_PROGRAMS");
    let dir = match env::var_os("KERNEL_USER_PROGRAMS") {
        Some(dir) => PathBuf::from(dir),
        None => manifest.join("../target/user/x86_64-unknown-none/release"),
    };
    let mut table = String::from("&[\n");
    for name in PROGRAMS {
        let path = dir.join(name);
        // A missing file makes cargo rerun this script on every build, so
        // the program is picked up as soon as it exists.
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_file() {
            let path = fs::canonicalize(&path).expect("an existing file has a canonical path");
            writeln!(
                table,
                "    ({name:?}, include_bytes!({:?})),",
                path.display().to_string()
            )
            .expect("writing to a String cannot fail");
        } else {
            writeln!(table, "    ({name:?}, &[]),").expect("writing to a String cannot fail");
        }
    }
    table.push_str("]\n");
    fs::write(out.join("user_programs.rs"), table).expect("cannot write user_programs.rs");
}

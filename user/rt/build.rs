//! Puts `user.ld` on the linker's search path of every program that links
//! `rt` (`-Tuser.ld` in `.cargo/config.toml` finds it there).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-search={dir}");
    println!("cargo:rerun-if-changed=user.ld");
}

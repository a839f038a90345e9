/work/main/user/target/x86_64-unknown-none/release/build/ping/11d20f245097707d/out/ping-11d20f245097707d.d: /work/main/clippy.toml ping/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/ping/11d20f245097707d/out/libping-11d20f245097707d.rmeta: /work/main/clippy.toml ping/src/main.rs Cargo.toml

/work/main/clippy.toml:
ping/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

/work/main/user/target/x86_64-unknown-none/release/build/fault/01ce30a4338a7fdb/out/fault-01ce30a4338a7fdb.d: /work/main/clippy.toml fault/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/fault/01ce30a4338a7fdb/out/libfault-01ce30a4338a7fdb.rmeta: /work/main/clippy.toml fault/src/main.rs Cargo.toml

/work/main/clippy.toml:
fault/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

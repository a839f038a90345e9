/work/main/user/target/x86_64-unknown-none/release/build/ubench/408b22561ac51402/out/ubench-408b22561ac51402.d: /work/main/clippy.toml ubench/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/ubench/408b22561ac51402/out/libubench-408b22561ac51402.rmeta: /work/main/clippy.toml ubench/src/main.rs Cargo.toml

/work/main/clippy.toml:
ubench/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

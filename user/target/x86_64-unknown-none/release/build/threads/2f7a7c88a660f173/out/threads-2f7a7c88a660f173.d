/work/main/user/target/x86_64-unknown-none/release/build/threads/2f7a7c88a660f173/out/threads-2f7a7c88a660f173.d: /work/main/clippy.toml threads/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/threads/2f7a7c88a660f173/out/libthreads-2f7a7c88a660f173.rmeta: /work/main/clippy.toml threads/src/main.rs Cargo.toml

/work/main/clippy.toml:
threads/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

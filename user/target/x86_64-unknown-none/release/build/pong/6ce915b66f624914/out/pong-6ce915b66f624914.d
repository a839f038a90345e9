/work/main/user/target/x86_64-unknown-none/release/build/pong/6ce915b66f624914/out/pong-6ce915b66f624914.d: /work/main/clippy.toml pong/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/pong/6ce915b66f624914/out/libpong-6ce915b66f624914.rmeta: /work/main/clippy.toml pong/src/main.rs Cargo.toml

/work/main/clippy.toml:
pong/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

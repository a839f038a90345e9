/work/main/user/target/x86_64-unknown-none/release/build/hello/3f225d9066591f87/out/hello-3f225d9066591f87.d: /work/main/clippy.toml hello/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/hello/3f225d9066591f87/out/libhello-3f225d9066591f87.rmeta: /work/main/clippy.toml hello/src/main.rs Cargo.toml

/work/main/clippy.toml:
hello/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

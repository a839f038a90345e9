/work/main/user/target/x86_64-unknown-none/release/build/yield_loop/01c3d244c2025f38/out/yield_loop-01c3d244c2025f38.d: /work/main/clippy.toml yield_loop/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/yield_loop/01c3d244c2025f38/out/libyield_loop-01c3d244c2025f38.rmeta: /work/main/clippy.toml yield_loop/src/main.rs Cargo.toml

/work/main/clippy.toml:
yield_loop/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

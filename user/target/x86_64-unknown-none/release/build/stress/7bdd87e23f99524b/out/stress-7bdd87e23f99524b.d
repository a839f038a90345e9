/work/main/user/target/x86_64-unknown-none/release/build/stress/7bdd87e23f99524b/out/stress-7bdd87e23f99524b.d: /work/main/clippy.toml stress/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/stress/7bdd87e23f99524b/out/libstress-7bdd87e23f99524b.rmeta: /work/main/clippy.toml stress/src/main.rs Cargo.toml

/work/main/clippy.toml:
stress/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

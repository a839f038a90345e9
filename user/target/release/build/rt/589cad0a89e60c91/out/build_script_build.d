/work/main/user/target/release/build/rt/589cad0a89e60c91/out/build_script_build.d: /work/main/clippy.toml rt/build.rs Cargo.toml

/work/main/user/target/release/build/rt/589cad0a89e60c91/out/build_script_build: /work/main/clippy.toml rt/build.rs Cargo.toml

/work/main/clippy.toml:
rt/build.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

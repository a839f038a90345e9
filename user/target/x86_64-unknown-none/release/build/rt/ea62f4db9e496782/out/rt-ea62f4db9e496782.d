/work/main/user/target/x86_64-unknown-none/release/build/rt/ea62f4db9e496782/out/rt-ea62f4db9e496782.d: /work/main/clippy.toml rt/src/lib.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/rt/ea62f4db9e496782/out/librt-ea62f4db9e496782.rmeta: /work/main/clippy.toml rt/src/lib.rs Cargo.toml

/work/main/clippy.toml:
rt/src/lib.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

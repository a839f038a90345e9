/work/main/user/target/x86_64-unknown-none/release/build/upong/f1402b1196ccec33/out/upong-f1402b1196ccec33.d: /work/main/clippy.toml upong/src/main.rs Cargo.toml

/work/main/user/target/x86_64-unknown-none/release/build/upong/f1402b1196ccec33/out/libupong-f1402b1196ccec33.rmeta: /work/main/clippy.toml upong/src/main.rs Cargo.toml

/work/main/clippy.toml:
upong/src/main.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR

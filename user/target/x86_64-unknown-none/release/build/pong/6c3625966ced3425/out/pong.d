/work/main/user/target/x86_64-unknown-none/release/build/pong/6c3625966ced3425/out/pong.d: pong/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/pong/6c3625966ced3425/out/pong: pong/src/main.rs

pong/src/main.rs:

/work/main/user/target/x86_64-unknown-none/release/build/ping/baaff04f05fa52e5/out/ping.d: ping/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/ping/baaff04f05fa52e5/out/ping: ping/src/main.rs

ping/src/main.rs:

/work/main/user/target/x86_64-unknown-none/release/build/stress/74f30b91b4d3262f/out/stress.d: stress/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/stress/74f30b91b4d3262f/out/stress: stress/src/main.rs

stress/src/main.rs:

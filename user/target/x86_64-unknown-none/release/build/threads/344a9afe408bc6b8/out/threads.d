/work/main/user/target/x86_64-unknown-none/release/build/threads/344a9afe408bc6b8/out/threads.d: threads/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/threads/344a9afe408bc6b8/out/threads: threads/src/main.rs

threads/src/main.rs:

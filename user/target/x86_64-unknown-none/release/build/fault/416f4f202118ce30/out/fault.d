/work/main/user/target/x86_64-unknown-none/release/build/fault/416f4f202118ce30/out/fault.d: fault/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/fault/416f4f202118ce30/out/fault: fault/src/main.rs

fault/src/main.rs:

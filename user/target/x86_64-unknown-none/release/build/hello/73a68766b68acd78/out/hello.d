/work/main/user/target/x86_64-unknown-none/release/build/hello/73a68766b68acd78/out/hello.d: hello/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/hello/73a68766b68acd78/out/hello: hello/src/main.rs

hello/src/main.rs:

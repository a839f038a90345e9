/work/main/user/target/x86_64-unknown-none/release/build/yield_loop/aa446acd446135b1/out/yield_loop.d: yield_loop/src/main.rs

/work/main/user/target/x86_64-unknown-none/release/build/yield_loop/aa446acd446135b1/out/yield_loop: yield_loop/src/main.rs

yield_loop/src/main.rs:

/work/main/user/target/x86_64-unknown-none/release/build/rt/af96ec74b2f795a6/out/rt-af96ec74b2f795a6.d: rt/src/lib.rs

/work/main/user/target/x86_64-unknown-none/release/build/rt/af96ec74b2f795a6/out/librt-af96ec74b2f795a6.rlib: rt/src/lib.rs

/work/main/user/target/x86_64-unknown-none/release/build/rt/af96ec74b2f795a6/out/librt-af96ec74b2f795a6.rmeta: rt/src/lib.rs

rt/src/lib.rs:

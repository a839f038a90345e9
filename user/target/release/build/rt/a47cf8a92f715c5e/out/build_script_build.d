/work/main/user/target/release/build/rt/a47cf8a92f715c5e/out/build_script_build.d: rt/build.rs

/work/main/user/target/release/build/rt/a47cf8a92f715c5e/out/build_script_build: rt/build.rs

rt/build.rs:

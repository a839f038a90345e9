/work/main/user/target/x86_64-unknown-none/release/build/protocol/7491e455fd7719e8/out/protocol-7491e455fd7719e8.d: /work/main/protocol/src/lib.rs /work/main/protocol/src/args.rs /work/main/protocol/src/boot.rs /work/main/protocol/src/exit.rs /work/main/protocol/src/fatal.rs /work/main/protocol/src/ipc.rs /work/main/protocol/src/ktest.rs /work/main/protocol/src/log.rs /work/main/protocol/src/monitor.rs /work/main/protocol/src/sched.rs /work/main/protocol/src/serial.rs /work/main/protocol/src/smp.rs /work/main/protocol/src/stats.rs /work/main/protocol/src/syscall.rs /work/main/protocol/src/text.rs /work/main/protocol/src/time.rs /work/main/protocol/src/user.rs

/work/main/user/target/x86_64-unknown-none/release/build/protocol/7491e455fd7719e8/out/libprotocol-7491e455fd7719e8.rmeta: /work/main/protocol/src/lib.rs /work/main/protocol/src/args.rs /work/main/protocol/src/boot.rs /work/main/protocol/src/exit.rs /work/main/protocol/src/fatal.rs /work/main/protocol/src/ipc.rs /work/main/protocol/src/ktest.rs /work/main/protocol/src/log.rs /work/main/protocol/src/monitor.rs /work/main/protocol/src/sched.rs /work/main/protocol/src/serial.rs /work/main/protocol/src/smp.rs /work/main/protocol/src/stats.rs /work/main/protocol/src/syscall.rs /work/main/protocol/src/text.rs /work/main/protocol/src/time.rs /work/main/protocol/src/user.rs

/work/main/protocol/src/lib.rs:
/work/main/protocol/src/args.rs:
/work/main/protocol/src/boot.rs:
/work/main/protocol/src/exit.rs:
/work/main/protocol/src/fatal.rs:
/work/main/protocol/src/ipc.rs:
/work/main/protocol/src/ktest.rs:
/work/main/protocol/src/log.rs:
/work/main/protocol/src/monitor.rs:
/work/main/protocol/src/sched.rs:
/work/main/protocol/src/serial.rs:
/work/main/protocol/src/smp.rs:
/work/main/protocol/src/stats.rs:
/work/main/protocol/src/syscall.rs:
/work/main/protocol/src/text.rs:
/work/main/protocol/src/time.rs:
/work/main/protocol/src/user.rs:

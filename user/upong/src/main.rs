//! `ubench`'s partner: takes each message from `ub.pong` and sends it back on
//! `ub.ping`, as many times as `ubench` asks ((samples + 1) × round trips).
#![no_std]
#![no_main]

rt::entry!(main);

/// Messages to echo: 32 samples of 10 round trips.
const MESSAGES: u32 = 32 * 10;

fn main() -> i32 {
    let (Ok(ping), Ok(pong)) = (rt::port_lookup("ub.ping"), rt::port_lookup("ub.pong")) else {
        return 2;
    };
    let mut buf = [0u8; 8];
    for _ in 0..MESSAGES {
        match rt::port_recv(pong, &mut buf) {
            Ok(n) if rt::port_send(ping, &buf[..n.min(8)]).is_ok() => {}
            _ => return 1,
        }
    }
    0
}

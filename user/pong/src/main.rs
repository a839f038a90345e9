//! The other side of the ping-pong: takes each message from `pong` and
//! sends it back on `ping`, [`ROUND_TRIPS`] times.
#![no_std]
#![no_main]

rt::entry!(main);

/// Messages echoed.
const ROUND_TRIPS: u32 = 100;

fn main() -> i32 {
    let (Ok(ping), Ok(pong)) = (rt::port_lookup("ping"), rt::port_lookup("pong")) else {
        return 2;
    };
    let mut buf = [0u8; 4];
    for _ in 0..ROUND_TRIPS {
        match rt::port_recv(pong, &mut buf) {
            Ok(n) if rt::port_send(ping, &buf[..n.min(4)]).is_ok() => {}
            _ => return 1,
        }
    }
    0
}

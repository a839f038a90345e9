//! One side of the two-process ping-pong (`workload=user`): sends
//! [`ROUND_TRIPS`] numbered messages to the `pong` mailbox and waits for
//! each to come back on `ping`; exits 0 if every one came back in order.
#![no_std]
#![no_main]

rt::entry!(main);

/// Messages sent and received.
const ROUND_TRIPS: u32 = 100;

fn main() -> i32 {
    let (ping, pong) = match (rt::port_lookup("ping"), rt::port_lookup("pong")) {
        (Ok(ping), Ok(pong)) => (ping, pong),
        (ping, pong) => {
            rt::println!("ping: no ping/pong mailboxes: {ping:?} {pong:?}");
            return 2;
        }
    };
    let mut buf = [0u8; 4];
    for i in 0..ROUND_TRIPS {
        if rt::port_send(pong, &i.to_le_bytes()).is_err()
            || rt::port_recv(ping, &mut buf) != Ok(4)
            || u32::from_le_bytes(buf) != i
        {
            rt::println!("ping: round trip {i} failed");
            return 1;
        }
    }
    rt::println!("ping: {ROUND_TRIPS} round trips");
    0
}

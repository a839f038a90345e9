//! The IPC workloads' result lines (`workload=ipc`, `workload=ipcstress`).
//! Their counters in `[STATS]` are `stats::StatsCpu`'s `ipc_*`.

use crate::tag::{IPC, IPCSTRESS};

crate::numbers_line!(
    /// End of `workload=ipc`: clients on every core call an echo service and
    /// a counter service on other cores:
    /// `[IPC] calls=4000 replies=4000 expected=4000 max_rtt_us=812`.
    IpcResult, IPC, {
        /// Calls made, over all clients.
        calls,
        /// Calls answered correctly (the echo's body back, the counter's
        /// next number).
        replies,
        /// Calls asked for: clients × calls each.
        expected,
        /// The slowest round trip, in microseconds.
        max_rtt_us,
    }
);

crate::numbers_line!(
    /// End of `workload=ipcstress`:
    /// `[IPCSTRESS] seed=7 services=4 calls=9120 replies=9120 hops=13512 full=2210 closed=310 handed_back=2520 drained=1904 max_rtt_us=20511`.
    IpcStress, IPCSTRESS, {
        /// The seed of the random choices.
        seed,
        /// Stress services (one per core).
        services,
        /// Calls the clients made.
        calls,
        /// Calls answered with the right value.
        replies,
        /// Nested calls services made to each other to answer.
        hops,
        /// `try_send`s refused because the port was full.
        full,
        /// Sends refused because the port was closed.
        closed,
        /// Messages handed back to their sender (full or closed), none lost.
        handed_back,
        /// Messages received from closing ports after the close.
        drained,
        /// The slowest call, in microseconds.
        max_rtt_us,
    }
);

crate::report!([] IpcResult, [] IpcStress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let line = IpcResult {
            calls: 4000,
            replies: 4000,
            expected: 4000,
            max_rtt_us: 812,
        };
        assert_eq!(
            line.to_string(),
            "[IPC] calls=4000 replies=4000 expected=4000 max_rtt_us=812"
        );
        assert_eq!(IpcResult::parse(&line.to_string()), Some(Ok(line)));
    }
}

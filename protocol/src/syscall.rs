//! The system-call ABI shared by the kernel and user programs (issue 11).
//!
//! A user program executes `syscall` with the call number in `rax` and up to
//! six arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9` (`r10` instead of
//! `rcx`: the instruction overwrites `rcx` and `r11`). The result comes back
//! in `rax`: zero or positive on success, a negative error code below on
//! failure. User programs link this crate too (`user/rt`), so the numbers
//! cannot drift apart.

/// Give up the CPU: the calling task goes to the back of its run queue.
pub const YIELD: u64 = 0;
/// End the program: `rdi` = exit code. Does not return.
pub const EXIT: u64 = 1;
/// Write `rsi` bytes at `rdi` to the console; returns the bytes written.
pub const WRITE: u64 = 2;
/// Sleep for `rdi` milliseconds.
pub const SLEEP: u64 = 3;
/// Returns the number of the CPU the caller runs on.
pub const GETCPU: u64 = 4;
/// Start another thread of the program (reserved).
pub const SPAWN_THREAD: u64 = 5;
/// Look up a port by name (reserved).
pub const PORT_LOOKUP: u64 = 6;
/// Send a message on a port (reserved).
pub const PORT_SEND: u64 = 7;
/// Receive a message from a port (reserved).
pub const PORT_RECV: u64 = 8;
/// Send a request and wait for its answer (reserved).
pub const PORT_CALL: u64 = 9;

/// No such name.
pub const ENOENT: i64 = -2;
/// Argument list (or message) too long.
pub const E2BIG: i64 = -7;
/// Bad handle.
pub const EBADF: i64 = -9;
/// Try again (would block).
pub const EAGAIN: i64 = -11;
/// A user pointer that is not the program's to pass.
pub const EFAULT: i64 = -14;
/// Invalid argument.
pub const EINVAL: i64 = -22;
/// The other end is gone.
pub const EPIPE: i64 = -32;
/// No such system call.
pub const ENOSYS: i64 = -38;

/// The name of an error code, for messages (`None` if it is not one).
pub fn error_name(code: i64) -> Option<&'static str> {
    Some(match code {
        ENOENT => "ENOENT",
        E2BIG => "E2BIG",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        EFAULT => "EFAULT",
        EINVAL => "EINVAL",
        EPIPE => "EPIPE",
        ENOSYS => "ENOSYS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_errors_are_distinct() {
        let numbers = [
            YIELD,
            EXIT,
            WRITE,
            SLEEP,
            GETCPU,
            SPAWN_THREAD,
            PORT_LOOKUP,
            PORT_SEND,
            PORT_RECV,
            PORT_CALL,
        ];
        for (i, n) in numbers.iter().enumerate() {
            assert_eq!(*n, i as u64);
        }
        let errors = [ENOENT, E2BIG, EBADF, EAGAIN, EFAULT, EINVAL, EPIPE, ENOSYS];
        for e in errors {
            assert!(e < 0);
            assert!(error_name(e).is_some());
        }
        assert_eq!(error_name(0), None);
    }
}

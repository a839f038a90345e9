//! The system-call ABI's hardware-free half: turning the registers a user
//! thread left at `syscall` into a checked [`Request`], and errors into the
//! negative numbers it gets back. Numbers and error codes are
//! `protocol::syscall`'s (shared with the user runtime); the table of calls
//! is `docs/syscalls.md`.
//!
//! Nothing a user passes can make decoding fail other than with an
//! [`Errno`]: unknown numbers, pointers outside the user window, ranges that
//! wrap around, lengths over the bounds below, out-of-range values. Memory
//! behind an accepted range may still be unmapped: the copy (arch, through
//! the exception table) turns that into [`Errno::Fault`] later.

use core::fmt;
use core::ops::Range;

use protocol::syscall as abi;

/// The most bytes one `write` takes.
pub const MAX_WRITE: u64 = 4096;
/// The most bytes one IPC message carries.
pub const MAX_MESSAGE: u64 = 256;
/// The longest port name.
pub const MAX_NAME: u64 = 64;
/// The longest `sleep`, in nanoseconds (60 s).
pub const MAX_SLEEP_NS: u64 = 60_000_000_000;

/// The registers of a `syscall`: the number (`rax`) and up to six
/// arguments (`rdi, rsi, rdx, r10, r8, r9`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registers {
    /// `rax`.
    pub nr: u64,
    /// `rdi, rsi, rdx, r10, r8, r9`.
    pub args: [u64; 6],
}

/// A user buffer: an address range inside the user window, checked for
/// bounds but not for being mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserBuf {
    /// First byte.
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
}

/// A decoded, bounds-checked system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Give the core to other work.
    Yield,
    /// End the thread's process with this status.
    Exit(i32),
    /// Print bytes on the console.
    Write(UserBuf),
    /// Sleep this long.
    Sleep {
        /// Nanoseconds.
        ns: u64,
    },
    /// The CPU the thread runs on.
    GetCpu,
    /// A new thread of the same process.
    SpawnThread {
        /// Where it starts.
        entry: u64,
        /// Its stack pointer.
        stack: u64,
    },
    /// Find a port by name.
    PortLookup(UserBuf),
    /// Send a message (waits while the port is full).
    PortSend {
        /// The port handle.
        port: u64,
        /// The message.
        msg: UserBuf,
    },
    /// Receive a message (waits while the port is empty).
    PortRecv {
        /// The port handle.
        port: u64,
        /// Where the message goes.
        buf: UserBuf,
    },
    /// Send a request and wait for its reply.
    PortCall {
        /// The port handle.
        port: u64,
        /// The request.
        msg: UserBuf,
        /// Where the reply goes.
        reply: UserBuf,
    },
}

/// Why a system call failed; the user sees `-(code)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// A pointer outside the user window, or memory that faulted.
    Fault,
    /// An argument out of range.
    Inval,
    /// No such system call.
    NoSys,
    /// No such name.
    NoEnt,
    /// No such port handle.
    BadF,
    /// The port is closed.
    Pipe,
    /// A length over its bound.
    TooBig,
    /// Out of a resource (threads, handles).
    Again,
}

impl Errno {
    /// The value the user gets in `rax`: negative.
    pub const fn code(self) -> i64 {
        match self {
            Self::Fault => abi::EFAULT,
            Self::Inval => abi::EINVAL,
            Self::NoSys => abi::ENOSYS,
            Self::NoEnt => abi::ENOENT,
            Self::BadF => abi::EBADF,
            Self::Pipe => abi::EPIPE,
            Self::TooBig => abi::E2BIG,
            Self::Again => abi::EAGAIN,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Fault => "EFAULT",
            Self::Inval => "EINVAL",
            Self::NoSys => "ENOSYS",
            Self::NoEnt => "ENOENT",
            Self::BadF => "EBADF",
            Self::Pipe => "EPIPE",
            Self::TooBig => "E2BIG",
            Self::Again => "EAGAIN",
        };
        f.write_str(name)
    }
}

/// Checks `addr..addr + len` against `window` and `max`.
///
/// # Errors
/// [`Errno::TooBig`] over `max`; [`Errno::Fault`] if the range wraps or
/// leaves the window (an empty range must still start inside it or at its
/// end).
pub fn user_buf(window: &Range<u64>, addr: u64, len: u64, max: u64) -> Result<UserBuf, Errno> {
    if len > max {
        return Err(Errno::TooBig);
    }
    let end = addr.checked_add(len).ok_or(Errno::Fault)?;
    if addr < window.start || end > window.end {
        return Err(Errno::Fault);
    }
    Ok(UserBuf { addr, len })
}

/// Decodes the registers of a `syscall` made by a thread whose process owns
/// the user addresses `window`.
///
/// # Errors
/// The [`Errno`] the user gets back without the call running.
pub fn decode(window: &Range<u64>, regs: &Registers) -> Result<Request, Errno> {
    let [a0, a1, a2, a3, a4, _] = regs.args;
    let buf = |addr, len, max| user_buf(window, addr, len, max);
    Ok(match regs.nr {
        abi::YIELD => Request::Yield,
        // The status is the low 32 bits, as on Linux.
        abi::EXIT => Request::Exit(a0 as u32 as i32),
        abi::WRITE => Request::Write(buf(a0, a1, MAX_WRITE)?),
        abi::SLEEP => {
            if a0 > MAX_SLEEP_NS {
                return Err(Errno::Inval);
            }
            Request::Sleep { ns: a0 }
        }
        abi::GETCPU => Request::GetCpu,
        abi::SPAWN_THREAD => {
            // Both must point into the window; a stack pointer may sit at
            // its very end (an empty stack grows down from there).
            if !window.contains(&a0) || a1 <= window.start || a1 > window.end || a1 % 16 != 0 {
                return Err(Errno::Fault);
            }
            Request::SpawnThread {
                entry: a0,
                stack: a1,
            }
        }
        abi::PORT_LOOKUP => Request::PortLookup(buf(a0, a1, MAX_NAME)?),
        abi::PORT_SEND => Request::PortSend {
            port: a0,
            msg: buf(a1, a2, MAX_MESSAGE)?,
        },
        abi::PORT_RECV => Request::PortRecv {
            port: a0,
            buf: buf(a1, a2, MAX_MESSAGE)?,
        },
        abi::PORT_CALL => Request::PortCall {
            port: a0,
            msg: buf(a1, a2, MAX_MESSAGE)?,
            reply: buf(a3, a4, MAX_MESSAGE)?,
        },
        _ => return Err(Errno::NoSys),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Range<u64> = crate::user_layout::USER_WINDOW;

    fn call(nr: u64, args: [u64; 6]) -> Result<Request, Errno> {
        decode(&WINDOW, &Registers { nr, args })
    }

    #[test]
    fn good_calls_decode() {
        let at = WINDOW.start + 0x1000;
        assert_eq!(call(abi::YIELD, [0; 6]), Ok(Request::Yield));
        assert_eq!(
            call(abi::EXIT, [u64::MAX, 0, 0, 0, 0, 0]),
            Ok(Request::Exit(-1))
        );
        assert_eq!(
            call(abi::WRITE, [at, 5, 0, 0, 0, 0]),
            Ok(Request::Write(UserBuf { addr: at, len: 5 }))
        );
        assert_eq!(call(abi::GETCPU, [0; 6]), Ok(Request::GetCpu));
        assert_eq!(
            call(abi::PORT_CALL, [3, at, 8, at + 64, 256, 0]),
            Ok(Request::PortCall {
                port: 3,
                msg: UserBuf { addr: at, len: 8 },
                reply: UserBuf {
                    addr: at + 64,
                    len: 256
                },
            })
        );
        // An empty buffer at the window's end is fine.
        assert!(call(abi::WRITE, [WINDOW.end, 0, 0, 0, 0, 0]).is_ok());
    }

    #[test]
    fn hostile_arguments_are_errors() {
        let kernel = 0xffff_8000_0000_0000;
        let at = WINDOW.start + 0x1000;
        for (nr, args, errno) in [
            (abi::WRITE, [0, 5, 0, 0, 0, 0], Errno::Fault),
            (abi::WRITE, [kernel, 5, 0, 0, 0, 0], Errno::Fault),
            (abi::WRITE, [WINDOW.end - 2, 5, 0, 0, 0, 0], Errno::Fault),
            (abi::WRITE, [u64::MAX - 1, 4, 0, 0, 0, 0], Errno::Fault),
            (abi::WRITE, [at, MAX_WRITE + 1, 0, 0, 0, 0], Errno::TooBig),
            (abi::WRITE, [at, u64::MAX, 0, 0, 0, 0], Errno::TooBig),
            (abi::SLEEP, [MAX_SLEEP_NS + 1, 0, 0, 0, 0, 0], Errno::Inval),
            (abi::SPAWN_THREAD, [kernel, at, 0, 0, 0, 0], Errno::Fault),
            (abi::SPAWN_THREAD, [at, at + 8, 0, 0, 0, 0], Errno::Fault),
            (abi::SPAWN_THREAD, [at, kernel, 0, 0, 0, 0], Errno::Fault),
            (
                abi::PORT_LOOKUP,
                [at, MAX_NAME + 1, 0, 0, 0, 0],
                Errno::TooBig,
            ),
            (
                abi::PORT_SEND,
                [1, at, MAX_MESSAGE + 1, 0, 0, 0],
                Errno::TooBig,
            ),
            (abi::PORT_RECV, [1, kernel, 8, 0, 0, 0], Errno::Fault),
            (abi::PORT_CALL, [1, at, 8, kernel, 8, 0], Errno::Fault),
            (9999, [0; 6], Errno::NoSys),
            (u64::MAX, [0; 6], Errno::NoSys),
        ] {
            assert_eq!(call(nr, args), Err(errno), "nr {nr} args {args:x?}");
        }
    }

    #[test]
    fn error_codes_are_negative_and_distinct() {
        let all = [
            Errno::Fault,
            Errno::Inval,
            Errno::NoSys,
            Errno::NoEnt,
            Errno::BadF,
            Errno::Pipe,
            Errno::TooBig,
            Errno::Again,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(a.code() < 0, "{a}");
            for b in &all[i + 1..] {
                assert_ne!(a.code(), b.code());
            }
        }
    }
}

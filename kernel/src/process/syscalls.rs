//! The system calls (`docs/syscalls.md`): decoded and checked by
//! `kernel::syscall` (host-tested), carried out here with ordinary async
//! code. A call that waits — `sleep`, a full or empty port — is an
//! `.await`: the thread's task is Pending and its core runs other work.
//!
//! User memory is only touched through `arch::user::copy_from_user` /
//! `copy_to_user` (range-checked, through the exception table): a bad
//! pointer is `EFAULT`, never a kernel fault.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use executor::{CoreId, Platform, yield_now};
use ipc::Request;
use kernel::syscall::{self, Errno, Registers, UserBuf};
use kernel::user_layout::USER_WINDOW;
use protocol::user::UserWrote;

use super::ports::{self, Port};
use super::thread::Process;
use crate::arch::user::{UserContext, copy_from_user, copy_to_user};
use crate::arch::{percpu, report};

/// What the thread does after a call.
pub enum Flow {
    /// Resume with this value in `rax` (negative: an error).
    Return(i64),
    /// End the process with this status.
    Exit(i32),
}

/// Handles the call in `ctx`.
pub async fn handle(process: &Arc<Process>, ctx: &mut UserContext) -> Flow {
    let regs = Registers {
        nr: ctx.rax,
        args: [ctx.rdi, ctx.rsi, ctx.rdx, ctx.r10, ctx.r8, ctx.r9],
    };
    let result = match syscall::decode(&USER_WINDOW, &regs) {
        Err(errno) => Err(errno),
        Ok(syscall::Request::Exit(code)) => {
            process.count_result(false);
            return Flow::Exit(code);
        }
        Ok(request) => run(process, request).await,
    };
    process.count_result(result.is_err());
    Flow::Return(match result {
        Ok(value) => value as i64,
        Err(errno) => errno.code(),
    })
}

/// Copies `buf` in from `process`'s memory.
fn copy_in(process: &Process, buf: UserBuf) -> Result<Vec<u8>, Errno> {
    let mut bytes = vec![0; buf.len as usize];
    process
        .with_space(|| copy_from_user(&mut bytes, buf.addr))
        .map_err(|_| Errno::Fault)?;
    Ok(bytes)
}

async fn run(process: &Arc<Process>, request: syscall::Request) -> Result<u64, Errno> {
    use syscall::Request as R;
    match request {
        R::Yield => {
            yield_now().await;
            Ok(0)
        }
        R::Exit(_) => unreachable!("handled before"),
        R::Write(buf) => write(copy_in(process, buf)?).map(|()| buf.len),
        R::Sleep { ns } => {
            process.exec.sleep(Duration::from_nanos(ns)).await;
            Ok(0)
        }
        R::GetCpu => Ok(u64::from(percpu::this_cpu().index())),
        R::SpawnThread { entry, stack } => {
            // Each new thread starts on the next core, so that the threads
            // of one process run on several cores at once (stealing and
            // balancing may move them later).
            let cores = process.exec.cores() as u64;
            let here = u64::from(process.exec.platform().current_core().0);
            let next = process.threads_started() % cores;
            let core = CoreId(((here + 1 + next) % cores) as u32);
            process
                .spawn_thread(entry, stack, Some(core))
                .ok_or(Errno::Again)
        }
        R::PortLookup(name) => {
            let name = copy_in(process, name)?;
            let name = core::str::from_utf8(&name).map_err(|_| Errno::Inval)?;
            let port = ports::lookup(name).ok_or(Errno::NoEnt)?;
            process.add_handle(port).ok_or(Errno::Again)
        }
        R::PortSend { port, msg } => {
            let port = process.handle(port).ok_or(Errno::BadF)?;
            let msg = copy_in(process, msg)?;
            match port {
                Port::Mailbox(mailbox) => mailbox.send(msg).await.map_err(|()| Errno::Pipe)?,
                Port::Service(service) => {
                    let (request, _no_answer) = Request::new(msg);
                    service.send(request).await.map_err(|_| Errno::Pipe)?;
                }
            }
            Ok(0)
        }
        R::PortRecv { port, buf } => {
            let Port::Mailbox(mailbox) = process.handle(port).ok_or(Errno::BadF)? else {
                return Err(Errno::BadF);
            };
            let msg = mailbox.recv().await.ok_or(Errno::Pipe)?;
            deliver(process, &msg, buf)
        }
        R::PortCall { port, msg, reply } => {
            let Port::Service(service) = process.handle(port).ok_or(Errno::BadF)? else {
                return Err(Errno::BadF);
            };
            let answer = service
                .call(copy_in(process, msg)?)
                .await
                .map_err(|_| Errno::Pipe)?;
            deliver(process, &answer, reply)
        }
    }
}

/// Copies a message out (at most `buf.len` bytes); returns its full length.
fn deliver(process: &Process, msg: &[u8], buf: UserBuf) -> Result<u64, Errno> {
    let n = msg.len().min(buf.len as usize);
    process
        .with_space(|| copy_to_user(buf.addr, &msg[..n]))
        .map_err(|_| Errno::Fault)?;
    Ok(msg.len() as u64)
}

/// Prints what a thread wrote: one `[USER][coreN]` line per line of text,
/// control characters replaced.
fn write(bytes: Vec<u8>) -> Result<(), Errno> {
    let core = percpu::this_cpu().index();
    let text = String::from_utf8_lossy(&bytes);
    for line in text.split('\n').filter(|line| !line.is_empty()) {
        let clean: String = line
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        report::line(&UserWrote { core, text: &clean });
    }
    Ok(())
}

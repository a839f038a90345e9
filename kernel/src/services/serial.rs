//! The serial service: what a person types on COM1, as lines, for other
//! services.
//!
//! COM1's receive interrupt (I/O APIC, IRQ 4) puts the bytes in a ring
//! (`arch::serial_rx`) and wakes this service, which runs the line editor
//! (`kernel::monitor::LineEditor`: echo, backspace, Ctrl-U, CR/LF) and
//! answers one `read_line` request per completed line. Clients find it as
//! [`NAME`] and call it with [`read_line`].
//!
//! Bad input never stops it: an over-long or non-UTF-8 line is answered
//! with its [`LineError`]; a flood beyond the ring is dropped (and counted)
//! in the interrupt handler; bytes typed while nobody asks for a line wait
//! in the ring.

use alloc::string::String;

use executor::Priority;
use ipc::{Request, SendRight};
use kernel::monitor::{Edit, LineEditor, LineError};

use super::Exec;
use super::ipc::NAMES;
use crate::arch::{console, serial_rx};

/// The service's name.
pub const NAME: &str = "serial";

/// A request for the next line typed.
pub type ReadLine = Request<(), Result<String, LineError>>;

/// Starts the service, if COM1 can interrupt; otherwise logs why not and
/// registers nothing (a client's lookup then waits, or times out).
pub fn start(executor: Exec) {
    let Some(rx) = serial_rx::serial_rx() else {
        log::warn!(
            target: "SERIAL",
            "no serial input (COM1's receive interrupt is not routed): no monitor"
        );
        return;
    };
    let (tx, mut requests) = ipc::port::<ReadLine>(4);
    NAMES.register(NAME, tx).expect("one serial service");
    executor
        .spawn(Priority::High, async move {
            let mut editor = LineEditor::new();
            while let Some(Request { reply, .. }) = requests.recv().await {
                let line = loop {
                    match editor.push(rx.read_byte().await) {
                        Edit::Nothing => {}
                        Edit::Echo(bytes) => console::write_raw(bytes),
                        Edit::Line(line) => {
                            console::write_raw(b"\r\n");
                            break line.map(String::from);
                        }
                    }
                };
                // A client that gave up loses its line; the next gets the
                // next one.
                let _ = reply.reply(line);
            }
        })
        .detach();
}

/// The next line typed on the console, from the service behind `serial`.
///
/// # Errors
/// The line's [`LineError`]; `None` if the service is gone.
pub async fn read_line(serial: &SendRight<ReadLine>) -> Option<Result<String, LineError>> {
    serial.call(()).await.ok()
}

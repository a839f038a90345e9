//! COM1 input: the UART's receive interrupt fills a lock-free ring, tasks
//! read it asynchronously.
//!
//! ```text
//! byte on the wire ─► 16550 RX FIFO ─► IRQ 4 ─► I/O APIC (ISA route from
//! the MADT) ─► vector COM1 on the BSP ─► on_interrupt: drain the FIFO into
//! the ByteRing under the console lock, EOI, WaitCell::wake ─► read_byte
//! ```
//!
//! The interrupt handler is the ring's only producer (the I/O APIC sends
//! IRQ 4 to one CPU); readers are expected to be one task at a time (two
//! would split the bytes between them, see `kernel::byte_ring`). A full
//! ring drops the new bytes and counts them ([`SerialRx::overflowed`]).
//! Without an I/O APIC, or if routing fails, [`init`] logs a warning and
//! [`serial_rx`] returns `None`: there is no polling fallback.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::byte_ring::ByteRing;
use kernel::sync::WaitCell;

use super::interrupts::vector;
use super::{apic, console, ioapic};

/// COM1's ISA IRQ (IBM PC/AT convention).
pub const COM1_IRQ: u8 = 4;

/// Bytes the ring holds before dropping.
pub const RING_BYTES: usize = 1024;

/// Most bytes one interrupt reads from the UART. The FIFO holds 16; the
/// bound only stops a device that refills as fast as we read from keeping
/// the handler forever. (IRQ 4 is edge-triggered: leaving bytes behind
/// would leave the line high with no new edge, so the bound is generous.)
const DRAIN_LIMIT: usize = 4096;

/// COM1's receive side: the ring, the reader's wait cell and counters.
pub struct SerialRx {
    ring: ByteRing<RING_BYTES>,
    readable: WaitCell,
    interrupts: AtomicU64,
}

impl SerialRx {
    const fn new() -> Self {
        Self {
            ring: ByteRing::new(),
            readable: WaitCell::new(),
            interrupts: AtomicU64::new(0),
        }
    }

    /// Waits for the next received byte and takes it.
    pub async fn read_byte(&self) -> u8 {
        loop {
            if let Some(byte) = self.ring.pop() {
                return byte;
            }
            // `wait_for` subscribes before checking, so a byte pushed in
            // between is not lost; the cell is never closed.
            let _ = self.readable.wait_for(|| !self.ring.is_empty()).await;
        }
    }

    /// Takes the bytes waiting now (at most `buf.len()`); returns how many.
    pub fn try_read(&self, buf: &mut [u8]) -> usize {
        self.ring.pop_into(buf)
    }

    /// Bytes dropped because the ring was full.
    pub fn overflowed(&self) -> u64 {
        self.ring.dropped()
    }

    /// Bytes read from the UART (kept or dropped).
    pub fn received(&self) -> u64 {
        self.ring.pushed() + self.ring.dropped()
    }

    /// Receive interrupts handled.
    pub fn interrupts(&self) -> u64 {
        self.interrupts.load(Ordering::Relaxed)
    }
}

static RX: SerialRx = SerialRx::new();
static ENABLED: AtomicBool = AtomicBool::new(false);

/// COM1's receive side, if its interrupt is routed and enabled.
pub fn serial_rx() -> Option<&'static SerialRx> {
    ENABLED.load(Ordering::Acquire).then_some(&RX)
}

/// Routes ISA IRQ 4 to the calling CPU (the BSP, at boot, after
/// [`ioapic::init`]) on [`vector::COM1`], enables the UART's receive
/// interrupt and unmasks the I/O APIC entry. On failure logs a warning and
/// leaves COM1 receive off.
pub fn init() {
    let me = apic::id();
    let route = match ioapic::route_isa_irq(COM1_IRQ, vector::COM1, me) {
        Ok(route) => route,
        Err(error) => {
            log::warn!(target: "SERIAL", "COM1 receive off: IRQ {COM1_IRQ} not routed: {error}");
            return;
        }
    };
    let Some(ier) = console::enable_rx_interrupt() else {
        log::warn!(target: "SERIAL", "COM1 receive off: no console UART");
        return;
    };
    // Bytes that arrived before: take them now, so the FIFO is empty and
    // the next byte makes a fresh edge on IRQ 4.
    console::drain_rx(DRAIN_LIMIT, |byte| {
        RX.ring.push(byte);
    });
    ENABLED.store(true, Ordering::Release);
    if let Err(error) = ioapic::unmask_isa_irq(COM1_IRQ) {
        ENABLED.store(false, Ordering::Release);
        log::warn!(target: "SERIAL", "COM1 receive off: cannot unmask IRQ {COM1_IRQ}: {error}");
        return;
    }
    // A byte that arrived between the first drain and the unmask raised the
    // line while the entry was masked: that edge is lost, and the line
    // would stay high. Empty the FIFO again so the next byte makes an edge
    // (one that came after the unmask is pending and finds nothing: harmless).
    console::drain_rx(DRAIN_LIMIT, |byte| {
        RX.ring.push(byte);
    });
    log::info!(
        target: "SERIAL",
        "COM1 receive on: IRQ {COM1_IRQ} -> GSI {} ({:?}, {:?}{}) -> vector {:#x} on APIC {me}, IER={ier:#04x}",
        route.gsi,
        route.trigger,
        route.polarity,
        if route.overridden { ", MADT override" } else { "" },
        vector::COM1,
    );
}

/// The COM1 interrupt's work (interrupts off, on the CPU IRQ 4 goes to):
/// drain the UART into the ring, EOI, wake the reader.
pub fn on_interrupt() {
    RX.interrupts.fetch_add(1, Ordering::Relaxed);
    let read = console::drain_rx(DRAIN_LIMIT, |byte| {
        RX.ring.push(byte);
    });
    apic::eoi();
    if read > 0 {
        RX.readable.wake();
    }
}

mod tests {
    use alloc::string::String;
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use super::serial_rx;
    use crate::arch::x86_64::{clock, report};
    use crate::ktest::{TestResult, check, kernel_test};

    /// How long `rx_echo` waits for a line from the host.
    const WAIT_NS: u64 = 20_000_000_000;

    kernel_test!(
        fn receive_is_enabled() {
            check!(
                serial_rx().is_some(),
                "COM1 receive is off (see the [SERIAL] warning)"
            );
            Ok(())
        }
    );

    /// Manual (needs the host to type): prints `[SERIAL] ready`, waits for
    /// one line on COM1 through [`SerialRx::read_byte`] and prints
    /// `[SERIAL] bytes=N interrupts=M overflowed=O got=<line>`
    /// (`protocol::serial`). There is no executor yet when tests run, so
    /// the future is polled here with a no-op waker and the CPU halts until
    /// the next interrupt (the COM1 one, or the tick) between polls.
    fn rx_echo_body() -> TestResult {
        let rx = serial_rx().ok_or_else(|| String::from("COM1 receive is off"))?;
        report::line(&protocol::serial::Ready);
        let until = clock::uptime_ns() + WAIT_NS;
        let mut context = Context::from_waker(Waker::noop());
        let mut line = String::new();
        loop {
            let byte = {
                let mut next = pin!(rx.read_byte());
                loop {
                    if let Poll::Ready(byte) = next.as_mut().poll(&mut context) {
                        break byte;
                    }
                    check!(
                        clock::uptime_ns() < until,
                        "no line within {} s (got {line:?} so far, {} interrupts)",
                        WAIT_NS / 1_000_000_000,
                        rx.interrupts()
                    );
                    x86_64::instructions::interrupts::enable_and_hlt();
                }
            };
            match byte {
                b'\r' | b'\n' if !line.is_empty() => break,
                b'\r' | b'\n' => {}
                _ => line.push(char::from(byte)),
            }
        }
        // The rest of the line's end (`\r\n`), if it came along.
        let mut rest = [0u8; 16];
        while rx.try_read(&mut rest) > 0 {}
        report::line(&protocol::serial::Got {
            bytes: rx.received(),
            interrupts: rx.interrupts(),
            overflowed: rx.overflowed(),
            line: &line,
        });
        check!(rx.interrupts() > 0, "bytes but no interrupt");
        Ok(())
    }

    kernel_test!(
        manual fn rx_echo() {
            rx_echo_body()
        }
    );
}

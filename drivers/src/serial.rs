//! The serial console: a 16550 UART at COM1, driven through [`uart_16550`].
//!
//! The register-level work (divisor latch, FIFO control, line status polling)
//! is done by the [`uart_16550`] crate, which models the 16550 registers as
//! types derived from the TI/National PC16550D datasheet. This module adds
//! only what a kernel console needs on top:
//!
//! - a constructor that reports failures as [`SerialError`] values instead of
//!   panicking (the console is usually the first thing that could report a
//!   panic, so it must not cause one);
//! - `\n` → `\r\n` translation ([`translate_newlines`], a pure function that
//!   is host-tested), so that terminals return the carriage;
//! - [`core::fmt::Write`], so `write!` works.
//!
//! # Invariants
//!
//! - **No locking.** [`SerialPort`] methods take `&mut self`; the kernel wraps
//!   the port in its own (IRQ-safe) lock. Two `SerialPort`s for the same base
//!   must never exist, which is what [`SerialPort::new`]'s safety contract
//!   says.
//! - **No allocation.** Writes translate newlines by splitting the input into
//!   borrowed chunks; nothing is buffered or copied. This makes
//!   [`SerialPort::write_bytes`] usable from panic and exception handlers.
//! - **Writes block; receiving is interrupt-driven.** Sending spins until the
//!   transmit FIFO has room (polling the Line Status Register). For receive,
//!   [`SerialPort::enable_rx_interrupt`] turns on the "received data
//!   available" interrupt and [`SerialPort::drain_rx`] empties the receive
//!   FIFO from the interrupt handler; anything else goes through
//!   [`SerialPort::uart_mut`].

use core::fmt;

use uart_16550::backend::{Backend, PioBackend};
use uart_16550::spec::registers::{IER, MCR};
use uart_16550::{BaudRate, Config, InitError, InvalidAddressError, LoopbackError, Uart16550};

/// I/O base port of COM1, the first legacy serial port (IBM PC/AT convention;
/// also the port QEMU's `-serial` option attaches to by default).
pub const COM1_BASE: u16 = 0x3F8;

/// The line settings [`SerialPort::init`] programs: 115200 baud, 8 data bits,
/// no parity, 1 stop bit, FIFOs enabled (trigger level 14), device interrupts
/// off, no CTS flow control.
///
/// 115200 rather than the crate's default 9600: at 9600 baud a blocking
/// console spends about 1 ms per character on real hardware. Emulators ignore
/// the baud rate.
pub const CONSOLE_CONFIG: Config = Config {
    baud_rate: BaudRate::Baud115200,
    ..Config::DEFAULT
};

/// The bytes a single `\n` becomes on the wire.
pub const CRLF: &[u8; 2] = b"\r\n";

/// Why the serial console could not be brought up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialError {
    /// The base port cannot address all eight UART registers (it is within
    /// seven of `0xFFFF`).
    InvalidBase(InvalidAddressError),
    /// Initialisation failed: no UART answered at the base port (the scratch
    /// register did not hold a written value), or the configured baud rate
    /// has no valid divisor.
    Init(InitError),
    /// The loopback self-test ([`SerialPort::self_test`]) did not read back
    /// what it sent.
    Loopback(LoopbackError),
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBase(e) => write!(f, "serial: invalid base port: {e}"),
            Self::Init(e) => write!(f, "serial: initialisation failed: {e}"),
            Self::Loopback(e) => write!(f, "serial: self-test failed: {e}"),
        }
    }
}

impl core::error::Error for SerialError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidBase(e) => Some(e),
            Self::Init(e) => Some(e),
            Self::Loopback(e) => Some(e),
        }
    }
}

/// Calls `emit` with consecutive chunks of `bytes` in which every `\n` has
/// been replaced by `\r\n` ([`CRLF`]).
///
/// Pure and allocation-free: the chunks are sub-slices of `bytes` or
/// [`CRLF`] itself. Empty chunks are never emitted. The translation is
/// stateless, so an input that already contains `\r\n` produces `\r\r\n`,
/// which terminals display the same way.
pub fn translate_newlines(bytes: &[u8], mut emit: impl FnMut(&[u8])) {
    for (i, segment) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            emit(CRLF);
        }
        if !segment.is_empty() {
            emit(segment);
        }
    }
}

/// A 16550 UART used as a write-only text console.
///
/// Create with [`SerialPort::new`], then call [`SerialPort::init`] once.
/// Writing before `init` is allowed (the device keeps whatever line settings
/// firmware left), which lets early code share the bootloader's console.
#[derive(Debug)]
pub struct SerialPort {
    uart: Uart16550<PioBackend>,
}

impl SerialPort {
    /// Wraps the UART whose registers start at I/O port `base`, without
    /// touching the device.
    ///
    /// `const`, so a port can live in a `static` behind the kernel's lock.
    ///
    /// # Errors
    ///
    /// [`SerialError::InvalidBase`] if `base + 7` overflows the 16-bit I/O
    /// space.
    ///
    /// # Safety
    ///
    /// 1. Ports `base..=base + 7` must belong to a 16550-compatible UART (or
    ///    be unclaimed, in which case [`SerialPort::init`] reports
    ///    [`InitError::DeviceNotPresent`]); accessing them must not disturb
    ///    any other device.
    /// 2. The returned value must have exclusive use of those ports for its
    ///    whole lifetime: no second `SerialPort` or other driver for the same
    ///    base may exist at the same time.
    pub const unsafe fn new(base: u16) -> Result<Self, SerialError> {
        // SAFETY: `Uart16550::new_port` requires that the eight ports from
        // `base` are valid and exclusively ours for the device's lifetime,
        // which is exactly points 1 and 2 of this function's contract.
        match unsafe { Uart16550::new_port(base) } {
            Ok(uart) => Ok(Self { uart }),
            Err(e) => Err(SerialError::InvalidBase(e)),
        }
    }

    /// Initialises the UART with [`CONSOLE_CONFIG`].
    ///
    /// Checks that a device answers (scratch-register probe), programs the
    /// divisor latch and line control, enables and clears the FIFOs, raises
    /// DTR/RTS, waits for the transmitter to drain and leaves all device
    /// interrupts disabled.
    ///
    /// # Errors
    ///
    /// [`SerialError::Init`] if no device answers at the base port.
    pub fn init(&mut self) -> Result<(), SerialError> {
        self.init_with(CONSOLE_CONFIG)
    }

    /// Like [`SerialPort::init`], with explicit line settings.
    ///
    /// # Errors
    ///
    /// [`SerialError::Init`] if no device answers or `config`'s baud rate
    /// yields no valid divisor.
    pub fn init_with(&mut self, config: Config) -> Result<(), SerialError> {
        self.uart.init(config).map_err(SerialError::Init)
    }

    /// Runs the UART's loopback self-test (sends bytes with the Modem Control
    /// Register's loop bit set and checks they come back).
    ///
    /// Optional: some real UARTs lack a working loopback mode yet transmit
    /// fine. Must run after [`SerialPort::init`] and while nothing else is
    /// being sent.
    ///
    /// # Errors
    ///
    /// [`SerialError::Loopback`] if the bytes read back differ.
    pub fn self_test(&mut self) -> Result<(), SerialError> {
        self.uart.test_loopback().map_err(SerialError::Loopback)
    }

    /// Sends `bytes`, translating every `\n` into `\r\n`.
    ///
    /// Blocks (spinning) until every byte is in the transmit FIFO. Never
    /// allocates and never fails.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        translate_newlines(bytes, |chunk| self.uart.send_bytes_exact(chunk));
    }

    /// Sends `bytes` unchanged (no newline translation). Blocks like
    /// [`SerialPort::write_bytes`].
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.uart.send_bytes_exact(bytes);
    }

    /// Enables the "received data available" interrupt (IER bit 0,
    /// PC16550D datasheet §8.6.4) and checks that OUT2 (MCR bit 3) is set:
    /// on PCs OUT2 gates the UART's interrupt line onto ISA IRQ 4/3.
    /// [`SerialPort::init`] already raises OUT2; this raises it again if
    /// something cleared it. Returns the IER value now in effect.
    pub fn enable_rx_interrupt(&mut self) -> u8 {
        let mcr = self.uart.mcr();
        if !mcr.contains(MCR::OUT_2_INT_ENABLE) {
            // SAFETY: MCR is one of the eight registers `new`'s contract
            // gives us; setting OUT2 keeps DTR/RTS/loopback as they are.
            unsafe {
                self.uart.backend_mut().write(
                    uart_16550::spec::registers::offsets::MCR as u8,
                    (mcr | MCR::OUT_2_INT_ENABLE).bits(),
                );
            }
        }
        self.uart.enable_interrupts(IER::DATA_READY);
        self.uart.ier().bits()
    }

    /// Disables the receive interrupt again (IER bit 0).
    pub fn disable_rx_interrupt(&mut self) {
        self.uart.disable_interrupts(IER::DATA_READY);
    }

    /// Reads received bytes while the Line Status Register says data is
    /// ready, at most `limit`, handing each to `sink`. Returns how many were
    /// read. Reading RBR clears the "received data available" interrupt
    /// once the FIFO is below its trigger level; the limit bounds the time
    /// an interrupt handler spends here if a device keeps sending.
    pub fn drain_rx(&mut self, limit: usize, mut sink: impl FnMut(u8)) -> usize {
        let mut read = 0;
        while read < limit {
            match self.uart.try_receive_byte() {
                Ok(byte) => sink(byte),
                Err(_) => break,
            }
            read += 1;
        }
        read
    }

    /// The underlying [`Uart16550`], for receiving, interrupts or register
    /// dumps.
    pub fn uart_mut(&mut self) -> &mut Uart16550<PioBackend> {
        &mut self.uart
    }
}

impl fmt::Write for SerialPort {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs [`translate_newlines`] and returns the chunks and their
    /// concatenation.
    fn translate(input: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut chunks = Vec::new();
        translate_newlines(input, |c| chunks.push(c.to_vec()));
        let joined = chunks.concat();
        (chunks, joined)
    }

    #[test]
    fn empty_input_emits_nothing() {
        assert_eq!(translate(b""), (vec![], vec![]));
    }

    #[test]
    fn text_without_newline_is_one_chunk() {
        let (chunks, joined) = translate(b"hello");
        assert_eq!(chunks, vec![b"hello".to_vec()]);
        assert_eq!(joined, b"hello");
    }

    #[test]
    fn newline_becomes_crlf() {
        assert_eq!(translate(b"a\nb").1, b"a\r\nb");
        assert_eq!(translate(b"\n").1, b"\r\n");
        assert_eq!(translate(b"line\n").1, b"line\r\n");
        assert_eq!(translate(b"\nline").1, b"\r\nline");
    }

    #[test]
    fn consecutive_newlines_each_translated() {
        assert_eq!(translate(b"\n\n\n").1, b"\r\n\r\n\r\n");
        assert_eq!(translate(b"a\n\nb").1, b"a\r\n\r\nb");
    }

    #[test]
    fn existing_cr_is_kept() {
        assert_eq!(translate(b"a\r\nb").1, b"a\r\r\nb");
        assert_eq!(translate(b"\r").1, b"\r");
    }

    #[test]
    fn chunks_are_borrowed_and_never_empty() {
        let input = b"[BOOT] one\n\n[MEM] two\n";
        let range = input.as_ptr_range();
        let mut chunks = 0;
        translate_newlines(input, |c| {
            chunks += 1;
            assert!(!c.is_empty());
            let borrowed = range.start <= c.as_ptr() && c.as_ptr_range().end <= range.end;
            assert!(
                borrowed || c == CRLF,
                "chunk {c:?} is neither input nor CRLF"
            );
        });
        // "[BOOT] one", CRLF, CRLF, "[MEM] two", CRLF.
        assert_eq!(chunks, 5);
        assert_eq!(translate(input).1, b"[BOOT] one\r\n\r\n[MEM] two\r\n");
    }

    #[test]
    fn every_lf_is_preceded_by_cr_and_other_bytes_are_kept() {
        let input: Vec<u8> = (0..=255u8).chain(b"x\ny\n\n".iter().copied()).collect();
        let out = translate(&input).1;
        let newlines = input.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(out.len(), input.len() + newlines);
        for (i, &b) in out.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(out[i - 1], b'\r');
            }
        }
        let without_added_cr: Vec<u8> = out
            .iter()
            .enumerate()
            .filter(|&(i, &b)| !(b == b'\r' && out.get(i + 1) == Some(&b'\n')))
            .map(|(_, &b)| b)
            .collect();
        // Only the CRs we inserted are removed (the input has no "\r\n").
        assert_eq!(without_added_cr, input);
    }

    #[test]
    fn console_config_is_115200_8n1_with_valid_divisor() {
        assert_eq!(CONSOLE_CONFIG.baud_rate, BaudRate::Baud115200);
        let divisor = uart_16550::spec::calc_divisor(
            CONSOLE_CONFIG.frequency,
            CONSOLE_CONFIG.baud_rate.to_integer(),
            CONSOLE_CONFIG.prescaler_division_factor,
        );
        // 1.8432 MHz / (16 × 115200) = 1.
        assert_eq!(divisor, Ok(1));
        assert!(CONSOLE_CONFIG.fifo_trigger_level.is_some());
    }

    #[test]
    fn constructor_validates_base_without_touching_hardware() {
        // SAFETY: `new` performs no port I/O; the value is dropped unused.
        assert!(unsafe { SerialPort::new(COM1_BASE) }.is_ok());
        // SAFETY: as above; the constructor rejects this base before any I/O.
        let err = unsafe { SerialPort::new(0xFFFA) }.unwrap_err();
        assert!(matches!(err, SerialError::InvalidBase(_)));
    }
}

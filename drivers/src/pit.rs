//! Intel 8253/8254 Programmable Interval Timer (PIT), typed.
//!
//! The PIT is three 16-bit down-counters clocked at [`INPUT_FREQUENCY_HZ`]
//! (the 14.31818 MHz PC reference crystal divided by 12). It is the one
//! timer of known frequency every PC has, so the kernel uses it as the
//! reference to calibrate the TSC and the local-APIC timer (see
//! [`Pit::measure`]).
//!
//! References: Intel *8254 Programmable Interval Timer* datasheet
//! (order no. 231164), "Control Word Format" and "Mode Definitions";
//! OSDev wiki, *Programmable Interval Timer* (I/O ports, mode/command
//! register); Intel PCH/ICH datasheets, *NMI Status and Control Register
//! (I/O port 61h)*, for port B.
//!
//! # Registers
//!
//! | port   | access | register |
//! | ------ | ------ | -------- |
//! | `0x40` | r/w    | channel 0 data (IRQ 0) |
//! | `0x41` | r/w    | channel 1 data (historically DRAM refresh; absent on many modern chipsets) |
//! | `0x42` | r/w    | channel 2 data (PC speaker; gate and OUT wired to port `0x61`) |
//! | `0x43` | w      | mode/command register, see [`Command`] |
//! | `0x61` | r/w    | NMI status and control ("port B"), see [`PortB`] |
//!
//! Command byte (port `0x43`):
//!
//! ```text
//!   7   6   5   4   3   2   1   0
//! +-------+-------+-----------+---+
//! |channel| access|   mode    |BCD|
//! +-------+-------+-----------+---+
//!  channel  00 = 0, 01 = 1, 10 = 2, 11 = read-back (8254 only; not modelled)
//!  access   00 = counter latch, 01 = lobyte, 10 = hibyte, 11 = lobyte then hibyte
//!  mode     000..101 = modes 0-5 (110, 111 alias modes 2, 3; never written)
//!  BCD      0 = 16-bit binary, 1 = four BCD digits
//! ```
//!
//! # Invariants
//!
//! - A [`Pit`] value is the only code touching ports `0x40`–`0x43` and
//!   `0x61` (promised by [`Pit::new`]'s caller). The driver takes no locks.
//! - Counts are 16-bit binary. A reload value of `0` means 65536 counts
//!   ([`MAX_TICKS`]); every conversion in this module honours that.
//! - Every busy-wait is bounded ([`poll_limit`]); a PIT that never fires is
//!   reported as [`PitError::Timeout`], never a hang.
//! - Writes to port B touch only its writable low nibble and preserve the
//!   NMI enable bits (2 and 3).
//!
//! # Calibration protocol and its error bound
//!
//! [`Pit::measure`] uses channel 2 in mode 0 ("interrupt on terminal count")
//! as a one-shot whose OUT pin can be polled through port B bit 5, without
//! interrupts:
//!
//! 1. Disable the speaker, lower then raise the channel 2 gate.
//! 2. Write command `0xB0` (channel 2, lobyte/hibyte, mode 0, binary); OUT
//!    goes low. Write the reload `N`, low byte then high byte.
//! 3. *Immediately* read the counter under calibration: `c0`.
//! 4. Poll port B until OUT2 is high, then read the counter again: `c1`.
//!
//! Per the 8254 datasheet, the count is loaded on the first CLK pulse after
//! the high byte is written and OUT rises `N` pulses later. Let `T` be one
//! PIT period (≈ 838.1 ns) and `P` the duration of one poll (one `in` from
//! port `0x61`, ≈ 1 µs on real chipsets and under KVM). The first CLK pulse
//! arrives up to `T` after the write, and OUT is seen up to `P` after it
//! rises, so the interval between the two counter reads lies in
//!
//! ```text
//!     [ N·T ,  N·T + T + P )
//! ```
//!
//! i.e. the delta overestimates the nominal window [`period_ns`]`(N)` by at
//! most about 2 µs, never underestimates it (0.02 % of a 10 ms window). The
//! crystal's own tolerance (typically ±100 ppm) comes on top. SMIs and NMIs
//! cannot be masked and only ever lengthen the interval, so a caller that
//! wants more accuracy repeats the measurement and keeps the smallest delta.

use core::fmt;

use x86_64::instructions::interrupts;
use x86_64::instructions::port::{Port, PortWriteOnly};

/// Frequency of the PIT input clock in Hz: 14.31818 MHz / 12 =
/// 1 193 181.8 Hz, rounded as Linux does (`PIT_TICK_RATE`).
pub const INPUT_FREQUENCY_HZ: u64 = 1_193_182;

/// Channel 0 data port (its OUT drives IRQ 0).
pub const CHANNEL0_PORT: u16 = 0x40;
/// Channel 1 data port.
pub const CHANNEL1_PORT: u16 = 0x41;
/// Channel 2 data port (its OUT drives the PC speaker and port B bit 5).
pub const CHANNEL2_PORT: u16 = 0x42;
/// Mode/command register (write-only).
pub const COMMAND_PORT: u16 = 0x43;
/// NMI status and control register, a.k.a. keyboard-controller port B.
pub const PORT_B: u16 = 0x61;

/// Nanoseconds per second.
const NS_PER_SEC: u64 = 1_000_000_000;

/// Largest count a channel can run: a reload value of `0` means 65536 in
/// binary mode.
pub const MAX_TICKS: u64 = 1 << 16;

/// Smallest count [`reload_value`] returns. 1 would be legal in mode 0 but is
/// forbidden in modes 2 and 3, and a 1-tick (838 ns) period is shorter than a
/// single port access, so it could not be measured anyway.
pub const MIN_TICKS: u64 = 2;

/// Shortest period, in ns, that [`reload_value`] accepts exactly
/// (the period of [`MIN_TICKS`]).
pub const MIN_PERIOD_NS: u64 = ticks_to_ns(MIN_TICKS);

/// Longest period, in ns, that [`reload_value`] accepts exactly
/// (the period of [`MAX_TICKS`], ≈ 54.9 ms).
pub const MAX_PERIOD_NS: u64 = ticks_to_ns(MAX_TICKS);

/// Upper bound on port B polls per PIT tick that [`poll_limit`] allows.
///
/// One `in` from port `0x61` takes about 1 µs on real chipsets and under KVM,
/// and tens of ns at the fastest under QEMU's TCG: at most ~40 polls per
/// 838 ns tick. 256 leaves a wide margin, while on real hardware a dead PIT
/// is still reported after ≈ 0.26 s per millisecond of requested window.
pub const POLLS_PER_TICK_LIMIT: u64 = 256;

/// Polls [`poll_limit`] adds regardless of the count, covering the CLK pulse
/// that loads the count and port-access jitter for very short counts.
pub const POLL_SLACK: u64 = 4096;

/// Errors of the PIT driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PitError {
    /// The requested period rounds to fewer than [`MIN_TICKS`] ticks.
    PeriodTooShort {
        /// The requested period in nanoseconds.
        period_ns: u64,
    },
    /// The requested period rounds to more than [`MAX_TICKS`] ticks.
    PeriodTooLong {
        /// The requested period in nanoseconds.
        period_ns: u64,
    },
    /// Channel 2's OUT did not go high within [`poll_limit`] polls: the PIT
    /// is absent, broken, or not wired to port B.
    Timeout {
        /// How many times port B was polled.
        polls: u64,
    },
    /// The counter passed to [`Pit::measure`] read lower at the end than at
    /// the start; it must count up monotonically.
    CounterWentBackwards {
        /// Reading right after arming.
        start: u64,
        /// Reading after the one-shot fired.
        end: u64,
    },
}

impl fmt::Display for PitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PeriodTooShort { period_ns } => write!(
                f,
                "PIT period {period_ns} ns too short (minimum {MIN_PERIOD_NS} ns)"
            ),
            Self::PeriodTooLong { period_ns } => write!(
                f,
                "PIT period {period_ns} ns too long (maximum {MAX_PERIOD_NS} ns)"
            ),
            Self::Timeout { polls } => {
                write!(f, "PIT channel 2 never fired ({polls} polls of port 0x61)")
            }
            Self::CounterWentBackwards { start, end } => {
                write!(
                    f,
                    "counter went backwards during PIT window ({start} -> {end})"
                )
            }
        }
    }
}

impl core::error::Error for PitError {}

/// `ticks` PIT periods in nanoseconds, rounded to nearest.
const fn ticks_to_ns(ticks: u64) -> u64 {
    let ns = (ticks as u128 * NS_PER_SEC as u128 + INPUT_FREQUENCY_HZ as u128 / 2)
        / INPUT_FREQUENCY_HZ as u128;
    // At most 2^64 · 10^9 / 1.19·10^6 < 2^74: saturate instead of truncating.
    if ns > u64::MAX as u128 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// The number of ticks a reload value counts: `0` means [`MAX_TICKS`].
pub const fn ticks(reload: u16) -> u64 {
    if reload == 0 {
        MAX_TICKS
    } else {
        reload as u64
    }
}

/// The reload value whose period is closest to `period_ns`.
///
/// Rounds to the nearest tick (838.1 ns). A result of 65536 ticks is
/// returned as `0`, which the hardware counts as 65536 in binary mode.
///
/// # Errors
///
/// [`PitError::PeriodTooShort`] below [`MIN_TICKS`] ticks,
/// [`PitError::PeriodTooLong`] above [`MAX_TICKS`] ticks.
pub const fn reload_value(period_ns: u64) -> Result<u16, PitError> {
    // period_ns < 2^64 and the frequency < 2^21: the product fits in u128.
    let ticks = (period_ns as u128 * INPUT_FREQUENCY_HZ as u128 + NS_PER_SEC as u128 / 2)
        / NS_PER_SEC as u128;
    if ticks < MIN_TICKS as u128 {
        Err(PitError::PeriodTooShort { period_ns })
    } else if ticks > MAX_TICKS as u128 {
        Err(PitError::PeriodTooLong { period_ns })
    } else if ticks == MAX_TICKS as u128 {
        Ok(0)
    } else {
        // 2 ≤ ticks < 65536: fits.
        Ok(ticks as u16)
    }
}

/// The period of `reload` in nanoseconds (rounded to nearest); `0` counts
/// as 65536 ticks.
///
/// Use `period_ns(reload_value(w)?)` as the window when converting a
/// [`Pit::measure`] delta: it differs from `w` by up to half a tick.
pub const fn period_ns(reload: u16) -> u64 {
    ticks_to_ns(ticks(reload))
}

/// The frequency in Hz of a counter that advanced `counter_delta` in
/// `window_ns` nanoseconds, rounded to nearest.
///
/// Computed in `u128`, so it cannot overflow internally; a result above
/// `u64::MAX` saturates. Returns `0` for an empty window (`window_ns == 0`),
/// which no measurement can produce.
pub const fn frequency_hz(counter_delta: u64, window_ns: u64) -> u64 {
    if window_ns == 0 {
        return 0;
    }
    let hz =
        (counter_delta as u128 * NS_PER_SEC as u128 + window_ns as u128 / 2) / window_ns as u128;
    if hz > u64::MAX as u128 {
        u64::MAX
    } else {
        hz as u64
    }
}

/// The most port B polls [`Pit`] makes while waiting for a one-shot of
/// `reload` to fire before giving up with [`PitError::Timeout`]:
/// `ticks(reload) ·` [`POLLS_PER_TICK_LIMIT`] `+` [`POLL_SLACK`].
pub const fn poll_limit(reload: u16) -> u64 {
    ticks(reload) * POLLS_PER_TICK_LIMIT + POLL_SLACK
}

/// A PIT channel (command bits 7:6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Channel {
    /// Channel 0, wired to IRQ 0.
    Channel0 = 0b00,
    /// Channel 1, historically DRAM refresh.
    Channel1 = 0b01,
    /// Channel 2, wired to the PC speaker and port B.
    Channel2 = 0b10,
}

impl Channel {
    /// The data port of this channel.
    pub const fn data_port(self) -> u16 {
        match self {
            Self::Channel0 => CHANNEL0_PORT,
            Self::Channel1 => CHANNEL1_PORT,
            Self::Channel2 => CHANNEL2_PORT,
        }
    }

    /// Index into per-channel arrays.
    const fn index(self) -> usize {
        self as usize
    }
}

/// How the data port is accessed (command bits 5:4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AccessMode {
    /// Counter latch command: snapshot the current count for reading. The
    /// mode and BCD bits are ignored by the hardware and encoded as 0.
    LatchCount = 0b00,
    /// Read/write the low byte only.
    LowByte = 0b01,
    /// Read/write the high byte only.
    HighByte = 0b10,
    /// Read/write the low byte, then the high byte.
    LowHigh = 0b11,
}

/// Counting mode (command bits 3:1; 8254 datasheet "Mode Definitions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OperatingMode {
    /// Mode 0: OUT goes low on the command, high when the count reaches 0
    /// and stays high. The one-shot used for calibration.
    InterruptOnTerminalCount = 0,
    /// Mode 1: one-shot re-triggered by a rising gate edge.
    HardwareRetriggerableOneShot = 1,
    /// Mode 2: periodic, OUT pulses low for one tick every `N` ticks.
    RateGenerator = 2,
    /// Mode 3: periodic square wave of period `N` ticks.
    SquareWave = 3,
    /// Mode 4: OUT pulses low once, `N` ticks after the count is written.
    SoftwareTriggeredStrobe = 4,
    /// Mode 5: like mode 4 but started by a rising gate edge.
    HardwareTriggeredStrobe = 5,
}

/// Count encoding (command bit 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CountFormat {
    /// 16-bit binary (reload 0 = 65536). Everything in this module assumes
    /// this format.
    Binary = 0,
    /// Four BCD digits (reload 0 = 10000).
    Bcd = 1,
}

/// A mode/command word for port `0x43`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Command {
    channel: Channel,
    access: AccessMode,
    mode: OperatingMode,
    format: CountFormat,
}

impl Command {
    /// Bit position of the channel field (bits 7:6).
    pub const CHANNEL_SHIFT: u32 = 6;
    /// Bit position of the access-mode field (bits 5:4).
    pub const ACCESS_SHIFT: u32 = 4;
    /// Bit position of the operating-mode field (bits 3:1).
    pub const MODE_SHIFT: u32 = 1;
    /// Bit position of the BCD flag (bit 0).
    pub const FORMAT_SHIFT: u32 = 0;

    /// Channel 2, lobyte/hibyte, mode 0, binary: the calibration one-shot
    /// (`0xB0`, the byte Linux writes in `pit_calibrate_tsc`).
    pub const CHANNEL2_ONESHOT: Self = Self::new(
        Channel::Channel2,
        AccessMode::LowHigh,
        OperatingMode::InterruptOnTerminalCount,
    );

    /// A binary-count command.
    pub const fn new(channel: Channel, access: AccessMode, mode: OperatingMode) -> Self {
        Self {
            channel,
            access,
            mode,
            format: CountFormat::Binary,
        }
    }

    /// The counter latch command for `channel`.
    pub const fn latch(channel: Channel) -> Self {
        Self::new(
            channel,
            AccessMode::LatchCount,
            OperatingMode::InterruptOnTerminalCount,
        )
    }

    /// This command with the given count format.
    pub const fn with_format(self, format: CountFormat) -> Self {
        Self { format, ..self }
    }

    /// The selected channel.
    pub const fn channel(self) -> Channel {
        self.channel
    }

    /// The access mode.
    pub const fn access(self) -> AccessMode {
        self.access
    }

    /// The operating mode (meaningless for [`AccessMode::LatchCount`]).
    pub const fn mode(self) -> OperatingMode {
        self.mode
    }

    /// The count format (meaningless for [`AccessMode::LatchCount`]).
    pub const fn format(self) -> CountFormat {
        self.format
    }

    /// The byte to write to [`COMMAND_PORT`].
    ///
    /// For [`AccessMode::LatchCount`] bits 3:0 are "don't care" in the
    /// datasheet and encoded as 0.
    pub const fn bits(self) -> u8 {
        let head =
            (self.channel as u8) << Self::CHANNEL_SHIFT | (self.access as u8) << Self::ACCESS_SHIFT;
        match self.access {
            AccessMode::LatchCount => head,
            _ => {
                head | (self.mode as u8) << Self::MODE_SHIFT
                    | (self.format as u8) << Self::FORMAT_SHIFT
            }
        }
    }
}

// The encodings the driver relies on, checked at compile time (values from
// the 8254 datasheet control-word table; 0x34/0x36 are the classic IRQ 0
// setups, 0xB0 is Linux's calibration command).
const _: () = {
    assert!(Command::CHANNEL2_ONESHOT.bits() == 0xB0);
    assert!(Command::latch(Channel::Channel2).bits() == 0x80);
    assert!(
        Command::new(
            Channel::Channel0,
            AccessMode::LowHigh,
            OperatingMode::RateGenerator
        )
        .bits()
            == 0x34
    );
    assert!(PortB::WRITABLE.bits() == 0x0F);
    assert!(MIN_PERIOD_NS == 1676 && MAX_PERIOD_NS == 54_925_401);
    // The longest poll budget still fits a u64 with room to spare.
    assert!(poll_limit(0) < u64::MAX / 2);
};

/// The NMI status and control register at port `0x61` ("port B").
///
/// Bits (Intel PCH datasheet, NMI_SC; OSDev *PC Speaker*):
///
/// | bit | access | meaning |
/// | --- | ------ | ------- |
/// | 0   | r/w    | channel 2 gate |
/// | 1   | r/w    | speaker data enable (AND-ed with OUT2 to drive the speaker) |
/// | 2   | r/w    | PCI SERR# NMI disable |
/// | 3   | r/w    | IOCHK# NMI disable |
/// | 4   | r/o    | refresh cycle toggle |
/// | 5   | r/o    | channel 2 OUT status |
/// | 6   | r/o    | IOCHK# NMI source status |
/// | 7   | r/o    | SERR# NMI source status |
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct PortB(u8);

impl PortB {
    /// Bit 0: channel 2 gate (counting enabled while high).
    pub const TIMER2_GATE: Self = Self(1 << 0);
    /// Bit 1: speaker data enable.
    pub const SPEAKER_DATA: Self = Self(1 << 1);
    /// Bit 2: PCI SERR# NMIs disabled.
    pub const SERR_NMI_DISABLE: Self = Self(1 << 2);
    /// Bit 3: IOCHK# NMIs disabled.
    pub const IOCHK_NMI_DISABLE: Self = Self(1 << 3);
    /// Bit 4 (read-only): toggles with every refresh cycle.
    pub const REFRESH_TOGGLE: Self = Self(1 << 4);
    /// Bit 5 (read-only): channel 2 OUT.
    pub const TIMER2_OUT: Self = Self(1 << 5);
    /// Bit 6 (read-only): an IOCHK# NMI is pending.
    pub const IOCHK_NMI_STATUS: Self = Self(1 << 6);
    /// Bit 7 (read-only): a SERR# NMI is pending.
    pub const SERR_NMI_STATUS: Self = Self(1 << 7);
    /// The writable bits (3:0); the high nibble is read-only.
    pub const WRITABLE: Self = Self(0x0F);

    /// The register value `bits`.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `flags` is set.
    pub const fn contains(self, flags: Self) -> bool {
        self.0 & flags.0 == flags.0
    }

    /// `self` with `flags` set.
    pub const fn with(self, flags: Self) -> Self {
        Self(self.0 | flags.0)
    }

    /// `self` with `flags` cleared.
    pub const fn without(self, flags: Self) -> Self {
        Self(self.0 & !flags.0)
    }

    /// The value to write back: read-only bits cleared, writable bits (the
    /// NMI enables in particular) preserved.
    pub const fn for_write(self) -> Self {
        Self(self.0 & Self::WRITABLE.0)
    }

    /// The two values [`Pit`] writes to arm channel 2 from the current
    /// register value `self`: speaker off and gate low, then speaker off and
    /// gate high. Both preserve the NMI enable bits.
    pub const fn channel2_gate_sequence(self) -> [Self; 2] {
        let low = self
            .for_write()
            .without(Self::SPEAKER_DATA)
            .without(Self::TIMER2_GATE);
        [low, low.with(Self::TIMER2_GATE)]
    }
}

impl fmt::Debug for PortB {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortB({:#010b})", self.0)
    }
}

/// The PIT and port B, owned.
#[derive(Debug)]
pub struct Pit {
    /// Data ports of channels 0, 1, 2, indexed by [`Channel::index`].
    data: [Port<u8>; 3],
    command: PortWriteOnly<u8>,
    port_b: Port<u8>,
}

impl Pit {
    /// Takes ownership of the PIT (ports `0x40`–`0x43`) and port B (`0x61`).
    ///
    /// Performs no I/O.
    ///
    /// # Safety
    ///
    /// 1. The machine has a PC-compatible PIT and port B at those addresses
    ///    (every PC does; on a machine without one, [`Pit::measure`] times
    ///    out rather than misbehaves, but the writes must still be harmless).
    /// 2. For the lifetime of the returned value nothing else programs the
    ///    PIT or writes port B: no second `Pit`, no PC-speaker driver, no
    ///    firmware call that does. Reprogramming channel 0 changes the IRQ 0
    ///    rate; the caller owns that decision.
    pub const unsafe fn new() -> Self {
        Self {
            data: [
                Port::new(CHANNEL0_PORT),
                Port::new(CHANNEL1_PORT),
                Port::new(CHANNEL2_PORT),
            ],
            command: PortWriteOnly::new(COMMAND_PORT),
            port_b: Port::new(PORT_B),
        }
    }

    /// Writes `command`, then `reload` as its access mode says: low byte,
    /// high byte, or low then high. For [`AccessMode::LatchCount`] only the
    /// command is written and `reload` is ignored.
    pub fn program(&mut self, command: Command, reload: u16) {
        let [low, high] = reload.to_le_bytes();
        let data = &mut self.data[command.channel().index()];
        // SAFETY: ports 0x40-0x43 are the PIT, exclusively ours by `new`'s
        // contract; writing them changes timer state, never memory.
        unsafe {
            self.command.write(command.bits());
            match command.access() {
                AccessMode::LatchCount => {}
                AccessMode::LowByte => data.write(low),
                AccessMode::HighByte => data.write(high),
                AccessMode::LowHigh => {
                    data.write(low);
                    data.write(high);
                }
            }
        }
    }

    /// Latches and reads the current count of `channel`.
    ///
    /// Only meaningful if the channel was last programmed with
    /// [`AccessMode::LowHigh`] (the latched value is read low byte first,
    /// then high byte).
    pub fn read_count(&mut self, channel: Channel) -> u16 {
        self.program(Command::latch(channel), 0);
        let data = &mut self.data[channel.index()];
        // SAFETY: the channel's data port is the PIT's, exclusively ours by
        // `new`'s contract; reading it after a latch command returns the
        // latched count and has no other effect.
        let (low, high) = unsafe { (data.read(), data.read()) };
        u16::from_le_bytes([low, high])
    }

    /// Reads port B.
    pub fn port_b(&mut self) -> PortB {
        // SAFETY: port 0x61 is exclusively ours by `new`'s contract; reading
        // it has no side effects.
        PortB::from_bits(unsafe { self.port_b.read() })
    }

    /// Writes port B; read-only bits are masked off.
    fn write_port_b(&mut self, value: PortB) {
        // SAFETY: port 0x61 is exclusively ours by `new`'s contract; only
        // the writable low nibble is written and callers derive it from the
        // current value, so the NMI enables are preserved.
        unsafe { self.port_b.write(value.for_write().bits()) }
    }

    /// Runs channel 2 as a one-shot of `reload` ticks (`0` = 65536) and
    /// busy-waits until it fires.
    ///
    /// Disables the speaker, lowers then raises the channel 2 gate, programs
    /// channel 2 in mode 0 (lobyte/hibyte, binary) with `reload`, and polls
    /// port B bit 5 (OUT2) until it goes high. Takes
    /// [`period_ns`]`(reload)` plus at most one tick and one poll.
    ///
    /// # Errors
    ///
    /// [`PitError::Timeout`] after [`poll_limit`]`(reload)` polls without
    /// OUT2 going high.
    pub fn oneshot_channel2(&mut self, reload: u16) -> Result<(), PitError> {
        self.arm_channel2(reload);
        self.wait_channel2(reload)
    }

    /// Measures how far `read_counter` advances during a PIT one-shot of
    /// `window_ns` (rounded to whole ticks; see [`reload_value`]).
    ///
    /// Arms channel 2, reads the counter immediately, waits for OUT2, reads
    /// it again and returns `end - start`: [`measure_window`](Self::measure_window)'s
    /// delta, without its error bound. Convert with
    /// [`frequency_hz`]`(delta, `[`period_ns`]`(`[`reload_value`]`(window_ns)?))`.
    /// The error bound is derived in the [module docs](self): the interval
    /// measured is at least the nominal window and at most one tick plus one
    /// poll (≈ 2 µs) longer.
    ///
    /// `read_counter` must count **up** monotonically (e.g. `rdtsc`); adapt
    /// a down-counter such as the LAPIC current-count register as
    /// `|| u64::from(u32::MAX - current_count())`. It should be cheap: its
    /// latency adds to the error at both ends.
    ///
    /// Maskable interrupts are disabled for the duration (and restored
    /// afterwards), so that an interrupt between arming and the first read
    /// cannot skew the window.
    ///
    /// # Errors
    ///
    /// - [`PitError::PeriodTooShort`] / [`PitError::PeriodTooLong`] if
    ///   `window_ns` is outside [`MIN_PERIOD_NS`]..=[`MAX_PERIOD_NS`]
    ///   (checked before touching the hardware);
    /// - [`PitError::Timeout`] if the one-shot never fires;
    /// - [`PitError::CounterWentBackwards`] if `read_counter` decreased.
    pub fn measure<F: FnMut() -> u64>(
        &mut self,
        window_ns: u64,
        read_counter: F,
    ) -> Result<u64, PitError> {
        self.measure_window(window_ns, read_counter)
            .map(|window| window.delta)
    }

    /// [`measure`](Self::measure), plus how far each of the two counter reads
    /// may lie from the PIT edge it stands for ([`Window::slack`]).
    ///
    /// The start edge (the count loading, at most one PIT tick after the
    /// high byte is written) lies after a counter read taken just before
    /// arming and before the read just after; the end edge (OUT2 rising)
    /// lies after the read that preceded the last poll that saw OUT2 low and
    /// before the read just after the poll that saw it high. On real
    /// hardware both gaps are about a microsecond; under emulation a vCPU
    /// that was descheduled in between makes one of them long, and the
    /// window says so instead of silently skewing the rate (in either
    /// direction). A caller keeps the window with the least slack.
    ///
    /// # Errors
    ///
    /// As for [`measure`](Self::measure).
    pub fn measure_window<F: FnMut() -> u64>(
        &mut self,
        window_ns: u64,
        mut read_counter: F,
    ) -> Result<Window, PitError> {
        let reload = reload_value(window_ns)?;
        let limit = poll_limit(reload);
        let (before, start, last_low, end) =
            interrupts::without_interrupts(|| -> Result<_, PitError> {
                let before = read_counter();
                self.arm_channel2(reload);
                let start = read_counter();
                let mut last_low = start;
                for _ in 0..limit {
                    let t = read_counter();
                    if self.port_b().contains(PortB::TIMER2_OUT) {
                        return Ok((before, start, last_low, read_counter()));
                    }
                    last_low = t;
                    core::hint::spin_loop();
                }
                Err(PitError::Timeout { polls: limit })
            })?;
        let delta = end
            .checked_sub(start)
            .ok_or(PitError::CounterWentBackwards { start, end })?;
        Ok(Window {
            delta,
            slack: start.saturating_sub(before) + end.saturating_sub(last_low),
        })
    }

    /// Steps 1 and 2 of the calibration protocol: speaker off, gate low then
    /// high, channel 2 in mode 0 with `reload`. Returns as soon as the high
    /// byte of the count is written.
    fn arm_channel2(&mut self, reload: u16) {
        let [gate_low, gate_high] = self.port_b().channel2_gate_sequence();
        self.write_port_b(gate_low);
        self.write_port_b(gate_high);
        self.program(Command::CHANNEL2_ONESHOT, reload);
    }

    /// Polls OUT2 until it is high, at most [`poll_limit`]`(reload)` times.
    fn wait_channel2(&mut self, reload: u16) -> Result<(), PitError> {
        let limit = poll_limit(reload);
        for _ in 0..limit {
            if self.port_b().contains(PortB::TIMER2_OUT) {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(PitError::Timeout { polls: limit })
    }
}

/// One measured PIT window ([`Pit::measure_window`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// How far the counter advanced between the reads at the two edges.
    pub delta: u64,
    /// Counter units between the reads that bracket the start edge plus
    /// those that bracket the end edge: `delta` is off from the counter's
    /// advance over the true window by at most this plus one PIT tick.
    pub slack: u64,
}

/// The relative error bound of a window, in parts per million: its slack
/// plus one PIT tick's worth of counter units (`delta / reload` per tick),
/// over its delta. `u64::MAX` for an empty window.
pub fn error_ppm(window: Window, reload: u16) -> u64 {
    if window.delta == 0 {
        return u64::MAX;
    }
    let ticks = if reload == 0 {
        MAX_TICKS
    } else {
        u64::from(reload)
    };
    let tick = window.delta / ticks;
    ((window.slack + tick) as u128 * 1_000_000 / window.delta as u128) as u64
}

#[cfg(test)]
mod tests {

    use super::*;

    use AccessMode::*;
    use Channel::*;
    use OperatingMode::*;

    const ALL_CHANNELS: [Channel; 3] = [Channel0, Channel1, Channel2];
    const ALL_ACCESS: [AccessMode; 4] = [LatchCount, LowByte, HighByte, LowHigh];
    const ALL_MODES: [OperatingMode; 6] = [
        InterruptOnTerminalCount,
        HardwareRetriggerableOneShot,
        RateGenerator,
        SquareWave,
        SoftwareTriggeredStrobe,
        HardwareTriggeredStrobe,
    ];

    #[test]
    fn command_known_bytes() {
        // Calibration one-shot: 10 11 000 0.
        assert_eq!(Command::CHANNEL2_ONESHOT.bits(), 0b1011_0000);
        assert_eq!(Command::CHANNEL2_ONESHOT.bits(), 0xB0);
        // Classic IRQ 0 setups.
        assert_eq!(Command::new(Channel0, LowHigh, RateGenerator).bits(), 0x34);
        assert_eq!(Command::new(Channel0, LowHigh, SquareWave).bits(), 0x36);
        // Linux's "shut down channel 0": mode 0, lobyte/hibyte.
        assert_eq!(
            Command::new(Channel0, LowHigh, InterruptOnTerminalCount).bits(),
            0x30
        );
        // Speaker tone: channel 2 square wave.
        assert_eq!(Command::new(Channel2, LowHigh, SquareWave).bits(), 0xB6);
        // 01 10 100 0 and 10 01 101 1.
        assert_eq!(
            Command::new(Channel1, HighByte, SoftwareTriggeredStrobe).bits(),
            0b0110_1000
        );
        assert_eq!(
            Command::new(Channel2, LowByte, HardwareTriggeredStrobe)
                .with_format(CountFormat::Bcd)
                .bits(),
            0b1001_1011
        );
        assert_eq!(
            Command::new(Channel0, LowHigh, HardwareRetriggerableOneShot).bits(),
            0b0011_0010
        );
    }

    #[test]
    fn command_fields_at_datasheet_positions() {
        for channel in ALL_CHANNELS {
            for access in ALL_ACCESS {
                for mode in ALL_MODES {
                    for format in [CountFormat::Binary, CountFormat::Bcd] {
                        let b = Command::new(channel, access, mode)
                            .with_format(format)
                            .bits();
                        assert_eq!(b >> 6, channel as u8);
                        assert_ne!(b >> 6, 0b11, "read-back must never be encoded");
                        assert_eq!((b >> 4) & 0b11, access as u8);
                        if access == LatchCount {
                            assert_eq!(b & 0x0F, 0, "latch: low nibble is 0");
                        } else {
                            assert_eq!((b >> 1) & 0b111, mode as u8);
                            assert_eq!(b & 1, format as u8);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn latch_commands() {
        assert_eq!(Command::latch(Channel0).bits(), 0x00);
        assert_eq!(Command::latch(Channel1).bits(), 0x40);
        assert_eq!(Command::latch(Channel2).bits(), 0x80);
        // Mode and format are dropped for a latch.
        assert_eq!(
            Command::new(Channel2, LatchCount, SquareWave)
                .with_format(CountFormat::Bcd)
                .bits(),
            0x80
        );
    }

    #[test]
    fn channel_ports() {
        assert_eq!(Channel0.data_port(), 0x40);
        assert_eq!(Channel1.data_port(), 0x41);
        assert_eq!(Channel2.data_port(), 0x42);
        assert_eq!(COMMAND_PORT, 0x43);
        assert_eq!(PORT_B, 0x61);
    }

    #[test]
    fn port_b_bit_positions() {
        assert_eq!(PortB::TIMER2_GATE.bits(), 1 << 0);
        assert_eq!(PortB::SPEAKER_DATA.bits(), 1 << 1);
        assert_eq!(PortB::SERR_NMI_DISABLE.bits(), 1 << 2);
        assert_eq!(PortB::IOCHK_NMI_DISABLE.bits(), 1 << 3);
        assert_eq!(PortB::REFRESH_TOGGLE.bits(), 1 << 4);
        assert_eq!(PortB::TIMER2_OUT.bits(), 1 << 5);
        assert_eq!(PortB::IOCHK_NMI_STATUS.bits(), 1 << 6);
        assert_eq!(PortB::SERR_NMI_STATUS.bits(), 1 << 7);
        assert!(PortB::from_bits(0x20).contains(PortB::TIMER2_OUT));
        assert!(!PortB::from_bits(0xDF).contains(PortB::TIMER2_OUT));
    }

    #[test]
    fn gate_sequence_disables_speaker_and_preserves_nmi_enables() {
        // Everything set: NMI disables (bits 2, 3) survive, RO bits dropped.
        let [low, high] = PortB::from_bits(0xFF).channel2_gate_sequence();
        assert_eq!(low.bits(), 0b0000_1100);
        assert_eq!(high.bits(), 0b0000_1101);
        // OUT2 high and speaker on from a previous use.
        let [low, high] = PortB::from_bits(0b0010_0011).channel2_gate_sequence();
        assert_eq!(low.bits(), 0x00);
        assert_eq!(high.bits(), 0x01);
        // Exhaustively: gate low then high, speaker off, bits 2-3 kept.
        for v in 0..=u8::MAX {
            let [low, high] = PortB::from_bits(v).channel2_gate_sequence();
            assert!(!low.contains(PortB::TIMER2_GATE));
            assert!(high.contains(PortB::TIMER2_GATE));
            for w in [low, high] {
                assert!(!w.contains(PortB::SPEAKER_DATA));
                assert_eq!(w.bits() & 0xF0, 0);
                assert_eq!(w.bits() & 0b1100, v & 0b1100);
            }
        }
    }

    #[test]
    fn reload_zero_is_65536_ticks() {
        assert_eq!(ticks(0), 65_536);
        assert_eq!(ticks(1), 1);
        assert_eq!(ticks(u16::MAX), 65_535);
        assert_eq!(period_ns(0), MAX_PERIOD_NS);
        assert!(period_ns(0) > period_ns(u16::MAX));
        assert_eq!(reload_value(MAX_PERIOD_NS), Ok(0));
    }

    #[test]
    fn reload_value_known_periods() {
        // 1 ms = 1193.182 ticks → 1193.
        assert_eq!(reload_value(1_000_000), Ok(1193));
        // 10 ms = 11931.82 ticks → 11932.
        assert_eq!(reload_value(10_000_000), Ok(11_932));
        // 50 ms = 59659.1 → 59659 (Linux's CAL_MS = 50 latch).
        assert_eq!(reload_value(50_000_000), Ok(59_659));
        // The BIOS default: 65536 ticks, 18.2 Hz.
        assert_eq!(reload_value(54_925_401), Ok(0));
    }

    #[test]
    fn reload_value_range_errors() {
        assert_eq!(
            reload_value(0),
            Err(PitError::PeriodTooShort { period_ns: 0 })
        );
        // 1 tick (838 ns) is too short; 1.4 ticks rounds to 1.
        assert!(matches!(
            reload_value(838),
            Err(PitError::PeriodTooShort { .. })
        ));
        assert!(matches!(
            reload_value(1_200),
            Err(PitError::PeriodTooShort { .. })
        ));
        assert_eq!(reload_value(MIN_PERIOD_NS), Ok(2));
        // 55 ms > 65536 ticks.
        assert_eq!(
            reload_value(55_000_000),
            Err(PitError::PeriodTooLong {
                period_ns: 55_000_000
            })
        );
        // Huge inputs must not overflow.
        assert!(matches!(
            reload_value(u64::MAX),
            Err(PitError::PeriodTooLong { .. })
        ));
    }

    #[test]
    fn reload_value_edges_round_to_nearest() {
        // The largest period that still rounds to 65536 ticks is accepted,
        // the next nanosecond is not.
        let mut last_ok = MAX_PERIOD_NS;
        while reload_value(last_ok + 1).is_ok() {
            last_ok += 1;
        }
        // 65536.5 ticks ≈ 54 925 820 ns.
        assert!((54_925_700..54_925_900).contains(&last_ok), "{last_ok}");
        // Smallest period rounding to 2 ticks (1.5 ticks ≈ 1257 ns).
        let mut first_ok = MIN_PERIOD_NS;
        while reload_value(first_ok - 1).is_ok() {
            first_ok -= 1;
        }
        assert!((1_250..1_260).contains(&first_ok), "{first_ok}");
    }

    #[test]
    fn period_reload_round_trip_exhaustive() {
        for reload in 0..=u16::MAX {
            let p = period_ns(reload);
            if reload == 1 {
                assert_eq!(p, 838);
                assert!(reload_value(p).is_err());
            } else {
                assert_eq!(reload_value(p), Ok(reload), "reload {reload}, {p} ns");
            }
        }
    }

    #[test]
    fn period_ns_known_values() {
        assert_eq!(period_ns(1193), 999_847);
        assert_eq!(period_ns(11_932), 10_000_151);
        assert_eq!(period_ns(2), 1_676);
        // Monotonic in the tick count.
        for r in 2..u16::MAX {
            assert!(period_ns(r + 1) > period_ns(r));
        }
    }

    #[test]
    fn frequency_hz_basic() {
        // 3 GHz TSC over 10 ms.
        assert_eq!(frequency_hz(30_000_000, 10_000_000), 3_000_000_000);
        // Rounded to nearest: 1 count in 3 ns = 333 333 333.3 Hz.
        assert_eq!(frequency_hz(1, 3), 333_333_333);
        assert_eq!(frequency_hz(2, 3), 666_666_667);
        assert_eq!(frequency_hz(0, 10_000_000), 0);
        // A LAPIC timer at 1 GHz bus / 16 over the exact 11932-tick window.
        let window = period_ns(11_932);
        assert_eq!(frequency_hz(625_009, window), 62_499_956);
    }

    #[test]
    fn frequency_hz_no_overflow() {
        // delta · 10^9 overflows u64 for any delta above ~1.8·10^10; a 5 GHz
        // counter over the longest window gets there in principle.
        let delta = 274_627_005; // ≈ 5 GHz × 54.9 ms
        assert_eq!(frequency_hz(delta, MAX_PERIOD_NS), 5_000_000_000);
        assert_eq!(
            frequency_hz(u64::MAX, 1_000_000_000),
            u64::MAX,
            "exact: delta per second"
        );
        // Saturates instead of wrapping.
        assert_eq!(frequency_hz(u64::MAX, 1), u64::MAX);
        assert_eq!(frequency_hz(u64::MAX, u64::MAX), 1_000_000_000);
        // Empty window: 0, not a division by zero.
        assert_eq!(frequency_hz(1_000, 0), 0);
    }

    #[test]
    fn calibration_round_trip() {
        // A simulated counter of frequency f over the window the PIT actually
        // ran for must come back as f (within rounding).
        for f in [1_000_000u64, 62_500_000, 1_999_999_999, 3_600_000_000] {
            for window in [1_000_000u64, 10_000_000, 50_000_000] {
                let reload = reload_value(window).unwrap();
                let exact_ns = period_ns(reload);
                let delta = (f as u128 * exact_ns as u128 / 1_000_000_000) as u64;
                let measured = frequency_hz(delta, exact_ns);
                let err = measured.abs_diff(f);
                // One count of truncation over the window, plus 1 Hz rounding.
                assert!(
                    err <= 1_000_000_000 / exact_ns + 1,
                    "{f} Hz {window} ns: {measured}"
                );
            }
        }
    }

    #[test]
    fn a_disturbed_window_has_a_wide_error_bound() {
        let quiet = Window {
            delta: 21_000_000,
            slack: 2_000,
        };
        // A vCPU descheduled at the end edge (delta too long) and one
        // descheduled at the start edge (delta too short).
        let late_end = Window {
            delta: 26_000_000,
            slack: 5_000_000,
        };
        let late_start = Window {
            delta: 17_000_000,
            slack: 4_000_000,
        };
        // The disturbed windows' bounds are wide, the quiet one's narrow:
        // what a caller keeping the narrowest bound relies on.
        let reload0 = reload_value(10_000_000).unwrap();
        assert!(error_ppm(late_end, reload0) > 100 * error_ppm(quiet, reload0));
        assert!(error_ppm(late_start, reload0) > 100 * error_ppm(quiet, reload0));
        // 2,000 units of slack + one tick (21e6 / 11932) over 21e6: ~179 ppm.
        let reload = reload_value(10_000_000).unwrap();
        let ppm = error_ppm(quiet, reload);
        assert!((170..=190).contains(&ppm), "{ppm}");
        assert!(error_ppm(late_end, reload) > 190_000);
        assert_eq!(error_ppm(Window { delta: 0, slack: 0 }, reload), u64::MAX);
    }

    #[test]
    fn poll_limit_bounds() {
        assert_eq!(poll_limit(2), 2 * POLLS_PER_TICK_LIMIT + POLL_SLACK);
        assert_eq!(poll_limit(0), 65_536 * POLLS_PER_TICK_LIMIT + POLL_SLACK);
        assert!(poll_limit(0) > poll_limit(u16::MAX));
    }

    #[test]
    fn errors_display() {
        let msg = PitError::Timeout { polls: 7 }.to_string();
        assert!(msg.contains("never fired"), "{msg}");
        let msg = PitError::PeriodTooLong { period_ns: 1 }.to_string();
        assert!(msg.contains("54925401"), "{msg}");
    }

    #[test]
    fn pit_owns_the_documented_ports() {
        // SAFETY: `new` only builds port handles and this test performs no
        // port access through them.
        let pit = unsafe { Pit::new() };
        let debug = format!("{pit:?}");
        // Port numbers appear in decimal in `PortGeneric`'s Debug output.
        for port in [0x40, 0x41, 0x42, 0x43, 0x61] {
            assert!(
                debug.contains(&format!("port: {port},")),
                "{port:#x}: {debug}"
            );
        }
    }
}

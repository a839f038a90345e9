//! What CPUID says about the TSC's rate, checked against the PIT calibration.
//!
//! The kernel measures the TSC against the PIT (`arch::x86_64::tsc`). Three
//! CPUID leaves may also state a rate; this module decodes them from raw
//! register values ([`RawLeaves`], read by the binary) and compares each with
//! the measured rate. It never touches the machine, so every gate and every
//! piece of arithmetic runs on the host.
//!
//! | leaf | registers (Intel SDM Vol. 2A, CPUID) | TSC rate |
//! | --- | --- | --- |
//! | `0x15` | EAX denominator, EBX numerator, ECX crystal Hz | `ECX × EBX / EAX`; EBX = 0 or EAX = 0: no ratio; ECX = 0: no crystal |
//! | `0x16` | EAX\[15:0\] processor base frequency, MHz | nominal: `EAX × 10⁶` |
//! | `0x4000_0010` | EAX TSC kHz, EBX Local APIC bus kHz | `EAX × 1000` |
//!
//! # Gates: when a leaf's registers mean anything
//!
//! CPUID does not fault on a leaf the CPU lacks; it returns *other* data
//! (Intel: the highest basic leaf's; QEMU's TCG does the same for the
//! `0x4000_0000` range), so a leaf is believed only behind its gate:
//!
//! - `0x15`, `0x16`: the maximum basic leaf (`CPUID.0:EAX`) reaches them.
//! - `0x4000_0010`: the hypervisor-present bit `CPUID.1:ECX[31]` is set, the
//!   hypervisor's maximum leaf (`CPUID.4000_0000h:EAX`) reaches it, and the
//!   vendor signature (`EBX, ECX, EDX` of `0x4000_0000`) names a hypervisor
//!   that defines the leaf ([`TIMING_LEAF_VENDORS`]: VMware, who proposed it;
//!   KVM as QEMU configures it with `vmware-cpuid-freq`; ACRN). Xen and
//!   Hyper-V use `0x4000_0010` differently or not at all.
//!
//! A leaf with a zero where its rate should be is "not enumerated" (the SDM's
//! words for `0x15`). For a ratio without a crystal, Linux falls back to a
//! per-model crystal table or derives the crystal from `0x16`; the second
//! only restates `0x16`, the first is model trivia this kernel does not
//! carry, so the ratio is reported and no rate is claimed.
//!
//! # What QEMU 7.2 under TCG reports
//!
//! Nothing to compare, with the default CPU (`qemu64`) and with `-cpu max`
//! alike: the maximum basic leaf is `0xd`, so `0x15` and `0x16` are absent —
//! though executing them returns leaf `0xd`'s registers, non-zero under
//! `-cpu max`. The hypervisor bit is set, the signature is `TCGTCGTCGTCG`
//! with maximum leaf `0x4000_0001`, and `0x4000_0010` again returns leaf
//! `0xd`'s registers. Raising the level (`-cpu max,level=0x16`) makes both
//! basic leaves read zero ("not enumerated"); `tsc-frequency=` and
//! `vmware-cpuid-freq=on` change nothing under TCG, whose guest TSC runs at
//! the host's rate. Only under KVM does QEMU fill `0x4000_0010` (with a known
//! TSC frequency and invariant TSC).
//!
//! # Which source wins: the PIT
//!
//! The kernel's clock stays the PIT measurement; the leaves only cross-check
//! it. A disagreement is printed as a warning naming both rates and the rate
//! kept. Why not Linux's order (`0x15`, then the hypervisor leaf, then a
//! PIT/HPET measurement)?
//!
//! - The PIT measures the counter the kernel actually reads; a leaf states
//!   what the counter should do. Under QEMU's TCG the guest TSC runs at the
//!   host's TSC rate whatever the emulated CPU model claims, so a leaf there
//!   is at best synthetic.
//! - The PIT result carries an error bound (a disturbed calibration says so);
//!   a leaf is either right or silently wrong, and two disagreeing sources
//!   cannot tell which one is wrong without a third.
//! - The kernel needs the PIT anyway (Local APIC timer calibration), so the
//!   reason Linux prefers CPUID — SoCs with the 8254 gated off — does not
//!   apply. At the PIT's ±0.1 % bound a correct leaf would not change
//!   anything the kernel does (ticks, uptime).
//!
//! # How much disagreement is a warning
//!
//! - `0x15` and `0x4000_0010` state the TSC rate itself: more than
//!   [`EXACT_TOLERANCE_PPM`] (1 %) off is a warning — ten times the PIT's
//!   own bound, so a warning means one of the two is wrong, not noise.
//! - `0x16` is the *nominal* base frequency; the SDM says it does not reflect
//!   actual values, and the TSC rate is typically within a few tenths of a
//!   percent of it (crystal × ratio vs. the marketing figure), not equal.
//!   More than [`NOMINAL_TOLERANCE_PPM`] (5 %) off is a warning: loose
//!   enough for a nominal figure, tight enough to catch the 11–33 % errors
//!   that disturbed PIT windows once produced (issue 8).
#![forbid(unsafe_code)]

use core::fmt;

use protocol::time::CpuidLeaves;

/// One CPUID leaf's output registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// The raw CPUID leaves this module decodes, executed unconditionally (CPUID
/// never faults; the gates are applied by [`decode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawLeaves {
    /// Leaf `0`: EAX is the maximum basic leaf.
    pub leaf_0: Regs,
    /// Leaf `1`: ECX bit 31 is the hypervisor-present bit.
    pub leaf_1: Regs,
    /// Leaf `0x15`: TSC/crystal ratio and crystal frequency.
    pub leaf_15: Regs,
    /// Leaf `0x16`: processor base frequency.
    pub leaf_16: Regs,
    /// Leaf `0x4000_0000`: hypervisor maximum leaf and vendor signature.
    pub leaf_4000_0000: Regs,
    /// Leaf `0x4000_0010`: TSC and Local APIC bus frequency in kHz.
    pub leaf_4000_0010: Regs,
}

/// The TSC/crystal ratio leaf.
pub const LEAF_TSC_CRYSTAL: u32 = 0x15;
/// The processor frequency leaf.
pub const LEAF_BASE_FREQUENCY: u32 = 0x16;
/// The hypervisor vendor leaf.
pub const LEAF_HYPERVISOR: u32 = 0x4000_0000;
/// The hypervisor timing leaf.
pub const LEAF_HYPERVISOR_TIMING: u32 = 0x4000_0010;

/// `CPUID.1:ECX[31]`: a hypervisor is present (reserved as 0 on hardware).
pub const LEAF_1_ECX_HYPERVISOR: u32 = 1 << 31;

/// Hypervisor signatures whose `0x4000_0010` is the timing leaf.
pub const TIMING_LEAF_VENDORS: [&[u8; 12]; 3] =
    [b"VMwareVMware", b"KVMKVMKVM\0\0\0", b"ACRNACRNACRN"];

/// Largest disagreement with the PIT, in ppm, that `0x15` and `0x4000_0010`
/// may show without a warning (1 %).
pub const EXACT_TOLERANCE_PPM: u64 = 10_000;
/// Largest disagreement with the PIT, in ppm, that the nominal `0x16` may
/// show without a warning (5 %).
pub const NOMINAL_TOLERANCE_PPM: u64 = 50_000;

/// Why a leaf gives no rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absent {
    /// The leaf is above the maximum basic leaf (`CPUID.0:EAX`).
    BeyondMaxLeaf {
        /// The maximum basic leaf.
        max: u32,
    },
    /// `CPUID.1:ECX[31]` is clear: no hypervisor, so no hypervisor leaves.
    NoHypervisor,
    /// The hypervisor's maximum leaf is below `0x4000_0010`.
    BeyondHypervisorMaxLeaf {
        /// Its vendor signature.
        vendor: Signature,
        /// `CPUID.4000_0000h:EAX`.
        max: u32,
    },
    /// The hypervisor is not known to define the timing leaf.
    UnknownHypervisor(Signature),
    /// The leaf exists but its rate field is zero.
    NotEnumerated,
}

/// A hypervisor vendor signature (`EBX, ECX, EDX` of `0x4000_0000`, as
/// bytes); displayed with non-printable bytes escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature(pub [u8; 12]);

impl Signature {
    /// The signature in leaf `regs` (EBX, ECX, EDX, little endian).
    pub fn from_regs(regs: Regs) -> Self {
        let mut bytes = [0; 12];
        bytes[0..4].copy_from_slice(&regs.ebx.to_le_bytes());
        bytes[4..8].copy_from_slice(&regs.ecx.to_le_bytes());
        bytes[8..12].copy_from_slice(&regs.edx.to_le_bytes());
        Self(bytes)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Trailing NULs are padding ("KVMKVMKVM\0\0\0").
        let end = self.0.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        for &byte in &self.0[..end] {
            if byte.is_ascii_graphic() || byte == b' ' {
                write!(f, "{}", char::from(byte))?;
            } else {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

/// Leaf `0x15`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crystal {
    /// No rate (see [`Absent`]).
    Absent(Absent),
    /// A TSC/crystal ratio, but the crystal frequency is not enumerated.
    RatioOnly {
        /// EBX.
        numerator: u32,
        /// EAX.
        denominator: u32,
    },
    /// Ratio and crystal: the TSC rate.
    Rate {
        /// ECX.
        crystal_hz: u32,
        /// EBX.
        numerator: u32,
        /// EAX.
        denominator: u32,
    },
}

impl Crystal {
    /// The TSC rate in Hz: `crystal × numerator / denominator`.
    pub fn hz(self) -> Option<u64> {
        match self {
            Self::Rate {
                crystal_hz,
                numerator,
                denominator,
            } => Some(ratio_hz(crystal_hz, numerator, denominator)),
            _ => None,
        }
    }
}

/// `crystal_hz × numerator / denominator`, rounded down. Never overflows:
/// the product of two `u32` is below 2⁶⁴; `denominator` must be non-zero.
pub const fn ratio_hz(crystal_hz: u32, numerator: u32, denominator: u32) -> u64 {
    crystal_hz as u64 * numerator as u64 / denominator as u64
}

/// Leaf `0x16`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseFrequency {
    /// No rate (see [`Absent`]).
    Absent(Absent),
    /// The nominal processor base frequency.
    Mhz(u16),
}

impl BaseFrequency {
    /// The base frequency in Hz.
    pub fn hz(self) -> Option<u64> {
        match self {
            Self::Mhz(mhz) => Some(u64::from(mhz) * 1_000_000),
            Self::Absent(_) => None,
        }
    }
}

/// Leaf `0x4000_0010`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HypervisorTiming {
    /// No rate (see [`Absent`]).
    Absent(Absent),
    /// The hypervisor's statement.
    Rate {
        /// Who says so.
        vendor: Signature,
        /// EAX: TSC frequency in kHz.
        tsc_khz: u32,
        /// EBX: Local APIC bus (timer) frequency in kHz; 0 if not stated.
        bus_khz: u32,
    },
}

impl HypervisorTiming {
    /// The TSC rate in Hz.
    pub fn hz(self) -> Option<u64> {
        match self {
            Self::Rate { tsc_khz, .. } => Some(u64::from(tsc_khz) * 1000),
            Self::Absent(_) => None,
        }
    }
}

/// Everything the three leaves say about the TSC rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuidRates {
    /// Leaf `0x15`.
    pub crystal: Crystal,
    /// Leaf `0x16`.
    pub base: BaseFrequency,
    /// Leaf `0x4000_0010`.
    pub hypervisor: HypervisorTiming,
}

/// Applies the gates (module docs) and decodes the three leaves.
pub fn decode(raw: &RawLeaves) -> CpuidRates {
    let max_basic = raw.leaf_0.eax;
    let crystal = if max_basic < LEAF_TSC_CRYSTAL {
        Crystal::Absent(Absent::BeyondMaxLeaf { max: max_basic })
    } else {
        let Regs {
            eax: denominator,
            ebx: numerator,
            ecx: crystal_hz,
            ..
        } = raw.leaf_15;
        if numerator == 0 || denominator == 0 {
            Crystal::Absent(Absent::NotEnumerated)
        } else if crystal_hz == 0 {
            Crystal::RatioOnly {
                numerator,
                denominator,
            }
        } else {
            Crystal::Rate {
                crystal_hz,
                numerator,
                denominator,
            }
        }
    };
    let base = if max_basic < LEAF_BASE_FREQUENCY {
        BaseFrequency::Absent(Absent::BeyondMaxLeaf { max: max_basic })
    } else {
        match raw.leaf_16.eax as u16 {
            0 => BaseFrequency::Absent(Absent::NotEnumerated),
            mhz => BaseFrequency::Mhz(mhz),
        }
    };
    CpuidRates {
        crystal,
        base,
        hypervisor: decode_hypervisor(raw),
    }
}

fn decode_hypervisor(raw: &RawLeaves) -> HypervisorTiming {
    if raw.leaf_1.ecx & LEAF_1_ECX_HYPERVISOR == 0 {
        return HypervisorTiming::Absent(Absent::NoHypervisor);
    }
    let max = raw.leaf_4000_0000.eax;
    let vendor = Signature::from_regs(raw.leaf_4000_0000);
    if max < LEAF_HYPERVISOR_TIMING {
        return HypervisorTiming::Absent(Absent::BeyondHypervisorMaxLeaf { vendor, max });
    }
    if !TIMING_LEAF_VENDORS.contains(&&vendor.0) {
        return HypervisorTiming::Absent(Absent::UnknownHypervisor(vendor));
    }
    match raw.leaf_4000_0010 {
        Regs { eax: 0, .. } => HypervisorTiming::Absent(Absent::NotEnumerated),
        Regs { eax, ebx, .. } => HypervisorTiming::Rate {
            vendor,
            tsc_khz: eax,
            bus_khz: ebx,
        },
    }
}

/// `claimed` relative to `measured`, in ppm (`(claimed − measured) /
/// measured`), saturated to the `i64` range; `None` if `measured` is 0.
pub fn deviation_ppm(claimed_hz: u64, measured_hz: u64) -> Option<i64> {
    if measured_hz == 0 {
        return None;
    }
    let ppm =
        (i128::from(claimed_hz) - i128::from(measured_hz)) * 1_000_000 / i128::from(measured_hz);
    Some(ppm.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Whether `claimed` is more than `tolerance_ppm` away from `measured`,
/// compared exactly (`|claimed − measured| × 10⁶ > tolerance × measured`, in
/// `u128`, so no rounding of the deviation moves the bound). With no
/// measured rate (0) every claim exceeds.
pub fn exceeds(claimed_hz: u64, measured_hz: u64, tolerance_ppm: u64) -> bool {
    let difference = u128::from(claimed_hz.abs_diff(measured_hz));
    measured_hz == 0 || difference * 1_000_000 > u128::from(tolerance_ppm) * u128::from(measured_hz)
}

/// A leaf whose rate is further from the PIT's than its tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The leaf (`0x15`, `0x16` or `0x4000_0010`).
    pub leaf: u32,
    /// The rate it states.
    pub claimed_hz: u64,
    /// The PIT's rate (the one the kernel keeps).
    pub measured_hz: u64,
    /// `claimed` relative to `measured`; `None` if there is no measured rate.
    pub deviation_ppm: Option<i64>,
    /// The tolerance it exceeds.
    pub tolerance_ppm: u64,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TSC: CPUID {:#x} says {}, ",
            self.leaf,
            Mhz(self.claimed_hz)
        )?;
        match self.deviation_ppm {
            Some(ppm) => write!(f, "{} from", Percent(ppm))?,
            None => f.write_str("not")?,
        }
        write!(
            f,
            " the PIT's {} (tolerance ±{}); keeping the PIT's rate: one of them is wrong",
            Mhz(self.measured_hz),
            UnsignedPercent(self.tolerance_ppm)
        )
    }
}

/// The cross-check of the PIT rate against the leaves: [`fmt::Display`] gives
/// the report (`CPUID 0x15: …; 0x16: …; 0x40000010: …`), [`Self::disagreements`]
/// the warnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossCheck {
    /// The PIT calibration's rate in Hz.
    pub measured_hz: u64,
    /// What CPUID says.
    pub cpuid: CpuidRates,
}

impl CrossCheck {
    /// Each leaf's stated rate (if any) with its tolerance.
    fn claims(&self) -> [(u32, Option<u64>, u64); 3] {
        [
            (
                LEAF_TSC_CRYSTAL,
                self.cpuid.crystal.hz(),
                EXACT_TOLERANCE_PPM,
            ),
            (
                LEAF_BASE_FREQUENCY,
                self.cpuid.base.hz(),
                NOMINAL_TOLERANCE_PPM,
            ),
            (
                LEAF_HYPERVISOR_TIMING,
                self.cpuid.hypervisor.hz(),
                EXACT_TOLERANCE_PPM,
            ),
        ]
    }

    /// The leaves that disagree with the PIT beyond their tolerance (with no
    /// PIT rate, every leaf that states one).
    pub fn disagreements(&self) -> impl Iterator<Item = Disagreement> + use<> {
        let measured_hz = self.measured_hz;
        self.claims()
            .into_iter()
            .filter_map(move |(leaf, claimed, tolerance_ppm)| {
                let claimed_hz = claimed?;
                exceeds(claimed_hz, measured_hz, tolerance_ppm).then(|| Disagreement {
                    leaf,
                    claimed_hz,
                    measured_hz,
                    deviation_ppm: deviation_ppm(claimed_hz, measured_hz),
                    tolerance_ppm,
                })
            })
    }

    fn deviation(&self, claimed_hz: u64) -> Deviation {
        Deviation(deviation_ppm(claimed_hz, self.measured_hz))
    }
}

impl CrossCheck {
    /// What each leaf says, in the shape of the `[TIME]` line
    /// (`protocol::time`, whose labels the host checks).
    pub fn leaves(&self) -> CpuidLeaves<LeafReport<'_>> {
        CpuidLeaves {
            leaf_15: LeafReport::Crystal(self),
            leaf_16: LeafReport::Base(self),
            leaf_40000010: LeafReport::Hypervisor(self),
        }
    }
}

impl fmt::Display for CrossCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.leaves().fmt(f)
    }
}

/// What one leaf says, in the cross-check's words (`2592 MHz = 24 MHz ×
/// 216/2 (-0.160 %)`, `absent (max leaf 0xd)`).
#[derive(Clone, Copy, Debug)]
pub enum LeafReport<'a> {
    /// Leaf 0x15.
    Crystal(&'a CrossCheck),
    /// Leaf 0x16.
    Base(&'a CrossCheck),
    /// Leaf 0x40000010.
    Hypervisor(&'a CrossCheck),
}

impl fmt::Display for LeafReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Crystal(check) => match check.cpuid.crystal {
                Crystal::Absent(why) => write!(f, "{why}"),
                Crystal::RatioOnly {
                    numerator,
                    denominator,
                } => write!(f, "ratio {numerator}/{denominator}, crystal not enumerated"),
                Crystal::Rate {
                    crystal_hz,
                    numerator,
                    denominator,
                } => {
                    let hz = ratio_hz(crystal_hz, numerator, denominator);
                    write!(
                        f,
                        "{} = {} × {numerator}/{denominator} ({})",
                        Mhz(hz),
                        Mhz(u64::from(crystal_hz)),
                        check.deviation(hz)
                    )
                }
            },
            Self::Base(check) => match check.cpuid.base {
                BaseFrequency::Absent(why) => write!(f, "{why}"),
                BaseFrequency::Mhz(mhz) => {
                    let hz = u64::from(mhz) * 1_000_000;
                    write!(f, "{} base ({})", Mhz(hz), check.deviation(hz))
                }
            },
            Self::Hypervisor(check) => match check.cpuid.hypervisor {
                HypervisorTiming::Absent(why) => write!(f, "{why}"),
                HypervisorTiming::Rate {
                    vendor,
                    tsc_khz,
                    bus_khz,
                } => {
                    let hz = u64::from(tsc_khz) * 1000;
                    write!(
                        f,
                        "{} from {vendor}, bus {} ({})",
                        Mhz(hz),
                        Mhz(u64::from(bus_khz) * 1000),
                        check.deviation(hz)
                    )
                }
            },
        }
    }
}

impl fmt::Display for Absent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BeyondMaxLeaf { max } => write!(f, "absent (max leaf {max:#x})"),
            Self::NoHypervisor => f.write_str("absent (no hypervisor)"),
            Self::BeyondHypervisorMaxLeaf { vendor, max } => {
                write!(f, "absent (hypervisor \"{vendor}\" max leaf {max:#x})")
            }
            Self::UnknownHypervisor(vendor) => {
                write!(f, "ignored (hypervisor \"{vendor}\" does not define it)")
            }
            Self::NotEnumerated => f.write_str("not enumerated"),
        }
    }
}

/// A rate in Hz shown in MHz: whole MHz without decimals, otherwise to the
/// kHz (`2600 MHz`, `2596.148 MHz`; truncated, not rounded).
#[derive(Clone, Copy, Debug)]
pub struct Mhz(pub u64);

impl fmt::Display for Mhz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mhz, hz) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if hz == 0 {
            write!(f, "{mhz} MHz")
        } else {
            write!(f, "{mhz}.{:03} MHz", hz / 1000)
        }
    }
}

/// Parts per million shown as a signed percentage to three decimals,
/// rounded half away from zero (`+0.154 %`, `-1.000 %`).
#[derive(Clone, Copy, Debug)]
pub struct Percent(pub i64);

impl Percent {
    /// The same magnitude without the sign (`0.030 %`), for error bounds.
    pub fn unsigned(self) -> UnsignedPercent {
        UnsignedPercent(self.0.unsigned_abs())
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        write!(f, "{sign}{}", UnsignedPercent(self.0.unsigned_abs()))
    }
}

/// Parts per million shown as an unsigned percentage to three decimals.
#[derive(Clone, Copy, Debug)]
pub struct UnsignedPercent(pub u64);

impl fmt::Display for UnsignedPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let thousandths = self.0.saturating_add(5) / 10;
        write!(f, "{}.{:03} %", thousandths / 1000, thousandths % 1000)
    }
}

/// A deviation, or a note that there was nothing to compare with.
struct Deviation(Option<i64>);

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ppm) => write!(f, "{}", Percent(ppm)),
            None => f.write_str("no PIT rate to compare"),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use super::*;

    /// A machine with every leaf: max basic leaf 0x16, hypervisor bit set,
    /// `vendor` at 0x4000_0000 with max leaf 0x4000_0010.
    fn all_leaves(vendor: &[u8; 12]) -> RawLeaves {
        let word = |i: usize| u32::from_le_bytes(vendor[i..i + 4].try_into().unwrap());
        RawLeaves {
            leaf_0: Regs {
                eax: 0x16,
                ..Regs::default()
            },
            leaf_1: Regs {
                ecx: LEAF_1_ECX_HYPERVISOR,
                ..Regs::default()
            },
            // 24 MHz × 216/2 = 2592 MHz.
            leaf_15: Regs {
                eax: 2,
                ebx: 216,
                ecx: 24_000_000,
                edx: 0,
            },
            leaf_16: Regs {
                eax: 2600,
                ebx: 3900,
                ecx: 100,
                edx: 0,
            },
            leaf_4000_0000: Regs {
                eax: LEAF_HYPERVISOR_TIMING,
                ebx: word(0),
                ecx: word(4),
                edx: word(8),
            },
            leaf_4000_0010: Regs {
                eax: 2_596_148,
                ebx: 1_000_000,
                ..Regs::default()
            },
        }
    }

    #[test]
    fn every_leaf_present() {
        let rates = decode(&all_leaves(b"VMwareVMware"));
        assert_eq!(rates.crystal.hz(), Some(2_592_000_000));
        assert_eq!(rates.base, BaseFrequency::Mhz(2600));
        assert_eq!(rates.base.hz(), Some(2_600_000_000));
        assert_eq!(rates.hypervisor.hz(), Some(2_596_148_000));
        let HypervisorTiming::Rate {
            vendor, bus_khz, ..
        } = rates.hypervisor
        else {
            panic!("{:?}", rates.hypervisor);
        };
        assert_eq!(vendor.to_string(), "VMwareVMware");
        assert_eq!(bus_khz, 1_000_000);
    }

    #[test]
    fn leaves_beyond_the_max_basic_leaf_are_absent() {
        // QEMU's TCG (qemu64, max leaf 0xd) answers leaves 0x15 and 0x16 with
        // leaf 0xd's data: non-zero registers that must not be believed.
        let mut raw = all_leaves(b"VMwareVMware");
        raw.leaf_0.eax = 0xd;
        let rates = decode(&raw);
        let absent = Absent::BeyondMaxLeaf { max: 0xd };
        assert_eq!(rates.crystal, Crystal::Absent(absent));
        assert_eq!(rates.base, BaseFrequency::Absent(absent));
        assert_eq!(rates.crystal.hz(), None);
        assert_eq!(rates.base.hz(), None);
        // 0x15 without 0x16.
        raw.leaf_0.eax = 0x15;
        let rates = decode(&raw);
        assert_eq!(rates.crystal.hz(), Some(2_592_000_000));
        assert_eq!(
            rates.base,
            BaseFrequency::Absent(Absent::BeyondMaxLeaf { max: 0x15 })
        );
    }

    #[test]
    fn qemu_tcg_cpu_max_claims_nothing() {
        // Read under QEMU 7.2 TCG with `-cpu max`: leaves 0x15, 0x16 and
        // 0x4000_0010 all answer with leaf 0xd's registers.
        let leaf_d = Regs {
            eax: 0x21f,
            ebx: 0x240,
            ecx: 0xa88,
            edx: 0,
        };
        let raw = RawLeaves {
            leaf_0: Regs {
                eax: 0xd,
                ebx: 0x6874_7541,
                ecx: 0x444d_4163,
                edx: 0x6974_6e65,
            },
            leaf_1: Regs {
                eax: 0x663,
                ebx: 0x20800,
                ecx: 0xf6f8_320b,
                edx: 0x1fcb_fbfd,
            },
            leaf_15: leaf_d,
            leaf_16: leaf_d,
            leaf_4000_0000: Regs {
                eax: 0x4000_0001,
                ebx: 0x5447_4354,
                ecx: 0x4354_4743,
                edx: 0x4743_5447,
            },
            leaf_4000_0010: leaf_d,
        };
        let rates = decode(&raw);
        assert_eq!(rates.crystal.hz(), None);
        assert_eq!(rates.base.hz(), None);
        assert_eq!(
            rates.hypervisor,
            HypervisorTiming::Absent(Absent::BeyondHypervisorMaxLeaf {
                vendor: Signature(*b"TCGTCGTCGTCG"),
                max: 0x4000_0001
            })
        );
    }

    #[test]
    fn zero_fields_are_not_enumerated() {
        let mut raw = all_leaves(b"VMwareVMware");
        raw.leaf_15.ecx = 0;
        assert_eq!(
            decode(&raw).crystal,
            Crystal::RatioOnly {
                numerator: 216,
                denominator: 2
            }
        );
        assert_eq!(decode(&raw).crystal.hz(), None, "no crystal, no rate");
        raw.leaf_15.ebx = 0;
        assert_eq!(decode(&raw).crystal, Crystal::Absent(Absent::NotEnumerated));
        // A zero denominator must not divide (and says nothing).
        let mut raw = all_leaves(b"VMwareVMware");
        raw.leaf_15.eax = 0;
        assert_eq!(decode(&raw).crystal, Crystal::Absent(Absent::NotEnumerated));
        // 0x16: only EAX[15:0] is the frequency.
        raw.leaf_16.eax = 0xffff_0000;
        assert_eq!(
            decode(&raw).base,
            BaseFrequency::Absent(Absent::NotEnumerated)
        );
        raw.leaf_16.eax = 0x0001_0a28;
        assert_eq!(decode(&raw).base, BaseFrequency::Mhz(2600));
        raw.leaf_4000_0010.eax = 0;
        assert_eq!(
            decode(&raw).hypervisor,
            HypervisorTiming::Absent(Absent::NotEnumerated)
        );
    }

    #[test]
    fn ratio_arithmetic_does_not_overflow() {
        assert_eq!(ratio_hz(24_000_000, 216, 2), 2_592_000_000);
        // Multiply before dividing: 19.2 MHz × 3/2 is exact.
        assert_eq!(ratio_hz(19_200_000, 3, 2), 28_800_000);
        assert_eq!(ratio_hz(25_000_000, 1, 3), 8_333_333, "rounded down");
        assert_eq!(ratio_hz(25_000_001, 3, 2), 37_500_001, "not 37_500_000");
        assert_eq!(
            ratio_hz(u32::MAX, u32::MAX, 1),
            u64::from(u32::MAX) * u64::from(u32::MAX)
        );
        assert_eq!(ratio_hz(u32::MAX, u32::MAX, u32::MAX), u64::from(u32::MAX));
        assert_eq!(ratio_hz(u32::MAX, 1, u32::MAX), 1);
        let mut raw = all_leaves(b"VMwareVMware");
        raw.leaf_15 = Regs {
            eax: 1,
            ebx: u32::MAX,
            ecx: u32::MAX,
            edx: 0,
        };
        assert_eq!(decode(&raw).crystal.hz(), Some(0xffff_fffe_0000_0001));
        // The hypervisor leaf's kHz cannot overflow either.
        raw.leaf_4000_0010.eax = u32::MAX;
        assert_eq!(
            decode(&raw).hypervisor.hz(),
            Some(u64::from(u32::MAX) * 1000)
        );
    }

    #[test]
    fn hypervisor_leaf_needs_bit_max_leaf_and_a_known_vendor() {
        // All three gates open, for every known vendor.
        for vendor in TIMING_LEAF_VENDORS {
            let rates = decode(&all_leaves(vendor));
            assert_eq!(rates.hypervisor.hz(), Some(2_596_148_000), "{vendor:?}");
        }
        // Hypervisor bit clear: the 0x4000_0000 range is not looked at, even
        // if it reads like KVM (Intel answers it with the top basic leaf).
        let mut raw = all_leaves(b"KVMKVMKVM\0\0\0");
        raw.leaf_1.ecx = !LEAF_1_ECX_HYPERVISOR;
        assert_eq!(
            decode(&raw).hypervisor,
            HypervisorTiming::Absent(Absent::NoHypervisor)
        );
        // The hypervisor's max leaf stops short (KVM's usual 0x4000_0001).
        let mut raw = all_leaves(b"KVMKVMKVM\0\0\0");
        raw.leaf_4000_0000.eax = 0x4000_0001;
        assert_eq!(
            decode(&raw).hypervisor,
            HypervisorTiming::Absent(Absent::BeyondHypervisorMaxLeaf {
                vendor: Signature(*b"KVMKVMKVM\0\0\0"),
                max: 0x4000_0001
            })
        );
        raw.leaf_4000_0000.eax = 0x4000_000f;
        assert_eq!(decode(&raw).hypervisor.hz(), None, "one below");
        raw.leaf_4000_0000.eax = 0x4000_0100;
        assert_eq!(decode(&raw).hypervisor.hz(), Some(2_596_148_000), "above");
        // A vendor whose 0x4000_0010 means something else.
        let raw = all_leaves(b"XenVMMXenVMM");
        assert_eq!(
            decode(&raw).hypervisor,
            HypervisorTiming::Absent(Absent::UnknownHypervisor(Signature(*b"XenVMMXenVMM")))
        );
        // KVM without its NUL padding is someone else.
        let raw = all_leaves(b"KVMKVMKVMKVM");
        assert_eq!(decode(&raw).hypervisor.hz(), None);
    }

    #[test]
    fn signatures_print_escaped() {
        assert_eq!(Signature(*b"KVMKVMKVM\0\0\0").to_string(), "KVMKVMKVM");
        assert_eq!(
            Signature(*b"a\0b\x7f\xffcdefgh\0").to_string(),
            "a\\x00b\\x7f\\xffcdefgh"
        );
        assert_eq!(Signature([0; 12]).to_string(), "");
    }

    #[test]
    fn deviation_is_relative_to_the_measurement() {
        assert_eq!(deviation_ppm(2_600_000_000, 2_596_148_000), Some(1483));
        assert_eq!(deviation_ppm(2_596_148_000, 2_600_000_000), Some(-1481));
        assert_eq!(deviation_ppm(101, 100), Some(10_000));
        assert_eq!(deviation_ppm(1, 0), None);
        assert_eq!(deviation_ppm(u64::MAX, 1), Some(i64::MAX), "saturates");
        assert_eq!(deviation_ppm(0, u64::MAX), Some(-1_000_000));
    }

    fn warnings(check: &CrossCheck) -> Vec<(u32, Option<i64>)> {
        check
            .disagreements()
            .map(|d| (d.leaf, d.deviation_ppm))
            .collect()
    }

    #[test]
    fn tolerances_are_one_percent_and_five_for_the_nominal_leaf() {
        // Every source states exactly 1 GHz.
        let mut raw = all_leaves(b"VMwareVMware");
        raw.leaf_15 = Regs {
            eax: 1,
            ebx: 40,
            ecx: 25_000_000,
            edx: 0,
        };
        raw.leaf_16.eax = 1000;
        raw.leaf_4000_0010.eax = 1_000_000;
        let cpuid = decode(&raw);
        let at = |measured_hz| CrossCheck { measured_hz, cpuid };
        assert_eq!(warnings(&at(1_000_000_000)), []);
        // 1 GHz is +1 % of 990.099… MHz: exactly at the bound is no warning.
        assert_eq!(warnings(&at(990_099_010)), [], "+0.99999 %");
        assert_eq!(
            warnings(&at(990_099_000)),
            [(0x15, Some(10_000)), (0x4000_0010, Some(10_000))],
            "+1.00001 % (truncated to 10000 ppm, still beyond)"
        );
        // Below: 1 GHz is -1 % of 1010.101… MHz.
        assert_eq!(warnings(&at(1_010_101_010)), []);
        assert_eq!(
            warnings(&at(1_010_102_000)).len(),
            2,
            "-1.0001 %: both exact leaves"
        );
        // 0x16 has 5 %.
        assert_eq!(warnings(&at(952_380_953)).len(), 2, "+5.0 %: 0x16 quiet");
        assert_eq!(
            warnings(&at(952_000_000)),
            [
                (0x15, Some(50_420)),
                (0x16, Some(50_420)),
                (0x4000_0010, Some(50_420))
            ]
        );
        // Without a PIT rate, every stated rate is a disagreement.
        assert_eq!(
            warnings(&at(0)),
            [(0x15, None), (0x16, None), (0x4000_0010, None)]
        );
        // Absent leaves never warn.
        let none = CrossCheck {
            measured_hz: 1,
            cpuid: decode(&RawLeaves::default()),
        };
        assert_eq!(warnings(&none), []);
    }

    fn check_of(raw: &RawLeaves) -> alloc::string::String {
        CrossCheck {
            measured_hz: 1,
            cpuid: decode(raw),
        }
        .to_string()
    }

    #[test]
    fn report_line() {
        // QEMU 7.2 TCG, default CPU (qemu64) and `-cpu max`: nothing to
        // compare; the hypervisor leaf is TCG's own, up to 0x4000_0001.
        let mut raw = all_leaves(b"TCGTCGTCGTCG");
        raw.leaf_0.eax = 0xd;
        raw.leaf_4000_0000.eax = 0x4000_0001;
        let check = CrossCheck {
            measured_hz: 2_596_182_000,
            cpuid: decode(&raw),
        };
        assert_eq!(
            check.to_string(),
            "CPUID 0x15: absent (max leaf 0xd); 0x16: absent (max leaf 0xd); \
             0x40000010: absent (hypervisor \"TCGTCGTCGTCG\" max leaf 0x40000001)"
        );
        // Bare metal.
        raw.leaf_1.ecx = 0;
        assert!(
            check_of(&raw).ends_with("; 0x40000010: absent (no hypervisor)"),
            "{}",
            check_of(&raw)
        );
        // Everything present.
        let check = CrossCheck {
            measured_hz: 2_596_148_000,
            cpuid: decode(&all_leaves(b"KVMKVMKVM\0\0\0")),
        };
        assert_eq!(
            check.to_string(),
            "CPUID 0x15: 2592 MHz = 24 MHz × 216/2 (-0.160 %); \
             0x16: 2600 MHz base (+0.148 %); \
             0x40000010: 2596.148 MHz from KVMKVMKVM, bus 1000 MHz (+0.000 %)"
        );
        let mut raw = all_leaves(b"XenVMMXenVMM");
        raw.leaf_15.ecx = 0;
        raw.leaf_16.eax = 0;
        let check = CrossCheck {
            measured_hz: 0,
            cpuid: decode(&raw),
        };
        assert_eq!(
            check.to_string(),
            "CPUID 0x15: ratio 216/2, crystal not enumerated; 0x16: not enumerated; \
             0x40000010: ignored (hypervisor \"XenVMMXenVMM\" does not define it)"
        );
        raw.leaf_4000_0000.eax = 0x4000_0001;
        raw.leaf_1.ecx = LEAF_1_ECX_HYPERVISOR;
        let check = CrossCheck {
            measured_hz: 0,
            cpuid: decode(&raw),
        };
        assert!(
            check
                .to_string()
                .ends_with("0x40000010: absent (hypervisor \"XenVMMXenVMM\" max leaf 0x40000001)")
        );
        let raw = all_leaves(b"VMwareVMware");
        let check = CrossCheck {
            measured_hz: 0,
            cpuid: decode(&raw),
        };
        assert!(
            check.to_string().contains("(no PIT rate to compare)"),
            "{check}"
        );
    }

    #[test]
    fn warning_line() {
        let warning = Disagreement {
            leaf: 0x15,
            claimed_hz: 2_400_000_000,
            measured_hz: 2_596_182_000,
            deviation_ppm: deviation_ppm(2_400_000_000, 2_596_182_000),
            tolerance_ppm: EXACT_TOLERANCE_PPM,
        };
        assert_eq!(
            warning.to_string(),
            "TSC: CPUID 0x15 says 2400 MHz, -7.557 % from the PIT's 2596.182 MHz \
             (tolerance ±1.000 %); keeping the PIT's rate: one of them is wrong"
        );
        let warning = Disagreement {
            measured_hz: 0,
            deviation_ppm: None,
            ..warning
        };
        assert!(
            warning
                .to_string()
                .contains("2400 MHz, not the PIT's 0 MHz")
        );
    }

    #[test]
    fn numbers_print_as_specified() {
        assert_eq!(Mhz(2_600_000_000).to_string(), "2600 MHz");
        assert_eq!(Mhz(2_596_148_999).to_string(), "2596.148 MHz");
        assert_eq!(Mhz(2_596_000_001).to_string(), "2596.000 MHz");
        assert_eq!(Mhz(0).to_string(), "0 MHz");
        assert_eq!(Percent(1483).to_string(), "+0.148 %");
        assert_eq!(Percent(1485).to_string(), "+0.149 %", "half rounds up");
        assert_eq!(Percent(-1481).to_string(), "-0.148 %");
        assert_eq!(Percent(-10_000).to_string(), "-1.000 %");
        assert_eq!(Percent(0).to_string(), "+0.000 %");
        assert_eq!(Percent(i64::MIN).to_string().chars().next(), Some('-'));
        assert_eq!(Percent(-300).unsigned().to_string(), "0.030 %");
        assert_eq!(
            UnsignedPercent(u64::MAX).to_string(),
            "1844674407370955.161 %"
        );
    }
}

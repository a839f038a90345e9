//! `[TIME]`: the TSC calibration and what CPUID says about the TSC rate.

use core::fmt;

use crate::tag::TIME;
use crate::text::{ParseError, decimal, split, tagged};

/// What each CPUID leaf says about the TSC rate:
/// `CPUID 0x15: …; 0x16: …; 0x40000010: …` (the texts are the kernel's,
/// `kernel::tsc_cpuid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuidLeaves<D> {
    /// Leaf 0x15 (TSC/crystal ratio).
    pub leaf_15: D,
    /// Leaf 0x16 (processor base frequency).
    pub leaf_16: D,
    /// Leaf 0x40000010 (hypervisor timing).
    pub leaf_40000010: D,
}

impl<D: fmt::Display> CpuidLeaves<D> {
    /// The same texts behind `&dyn Display`, to fill a [`Tsc`] whose other
    /// parts have other types.
    pub fn as_dyn(&self) -> CpuidLeaves<&dyn fmt::Display> {
        CpuidLeaves {
            leaf_15: &self.leaf_15,
            leaf_16: &self.leaf_16,
            leaf_40000010: &self.leaf_40000010,
        }
    }
}

impl<D: fmt::Display> fmt::Display for CpuidLeaves<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CPUID 0x15: {}; 0x16: {}; 0x40000010: {}",
            self.leaf_15, self.leaf_16, self.leaf_40000010
        )
    }
}

/// The TSC calibration:
/// `[TIME] TSC 2596.159 MHz ±0.020 % (PIT, least disturbed of 7 windows); CPUID 0x15: …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tsc<D> {
    /// The rate (`2596.159 MHz`).
    pub mhz: D,
    /// Its error bound (`0.020 %`).
    pub error: D,
    /// How many PIT windows were measured.
    pub windows: u32,
    /// The CPUID cross-check.
    pub cpuid: CpuidLeaves<D>,
}

const TSC_FORM: &str = "[TIME] TSC F MHz ±B % (PIT, least disturbed of W windows); \
                        CPUID 0x15: …; 0x16: …; 0x40000010: …";

impl<'a> Tsc<&'a str> {
    /// Parses the line: `None` for any line but `[TIME] TSC <digit>…`.
    pub fn parse(line: &'a str) -> Option<Result<Self, ParseError>> {
        let rest = tagged(line, TIME)?.strip_prefix("TSC ")?;
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        Some((|| {
            let (mhz, rest) = split(rest, " ±", TSC_FORM)?;
            let (error, rest) = split(rest, " (PIT, least disturbed of ", TSC_FORM)?;
            let (windows, rest) = split(rest, " windows); CPUID 0x15: ", TSC_FORM)?;
            let (leaf_15, rest) = split(rest, "; 0x16: ", TSC_FORM)?;
            let (leaf_16, leaf_40000010) = split(rest, "; 0x40000010: ", TSC_FORM)?;
            Ok(Self {
                mhz,
                error,
                windows: decimal(windows)
                    .and_then(|w| u32::try_from(w).ok())
                    .ok_or(ParseError::BadValue("windows"))?,
                cpuid: CpuidLeaves {
                    leaf_15,
                    leaf_16,
                    leaf_40000010,
                },
            })
        })())
    }
}

impl<D: fmt::Display> fmt::Display for Tsc<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TIME} TSC {} ±{} (PIT, least disturbed of {} windows); {}",
            self.mhz, self.error, self.windows, self.cpuid
        )
    }
}

crate::report!([D: core::fmt::Display] Tsc<D>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_line_round_trips() {
        let tsc = Tsc {
            mhz: "2596.159 MHz",
            error: "0.020 %",
            windows: 7,
            cpuid: CpuidLeaves {
                leaf_15: "absent (max leaf 0xd)",
                leaf_16: "absent (max leaf 0xd)",
                leaf_40000010: "absent (hypervisor \"TCGTCGTCGTCG\" max leaf 0x40000001)",
            },
        };
        let line = tsc.to_string();
        assert_eq!(
            line,
            "[TIME] TSC 2596.159 MHz ±0.020 % (PIT, least disturbed of 7 windows); \
             CPUID 0x15: absent (max leaf 0xd); 0x16: absent (max leaf 0xd); \
             0x40000010: absent (hypervisor \"TCGTCGTCGTCG\" max leaf 0x40000001)"
        );
        assert_eq!(Tsc::parse(&line), Some(Ok(tsc)));
    }

    #[test]
    fn other_time_lines() {
        assert_eq!(Tsc::parse("[TIME] TSC CPUID leaves: [..]"), None);
        assert_eq!(Tsc::parse("[TIME] WARN TSC: CPUID 0x15 says"), None);
        // The line before the CPUID cross-check existed.
        assert!(matches!(
            Tsc::parse(
                "[TIME] TSC 2596.146 MHz, calibrated against the PIT \
                 (±0.03 %, least disturbed of 7 windows)"
            ),
            Some(Err(_))
        ));
    }
}

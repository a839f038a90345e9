//! The timing rules of AP bring-up, without the hardware: how long the BSP
//! waits after INIT, and when it gives up on APs that do not come online.
//! The mechanism lives in `arch::x86_64::smp`; these rules are pure so they
//! can be tested on the host.
//!
//! **INIT delay.** The MP specification asks for 10 ms between the INIT IPI
//! and the first start-up IPI, for the external-APIC CPUs of the 1990s.
//! Linux skips it on CPUs whose integrated APIC needs no such pause
//! (`smp_quirk_init_udelay`: Intel family 6 and later, AMD family 0Fh and
//! later) and when it runs under a hypervisor, and so does this kernel. At 8
//! CPUs that wait was the largest single part of bring-up.
//!
//! **Deadlines.** APs share the machine — under an emulator, possibly far
//! fewer host cores than virtual CPUs — so a fixed deadline per AP punishes
//! APs that are slow but moving, and one tuned for 8 CPUs loses CPUs at 64.
//! The BSP therefore waits while *any* AP still on its way makes progress
//! (a progress byte changes, or an AP comes online), and gives up on the rest
//! when:
//!
//! - none has made progress for [`STALL_BASE_US`] + [`STALL_PER_CLIMBING_US`]
//!   × (APs still climbing) — [`stall_limit_us`]; or
//! - [`LIMIT_BASE_US`] + [`LIMIT_PER_AP_US`] × (APs started) have passed in
//!   all — [`overall_limit_us`] (2.4 s for 8 APs, 14.7 s for 254; Linux waits
//!   up to 10 s for each AP, one at a time).
//!
//! The stall allowance is generous because only a CPU that never answers
//! pays it, once, while giving up too early loses a CPU for the whole run:
//! with 100 ms, a 32-CPU boot on a host at load average 26 gave up on 11
//! APs that had not been scheduled yet (they arrived later and parked).

/// The vendor of the boot CPU, as far as the INIT-delay rule cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// `GenuineIntel`.
    Intel,
    /// `AuthenticAMD` or `HygonGenuine` (Hygon's are AMD family 18h).
    Amd,
    /// Anything else.
    Other,
}

impl Vendor {
    /// The vendor named by CPUID leaf 0's 12-byte string (EBX, EDX, ECX).
    pub fn from_cpuid(ebx: u32, edx: u32, ecx: u32) -> Self {
        let mut name = [0u8; 12];
        name[0..4].copy_from_slice(&ebx.to_le_bytes());
        name[4..8].copy_from_slice(&edx.to_le_bytes());
        name[8..12].copy_from_slice(&ecx.to_le_bytes());
        match &name {
            b"GenuineIntel" => Self::Intel,
            b"AuthenticAMD" | b"HygonGenuine" => Self::Amd,
            _ => Self::Other,
        }
    }
}

/// The CPU's display family from CPUID leaf 1 EAX (Intel SDM Vol. 2A,
/// CPUID, "Family ID"): the base family, plus the extended family when the
/// base family is 0Fh.
pub const fn display_family(leaf1_eax: u32) -> u32 {
    let base = (leaf1_eax >> 8) & 0xF;
    if base == 0xF {
        base + ((leaf1_eax >> 20) & 0xFF)
    } else {
        base
    }
}

/// The MP specification's wait after INIT, in µs.
pub const LEGACY_INIT_DELAY_US: u64 = 10_000;

/// How long to wait after INIT before the first start-up IPI: none on the
/// CPUs Linux also skips it for (see the module doc), the MP specification's
/// 10 ms otherwise.
pub const fn init_delay_us(vendor: Vendor, family: u32, hypervisor: bool) -> u64 {
    let modern = match vendor {
        Vendor::Intel => family >= 6,
        Vendor::Amd => family >= 0xF,
        Vendor::Other => false,
    };
    if modern || hypervisor {
        0
    } else {
        LEGACY_INIT_DELAY_US
    }
}

/// Stall allowance when no AP is left climbing.
pub const STALL_BASE_US: u64 = 500_000;
/// The stall allowance's share per AP still climbing: the more virtual CPUs
/// share the host's cores, the longer each waits for its turn.
pub const STALL_PER_CLIMBING_US: u64 = 5_000;
/// The overall limit with no AP.
pub const LIMIT_BASE_US: u64 = 2_000_000;
/// The overall limit's share per AP started.
pub const LIMIT_PER_AP_US: u64 = 50_000;

/// How long the BSP waits without progress from any of `climbing` APs.
pub const fn stall_limit_us(climbing: u64) -> u64 {
    STALL_BASE_US.saturating_add(STALL_PER_CLIMBING_US.saturating_mul(climbing))
}

/// How long the BSP waits in all for `started` APs.
pub const fn overall_limit_us(started: u64) -> u64 {
    LIMIT_BASE_US.saturating_add(LIMIT_PER_AP_US.saturating_mul(started))
}

/// What the BSP should do after one look at the APs on their way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every AP is online.
    Done,
    /// Keep waiting.
    Wait,
    /// Give up on the APs still climbing.
    GiveUp,
}

/// The deadline rule of the module doc, applied at `now_us` to a bring-up
/// of `started` APs that began at `start_us`, of which `climbing` are not
/// online yet and the last progress was seen at `last_progress_us`.
pub const fn verdict(
    started: u64,
    climbing: u64,
    start_us: u64,
    last_progress_us: u64,
    now_us: u64,
) -> Verdict {
    if climbing == 0 {
        Verdict::Done
    } else if now_us.saturating_sub(last_progress_us) >= stall_limit_us(climbing)
        || now_us.saturating_sub(start_us) >= overall_limit_us(started)
    {
        Verdict::GiveUp
    } else {
        Verdict::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendor(name: &[u8; 12]) -> Vendor {
        let word = |i: usize| u32::from_le_bytes(name[i..i + 4].try_into().unwrap());
        Vendor::from_cpuid(word(0), word(4), word(8))
    }

    #[test]
    fn vendor_strings() {
        assert_eq!(vendor(b"GenuineIntel"), Vendor::Intel);
        assert_eq!(vendor(b"AuthenticAMD"), Vendor::Amd);
        assert_eq!(vendor(b"HygonGenuine"), Vendor::Amd);
        assert_eq!(vendor(b"CentaurHauls"), Vendor::Other);
    }

    #[test]
    fn family_adds_the_extended_family_only_to_0f() {
        // QEMU's qemu64: family 0Fh, extended 0 (K8).
        assert_eq!(display_family(0x0006_0FB1), 0xF);
        // Zen 2: base 0Fh + extended 08h = 17h.
        assert_eq!(display_family(0x0083_0F10), 0x17);
        // Intel family 6: the extended family field is ignored.
        assert_eq!(display_family(0x0090_06A0), 6);
    }

    #[test]
    fn init_delay_is_skipped_like_linux() {
        assert_eq!(init_delay_us(Vendor::Intel, 6, false), 0);
        assert_eq!(init_delay_us(Vendor::Intel, 5, false), LEGACY_INIT_DELAY_US);
        assert_eq!(init_delay_us(Vendor::Amd, 0xF, false), 0);
        assert_eq!(init_delay_us(Vendor::Amd, 6, false), LEGACY_INIT_DELAY_US);
        assert_eq!(init_delay_us(Vendor::Other, 6, false), LEGACY_INIT_DELAY_US);
        assert_eq!(init_delay_us(Vendor::Other, 0, true), 0);
    }

    #[test]
    fn all_online_is_done_whatever_the_clock() {
        assert_eq!(verdict(8, 0, 0, 0, u64::MAX), Verdict::Done);
    }

    #[test]
    fn progress_keeps_the_bsp_waiting() {
        // 254 APs, 200 still climbing: the stall allowance is 1.5 s.
        assert_eq!(stall_limit_us(200), 1_500_000);
        assert_eq!(verdict(254, 200, 0, 1_000_000, 2_499_999), Verdict::Wait);
        assert_eq!(verdict(254, 200, 0, 1_000_000, 2_500_000), Verdict::GiveUp);
    }

    #[test]
    fn a_never_answering_ap_costs_the_base_stall_plus_its_share() {
        // One AP left (say the fake one), last progress at 5 ms.
        assert_eq!(verdict(8, 1, 0, 5_000, 509_999), Verdict::Wait);
        assert_eq!(verdict(8, 1, 0, 5_000, 510_000), Verdict::GiveUp);
    }

    #[test]
    fn the_overall_limit_ends_even_steady_progress() {
        let limit = overall_limit_us(254);
        assert_eq!(limit, 14_700_000);
        assert_eq!(verdict(254, 3, 0, limit - 1, limit - 1), Verdict::Wait);
        assert_eq!(verdict(254, 3, 0, limit - 1, limit), Verdict::GiveUp);
    }

    #[test]
    fn a_clock_read_before_the_start_does_not_underflow() {
        assert_eq!(verdict(8, 1, 10, 10, 0), Verdict::Wait);
    }
}

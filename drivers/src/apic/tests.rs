//! Host tests: register map, bit positions and encodings against the SDM,
//! the shared [`LocalApic`] logic against a recording fake, and [`XApic`]
//! against an ordinary memory page standing in for the MMIO page.

use std::collections::HashMap;
use std::vec::Vec;

use super::*;

// ---------------------------------------------------------------- registers

#[test]
fn mmio_offsets_match_table_11_1() {
    use Register::*;
    let expected = [
        (Id, 0x020),
        (Version, 0x030),
        (Tpr, 0x080),
        (Apr, 0x090),
        (Ppr, 0x0A0),
        (Eoi, 0x0B0),
        (Rrd, 0x0C0),
        (Ldr, 0x0D0),
        (Dfr, 0x0E0),
        (Svr, 0x0F0),
        (Esr, 0x280),
        (LvtCmci, 0x2F0),
        (IcrLow, 0x300),
        (IcrHigh, 0x310),
        (LvtTimer, 0x320),
        (LvtThermal, 0x330),
        (LvtPerfMon, 0x340),
        (LvtLint0, 0x350),
        (LvtLint1, 0x360),
        (LvtError, 0x370),
        (TimerInitialCount, 0x380),
        (TimerCurrentCount, 0x390),
        (TimerDivide, 0x3E0),
    ];
    assert_eq!(expected.len(), Register::ALL.len());
    for ((reg, offset), listed) in expected.into_iter().zip(Register::ALL) {
        assert_eq!(reg, listed, "ALL is in address order");
        assert_eq!(reg.mmio_offset(), offset, "{reg:?}");
        // 16-byte aligned, inside the page.
        assert_eq!(offset % 16, 0);
        assert!(offset < 0x400);
    }
}

#[test]
fn x2apic_msrs_match_table_11_6() {
    use Register::*;
    let expected = [
        (Id, Some(0x802)),
        (Version, Some(0x803)),
        (Tpr, Some(0x808)),
        (Apr, None),
        (Ppr, Some(0x80A)),
        (Eoi, Some(0x80B)),
        (Rrd, None),
        (Ldr, Some(0x80D)),
        (Dfr, None),
        (Svr, Some(0x80F)),
        (Esr, Some(0x828)),
        (LvtCmci, Some(0x82F)),
        (IcrLow, Some(0x830)),
        (IcrHigh, None),
        (LvtTimer, Some(0x832)),
        (LvtThermal, Some(0x833)),
        (LvtPerfMon, Some(0x834)),
        (LvtLint0, Some(0x835)),
        (LvtLint1, Some(0x836)),
        (LvtError, Some(0x837)),
        (TimerInitialCount, Some(0x838)),
        (TimerCurrentCount, Some(0x839)),
        (TimerDivide, Some(0x83E)),
    ];
    for (reg, msr) in expected {
        assert_eq!(reg.x2apic_msr(), msr, "{reg:?}");
        assert_eq!(reg.exists_in(Mode::X2Apic), msr.is_some());
        assert!(reg.exists_in(Mode::XApic));
        if let Some(msr) = msr {
            assert_eq!(msr, X2APIC_MSR_BASE + reg.mmio_offset() as u32 / 16);
        }
    }
    assert_eq!(X2APIC_ICR_MSR, 0x830);
}

#[test]
fn register_access_modes() {
    use Access::*;
    use Register::*;
    assert_eq!(Eoi.access(Mode::XApic), WriteOnly);
    assert_eq!(Eoi.access(Mode::X2Apic), WriteOnly);
    for reg in [Version, Ppr, TimerCurrentCount] {
        assert_eq!(reg.access(Mode::XApic), ReadOnly);
        assert_eq!(reg.access(Mode::X2Apic), ReadOnly);
    }
    // Hardware-assigned in x2APIC mode only.
    for reg in [Id, Ldr] {
        assert_eq!(reg.access(Mode::XApic), ReadWrite);
        assert_eq!(reg.access(Mode::X2Apic), ReadOnly);
    }
    for reg in [
        Tpr,
        Svr,
        Esr,
        IcrLow,
        LvtTimer,
        TimerInitialCount,
        TimerDivide,
    ] {
        assert_eq!(reg.access(Mode::X2Apic), ReadWrite, "{reg:?}");
    }
}

#[test]
fn register_banks() {
    use RegisterBank::*;
    assert_eq!(Isr.mmio_offset(0), 0x100);
    assert_eq!(Isr.mmio_offset(0x27), 0x110);
    assert_eq!(Isr.mmio_offset(0xFF), 0x170);
    assert_eq!(Tmr.mmio_offset(0x20), 0x190);
    assert_eq!(Irr.mmio_offset(0xFF), 0x270);
    assert_eq!(Isr.x2apic_msr(0), 0x810);
    assert_eq!(Tmr.x2apic_msr(0), 0x818);
    assert_eq!(Irr.x2apic_msr(0x40), 0x822);
    assert_eq!(RegisterBank::bit(0x27), 1 << 7);
    assert_eq!(RegisterBank::bit(0xFF), 1 << 31);
}

#[test]
fn svr_lvt_esr_version_bits() {
    assert_eq!(SpuriousVector::enabled(0xFF).bits(), 0x1FF);
    assert_eq!(SpuriousVector::APIC_ENABLE, 1 << 8);
    assert_eq!(SpuriousVector::FOCUS_DISABLE, 1 << 9);
    assert_eq!(SpuriousVector::EOI_BROADCAST_SUPPRESSION, 1 << 12);
    let svr = SpuriousVector::from_bits(0x1FF);
    assert!(svr.is_enabled());
    assert_eq!(svr.vector(), 0xFF);
    assert!(!SpuriousVector::from_bits(0xFF).is_enabled());

    assert_eq!(LvtEntry::MASKED.bits(), 1 << 16);
    assert_eq!(LvtEntry::fixed(0x31).bits(), 0x31);
    assert_eq!(LvtEntry::fixed(0x31).masked().bits(), 0x1_0031);
    assert_eq!(LvtEntry::new(LvtDeliveryMode::Nmi, 0).bits(), 0b100 << 8);
    assert_eq!(LvtEntry::new(LvtDeliveryMode::ExtInt, 0).bits(), 0b111 << 8);
    assert_eq!(LvtEntry::new(LvtDeliveryMode::Smi, 0).bits(), 0b010 << 8);
    assert_eq!(LvtEntry::new(LvtDeliveryMode::Init, 0).bits(), 0b101 << 8);
    assert_eq!(LvtEntry::DELIVERY_STATUS, 1 << 12);
    assert_eq!(LvtEntry::ACTIVE_LOW, 1 << 13);
    assert_eq!(LvtEntry::REMOTE_IRR, 1 << 14);
    assert_eq!(LvtEntry::LEVEL_TRIGGERED, 1 << 15);
    assert!(LvtEntry::from_bits(0x1_0700).is_masked());

    assert!(ErrorStatus(0).is_empty());
    assert!(ErrorStatus(0xFFFF_FF00).is_empty(), "reserved bits ignored");
    assert_eq!(ErrorStatus::SEND_ILLEGAL_VECTOR, 1 << 5);
    assert_eq!(ErrorStatus::ILLEGAL_REGISTER_ADDRESS, 1 << 7);

    // A typical integrated APIC: version 0x14, 6 LVT entries (max index 5).
    let v = ApicVersion(0x0005_0014);
    assert_eq!(v.version(), 0x14);
    assert_eq!(v.max_lvt_entry(), 5);
    assert!(!v.eoi_broadcast_suppression());
    assert!(ApicVersion(1 << 24).eoi_broadcast_suppression());
}

#[test]
fn apic_base_fields() {
    assert_eq!(ApicBase::MSR, 0x1B);
    assert_eq!(ApicBase::BSP, 1 << 8);
    assert_eq!(ApicBase::X2APIC_ENABLE, 1 << 10);
    assert_eq!(ApicBase::GLOBAL_ENABLE, 1 << 11);
    // What firmware hands the BSP: base 0xFEE00000, EN, BSP.
    let bsp = ApicBase::from_bits(0xFEE0_0900);
    assert!(bsp.is_bsp() && bsp.is_enabled() && !bsp.is_x2apic());
    assert_eq!(bsp.mode(), Some(Mode::XApic));
    assert_eq!(bsp.base().as_u64(), ApicBase::DEFAULT_BASE);
    let ap = ApicBase::from_bits(0xFEE0_0800);
    assert!(!ap.is_bsp());
    assert_eq!(ApicBase::from_bits(0xFEE0_0C00).mode(), Some(Mode::X2Apic));
    assert_eq!(ApicBase::from_bits(0xFEE0_0000).mode(), None);
    // EXTD without EN is the invalid state, not x2APIC.
    assert_eq!(ApicBase::from_bits(0xFEE0_0400).mode(), None);
    // Bits above 51 and below 12 are not part of the base.
    assert_eq!(
        ApicBase::from_bits(0xFFF0_0001_2345_6FFF).base().as_u64(),
        0x1_2345_6000
    );
}

#[test]
fn apic_base_x2apic_transitions() {
    let b = ApicBase::from_bits;
    // xAPIC -> x2APIC: one write, BSP bit carried.
    assert_eq!(
        b(0xFEE0_0900).x2apic_transition(),
        [Some(b(0xFEE0_0D00)), None]
    );
    // Disabled -> xAPIC -> x2APIC: two writes.
    assert_eq!(
        b(0xFEE0_0000).x2apic_transition(),
        [Some(b(0xFEE0_0800)), Some(b(0xFEE0_0C00))]
    );
    // Invalid EXTD-only state: through xAPIC as well.
    assert_eq!(
        b(0xFEE0_0400).x2apic_transition(),
        [Some(b(0xFEE0_0800)), Some(b(0xFEE0_0C00))]
    );
    // Already there: nothing.
    assert_eq!(b(0xFEE0_0C00).x2apic_transition(), [None, None]);
    assert_eq!(b(0xFEE0_0000).with_xapic_enabled(), b(0xFEE0_0800));
    assert_eq!(b(0xFEE0_0400).with_xapic_enabled(), b(0xFEE0_0800));
}

// --------------------------------------------------------------------- CPUID

#[test]
fn cpuid_feature_bits() {
    let none = CpuFeatures { ecx: 0, edx: 0 };
    assert!(!none.apic() && !none.x2apic() && !none.tsc_deadline());
    let x2 = CpuFeatures {
        ecx: 1 << 21,
        edx: 0,
    };
    assert!(x2.x2apic() && !x2.tsc_deadline());
    let tscd = CpuFeatures {
        ecx: 1 << 24,
        edx: 0,
    };
    assert!(tscd.tsc_deadline() && !tscd.x2apic());
    assert!(
        CpuFeatures {
            ecx: 0,
            edx: 1 << 9
        }
        .apic()
    );
    // Neighbouring bits do not leak in.
    let others = CpuFeatures {
        ecx: !((1 << 21) | (1 << 24)),
        edx: !(1 << 9),
    };
    assert!(!others.apic() && !others.x2apic() && !others.tsc_deadline());
}

#[test]
fn cpuid_on_the_build_machine() {
    // Every x86_64 processor has an on-chip APIC.
    assert!(CpuFeatures::read().apic());
    // The wrappers agree with the decoded value.
    assert_eq!(x2apic_supported(), CpuFeatures::read().x2apic());
    assert_eq!(tsc_deadline_supported(), CpuFeatures::read().tsc_deadline());
}

#[test]
fn initial_apic_id_prefers_leaf_0b() {
    // QEMU 10.0 at -smp 264 (measured): the BSP's leaf 01H EBX carries the
    // logical-processor count 264 = 0x108 in bits 23:16 and bit 24 (the
    // count's bit 8) in the APIC ID field; leaf 0BH has the real ID, 0.
    let leaf_01_ebx = (264 << 16) | (8 << 8);
    assert_eq!(leaf_01_ebx >> 24, 1);
    let bsp = ExtendedTopology { ebx: 1, edx: 0 };
    assert_eq!(initial_apic_id_from(leaf_01_ebx, Some(bsp)), 0);
    // IDs above 255 exist only in leaf 0BH.
    let ap = ExtendedTopology { ebx: 1, edx: 263 };
    assert_eq!(initial_apic_id_from((7 << 24) | leaf_01_ebx, Some(ap)), 263);
    // Leaf 0BH absent (highest leaf below 0BH) or not implemented
    // (EBX[15:0] = 0): the 8-bit field.
    assert_eq!(initial_apic_id_from(5 << 24, None), 5);
    let unimplemented = ExtendedTopology {
        ebx: 0xFFFF_0000,
        edx: 9,
    };
    assert_eq!(initial_apic_id_from(5 << 24, Some(unimplemented)), 5);
}

#[test]
fn initial_apic_id_on_the_build_machine() {
    // Below 256 CPUs (any build machine) leaf 01H's 8-bit field is exact.
    let leaf_01 = core::arch::x86_64::__cpuid(1).ebx >> 24;
    assert_eq!(initial_apic_id() & 0xFF, leaf_01);
}

#[test]
fn mode_selection() {
    let xapic_cpu = CpuFeatures {
        ecx: 0,
        edx: 1 << 9,
    };
    let x2apic_cpu = CpuFeatures {
        ecx: 1 << 21,
        edx: 1 << 9,
    };
    let xapic_on = ApicBase::from_bits(0xFEE0_0900);
    let x2apic_on = ApicBase::from_bits(0xFEE0_0D00);
    // QEMU 7.2 TCG: no x2APIC.
    assert_eq!(select_mode(xapic_cpu, xapic_on), Mode::XApic);
    assert_eq!(select_mode(x2apic_cpu, xapic_on), Mode::X2Apic);
    // Firmware already switched (cannot go back without a disable).
    assert_eq!(select_mode(xapic_cpu, x2apic_on), Mode::X2Apic);
}

// ----------------------------------------------------------------------- ICR

#[test]
fn icr_field_positions() {
    use DeliveryMode::*;
    // Delivery mode, bits 10:8.
    for (mode, bits) in [
        (Fixed, 0b000),
        (LowestPriority, 0b001),
        (Smi, 0b010),
        (Nmi, 0b100),
        (Init, 0b101),
        (StartUp, 0b110),
    ] {
        let low = Icr::new(mode, 0, DestinationShorthand::None, 0).low();
        assert_eq!((low >> 8) & 0b111, bits, "{mode:?}");
    }
    // Shorthand, bits 19:18.
    for (shorthand, bits) in [
        (DestinationShorthand::None, 0b00),
        (DestinationShorthand::SelfOnly, 0b01),
        (DestinationShorthand::AllIncludingSelf, 0b10),
        (DestinationShorthand::AllExcludingSelf, 0b11),
    ] {
        let low = Icr::broadcast(0x40, shorthand).low();
        assert_eq!((low >> 18) & 0b11, bits, "{shorthand:?}");
        assert_eq!(low & !(0b11 << 18), 0x4040);
    }
    // Destination mode, bit 11.
    let logical = Icr::fixed(1, 0x30).with_destination_mode(DestinationMode::Logical);
    assert_eq!(logical.low(), 0x4830);
    // Delivery status (bit 12) is never written.
    assert_eq!(Icr::DELIVERY_STATUS, 1 << 12);
    for icr in [Icr::init(1), Icr::startup(1, 8), Icr::fixed(1, 0xFF)] {
        assert_eq!(icr.low() & Icr::DELIVERY_STATUS, 0);
    }
}

#[test]
fn icr_init_encoding() {
    // INIT = 0b101 << 8 = 0x500; level assert = 1 << 14 = 0x4000; edge,
    // physical, no shorthand, vector 0: 0x0000_4500 (the MP spec's value).
    let init = Icr::init(2);
    assert_eq!(init.xapic_words(), (0x0000_4500, 0x0200_0000));
    assert_eq!(init.x2apic_value(), 0x0000_0002_0000_4500);
    // De-assert: level 0, trigger level (1 << 15): 0x8500.
    let deassert = Icr::init_deassert(2);
    assert_eq!(deassert.xapic_words(), (0x0000_8500, 0x0200_0000));
}

#[test]
fn icr_startup_encoding() {
    // Start-up = 0b110 << 8 = 0x600, assert 0x4000, vector = page
    // 0x8000 >> 12 = 0x08.
    let sipi = Icr::startup(1, (0x8000u32 >> 12) as u8);
    assert_eq!(sipi.vector(), 0x08);
    assert_eq!(sipi.xapic_words(), (0x0000_4608, 0x0100_0000));
    assert_eq!(sipi.x2apic_value(), 0x0000_0001_0000_4608);
}

#[test]
fn icr_fixed_encoding() {
    // Fixed = 0, level assert (the SDM: 1 for every mode but INIT
    // de-assert), vector 0x30; destination 3 in bits 31:24 of the high word.
    let ipi = Icr::fixed(3, 0x30);
    assert_eq!(ipi.xapic_words(), (0x0000_4030, 0x0300_0000));
    assert_eq!(ipi.x2apic_value(), 0x0000_0003_0000_4030);
    // 32-bit x2APIC destinations survive intact.
    assert_eq!(
        Icr::fixed(0xDEAD_BEEF, 0x30).x2apic_value(),
        0xDEAD_BEEF_0000_4030
    );
    assert_eq!(Icr::fixed(0xFF, 0x30).xapic_words().1, 0xFF00_0000);
}

#[test]
fn icr_broadcast_and_nmi_encoding() {
    let all_but_me = Icr::broadcast(0x30, DestinationShorthand::AllExcludingSelf);
    assert_eq!(all_but_me.xapic_words(), (0x000C_4030, 0));
    assert_eq!(all_but_me.x2apic_value(), 0x000C_4030);
    let all = Icr::broadcast(0x30, DestinationShorthand::AllIncludingSelf);
    assert_eq!(all.low(), 0x0008_4030);
    let me = Icr::broadcast(0x30, DestinationShorthand::SelfOnly);
    assert_eq!(me.low(), 0x0004_4030);
    assert_eq!(Icr::nmi(5).xapic_words(), (0x0000_4400, 0x0500_0000));
}

#[test]
fn icr_check_rejects_invalid_combinations() {
    use DestinationShorthand::*;
    assert_eq!(
        Icr::fixed(1, 0x0F).check(false),
        Err(ApicError::IllegalVector(0x0F))
    );
    assert_eq!(Icr::fixed(1, 0x10).check(false), Ok(()));
    // INIT/SIPI use vector 0 / a page number below 16: allowed.
    assert_eq!(Icr::init(1).check(false), Ok(()));
    assert_eq!(Icr::startup(1, 0x08).check(true), Ok(()));
    // Self shorthand is for fixed delivery only.
    assert_eq!(
        Icr::new(DeliveryMode::Init, 0, SelfOnly, 0).check(false),
        Err(ApicError::InvalidCombination)
    );
    assert_eq!(
        Icr::new(DeliveryMode::Nmi, 0, SelfOnly, 0).check(true),
        Err(ApicError::InvalidCombination)
    );
    assert_eq!(Icr::broadcast(0x30, SelfOnly).check(false), Ok(()));
    assert_eq!(
        Icr::new(DeliveryMode::LowestPriority, 0x30, AllIncludingSelf, 0).check(false),
        Err(ApicError::InvalidCombination)
    );
    // INIT de-assert: xAPIC only.
    assert_eq!(Icr::init_deassert(1).check(false), Ok(()));
    assert_eq!(
        Icr::init_deassert(1).check(true),
        Err(ApicError::InvalidCombination)
    );
    // 8-bit xAPIC destinations.
    assert_eq!(Icr::fixed(0xFF, 0x30).check(false), Ok(()));
    assert_eq!(
        Icr::fixed(0x100, 0x30).check(false),
        Err(ApicError::DestinationOutOfRange(0x100))
    );
    assert_eq!(Icr::fixed(0x100, 0x30).check(true), Ok(()));
    // The destination is ignored with a shorthand.
    assert_eq!(Icr::broadcast(0x30, AllExcludingSelf).check(false), Ok(()));
}

// --------------------------------------------------------------------- timer

#[test]
fn lvt_timer_encoding() {
    // Vector 0x20, periodic (0b01 << 17), unmasked.
    let periodic = LvtTimer::new(0x20, TimerMode::Periodic);
    assert_eq!(periodic.bits(), 0x20 | 1 << 17);
    assert_eq!(periodic.bits(), 0x0002_0020);
    assert_eq!(LvtTimer::new(0x20, TimerMode::OneShot).bits(), 0x20);
    assert_eq!(
        LvtTimer::new(0x20, TimerMode::TscDeadline).bits(),
        0x20 | 0b10 << 17
    );
    // Mask, bit 16.
    let masked = periodic.masked();
    assert_eq!(masked.bits(), 0x0003_0020);
    assert!(masked.is_masked() && !periodic.is_masked());
    for mode in [
        TimerMode::OneShot,
        TimerMode::Periodic,
        TimerMode::TscDeadline,
    ] {
        let lvt = LvtTimer::new(0xEF, mode);
        assert_eq!(lvt.mode(), Some(mode));
        assert_eq!(lvt.vector(), 0xEF);
        assert_eq!(lvt.masked().mode(), Some(mode));
    }
    assert_eq!(LvtTimer::from_bits(0b11 << 17).mode(), None);
}

#[test]
fn timer_divide_encoding() {
    // Figure 11-10: bits 3, 1, 0.
    use TimerDivide::*;
    let expected = [
        (By1, 0b1011, 1),
        (By2, 0b0000, 2),
        (By4, 0b0001, 4),
        (By8, 0b0010, 8),
        (By16, 0b0011, 16),
        (By32, 0b1000, 32),
        (By64, 0b1001, 64),
        (By128, 0b1010, 128),
    ];
    for ((divide, bits, divisor), listed) in expected.into_iter().zip(TimerDivide::ALL) {
        assert_eq!(divide, listed);
        assert_eq!(divide.bits(), bits, "{divide:?}");
        assert_eq!(divide.divisor(), divisor);
        assert_eq!(divide.bits() & 0b0100, 0, "bit 2 is reserved");
        assert_eq!(TimerDivide::from_bits(bits), divide);
        // Reserved bit 2 and upper bits are ignored when decoding.
        assert_eq!(TimerDivide::from_bits(bits | 0xFFFF_FFF4), divide);
    }
}

#[test]
fn periodic_initial_counts() {
    // 1 GHz bus / 16 = 62.5 MHz at 100 Hz.
    assert_eq!(periodic_initial_count(62_500_000, 100), Ok(625_000));
    // QEMU's 1 GHz APIC clock / 16 as calibrated (rounded to nearest).
    assert_eq!(periodic_initial_count(62_499_956, 100), Ok(625_000));
    assert_eq!(periodic_initial_count(149, 100), Ok(1));
    assert_eq!(
        periodic_initial_count(49, 100),
        Err(ApicError::TimerCountOutOfRange)
    );
    assert_eq!(
        periodic_initial_count(1_000, 0),
        Err(ApicError::TimerCountOutOfRange)
    );
    assert_eq!(periodic_initial_count(u64::from(u32::MAX), 1), Ok(u32::MAX));
    assert_eq!(
        periodic_initial_count(u64::from(u32::MAX) + 1, 1),
        Err(ApicError::TimerCountOutOfRange)
    );
    assert_eq!(IA32_TSC_DEADLINE, 0x6E0);
}

// ------------------------------------------------- shared logic, on a fake

/// Records every access; registers read back what was written.
struct FakeApic {
    mode: Mode,
    regs: HashMap<Register, u32>,
    banks: HashMap<(RegisterBank, u8), u32>,
    writes: Vec<(Register, u32)>,
    sent: Vec<Icr>,
}

impl FakeApic {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            regs: HashMap::new(),
            banks: HashMap::new(),
            writes: Vec::new(),
            sent: Vec::new(),
        }
    }
}

impl LocalApic for FakeApic {
    fn mode(&self) -> Mode {
        self.mode
    }

    fn read(&self, reg: Register) -> u32 {
        assert!(reg.exists_in(self.mode), "{reg:?}");
        self.regs.get(&reg).copied().unwrap_or(0)
    }

    unsafe fn write(&mut self, reg: Register, value: u32) {
        assert!(reg.exists_in(self.mode), "{reg:?}");
        assert_ne!(reg.access(self.mode), Access::ReadOnly, "{reg:?}");
        if self.mode == Mode::X2Apic && matches!(reg, Register::Eoi | Register::Esr) {
            assert_eq!(value, 0, "x2APIC {reg:?} accepts only 0");
        }
        self.regs.insert(reg, value);
        self.writes.push((reg, value));
    }

    fn read_bank(&self, bank: RegisterBank, vector: u8) -> u32 {
        self.banks.get(&(bank, vector / 32)).copied().unwrap_or(0)
    }

    unsafe fn send_ipi(&mut self, icr: Icr) -> Result<(), ApicError> {
        icr.check(self.mode == Mode::X2Apic)?;
        self.sent.push(icr);
        Ok(())
    }
}

#[test]
fn enable_sequence() {
    for mode in [Mode::XApic, Mode::X2Apic] {
        let mut apic = FakeApic::new(mode);
        apic.enable(SPURIOUS_VECTOR);
        assert_eq!(
            apic.writes,
            [
                (Register::Svr, 0x1FF),
                (Register::Tpr, 0),
                (Register::LvtLint0, 0x1_0000),
                (Register::LvtLint1, 0x1_0000),
                (Register::LvtError, 0x1_0000),
                (Register::LvtTimer, 0x1_0000),
                (Register::TimerInitialCount, 0),
                (Register::Esr, 0),
                (Register::Esr, 0),
            ],
            "{mode:?}"
        );
    }
}

#[test]
fn id_in_both_modes() {
    let mut x = FakeApic::new(Mode::XApic);
    x.regs.insert(Register::Id, 0x0300_0000);
    assert_eq!(x.id(), 3);
    let mut x2 = FakeApic::new(Mode::X2Apic);
    x2.regs.insert(Register::Id, 0x0001_0003);
    assert_eq!(x2.id(), 0x1_0003);
}

#[test]
fn eoi_writes_zero() {
    for mode in [Mode::XApic, Mode::X2Apic] {
        let mut apic = FakeApic::new(mode);
        apic.eoi();
        assert_eq!(apic.writes, [(Register::Eoi, 0)]);
    }
}

#[test]
fn error_status_writes_then_reads() {
    let mut apic = FakeApic::new(Mode::X2Apic);
    assert!(apic.error_status().is_empty());
    assert_eq!(apic.writes, [(Register::Esr, 0)]);
}

#[test]
fn periodic_timer_sequence() {
    let mut apic = FakeApic::new(Mode::XApic);
    apic.start_periodic_timer(0x20, TimerDivide::By16, 625_000);
    assert_eq!(
        apic.writes,
        [
            (Register::TimerDivide, 0b0011),
            (Register::LvtTimer, 0x0002_0020),
            (Register::TimerInitialCount, 625_000),
        ]
    );
    apic.writes.clear();
    apic.stop_timer();
    assert_eq!(
        apic.writes,
        [
            (Register::TimerInitialCount, 0),
            (Register::LvtTimer, 0x0003_0020),
        ]
    );
    apic.regs.insert(Register::TimerCurrentCount, 1234);
    assert_eq!(apic.timer_current_count(), 1234);
}

#[test]
fn fixed_ipis_and_in_service() {
    let mut apic = FakeApic::new(Mode::XApic);
    apic.send_fixed_ipi(3, 0x30).unwrap();
    apic.broadcast_fixed_ipi(0x30, DestinationShorthand::AllExcludingSelf)
        .unwrap();
    assert_eq!(
        apic.sent,
        [
            Icr::fixed(3, 0x30),
            Icr::broadcast(0x30, DestinationShorthand::AllExcludingSelf)
        ]
    );
    assert_eq!(
        apic.send_fixed_ipi(300, 0x30),
        Err(ApicError::DestinationOutOfRange(300))
    );
    apic.banks.insert((RegisterBank::Isr, 1), 1 << 7);
    assert!(apic.in_service(0x27));
    assert!(!apic.in_service(0x26));
    assert!(!apic.in_service(0x07));
}

// ------------------------------------------- XApic on a stand-in MMIO page

#[repr(C, align(4096))]
struct Page([u32; 1024]);

/// A heap page handed to [`XApic`] as its "MMIO" page.
struct FakePage(*mut Page);

impl FakePage {
    fn new() -> Self {
        Self(Box::into_raw(Box::new(Page([0; 1024]))))
    }

    fn addr(&self) -> VirtAddr {
        VirtAddr::from_ptr(self.0)
    }

    fn get(&self, offset: usize) -> u32 {
        // SAFETY: in bounds of the live page; volatile like the driver's
        // accesses through the same raw pointer.
        unsafe { self.0.cast::<u32>().add(offset / 4).read_volatile() }
    }

    fn set(&self, offset: usize, value: u32) {
        // SAFETY: as in `get`.
        unsafe { self.0.cast::<u32>().add(offset / 4).write_volatile(value) }
    }
}

impl Drop for FakePage {
    fn drop(&mut self) {
        // SAFETY: from `Box::into_raw` in `new`; the XApic using it is gone.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

#[test]
fn xapic_mmio_accesses() {
    let page = FakePage::new();
    // SAFETY: the page is live, aligned and ours for the whole test.
    let mut apic = unsafe { XApic::new(page.addr()) };
    page.set(0x20, 0x0700_0000);
    assert_eq!(apic.id(), 7);
    apic.enable(0xFF);
    assert_eq!(page.get(0xF0), 0x1FF);
    assert_eq!(page.get(0x350), 0x1_0000);
    assert_eq!(page.get(0x360), 0x1_0000);
    apic.start_periodic_timer(0x20, TimerDivide::By16, 625_000);
    assert_eq!(page.get(0x3E0), 0b0011);
    assert_eq!(page.get(0x320), 0x0002_0020);
    assert_eq!(page.get(0x380), 625_000);
    page.set(0x110, 1 << 7);
    assert!(apic.in_service(0x27));
}

#[test]
fn xapic_sends_high_then_low() {
    let page = FakePage::new();
    // SAFETY: as above.
    let mut apic = unsafe { XApic::new(page.addr()) };
    // SAFETY: the "APIC" is a plain page: nothing is interrupted.
    unsafe { apic.send_ipi(Icr::startup(1, 0x08)) }.unwrap();
    assert_eq!(page.get(0x300), 0x0000_4608);
    assert_eq!(page.get(0x310), 0x0100_0000);
    apic.send_fixed_ipi(3, 0x30).unwrap();
    assert_eq!((page.get(0x300), page.get(0x310)), (0x4030, 0x0300_0000));
}

#[test]
fn xapic_delivery_timeout_instead_of_hang() {
    let page = FakePage::new();
    // SAFETY: as above.
    let mut apic = unsafe { XApic::new(page.addr()) };
    // A previous IPI that never completes.
    page.set(0x300, Icr::DELIVERY_STATUS);
    assert_eq!(
        apic.send_fixed_ipi(3, 0x30),
        Err(ApicError::DeliveryTimeout {
            polls: ICR_POLL_LIMIT
        })
    );
    // Nothing was written.
    assert_eq!(page.get(0x310), 0);
    assert_eq!(page.get(0x300), Icr::DELIVERY_STATUS);
}

#[test]
fn xapic_rejects_before_writing() {
    let page = FakePage::new();
    // SAFETY: as above.
    let mut apic = unsafe { XApic::new(page.addr()) };
    assert_eq!(
        apic.send_fixed_ipi(256, 0x30),
        Err(ApicError::DestinationOutOfRange(256))
    );
    assert_eq!(
        apic.send_fixed_ipi(1, 0x02),
        Err(ApicError::IllegalVector(2))
    );
    assert_eq!((page.get(0x300), page.get(0x310)), (0, 0));
}

#[test]
fn lapic_dispatches_to_the_implementation() {
    let page = FakePage::new();
    // SAFETY: as above.
    let mut lapic = Lapic::XApic(unsafe { XApic::new(page.addr()) });
    assert_eq!(lapic.mode(), Mode::XApic);
    page.set(0x20, 0x0200_0000);
    assert_eq!(lapic.id(), 2);
    lapic.eoi();
    lapic.send_fixed_ipi(1, 0x30).unwrap();
    assert_eq!(page.get(0x310), 0x0100_0000);
}

#[test]
fn errors_display() {
    let msg = ApicError::DeliveryTimeout { polls: 9 }.to_string();
    assert!(msg.contains("9"), "{msg}");
    let msg = ApicError::DestinationOutOfRange(300).to_string();
    assert!(msg.contains("300"), "{msg}");
}

#[test]
fn timer_mode_prefers_tsc_deadline_when_offered() {
    let without = CpuFeatures {
        ecx: 0,
        edx: CpuFeatures::EDX_APIC,
    };
    let with = CpuFeatures {
        ecx: 1 << 24,
        edx: CpuFeatures::EDX_APIC,
    };
    assert_eq!(choose_timer_mode(without), TimerMode::Periodic);
    assert_eq!(choose_timer_mode(with), TimerMode::TscDeadline);
}

#[test]
fn timer_windows_rate_and_error() {
    // 10 ms at 2.6 GHz, QEMU's 62.5 MHz timer: 625,000 counts.
    let w = TimerWindow {
        counts: 625_000,
        tsc_elapsed: 26_000_000,
        slack: 2_600,
    };
    assert_eq!(w.rate(2_600_000_000), Some(62_500_000));
    assert_eq!(w.error_ppm(), 100);
    let empty = TimerWindow {
        counts: 0,
        tsc_elapsed: 0,
        slack: 0,
    };
    assert_eq!(empty.rate(1), None);
    assert_eq!(empty.error_ppm(), u64::MAX);
    // No overflow at the extremes.
    let huge = TimerWindow {
        counts: u64::from(u32::MAX),
        tsc_elapsed: 1,
        slack: u64::MAX,
    };
    assert!(huge.rate(u64::MAX).is_some());
    assert!(huge.error_ppm() > 0);
}

#[test]
fn the_least_disturbed_timer_window_wins_over_the_median() {
    let quiet = TimerWindow {
        counts: 625_000,
        tsc_elapsed: 26_000_000,
        slack: 500,
    };
    // A vCPU descheduled inside a bracket: the count is read late, the
    // slack shows it.
    let disturbed = TimerWindow {
        counts: 743_000,
        tsc_elapsed: 26_000_000,
        slack: 3_000_000,
    };
    let windows = [disturbed, quiet, disturbed, disturbed, disturbed];
    assert_eq!(least_disturbed_window(&windows), Some(quiet));
    assert_eq!(least_disturbed_window(&[]), None);
}

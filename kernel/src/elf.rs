//! A strict parser for the user programs' ELF64 x86-64 executables.
//!
//! [`parse`] reads the file header and program headers of a statically
//! linked executable (`ET_EXEC`) and returns its loadable segments and entry
//! point, or the first thing wrong with it as an [`ElfError`]. It only
//! *describes* the image: mapping and copying is the kernel binary's job.
//! Everything is bounds-checked with checked arithmetic: a malformed file is
//! an error, never a panic.
//!
//! What is accepted:
//! - `\x7fELF`, 64-bit, little-endian, ELF version 1, machine x86-64,
//!   `e_phentsize` = 56, 1..=[`MAX_PROGRAM_HEADERS`] program headers, all of
//!   them inside the file;
//! - `PT_LOAD` segments whose alignment is a power of two of at least a page
//!   with `p_vaddr ≡ p_offset (mod page)`, `p_filesz <= p_memsz`, file bytes
//!   inside the file, addresses inside the user window passed in, not
//!   writable and executable at once, and no two of them sharing a page;
//! - an entry point inside an executable segment.
//!
//! `PT_INTERP`/`PT_DYNAMIC` (dynamic linking) and `PT_TLS` are refused;
//! other segment types (`PT_GNU_STACK`, notes, ...) are ignored, and so are
//! `PT_LOAD` segments with `p_memsz` = 0.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

/// The most program headers a file may have.
pub const MAX_PROGRAM_HEADERS: u16 = 64;

const PAGE: u64 = 4096;
const HEADER_SIZE: usize = 64;
const PHENT_SIZE: u16 = 56;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_TLS: u32 = 7;

const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// The access rights of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentFlags {
    /// `PF_R`.
    pub readable: bool,
    /// `PF_W`.
    pub writable: bool,
    /// `PF_X`.
    pub executable: bool,
}

/// A loadable segment: `memsz` bytes at `vaddr`, the first `data.len()` of
/// them from the file, the rest zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Where the segment starts (need not be page aligned).
    pub vaddr: u64,
    /// Its size in memory (at least `data.len()`).
    pub memsz: u64,
    /// The bytes from the file.
    pub data: &'a [u8],
    /// Its access rights.
    pub flags: SegmentFlags,
}

impl Segment<'_> {
    /// The page-aligned range of addresses the segment touches.
    pub fn page_range(&self) -> Range<u64> {
        let start = self.vaddr & !(PAGE - 1);
        // `parse` checked that `vaddr + memsz` lies inside the window, so
        // neither this sum nor the rounding can overflow.
        let end = (self.vaddr + self.memsz).next_multiple_of(PAGE);
        start..end
    }
}

/// A parsed executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executable<'a> {
    /// The entry point.
    pub entry: u64,
    /// The loadable segments, in file order.
    pub segments: Vec<Segment<'a>>,
}

/// What is wrong with an ELF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than the 64-byte ELF header.
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// The first four bytes are not `\x7fELF`.
    BadMagic,
    /// Not a 64-bit (`ELFCLASS64`) file.
    NotElf64 {
        /// `e_ident[EI_CLASS]`.
        class: u8,
    },
    /// Not little-endian.
    NotLittleEndian {
        /// `e_ident[EI_DATA]`.
        data: u8,
    },
    /// ELF version is not 1 (in `e_ident` or `e_version`).
    BadVersion {
        /// The version found.
        version: u32,
    },
    /// Not for x86-64.
    WrongMachine {
        /// `e_machine`.
        machine: u16,
    },
    /// Not a static executable (`ET_EXEC`).
    NotExecutable {
        /// `e_type`.
        kind: u16,
    },
    /// `e_phentsize` is not 56.
    BadProgramHeaderSize {
        /// `e_phentsize`.
        size: u16,
    },
    /// No program headers, or more than [`MAX_PROGRAM_HEADERS`].
    BadProgramHeaderCount {
        /// `e_phnum`.
        count: u16,
    },
    /// The program header table is not inside the file.
    ProgramHeadersOutsideFile,
    /// The file asks for dynamic linking (`PT_INTERP` or `PT_DYNAMIC`).
    DynamicLinking {
        /// The program header's index.
        index: usize,
    },
    /// The file has thread-local storage (`PT_TLS`), which is not supported.
    ThreadLocalStorage {
        /// The program header's index.
        index: usize,
    },
    /// A segment's alignment is not a power of two of at least a page, or
    /// its address and file offset disagree modulo the page size.
    Misaligned {
        /// The program header's index.
        index: usize,
    },
    /// `p_filesz > p_memsz`.
    FileSizeExceedsMemorySize {
        /// The program header's index.
        index: usize,
    },
    /// A segment's file bytes are not inside the file.
    SegmentOutsideFile {
        /// The program header's index.
        index: usize,
    },
    /// A segment is not inside the user window (or its end overflows).
    SegmentOutsideWindow {
        /// The program header's index.
        index: usize,
    },
    /// A segment is writable and executable.
    WritableAndExecutable {
        /// The program header's index.
        index: usize,
    },
    /// Two segments share a page.
    Overlap {
        /// The earlier program header's index.
        first: usize,
        /// The later one's.
        second: usize,
    },
    /// No loadable segment.
    NoLoadableSegment,
    /// The entry point is not inside an executable segment.
    EntryNotExecutable {
        /// `e_entry`.
        entry: u64,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { len } => {
                write!(f, "{len} bytes: too short for an ELF header")
            }
            Self::BadMagic => f.write_str("not an ELF file (bad magic)"),
            Self::NotElf64 { class } => write!(f, "not a 64-bit ELF file (class {class})"),
            Self::NotLittleEndian { data } => {
                write!(f, "not a little-endian ELF file (data encoding {data})")
            }
            Self::BadVersion { version } => write!(f, "unknown ELF version {version}"),
            Self::WrongMachine { machine } => {
                write!(f, "not an x86-64 executable (machine {machine})")
            }
            Self::NotExecutable { kind: ET_DYN } => f.write_str(
                "a position-independent (ET_DYN) file: user programs must be linked \
                 statically at a fixed address (ET_EXEC)",
            ),
            Self::NotExecutable { kind } => {
                write!(f, "not an executable (ELF type {kind})")
            }
            Self::BadProgramHeaderSize { size } => {
                write!(
                    f,
                    "program header entries of {size} bytes, not {PHENT_SIZE}"
                )
            }
            Self::BadProgramHeaderCount { count } => write!(
                f,
                "{count} program headers (1 to {MAX_PROGRAM_HEADERS} accepted)"
            ),
            Self::ProgramHeadersOutsideFile => {
                f.write_str("the program header table lies outside the file")
            }
            Self::DynamicLinking { index } => write!(
                f,
                "program header {index} asks for dynamic linking, which is not supported"
            ),
            Self::ThreadLocalStorage { index } => write!(
                f,
                "program header {index} is thread-local storage, which is not supported"
            ),
            Self::Misaligned { index } => write!(
                f,
                "segment {index} is misaligned (alignment not a power of two of at least \
                 4096, or address and offset differ modulo the page size)"
            ),
            Self::FileSizeExceedsMemorySize { index } => {
                write!(f, "segment {index} has more file bytes than memory bytes")
            }
            Self::SegmentOutsideFile { index } => {
                write!(f, "segment {index}'s bytes lie outside the file")
            }
            Self::SegmentOutsideWindow { index } => {
                write!(f, "segment {index} lies outside the user address window")
            }
            Self::WritableAndExecutable { index } => {
                write!(f, "segment {index} is both writable and executable")
            }
            Self::Overlap { first, second } => {
                write!(f, "segments {first} and {second} share a page")
            }
            Self::NoLoadableSegment => f.write_str("no loadable segment"),
            Self::EntryNotExecutable { entry } => write!(
                f,
                "the entry point {entry:#x} is not inside an executable segment"
            ),
        }
    }
}

impl core::error::Error for ElfError {}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Parses and checks `file`, an executable whose segments must lie inside
/// `window` (the user window: `kernel::user_layout::USER_WINDOW`).
pub fn parse(file: &[u8], window: Range<u64>) -> Result<Executable<'_>, ElfError> {
    if file.len() < HEADER_SIZE {
        return Err(ElfError::TooShort { len: file.len() });
    }
    if file[..4] != *b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if file[4] != 2 {
        return Err(ElfError::NotElf64 { class: file[4] });
    }
    if file[5] != 1 {
        return Err(ElfError::NotLittleEndian { data: file[5] });
    }
    if file[6] != 1 {
        return Err(ElfError::BadVersion {
            version: u32::from(file[6]),
        });
    }
    let kind = u16_at(file, 16);
    let machine = u16_at(file, 18);
    let version = u32_at(file, 20);
    let entry = u64_at(file, 24);
    let phoff = u64_at(file, 32);
    let phentsize = u16_at(file, 54);
    let phnum = u16_at(file, 56);
    if machine != EM_X86_64 {
        return Err(ElfError::WrongMachine { machine });
    }
    if version != 1 {
        return Err(ElfError::BadVersion { version });
    }
    if kind != ET_EXEC {
        return Err(ElfError::NotExecutable { kind });
    }
    if phentsize != PHENT_SIZE {
        return Err(ElfError::BadProgramHeaderSize { size: phentsize });
    }
    if phnum == 0 || phnum > MAX_PROGRAM_HEADERS {
        return Err(ElfError::BadProgramHeaderCount { count: phnum });
    }
    let table_len = u64::from(phnum) * u64::from(PHENT_SIZE);
    let table_start = usize::try_from(phoff).map_err(|_| ElfError::ProgramHeadersOutsideFile)?;
    let table_end = phoff
        .checked_add(table_len)
        .and_then(|end| usize::try_from(end).ok())
        .filter(|end| *end <= file.len())
        .ok_or(ElfError::ProgramHeadersOutsideFile)?;
    let table = &file[table_start..table_end];

    let mut segments: Vec<(usize, Segment<'_>)> = Vec::new();
    for index in 0..usize::from(phnum) {
        let header = &table[index * usize::from(PHENT_SIZE)..][..usize::from(PHENT_SIZE)];
        let p_type = u32_at(header, 0);
        match p_type {
            PT_LOAD => {}
            PT_INTERP | PT_DYNAMIC => return Err(ElfError::DynamicLinking { index }),
            PT_TLS => return Err(ElfError::ThreadLocalStorage { index }),
            _ => continue,
        }
        let p_flags = u32_at(header, 4);
        let offset = u64_at(header, 8);
        let vaddr = u64_at(header, 16);
        let filesz = u64_at(header, 32);
        let memsz = u64_at(header, 40);
        let align = u64_at(header, 48);
        if memsz == 0 {
            continue;
        }
        if !align.is_power_of_two() || align < PAGE || vaddr % PAGE != offset % PAGE {
            return Err(ElfError::Misaligned { index });
        }
        if filesz > memsz {
            return Err(ElfError::FileSizeExceedsMemorySize { index });
        }
        let data = offset
            .checked_add(filesz)
            .and_then(|end| usize::try_from(end).ok())
            .filter(|end| *end <= file.len())
            .map(|end| &file[end - filesz as usize..end])
            .ok_or(ElfError::SegmentOutsideFile { index })?;
        let end = vaddr
            .checked_add(memsz)
            .ok_or(ElfError::SegmentOutsideWindow { index })?;
        if vaddr < window.start || end > window.end {
            return Err(ElfError::SegmentOutsideWindow { index });
        }
        let flags = SegmentFlags {
            readable: p_flags & PF_R != 0,
            writable: p_flags & PF_W != 0,
            executable: p_flags & PF_X != 0,
        };
        if flags.writable && flags.executable {
            return Err(ElfError::WritableAndExecutable { index });
        }
        let segment = Segment {
            vaddr,
            memsz,
            data,
            flags,
        };
        let pages = segment.page_range();
        if let Some((first, _)) = segments.iter().find(|(_, other)| {
            let theirs = other.page_range();
            pages.start < theirs.end && theirs.start < pages.end
        }) {
            return Err(ElfError::Overlap {
                first: *first,
                second: index,
            });
        }
        segments.push((index, segment));
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadableSegment);
    }
    let entry_ok = segments.iter().any(|(_, segment)| {
        segment.flags.executable && entry >= segment.vaddr && entry - segment.vaddr < segment.memsz
    });
    if !entry_ok {
        return Err(ElfError::EntryNotExecutable { entry });
    }
    Ok(Executable {
        entry,
        segments: segments.into_iter().map(|(_, segment)| segment).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const WINDOW: Range<u64> = 0x4000_0000_0000..0x7fff_ffff_f000;
    const BASE: u64 = 0x4000_0010_0000;

    /// A program header: type, flags, offset, vaddr, filesz, memsz, align.
    #[derive(Clone, Copy)]
    struct Ph {
        kind: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
        align: u64,
    }

    fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            kind: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: PAGE,
        }
    }

    /// Code (R+X) at BASE from file offset 0x1000, data (R+W, with bss) two
    /// pages further.
    fn good_headers() -> Vec<Ph> {
        vec![
            load(PF_R | PF_X, 0x1000, BASE, 0x20, 0x20),
            load(PF_R | PF_W, 0x2000, BASE + 0x2000, 0x10, 0x3000),
        ]
    }

    /// An ELF file with these program headers, 0x3000 bytes long.
    fn build(phs: &[Ph], entry: u64) -> Vec<u8> {
        let mut file = vec![0u8; 0x3000];
        file[..4].copy_from_slice(b"\x7fELF");
        file[4] = 2;
        file[5] = 1;
        file[6] = 1;
        file[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        file[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        file[20..24].copy_from_slice(&1u32.to_le_bytes());
        file[24..32].copy_from_slice(&entry.to_le_bytes());
        file[32..40].copy_from_slice(&64u64.to_le_bytes());
        file[52..54].copy_from_slice(&64u16.to_le_bytes());
        file[54..56].copy_from_slice(&PHENT_SIZE.to_le_bytes());
        file[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
        for (i, ph) in phs.iter().enumerate() {
            let at = 64 + i * 56;
            file[at..at + 4].copy_from_slice(&ph.kind.to_le_bytes());
            file[at + 4..at + 8].copy_from_slice(&ph.flags.to_le_bytes());
            file[at + 8..at + 16].copy_from_slice(&ph.offset.to_le_bytes());
            file[at + 16..at + 24].copy_from_slice(&ph.vaddr.to_le_bytes());
            file[at + 24..at + 32].copy_from_slice(&ph.vaddr.to_le_bytes());
            file[at + 32..at + 40].copy_from_slice(&ph.filesz.to_le_bytes());
            file[at + 40..at + 48].copy_from_slice(&ph.memsz.to_le_bytes());
            file[at + 48..at + 56].copy_from_slice(&ph.align.to_le_bytes());
        }
        file[0x1000] = 0xf4; // hlt: the first code byte
        file[0x2000] = 0x5a; // the first data byte
        file
    }

    fn good() -> Vec<u8> {
        build(&good_headers(), BASE + 4)
    }

    fn error_of(file: &[u8]) -> ElfError {
        let error = parse(file, WINDOW).expect_err("the file should be refused");
        assert!(!error.to_string().is_empty());
        error
    }

    fn with_segment(change: impl FnOnce(&mut Ph)) -> ElfError {
        let mut phs = good_headers();
        change(&mut phs[1]);
        error_of(&build(&phs, BASE + 4))
    }

    #[test]
    fn a_good_image_parses() {
        let file = good();
        let exe = parse(&file, WINDOW).unwrap();
        assert_eq!(exe.entry, BASE + 4);
        assert_eq!(exe.segments.len(), 2);
        let code = &exe.segments[0];
        assert_eq!(code.vaddr, BASE);
        assert_eq!(code.memsz, 0x20);
        assert_eq!(code.data.len(), 0x20);
        assert_eq!(code.data[0], 0xf4);
        assert_eq!(
            code.flags,
            SegmentFlags {
                readable: true,
                writable: false,
                executable: true
            }
        );
        let data = &exe.segments[1];
        assert_eq!(data.data, &file[0x2000..0x2010]);
        assert_eq!(data.memsz, 0x3000);
        assert!(data.flags.writable && !data.flags.executable);
        assert_eq!(data.page_range(), BASE + 0x2000..BASE + 0x5000);
    }

    #[test]
    fn other_segment_types_and_empty_loads_are_ignored() {
        let mut phs = good_headers();
        phs.push(Ph {
            kind: 0x6474_e551, // PT_GNU_STACK
            ..load(PF_R | PF_W, 0, 0, 0, 0)
        });
        phs.push(load(PF_R, 0, 0, 0, 0));
        let file = build(&phs, BASE);
        let exe = parse(&file, WINDOW).unwrap();
        assert_eq!(exe.segments.len(), 2);
    }

    #[test]
    fn header_errors() {
        assert_eq!(error_of(&good()[..63]), ElfError::TooShort { len: 63 });
        let broken = |at: usize, value: u8| {
            let mut file = good();
            file[at] = value;
            error_of(&file)
        };
        assert_eq!(broken(0, 0x7e), ElfError::BadMagic);
        assert_eq!(broken(3, b'f'), ElfError::BadMagic);
        assert_eq!(broken(4, 1), ElfError::NotElf64 { class: 1 });
        assert_eq!(broken(5, 2), ElfError::NotLittleEndian { data: 2 });
        assert_eq!(broken(6, 0), ElfError::BadVersion { version: 0 });
        assert_eq!(broken(20, 2), ElfError::BadVersion { version: 2 });
        assert_eq!(broken(18, 3), ElfError::WrongMachine { machine: 3 });
        assert_eq!(broken(16, 3), ElfError::NotExecutable { kind: ET_DYN });
        assert!(
            ElfError::NotExecutable { kind: ET_DYN }
                .to_string()
                .contains("ET_EXEC")
        );
        assert_eq!(broken(16, 1), ElfError::NotExecutable { kind: 1 });
        assert_eq!(broken(54, 64), ElfError::BadProgramHeaderSize { size: 64 });
    }

    #[test]
    fn program_header_table_errors() {
        let mut file = good();
        file[56..58].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(
            error_of(&file),
            ElfError::BadProgramHeaderCount { count: 0 }
        );
        file[56..58].copy_from_slice(&65u16.to_le_bytes());
        assert_eq!(
            error_of(&file),
            ElfError::BadProgramHeaderCount { count: 65 }
        );
        let mut file = good();
        file[32..40].copy_from_slice(&0x2ff0u64.to_le_bytes());
        assert_eq!(error_of(&file), ElfError::ProgramHeadersOutsideFile);
        file[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(error_of(&file), ElfError::ProgramHeadersOutsideFile);
    }

    #[test]
    fn unsupported_segment_types() {
        assert_eq!(
            with_segment(|ph| ph.kind = PT_INTERP),
            ElfError::DynamicLinking { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.kind = PT_DYNAMIC),
            ElfError::DynamicLinking { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.kind = PT_TLS),
            ElfError::ThreadLocalStorage { index: 1 }
        );
    }

    #[test]
    fn segment_errors() {
        assert_eq!(
            with_segment(|ph| ph.align = 0x800),
            ElfError::Misaligned { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.align = 0x3000),
            ElfError::Misaligned { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.offset = 0x2008),
            ElfError::Misaligned { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.filesz = ph.memsz + 1),
            ElfError::FileSizeExceedsMemorySize { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| {
                ph.filesz = 0x1001;
                ph.memsz = 0x2000;
            }),
            ElfError::SegmentOutsideFile { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.offset = u64::MAX - 0xfff),
            ElfError::SegmentOutsideFile { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.vaddr = 0x40_2000),
            ElfError::SegmentOutsideWindow { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.vaddr = WINDOW.end - 0x1000),
            ElfError::SegmentOutsideWindow { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| {
                ph.vaddr = !0xfff;
                ph.memsz = 0x2000;
            }),
            ElfError::SegmentOutsideWindow { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.flags = PF_R | PF_W | PF_X),
            ElfError::WritableAndExecutable { index: 1 }
        );
        // Address and offset disagree modulo the page size.
        assert_eq!(
            with_segment(|ph| ph.vaddr = BASE + 0x2800),
            ElfError::Misaligned { index: 1 }
        );
        assert_eq!(
            with_segment(|ph| ph.vaddr = BASE),
            ElfError::Overlap {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn overlap_within_a_shared_page() {
        // A data segment whose first page is the code's last one.
        let mut phs = good_headers();
        phs[0].memsz = 0x1800;
        phs[0].filesz = 0x1800;
        phs[1].vaddr = BASE + 0x1000;
        phs[1].offset = 0x2000;
        assert_eq!(
            error_of(&build(&phs, BASE)),
            ElfError::Overlap {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn entry_and_load_errors() {
        let only_data = [load(PF_R | PF_W, 0x2000, BASE, 0x10, 0x10)];
        assert_eq!(
            error_of(&build(&only_data, BASE)),
            ElfError::EntryNotExecutable { entry: BASE }
        );
        assert_eq!(
            error_of(&build(&good_headers(), BASE + 0x20)),
            ElfError::EntryNotExecutable { entry: BASE + 0x20 }
        );
        assert_eq!(
            error_of(&build(&good_headers(), BASE + 0x2000)),
            ElfError::EntryNotExecutable {
                entry: BASE + 0x2000
            }
        );
        let none = [Ph {
            kind: 4, // PT_NOTE
            ..load(PF_R, 0, 0, 0, 0x10)
        }];
        assert_eq!(error_of(&build(&none, BASE)), ElfError::NoLoadableSegment);
    }
}

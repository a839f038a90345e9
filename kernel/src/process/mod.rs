//! User programs (issue 11): the embedded images and the loader that turns
//! one into an address space ready to enter.
//!
//! The programs of `user/` are built by `cargo xtask` before the kernel and
//! embedded by the kernel's build script (ADR 0006); [`image`] finds one by
//! name. [`load`] parses it (`kernel::elf`, host-tested), makes an
//! [`AddressSpace`], maps every segment with its rights (code read+execute,
//! data read or read+write, never both write and execute), copies the file
//! bytes in (the rest of each page, the bss, stays zero: frames come
//! zeroed) and maps a stack of [`USER_STACK_SIZE`] bytes below
//! [`USER_STACK_TOP`] over an unmapped guard page. Entering ring 3 is
//! `arch`'s part (issue 11's other half); this module stops at the
//! [`LoadedProgram`].
//!
//! Running them: [`thread`] (a user thread is an executor task), the
//! system calls ([`syscalls`]), the ports user programs reach ([`ports`])
//! and the per-CPU counters ([`books`]).
//!
//! Layer 8 (ADR 0004): above `services`, whose name service user programs
//! reach, below the workloads that start programs.

pub mod books;
pub mod ports;
pub mod syscalls;
pub mod thread;

use core::fmt;

use kernel::elf::{self, ElfError};
use kernel::user_layout::{USER_STACK_GUARD, USER_STACK_SIZE, USER_STACK_TOP, USER_WINDOW_START};

use crate::memory::address_space::{AddressSpace, AddressSpaceError, UserFlags};

/// The embedded programs: `(name, ELF image)`; an empty image was not built.
static PROGRAMS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/user_programs.rs"));

/// The names of the embedded programs.
pub fn names() -> impl Iterator<Item = &'static str> {
    PROGRAMS.iter().map(|(name, _)| *name)
}

/// The ELF image of program `name`.
pub fn image(name: &str) -> Result<&'static [u8], LoadError> {
    match PROGRAMS.iter().find(|(known, _)| *known == name) {
        None => Err(LoadError::NoSuchProgram),
        Some((_, [])) => Err(LoadError::NotBuilt),
        Some((_, image)) => Ok(image),
    }
}

/// A program ready to run: its address space, where to start, and the
/// initial stack pointer.
pub struct LoadedProgram {
    /// The program's address space (segments and stack mapped).
    pub space: AddressSpace,
    /// The entry point (`_start`).
    pub entry: u64,
    /// The top of the stack: the initial `rsp` (16-byte aligned).
    pub stack_top: u64,
}

/// Why a program could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// No program of that name is embedded.
    NoSuchProgram,
    /// The program exists but was not built into this kernel (it was built
    /// without `cargo xtask`).
    NotBuilt,
    /// The image is not an acceptable executable.
    Elf(ElfError),
    /// Making the address space failed.
    Memory(AddressSpaceError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchProgram => f.write_str("no such program"),
            Self::NotBuilt => f.write_str(
                "not built into this kernel (build with `cargo xtask`, which builds user/ first)",
            ),
            Self::Elf(error) => write!(f, "bad executable: {error}"),
            Self::Memory(error) => write!(f, "address space: {error}"),
        }
    }
}

impl From<AddressSpaceError> for LoadError {
    fn from(error: AddressSpaceError) -> Self {
        Self::Memory(error)
    }
}

/// The addresses segments may use: the user window below the stack's
/// guard page.
const SEGMENT_WINDOW: core::ops::Range<u64> =
    USER_WINDOW_START..USER_STACK_TOP - USER_STACK_SIZE - USER_STACK_GUARD;

/// Loads the embedded program `name`.
pub fn load(name: &str) -> Result<LoadedProgram, LoadError> {
    load_image(image(name)?)
}

/// Loads an ELF image into a new address space.
pub fn load_image(image: &[u8]) -> Result<LoadedProgram, LoadError> {
    let exe = elf::parse(image, SEGMENT_WINDOW).map_err(LoadError::Elf)?;
    let mut space = AddressSpace::new()?;
    for segment in &exe.segments {
        let pages = segment.page_range();
        let flags = UserFlags {
            writable: segment.flags.writable,
            executable: segment.flags.executable,
        };
        space.map_user(pages.start, pages.end - pages.start, flags)?;
        space.copy_to(segment.vaddr, segment.data)?;
    }
    space.map_user(
        USER_STACK_TOP - USER_STACK_SIZE,
        USER_STACK_SIZE,
        UserFlags::READ_WRITE,
    )?;
    Ok(LoadedProgram {
        space,
        entry: exe.entry,
        stack_top: USER_STACK_TOP,
    })
}

mod tests {
    use alloc::format;

    use kernel::user_layout::{USER_STACK_GUARD, USER_STACK_SIZE, USER_STACK_TOP};

    use super::{LoadError, load, load_image, names};
    use crate::ktest::{check, kernel_test};
    use crate::memory::frame;

    kernel_test!(
        fn hello_loads_with_code_and_stack_mapped_right() {
            let image = super::image("hello").map_err(|e| format!("hello: {e}"))?;
            let exe = kernel::elf::parse(image, super::SEGMENT_WINDOW)
                .map_err(|e| format!("hello: {e}"))?;
            let program = load("hello").map_err(|e| format!("hello: {e}"))?;
            check!(program.entry == exe.entry, "entry {:#x}", program.entry);
            let code = program
                .space
                .translate(program.entry)
                .ok_or("the entry point is not mapped")?;
            check!(
                code.user && code.executable && !code.writable,
                "entry page flags {code:?}"
            );
            // The first bytes at the entry are the file's, read back through
            // the physical-memory window.
            let segment = exe
                .segments
                .iter()
                .find(|s| s.vaddr <= exe.entry && exe.entry - s.vaddr < s.memsz)
                .ok_or("no segment holds the entry")?;
            let at = (exe.entry - segment.vaddr) as usize;
            let want = &segment.data[at..(at + 16).min(segment.data.len())];
            let mut got = [0u8; 16];
            program
                .space
                .copy_from(exe.entry, &mut got[..want.len()])
                .map_err(|e| format!("{e}"))?;
            check!(
                &got[..want.len()] == want,
                "entry bytes {got:x?}, file {want:x?}"
            );
            for s in &exe.segments {
                let t = program
                    .space
                    .translate(s.vaddr)
                    .ok_or_else(|| format!("segment at {:#x} not mapped", s.vaddr))?;
                check!(
                    t.writable == s.flags.writable && t.executable == s.flags.executable,
                    "segment at {:#x}: {t:?}",
                    s.vaddr
                );
            }
            check!(program.stack_top == USER_STACK_TOP, "stack top");
            let stack = program
                .space
                .translate(program.stack_top - 8)
                .ok_or("the stack is not mapped")?;
            check!(
                stack.user && stack.writable && !stack.executable,
                "stack flags {stack:?}"
            );
            let bottom = USER_STACK_TOP - USER_STACK_SIZE;
            check!(
                program.space.translate(bottom).is_some(),
                "stack bottom unmapped"
            );
            check!(
                program.space.translate(bottom - USER_STACK_GUARD).is_none(),
                "the guard page is mapped"
            );
            check!(
                program.space.translate(USER_STACK_TOP).is_none(),
                "the page above the stack is mapped"
            );
            Ok(())
        }
    );

    kernel_test!(
        fn every_program_loads_and_frees_its_frames() {
            let before = frame::in_use();
            for name in names() {
                let program = load(name).map_err(|e| format!("{name}: {e}"))?;
                check!(
                    program.space.user_pages() > USER_STACK_SIZE / 4096,
                    "{name}: {} pages",
                    program.space.user_pages()
                );
            }
            check!(frame::in_use() == before, "loading leaked frames");
            check!(
                load("no-such-program").err() == Some(LoadError::NoSuchProgram),
                "an unknown name loaded"
            );
            check!(
                matches!(load_image(b"\x7fELF"), Err(LoadError::Elf(_))),
                "a truncated image loaded"
            );
            Ok(())
        }
    );
}

/// Registers the user counters with `[STATS]` and starts the byte echo
/// service user programs can call.
pub fn init(executor: &'static executor::Executor<crate::sched::KernelPlatform>) {
    books::init();
    ports::start_uecho(executor);
    crate::services::monitor::set_process_lister(thread::list);
}

//! QEMU's version, as `qemu-system-x86_64 --version` prints it.

use std::fmt;

/// A QEMU release: `major.minor.micro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QemuVersion {
    /// Major version (10 in 10.0.2).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Micro (patch) version; 0 when QEMU prints only `major.minor`.
    pub micro: u16,
}

impl QemuVersion {
    /// The version `major.minor.micro`.
    pub const fn new(major: u16, minor: u16, micro: u16) -> Self {
        Self {
            major,
            minor,
            micro,
        }
    }

    /// Parses the output of `qemu-system-x86_64 --version`, whose first line is
    /// `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`. Only the
    /// number after `version` counts; the package suffix in parentheses varies by
    /// distribution (or is a git description for a build from source).
    pub fn parse(output: &str) -> Option<Self> {
        let first = output.lines().next()?;
        let (_, rest) = first.split_once("QEMU emulator version ")?;
        let number = rest.split_whitespace().next()?;
        let mut parts = number.split('.');
        let mut part = || -> Option<u16> { parts.next()?.parse().ok() };
        let major = part()?;
        let minor = part()?;
        let micro = match parts.next() {
            None => 0,
            Some(micro) => micro.parse().ok()?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self::new(major, minor, micro))
    }
}

impl fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_distribution_and_source_builds() {
        let debian = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n\
                      Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n";
        assert_eq!(QemuVersion::parse(debian), Some(QemuVersion::new(7, 2, 22)));
        let backports = "QEMU emulator version 10.0.3 (Debian 1:10.0.3+ds-1~bpo12+1)\n";
        assert_eq!(
            QemuVersion::parse(backports),
            Some(QemuVersion::new(10, 0, 3))
        );
        let git = "QEMU emulator version 9.1.50 (v9.1.0-1234-gabcdef0)\n";
        assert_eq!(QemuVersion::parse(git), Some(QemuVersion::new(9, 1, 50)));
        assert_eq!(
            QemuVersion::parse("QEMU emulator version 8.2\n"),
            Some(QemuVersion::new(8, 2, 0))
        );
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for bad in [
            "",
            "qemu-system-x86_64: command not found",
            "QEMU emulator version \n",
            "QEMU emulator version 10\n",
            "QEMU emulator version 10.x.1\n",
            "QEMU emulator version 1.2.3.4\n",
            // Only the first line counts.
            "warning: something\nQEMU emulator version 10.0.0\n",
        ] {
            assert_eq!(QemuVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn orders_numerically() {
        assert!(QemuVersion::new(10, 0, 0) > QemuVersion::new(9, 2, 4));
        assert!(QemuVersion::new(7, 2, 22) < QemuVersion::new(9, 0, 0));
        assert!(QemuVersion::new(9, 0, 0) >= QemuVersion::new(9, 0, 0));
        assert_eq!(QemuVersion::new(7, 2, 22).to_string(), "7.2.22");
    }
}

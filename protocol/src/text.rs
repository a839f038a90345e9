//! The parsing toolkit of the line types: tags, `key=value` words, errors.
//! Nothing here allocates.

use core::fmt;

/// Why a line of a protocol kind does not follow the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A required `key=` field is missing.
    Missing(&'static str),
    /// A field's value is not what its key takes.
    BadValue(&'static str),
    /// The fixed text of the line is not there; names the expected form.
    Form(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(key) => write!(f, "no {key}= field"),
            Self::BadValue(key) => write!(f, "bad {key}= value"),
            Self::Form(form) => write!(f, "not of the form '{form}'"),
        }
    }
}

/// The rest of `line` after `tag` and one space, if the line starts with them.
///
/// `tag` may go past the brackets: `tagged(line, "[STATS] total")`.
pub fn tagged<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.strip_prefix(tag)?.strip_prefix(' ')
}

/// The `key=value` words of a line, looked up by key (first occurrence wins).
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a>(&'a str);

impl<'a> Fields<'a> {
    /// The words of `text`.
    pub fn new(text: &'a str) -> Self {
        Self(text)
    }

    /// The value of `key`, if a word `key=value` is there.
    pub fn get(self, key: &str) -> Option<&'a str> {
        self.0
            .split_ascii_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
    }

    /// The value of a required `key`.
    pub fn str(self, key: &'static str) -> Result<&'a str, ParseError> {
        self.get(key).ok_or(ParseError::Missing(key))
    }

    /// A required `key` as a decimal unsigned integer.
    pub fn u64(self, key: &'static str) -> Result<u64, ParseError> {
        decimal(self.str(key)?).ok_or(ParseError::BadValue(key))
    }

    /// A required `key` as a decimal `u32`.
    pub fn u32(self, key: &'static str) -> Result<u32, ParseError> {
        u32::try_from(self.u64(key)?).map_err(|_| ParseError::BadValue(key))
    }

    /// A required `key` as a `0x`-prefixed hexadecimal unsigned integer.
    pub fn hex(self, key: &'static str) -> Result<u64, ParseError> {
        hex(self.str(key)?).ok_or(ParseError::BadValue(key))
    }
}

/// Digits only (no sign, no blanks), as `u64`.
pub fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `0x` and hexadecimal digits, as `u64`.
pub fn hex(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// Splits `text` at the first `separator`; a [`ParseError::Form`] naming
/// `form` if it is not there.
pub fn split<'a>(
    text: &'a str,
    separator: &str,
    form: &'static str,
) -> Result<(&'a str, &'a str), ParseError> {
    text.split_once(separator).ok_or(ParseError::Form(form))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_needs_the_tag_at_the_start_and_a_space() {
        assert_eq!(tagged("[BOOT] mode=bios", "[BOOT]"), Some("mode=bios"));
        assert_eq!(tagged("x [BOOT] mode=bios", "[BOOT]"), None);
        assert_eq!(tagged("[BOOTX] mode=bios", "[BOOT]"), None);
        assert_eq!(tagged("[BOOT]", "[BOOT]"), None);
        assert_eq!(tagged("[STATS] total a=1", "[STATS] total"), Some("a=1"));
    }

    #[test]
    fn fields_match_whole_keys() {
        let fields = Fields::new("ticks_lost=4 ticks=196 x=0x1f bad=1x");
        assert_eq!(fields.u64("ticks"), Ok(196));
        assert_eq!(fields.u64("ticks_lost"), Ok(4));
        assert_eq!(
            fields.u64("ticks_late"),
            Err(ParseError::Missing("ticks_late"))
        );
        assert_eq!(fields.u64("bad"), Err(ParseError::BadValue("bad")));
        assert_eq!(fields.hex("x"), Ok(0x1f));
        assert_eq!(fields.u64("x"), Err(ParseError::BadValue("x")));
    }

    #[test]
    fn numbers_are_strict() {
        assert_eq!(decimal("+5"), None);
        assert_eq!(decimal(""), None);
        assert_eq!(decimal("99999999999999999999"), None);
        assert_eq!(hex("0x"), None);
        assert_eq!(hex("1f"), None);
        assert_eq!(
            ParseError::Missing("cpus").to_string(),
            "no cpus= field".to_owned()
        );
    }
}

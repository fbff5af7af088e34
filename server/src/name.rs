//! Document names: the one validated type every path, key and room uses.

use std::fmt;

/// A valid document name: `[A-Za-z0-9._-]{1,128}`, never `..`-containing.
///
/// Because the alphabet excludes `0x00`, names can be used directly as storage key
/// prefixes followed by a `0x00` separator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocName(String);

/// Why a string is not a document name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid document name: use 1 to 128 of A-Z a-z 0-9 . _ - and no '..'")]
pub struct InvalidName;

impl DocName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let ok_len = (1..=128).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok_len && ok_chars && !s.contains("..") {
            Ok(DocName(s.to_owned()))
        } else {
            Err(InvalidName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_alphabet() {
        for ok in ["a", "mydoc", "Leit-bild_2026.v1", &"x".repeat(128)] {
            assert_eq!(DocName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_else() {
        let long = "x".repeat(129);
        for bad in ["", "..", "a..b", "a/b", "a b", "ä", "a\0b", "%2e%2e", &long] {
            assert_eq!(DocName::parse(bad), Err(InvalidName), "{bad:?}");
        }
    }
}

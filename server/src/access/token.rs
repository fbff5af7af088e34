//! Secret tokens: generated from the OS's randomness, stored only as their SHA-256, and
//! compared in constant time. Pure apart from drawing random bytes; no storage here.
//!
//! A token is 32 random bytes (256 bits), written as 43 characters of unpadded base64url
//! so it fits into a link. The store finds a token's record by the first 16 bytes of its
//! hash (the lookup key) and then compares the whole stored hash with [`TokenHash::matches`],
//! so neither the lookup nor the comparison tells an attacker how close a guess came.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a token in characters (32 bytes in unpadded base64url).
pub const TOKEN_CHARS: usize = 43;

/// A freshly made secret. Shown once (in a link), never stored, never logged.
pub struct Token(String);

impl Token {
    /// 256 bits from the operating system's random number generator.
    pub fn generate() -> Token {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The SHA-256 of a token's text: all the server keeps of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The hash of whatever a client presented (a token, a guess, or garbage).
    pub fn of(presented: &str) -> TokenHash {
        TokenHash(Sha256::digest(presented.as_bytes()).into())
    }

    /// The key under which the store files this token's record.
    pub fn lookup_key(&self) -> [u8; 16] {
        let mut key = [0u8; 16];
        key.copy_from_slice(&self.0[..16]);
        key
    }

    /// Constant-time equality of two hashes.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<TokenHash> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(TokenHash(out))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// Whether a presented string could be a token at all. Anything else is refused before any
/// lookup (and counts as a failed attempt).
pub fn well_formed(presented: &str) -> bool {
    (16..=256).contains(&presented.len())
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_distinct() {
        let a = Token::generate();
        let b = Token::generate();
        assert_eq!(a.as_str().len(), TOKEN_CHARS);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.as_str()).unwrap().len(), 32);
        assert_ne!(a.as_str(), b.as_str());
        assert!(well_formed(a.as_str()));
        assert_eq!(format!("{a:?}"), "Token(…)", "never printed");
    }

    #[test]
    fn hashes_match_only_their_token() {
        let token = Token::generate();
        let hash = token.hash();
        assert!(hash.matches(&TokenHash::of(token.as_str())));
        assert!(!hash.matches(&TokenHash::of("something else entirely")));
        assert_eq!(hash.lookup_key(), hash.0[..16]);
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(TokenHash::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn only_url_safe_strings_of_sane_length_are_tokens() {
        assert!(!well_formed(""));
        assert!(!well_formed("short"));
        assert!(!well_formed(&"a".repeat(257)));
        assert!(!well_formed("abcdefghijklmnop qrst"));
        assert!(!well_formed("abcdefghijklmnopä"));
        assert!(well_formed("a-configured_admin.token~1"));
    }
}

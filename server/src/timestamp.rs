//! Timestamps as the API shows them: milliseconds since the Unix epoch inside, RFC 3339
//! (UTC) outside. Pure.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `2026-11-30T21:00:52.123Z` for a time in ms since the epoch.
pub fn to_rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Milliseconds since the epoch of an RFC 3339 time with any offset; `None` if it is not
/// one or lies before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Serde for `Option<u64>` ms fields written as RFC 3339 strings (or null).
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&super::to_rfc3339(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => super::parse_rfc3339(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time")),
        }
    }
}

/// Serde for `u64` ms fields written as RFC 3339 strings.
pub mod required {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_offsets() {
        let ms = 1_796_072_452_123;
        let text = to_rfc3339(ms);
        assert_eq!(text, "2026-11-30T21:00:52.123Z");
        assert_eq!(parse_rfc3339(&text), Some(ms));
        assert_eq!(
            parse_rfc3339("2026-11-30T22:00:52.123+01:00"),
            Some(ms),
            "offsets are honoured"
        );
        assert_eq!(parse_rfc3339("2026-11-30"), None);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("gestern"), None);
    }
}

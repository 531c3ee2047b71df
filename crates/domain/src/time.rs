//! UTC timestamps at microsecond precision.
//!
//! Every timestamp Roster stores is truncated to microseconds before it is written, so the value read back from
//! SQLite (text) or PostgreSQL (`timestamptz`, which keeps microseconds) equals the one hashed into the audit
//! chain, and text ordering in SQLite matches time ordering.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A UTC instant with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Truncates to microseconds and converts to UTC.
    pub fn from_datetime(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        Self(utc.replace_microsecond(micros).unwrap_or(utc))
    }

    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        let nanos = i128::from(micros) * 1_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok().map(Self)
    }

    pub fn unix_micros(&self) -> i64 {
        let micros = self.0.unix_timestamp_nanos() / 1_000;
        i64::try_from(micros).unwrap_or(i64::MAX)
    }

    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.ffffffZ`: fixed width, so text order equals time order.
    pub fn canonical(&self) -> String {
        let t = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }

    /// Parses any RFC 3339 timestamp (with any offset and precision) and normalises it.
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text.trim(), &Rfc3339).ok().map(Self::from_datetime)
    }

    pub fn checked_add(&self, duration: time::Duration) -> Option<Self> {
        self.0.checked_add(duration).map(Self::from_datetime)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp such as 2026-01-31T09:00:00Z"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_fixed_width() {
        let ts = Timestamp::parse("2026-01-02T03:04:05Z");
        assert_eq!(ts.map(|t| t.canonical()).as_deref(), Some("2026-01-02T03:04:05.000000Z"));
    }

    #[test]
    fn parse_truncates_to_micros_and_utc() {
        let ts = Timestamp::parse("2026-01-02T05:04:05.123456789+02:00");
        assert_eq!(ts.map(|t| t.canonical()).as_deref(), Some("2026-01-02T03:04:05.123456Z"));
    }

    #[test]
    fn unix_micros_round_trip() {
        let ts = Timestamp::parse("2026-01-02T03:04:05.654321Z");
        let back = ts.and_then(|t| Timestamp::from_unix_micros(t.unix_micros()));
        assert_eq!(ts, back);
    }
}

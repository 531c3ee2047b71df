//! Column types shared by both backends.

use roster_domain::Timestamp;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use time::{Date, OffsetDateTime};

/// A timestamp column: fixed-width UTC text on SQLite (so text order is time order), `timestamptz` on
/// PostgreSQL. Both keep exactly the microseconds that [`Timestamp`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTime(pub Timestamp);

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.canonical(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Timestamp::parse(text).map(DbTime).ok_or_else(|| format!("invalid stored timestamp {text:?}").into())
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode(self.0.as_datetime(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let datetime = <OffsetDateTime as Decode<Postgres>>::decode(value)?;
        Ok(DbTime(Timestamp::from_datetime(datetime)))
    }
}

impl rusqlite::types::FromSql for DbTime {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        Timestamp::parse(text).map(DbTime).ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("invalid stored timestamp {text:?}").into()))
    }
}

impl rusqlite::types::ToSql for DbTime {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.0.canonical()))
    }
}

pub(crate) fn opt_time(value: Option<DbTime>) -> Option<Timestamp> {
    value.map(|t| t.0)
}

pub(crate) fn db_time(value: Option<Timestamp>) -> Option<DbTime> {
    value.map(DbTime)
}

/// A bound parameter of dynamically built SQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Date(Date),
    Time(Timestamp),
}

/// Dynamically built SQL: only fixed fragments and `$n` placeholders, with values bound separately.
#[derive(Debug, Default)]
pub(crate) struct SqlBuf {
    pub sql: String,
    pub params: Vec<Param>,
}

impl SqlBuf {
    pub fn new(sql: &str) -> Self {
        Self { sql: sql.to_string(), params: Vec::new() }
    }

    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }

    /// Appends a placeholder for `param` and records its value.
    pub fn bind(&mut self, param: Param) -> &mut Self {
        self.params.push(param);
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    /// Appends comma-separated placeholders for `params`, as an `IN (...)` list needs, and records their values.
    pub fn bind_list(&mut self, params: impl IntoIterator<Item = Param>) -> &mut Self {
        for (i, param) in params.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(param);
        }
        self
    }
}

impl rusqlite::types::ToSql for Param {
    /// Binds as `bind_params!` binds for sqlx: dates as `YYYY-MM-DD` text and timestamps as [`DbTime`] text.
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Self::Int(value) => value.to_sql(),
            Self::Text(value) => value.to_sql(),
            Self::Date(value) => value.to_sql(),
            Self::Time(value) => Ok(rusqlite::types::ToSqlOutput::from(value.canonical())),
        }
    }
}

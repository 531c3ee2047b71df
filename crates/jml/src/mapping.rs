//! The mapping file (TOML): which feed column contains which Roster attribute, and how to read the values.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use jiff::tz::TimeZone;
use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::error::{JmlError, RowError};
use crate::feed::Row;

/// The parsed mapping file. See the README's JML section for an example.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The name of the feed source, such as `hr`. Users the feed creates or adopts are recorded under it, and
    /// only those can become leavers of a complete feed.
    pub source: String,
    /// The column with the employee number, stored as `unique_id`.
    pub key: String,
    pub columns: Columns,
    #[serde(default)]
    pub dates: DateSettings,
    pub email: Option<EmailSettings>,
    pub status: StatusSettings,
    #[serde(default)]
    pub manager: ManagerSettings,
}

/// Feed columns per Roster attribute; each is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// A column with names written `Last, First M`, split into first and last name.
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub mobile_number: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// Date settings: the format, the time zone and when a termination date ends access.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DateSettings {
    /// The format, with `%Y` (four-digit year), `%y` (two-digit year), `%m`, `%d` and literal characters.
    #[serde(default = "default_date_format")]
    pub format: String,
    /// Two-digit years below the pivot are 20xx, the others 19xx.
    #[serde(default = "default_pivot")]
    pub two_digit_year_pivot: u8,
    /// The time zone of the feed's dates: an IANA name such as `Europe/Paris`, a fixed offset such as `+02:00`,
    /// or `UTC` (the default). A named zone gives each date the offset in force on that date.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// `end` (the default) keeps access until the end of the termination date, so the last day is worked;
    /// `start` ends it when the date begins.
    #[serde(default = "default_termination_ends")]
    pub termination_ends_at: String,
}

impl Default for DateSettings {
    fn default() -> Self {
        Self {
            format: default_date_format(),
            two_digit_year_pivot: default_pivot(),
            time_zone: default_time_zone(),
            termination_ends_at: default_termination_ends(),
        }
    }
}

fn default_date_format() -> String {
    "%Y-%m-%d".into()
}
fn default_pivot() -> u8 {
    70
}
fn default_time_zone() -> String {
    "UTC".into()
}
fn default_termination_ends() -> String {
    "end".into()
}

/// How to derive an email when the feed has none.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// Such as `{first}.{last}@example.com`; the names are folded to lower-case ASCII.
    pub template: String,
}

/// Which column sets the lifecycle state, and its values per state. Values compare after whitespace
/// normalisation and case folding.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusSettings {
    /// The column that rules when an export carries several disagreeing status columns.
    pub column: String,
    #[serde(default)]
    pub active: Vec<String>,
    /// Future starters; a row marked active whose start date lies ahead is also treated as one.
    #[serde(default)]
    pub pending: Vec<String>,
    /// Leave of absence: the user keeps its roles, and its tokens stop working.
    #[serde(default)]
    pub suspended: Vec<String>,
    #[serde(default)]
    pub terminated: Vec<String>,
}

/// The columns that find a person's manager.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManagerSettings {
    /// A column with the manager's key (employee number).
    pub key_column: Option<String>,
    /// A column with the manager's name, written `First Last` or `Last, First`, matched against the feed's people.
    pub name_column: Option<String>,
}

/// The lifecycle state a row requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    Active,
    Pending,
    Suspended,
    Terminated,
}

/// A row's reference to its manager: a key or a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerRef {
    Key(String),
    Name(String),
}

/// One person read from a row through the mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub line: u64,
    pub key: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub mobile_number: Option<String>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub status: FeedStatus,
    pub manager: Option<ManagerRef>,
}

/// Mapped settings checked once: the time zone, the date format and the columns to keep.
#[derive(Debug, Clone)]
pub struct CompiledMapping {
    pub mapping: Mapping,
    time_zone: TimeZone,
    pub termination_at_end: bool,
    format: Vec<DatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DatePart {
    Year4,
    Year2,
    Month,
    Day,
    Literal(char),
}

impl Mapping {
    /// Parses and checks a mapping file.
    pub fn parse(text: &str) -> Result<CompiledMapping, JmlError> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| JmlError::Mapping(e.to_string()))?;
        mapping.compile()
    }

    fn compile(self) -> Result<CompiledMapping, JmlError> {
        if self.source.trim().is_empty() {
            return Err(JmlError::Mapping("source must not be blank; name the feed, such as source = \"hr\"".into()));
        }
        if self.key.trim().is_empty() {
            return Err(JmlError::Mapping("key must name the column with the employee number".into()));
        }
        if self.columns.full_name.is_none() && self.columns.last_name.is_none() {
            return Err(JmlError::Mapping("columns needs full_name or last_name".into()));
        }
        if self.columns.email.is_none() && self.email.is_none() {
            return Err(JmlError::Mapping(
                "give columns.email, or [email] template = \"{first}.{last}@example.com\" to derive one".into(),
            ));
        }
        if let Some(email) = &self.email
            && !email.template.contains('@')
        {
            return Err(JmlError::Mapping("email.template must contain '@', such as {first}.{last}@example.com".into()));
        }
        let format = parse_format(&self.dates.format)?;
        let time_zone = parse_time_zone(&self.dates.time_zone)?;
        let termination_at_end = match self.dates.termination_ends_at.as_str() {
            "end" => true,
            "start" => false,
            other => {
                return Err(JmlError::Mapping(format!(
                    "dates.termination_ends_at is {other:?}; use \"end\" (of the day) or \"start\""
                )));
            }
        };
        Ok(CompiledMapping { mapping: self, time_zone, termination_at_end, format })
    }
}

fn parse_format(format: &str) -> Result<Vec<DatePart>, JmlError> {
    let mut parts = Vec::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            parts.push(DatePart::Literal(c));
            continue;
        }
        parts.push(match chars.next() {
            Some('Y') => DatePart::Year4,
            Some('y') => DatePart::Year2,
            Some('m') => DatePart::Month,
            Some('d') => DatePart::Day,
            Some('%') => DatePart::Literal('%'),
            other => {
                return Err(JmlError::Mapping(format!(
                    "dates.format uses %{}; only %Y, %y, %m, %d and %% are supported",
                    other.map(String::from).unwrap_or_default()
                )));
            }
        });
    }
    let has = |part: &DatePart| parts.contains(part);
    if !(has(&DatePart::Year4) || has(&DatePart::Year2)) || !has(&DatePart::Month) || !has(&DatePart::Day) {
        return Err(JmlError::Mapping(format!("dates.format {format:?} needs a year, a month and a day, such as %m/%d/%y")));
    }
    Ok(parts)
}

/// Parses `UTC`, `Z`, a fixed offset `+HH:MM` or an IANA zone name such as `Europe/Paris`. Names are looked up in
/// the time zone database bundled into the binary, so the result does not depend on the host's files.
fn parse_time_zone(text: &str) -> Result<TimeZone, JmlError> {
    if text.eq_ignore_ascii_case("utc") || text == "Z" {
        return Ok(TimeZone::UTC);
    }
    if text.starts_with(['+', '-']) {
        let offset = parse_offset(text)?;
        let offset = jiff::tz::Offset::from_seconds(offset.whole_seconds()).map_err(|_| invalid_offset(text))?;
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(text).map_err(|_| {
        JmlError::Mapping(format!(
            "dates.time_zone {text:?} is not a known time zone; use an IANA name such as \"Europe/Paris\", \"UTC\" \
             or an offset such as \"+02:00\""
        ))
    })
}

fn invalid_offset(text: &str) -> JmlError {
    JmlError::Mapping(format!("dates.time_zone {text:?} is not a valid offset; write it as +HH:MM, such as +02:00"))
}

/// Parses a fixed offset `+HH:MM` or `-HH:MM`.
fn parse_offset(text: &str) -> Result<UtcOffset, JmlError> {
    let invalid = || invalid_offset(text);
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1i8, &text[1..]),
        Some(b'-') => (-1i8, &text[1..]),
        _ => return Err(invalid()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(invalid)?;
    let hours: i8 = hours.parse().map_err(|_| invalid())?;
    let minutes: i8 = minutes.parse().map_err(|_| invalid())?;
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).map_err(|_| invalid())
}

/// Trims a value and collapses runs of whitespace, so `"Production   "` and `"Production"` are equal.
pub fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `Last, First M` into (first, last); the middle initial stays with the first name.
pub fn split_full_name(text: &str) -> (Option<String>, Option<String>) {
    let text = normalise(text);
    match text.split_once(',') {
        Some((last, first)) => (non_empty(first.trim()), non_empty(last.trim())),
        None => match text.rsplit_once(' ') {
            Some((first, last)) => (non_empty(first), non_empty(last)),
            None => (None, non_empty(&text)),
        },
    }
}

/// Folds a person's name for matching: `Last, First M`, `First M Last` and `First Last` give the same text.
pub fn name_match_key(first: Option<&str>, last: Option<&str>) -> String {
    let first = first.unwrap_or_default().split_whitespace().next().unwrap_or_default();
    format!("{} {}", first, last.unwrap_or_default()).to_lowercase()
}

fn non_empty(text: &str) -> Option<String> {
    if text.is_empty() { None } else { Some(text.to_string()) }
}

impl CompiledMapping {
    /// Every feed column the mapping reads; the feed reader drops all others.
    pub fn columns(&self) -> BTreeSet<String> {
        let m = &self.mapping;
        let c = &m.columns;
        [
            Some(&m.key),
            Some(&m.status.column),
            c.full_name.as_ref(),
            c.first_name.as_ref(),
            c.last_name.as_ref(),
            c.email.as_ref(),
            c.job_title.as_ref(),
            c.department.as_ref(),
            c.mobile_number.as_ref(),
            c.start_date.as_ref(),
            c.end_date.as_ref(),
            m.manager.key_column.as_ref(),
            m.manager.name_column.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }

    /// The columns every feed must have.
    pub fn required_columns(&self) -> BTreeSet<String> {
        [self.mapping.key.clone(), self.mapping.status.column.clone()].into_iter().collect()
    }

    /// Parses a date in the mapping's format.
    pub fn parse_date(&self, text: &str) -> Option<Date> {
        let (year, month, day) = self.date_fields(text)?;
        let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
        Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
    }

    /// Reads the year, month and day of a date in the feed's format, without checking that they name a day of the
    /// calendar. An error can then tell a value in another format from an impossible date such as 31 February.
    fn date_fields(&self, text: &str) -> Option<(i32, i32, i32)> {
        let mut chars = text.chars().peekable();
        let (mut year, mut month, mut day) = (None, None, None);
        for part in &self.format {
            match part {
                DatePart::Literal(expected) => {
                    if chars.next() != Some(*expected) {
                        return None;
                    }
                }
                DatePart::Year4 | DatePart::Year2 | DatePart::Month | DatePart::Day => {
                    let max = if *part == DatePart::Year4 { 4 } else { 2 };
                    let mut digits = String::new();
                    while digits.len() < max && chars.peek().is_some_and(char::is_ascii_digit) {
                        digits.extend(chars.next());
                    }
                    let value: i32 = digits.parse().ok()?;
                    match part {
                        DatePart::Year4 if digits.len() == 4 => year = Some(value),
                        DatePart::Year2 if digits.len() == 2 => {
                            let pivot = i32::from(self.mapping.dates.two_digit_year_pivot);
                            year = Some(if value < pivot { 2000 + value } else { 1900 + value });
                        }
                        DatePart::Month => month = Some(value),
                        DatePart::Day => day = Some(value),
                        _ => return None,
                    }
                }
            }
        }
        if chars.next().is_some() {
            return None;
        }
        Some((year?, month?, day?))
    }

    /// Returns the first instant of a date in the feed's time zone, with the offset in force then. That is
    /// midnight, unless a daylight saving change skips midnight, so the day begins at the end of the gap. Returns
    /// `None` when the instant lies outside the supported years (-9999 to 9999).
    pub fn start_of(&self, date: Date) -> Option<OffsetDateTime> {
        let civil = jiff::civil::Date::new(
            i16::try_from(date.year()).ok()?,
            i8::try_from(u8::from(date.month())).ok()?,
            i8::try_from(date.day()).ok()?,
        )
        .ok()?;
        // A skipped midnight resolves to the end of the gap (jiff's compatible disambiguation).
        let zoned = civil.to_zoned_datetime(self.time_zone.clone()).ok()?;

        let timestamp = zoned.timestamp();
        let offset = UtcOffset::from_whole_seconds(zoned.offset().seconds()).ok()?;
        let utc = OffsetDateTime::from_unix_timestamp(timestamp.as_second()).ok()?;
        utc.checked_to_offset(offset)
    }

    /// Returns the instant access ends for a termination date. For `end` that is the start of the next day, so a
    /// day of 23 or 25 hours on a daylight saving change still ends at local midnight. For `start` it is the
    /// start of the date.
    pub fn termination_instant(&self, date: Date) -> Option<OffsetDateTime> {
        if self.termination_at_end { self.start_of(date.next_day()?) } else { self.start_of(date) }
    }

    /// Reads one row into a person, or the reason it cannot be used.
    pub fn read_row(&self, row: &Row) -> Result<Person, RowError> {
        let m = &self.mapping;
        let value = |column: &Option<String>| -> Option<String> {
            column.as_ref().and_then(|c| row.get(c)).map(normalise).filter(|v| !v.is_empty())
        };

        let key = row.get(&m.key).map(normalise).filter(|v| !v.is_empty());
        let Some(key) = key else {
            return Err(RowError::new(row.line, None, format!("the key column {} is empty", m.key)));
        };
        let fail = |reason: String| RowError::new(row.line, Some(key.clone()), reason);

        let (mut first_name, mut last_name) = match value(&m.columns.full_name) {
            Some(full) => split_full_name(&full),
            None => (None, None),
        };
        if let Some(first) = value(&m.columns.first_name) {
            first_name = Some(first);
        }
        if let Some(last) = value(&m.columns.last_name) {
            last_name = Some(last);
        }
        if last_name.is_none() {
            return Err(fail("the name is empty".into()));
        }

        let date = |column: &Option<String>, field: &str| -> Result<Option<Date>, RowError> {
            match value(column) {
                None => Ok(None),
                Some(text) => match self.parse_date(&text) {
                    Some(date) => Ok(Some(date)),
                    None if self.date_fields(&text).is_some() => Err(fail(format!(
                        "{field} {text:?} in column {} is not a day of the calendar; fix the date in the export",
                        column.as_deref().unwrap_or_default()
                    ))),
                    None => Err(fail(format!(
                        "{field} {text:?} in column {} does not match the date format {:?}",
                        column.as_deref().unwrap_or_default(),
                        m.dates.format
                    ))),
                },
            }
        };
        let start_date = date(&m.columns.start_date, "start_date")?;
        let end_date = date(&m.columns.end_date, "end_date")?;
        if start_date.is_some_and(|d| self.start_of(d).is_none()) || end_date.is_some_and(|d| self.termination_instant(d).is_none()) {
            return Err(fail("a start or end date lies outside the years -9999 to 9999 in dates.time_zone".into()));
        }

        let status_text = value(&Some(m.status.column.clone())).unwrap_or_default();
        let status = self.status_of(&status_text).ok_or_else(|| {
            fail(format!(
                "the status {status_text:?} in column {} is not listed under [status]; add it to active, pending, \
                 suspended or terminated",
                m.status.column
            ))
        })?;

        let manager = match (value(&m.manager.key_column), value(&m.manager.name_column)) {
            (Some(key), _) => Some(ManagerRef::Key(key)),
            (None, Some(name)) => Some(ManagerRef::Name(name)),
            (None, None) => None,
        };

        Ok(Person {
            line: row.line,
            key,
            first_name,
            last_name,
            email: value(&m.columns.email),
            job_title: value(&m.columns.job_title),
            department: value(&m.columns.department),
            mobile_number: value(&m.columns.mobile_number),
            start_date,
            end_date,
            status,
            manager,
        })
    }

    fn status_of(&self, text: &str) -> Option<FeedStatus> {
        let s = &self.mapping.status;
        let folded = text.to_lowercase();
        let listed = |values: &[String]| values.iter().any(|v| normalise(v).to_lowercase() == folded);
        if listed(&s.terminated) {
            Some(FeedStatus::Terminated)
        } else if listed(&s.suspended) {
            Some(FeedStatus::Suspended)
        } else if listed(&s.pending) {
            Some(FeedStatus::Pending)
        } else if listed(&s.active) {
            Some(FeedStatus::Active)
        } else {
            None
        }
    }
}

/// Renders an email template for a person: names folded to lower-case ASCII letters, digits and dashes.
pub fn render_email(template: &str, first: Option<&str>, last: Option<&str>) -> String {
    let fold = |name: Option<&str>| -> String {
        deunicode::deunicode(name.unwrap_or_default())
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect()
    };
    let first = first.map(|f| f.split_whitespace().next().unwrap_or_default());
    template.replace("{first}", &fold(first)).replace("{last}", &fold(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = r#"
source = "hr"
key = "EmpID"
[columns]
full_name = "Employee_Name"
department = "Department"
start_date = "DateofHire"
end_date = "DateofTermination"
[dates]
format = "%m/%d/%y"
two_digit_year_pivot = 50
[email]
template = "{first}.{last}@example.com"
[status]
column = "EmploymentStatus"
active = ["Active"]
terminated = ["Voluntarily Terminated", "Terminated for Cause"]
suspended = ["Leave of Absence"]
"#;

    fn mapping() -> CompiledMapping {
        match Mapping::parse(MAPPING) {
            Ok(m) => m,
            Err(e) => unreachable!("{e}"),
        }
    }

    #[test]
    fn two_digit_year_uses_pivot() {
        let m = mapping();
        assert_eq!(m.parse_date("07/05/11").map(|d| d.year()), Some(2011));
        assert_eq!(m.parse_date("07/10/83").map(|d| d.year()), Some(1983));
        assert_eq!(m.parse_date("13/40/11"), None);
        assert_eq!(m.parse_date("07/05/2011"), None);
    }

    #[test]
    fn full_name_split_and_trimmed() {
        assert_eq!(split_full_name("Adinolfi, Wilson  K"), (Some("Wilson K".into()), Some("Adinolfi".into())));
        assert_eq!(split_full_name("Ait Sidi, Karthikeyan   "), (Some("Karthikeyan".into()), Some("Ait Sidi".into())));
    }

    #[test]
    fn email_template_folds_accents() {
        assert_eq!(render_email("{first}.{last}@example.com", Some("Élodie M"), Some("Ait Sidi")), "elodie.aitsidi@example.com");
    }

    #[test]
    fn normalise_collapses_spaces() {
        assert_eq!(normalise("  Production       "), "Production");
        assert_eq!(normalise("IT   Manager - DB"), "IT Manager - DB");
    }

    #[test]
    fn unknown_setting_rejected() {
        assert!(Mapping::parse("source = \"hr\"\nkey = \"id\"\nsalary = \"x\"").is_err());
    }

    #[test]
    fn offset_parsed() {
        assert_eq!(parse_offset("+02:00").ok(), UtcOffset::from_hms(2, 0, 0).ok());
        assert!(parse_offset("Europe/Paris").is_err());
    }

    /// Compiles the sample mapping with another `[dates]` time zone and termination setting.
    fn zoned(time_zone: &str, termination_ends_at: &str) -> Result<CompiledMapping, JmlError> {
        let text = MAPPING.replace(
            "two_digit_year_pivot = 50",
            &format!("two_digit_year_pivot = 50\ntime_zone = {time_zone:?}\ntermination_ends_at = {termination_ends_at:?}"),
        );
        Mapping::parse(&text)
    }

    fn date(text: &str) -> Date {
        match Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")) {
            Ok(date) => date,
            Err(e) => unreachable!("{text}: {e}"),
        }
    }

    /// Formats an instant as RFC 3339 with the offset it carries.
    fn rfc3339(instant: Option<OffsetDateTime>) -> String {
        instant.and_then(|i| i.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_default()
    }

    #[test]
    fn named_zone_winter_and_summer_offsets() -> Result<(), JmlError> {
        let paris = zoned("Europe/Paris", "end")?;

        assert_eq!(rfc3339(paris.start_of(date("2027-01-15"))), "2027-01-15T00:00:00+01:00");
        assert_eq!(rfc3339(paris.start_of(date("2027-07-15"))), "2027-07-15T00:00:00+02:00");
        assert_eq!(rfc3339(paris.termination_instant(date("2027-01-15"))), "2027-01-16T00:00:00+01:00");
        assert_eq!(rfc3339(paris.termination_instant(date("2027-07-15"))), "2027-07-16T00:00:00+02:00");
        Ok(())
    }

    #[test]
    fn named_zone_termination_start() -> Result<(), JmlError> {
        let new_york = zoned("America/New_York", "start")?;

        assert_eq!(rfc3339(new_york.termination_instant(date("2027-01-15"))), "2027-01-15T00:00:00-05:00");
        assert_eq!(rfc3339(new_york.termination_instant(date("2027-07-15"))), "2027-07-15T00:00:00-04:00");
        Ok(())
    }

    #[test]
    fn dst_change_day_lasts_23_or_25_hours() -> Result<(), JmlError> {
        let paris = zoned("Europe/Paris", "end")?;
        let new_york = zoned("America/New_York", "start")?;

        // Clocks go forward on 2027-03-28 in Paris and on 2027-03-14 in New York, and back on 2027-10-31 in Paris.
        let spring = date("2027-03-28");
        assert_eq!(rfc3339(paris.start_of(spring)), "2027-03-28T00:00:00+01:00");
        assert_eq!(rfc3339(paris.termination_instant(spring)), "2027-03-29T00:00:00+02:00");
        let length = paris.termination_instant(spring).zip(paris.start_of(spring)).map(|(end, start)| end - start);
        assert_eq!(length, Some(time::Duration::hours(23)));
        let autumn = date("2027-10-31");
        let length = paris.termination_instant(autumn).zip(paris.start_of(autumn)).map(|(end, start)| end - start);
        assert_eq!(length, Some(time::Duration::hours(25)));
        assert_eq!(rfc3339(new_york.termination_instant(date("2027-03-14"))), "2027-03-14T00:00:00-05:00");
        assert_eq!(rfc3339(new_york.start_of(date("2027-03-15"))), "2027-03-15T00:00:00-04:00");
        Ok(())
    }

    #[test]
    fn day_without_midnight_starts_after_gap() -> Result<(), JmlError> {
        // In Santiago, clocks jump from 00:00 to 01:00 on 2026-09-06, so that day begins at 01:00.
        let santiago = zoned("America/Santiago", "start")?;

        assert_eq!(rfc3339(santiago.start_of(date("2026-09-06"))), "2026-09-06T01:00:00-03:00");
        assert_eq!(rfc3339(santiago.start_of(date("2026-09-05"))), "2026-09-05T00:00:00-04:00");
        Ok(())
    }

    #[test]
    fn fixed_offset_and_utc_still_read() -> Result<(), JmlError> {
        let fixed = zoned("+05:30", "end")?;
        let utc = zoned("UTC", "start")?;

        assert_eq!(rfc3339(fixed.termination_instant(date("2027-07-15"))), "2027-07-16T00:00:00+05:30");
        assert_eq!(rfc3339(utc.start_of(date("2027-07-15"))), "2027-07-15T00:00:00Z");
        Ok(())
    }

    #[test]
    fn unknown_zone_names_setting() {
        let error = zoned("Europe/Atlantis", "end").err().map(|e| e.to_string()).unwrap_or_default();

        assert!(error.contains("dates.time_zone"), "{error}");
        assert!(error.contains("Europe/Paris"), "the error should give an example: {error}");
        assert!(zoned("+0200", "end").is_err());
    }

    #[test]
    fn last_supported_day_has_no_end() -> Result<(), JmlError> {
        let paris = zoned("Europe/Paris", "end")?;

        assert_eq!(paris.termination_instant(date("9999-12-31")), None);
        Ok(())
    }
}

//! Reading a feed: CSV (comma, semicolon or tab, with or without a UTF-8 byte order mark, quoted fields) or JSON
//! Lines. Only the columns the mapping names are kept. Every other column is dropped while parsing, so salary,
//! birth dates and the like never leave this module.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{JmlError, RowError};

/// One row of a feed with only its mapped columns, and the line it started on (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub fields: BTreeMap<String, String>,
}

/// The rows of a feed, and the rows that could not be read at all.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
}

/// The format of a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    Csv,
    JsonLines,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Guesses the format: JSON Lines when the first non-blank byte opens an object, CSV otherwise.
pub fn detect_format(bytes: &[u8]) -> FeedFormat {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => FeedFormat::JsonLines,
        _ => FeedFormat::Csv,
    }
}

/// Reads a feed, keeping only the columns in `keep`. A column in `keep` that the header lacks is an error for
/// the whole feed, because every row would miss it.
pub fn read_feed(bytes: &[u8], keep: &BTreeSet<String>, required: &BTreeSet<String>) -> Result<Feed, JmlError> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    match detect_format(bytes) {
        FeedFormat::Csv => read_csv(bytes, keep, required),
        FeedFormat::JsonLines => read_json_lines(bytes, keep),
    }
}

/// Picks the delimiter that occurs most often in the header line, outside quotes.
fn detect_delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in header {
        if *byte == b'"' {
            quoted = !quoted;
        }
        if quoted {
            continue;
        }
        for (delimiter, count) in counts.iter_mut() {
            if byte == delimiter {
                *count += 1;
            }
        }
    }
    counts.iter().max_by_key(|(_, count)| *count).map_or(b',', |(delimiter, _)| *delimiter)
}

fn read_csv(bytes: &[u8], keep: &BTreeSet<String>, required: &BTreeSet<String>) -> Result<Feed, JmlError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(bytes))
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);

    let headers = reader.headers().map_err(|e| JmlError::Feed(format!("the CSV header cannot be read: {e}")))?.clone();
    let header_names: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    let missing: Vec<&String> = required.iter().filter(|column| !header_names.contains(column)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(JmlError::Feed(format!(
            "the feed has no column {}; fix the column names in the mapping or the export",
            names.join(", ")
        )));
    }
    let kept: Vec<(usize, &String)> =
        header_names.iter().enumerate().filter(|(_, name)| keep.contains(*name)).collect();

    let mut feed = Feed::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, csv::Position::line);
                if record.iter().all(|field| field.trim().is_empty()) {
                    continue;
                }
                let fields = kept
                    .iter()
                    .filter_map(|(index, name)| record.get(*index).map(|value| ((*name).clone(), value.to_string())))
                    .collect();
                feed.rows.push(Row { line, fields });
            }
            Err(error) => {
                let line = error.position().map_or(line, csv::Position::line);
                feed.errors.push(RowError::new(line, None, format!("the row cannot be read as CSV: {}", csv_reason(&error))));
                if !matches!(error.kind(), csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    Ok(feed)
}

/// Describes a CSV error without quoting field contents, which may hold unmapped personal data.
fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "it is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("it has {len} fields where the header has {expected_len}")
        }
        _ => "the CSV syntax is invalid".into(),
    }
}

fn read_json_lines(bytes: &[u8], keep: &BTreeSet<String>) -> Result<Feed, JmlError> {
    let mut feed = Feed::default();
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let object = match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => {
                feed.errors.push(RowError::new(line, None, "the line is not a JSON object".into()));
                continue;
            }
            Err(error) => {
                feed.errors.push(RowError::new(line, None, format!("the line is not valid JSON: {}", error.classify_text())));
                continue;
            }
        };
        let fields = object
            .into_iter()
            .filter(|(name, _)| keep.contains(name))
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(text) => Some((name, text)),
                serde_json::Value::Number(number) => Some((name, number.to_string())),
                serde_json::Value::Bool(flag) => Some((name, flag.to_string())),
                _ => None,
            })
            .collect();
        feed.rows.push(Row { line, fields });
    }
    Ok(feed)
}

trait ClassifyText {
    fn classify_text(&self) -> &'static str;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "the line ends early",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn csv_semicolon_with_bom_and_quotes() {
        let bytes = b"\xEF\xBB\xBFid;name;salary\n1;\"Doe; Jane\";100\n2;Roe;200\n";
        let feed = read_feed(bytes, &keep(&["id", "name"]), &keep(&["id"])).unwrap_or_default();
        assert_eq!(feed.rows.len(), 2);
        assert_eq!(feed.rows[0].fields.get("name").map(String::as_str), Some("Doe; Jane"));
        assert_eq!(feed.rows[0].line, 2);
        assert!(!feed.rows[0].fields.contains_key("salary"));
    }

    #[test]
    fn csv_tab_delimited() {
        let bytes = b"id\tname\n7\tAda\n";
        let feed = read_feed(bytes, &keep(&["id", "name"]), &keep(&["id"])).unwrap_or_default();
        assert_eq!(feed.rows[0].fields.get("name").map(String::as_str), Some("Ada"));
    }

    #[test]
    fn csv_missing_required_column_fails() {
        let bytes = b"id,name\n1,Ada\n";
        assert!(read_feed(bytes, &keep(&["EmpID"]), &keep(&["EmpID"])).is_err());
    }

    #[test]
    fn json_lines_keeps_mapped_fields() {
        let bytes = b"{\"id\": 1, \"name\": \"Ada\", \"dob\": \"1990\"}\nnot json\n";
        let feed = read_feed(bytes, &keep(&["id", "name"]), &keep(&["id"])).unwrap_or_default();
        assert_eq!(feed.rows.len(), 1);
        assert_eq!(feed.rows[0].fields.get("id").map(String::as_str), Some("1"));
        assert!(!feed.rows[0].fields.contains_key("dob"));
        assert_eq!(feed.errors.len(), 1);
        assert_eq!(feed.errors[0].line, 2);
    }
}

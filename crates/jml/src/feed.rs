//! Reading a feed: CSV (comma, semicolon or tab, with or without a UTF-8 byte order mark, quoted fields) or JSON
//! Lines. Only the columns the mapping names are kept. Every other column is dropped while parsing, so salary,
//! birth dates and the like never leave this module.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::error::{JmlError, RowError};

/// One row of a feed with only its mapped columns, and the line it started on (the header is line 1).
///
/// A row keeps its values in one string, and the column names once per feed. A map of names to values per row
/// took more than ten times the size of the file for a feed of 100,000 people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    /// The names of the values, shared by every row of a feed.
    columns: Arc<[String]>,
    text: String,
    /// Per column, where its value lies in `text`; `None` when the row lacks the column.
    spans: Box<[Option<(u32, u32)>]>,
}

impl Row {
    /// Builds a row from column names and their values.
    pub fn new(line: u64, fields: BTreeMap<String, String>) -> Self {
        let columns: Arc<[String]> = fields.keys().cloned().collect();
        Self::from_values(line, columns, fields.into_values().map(Some))
    }

    /// Builds a row from one value (or none) per column of `columns`, in order.
    fn from_values<V: AsRef<str>>(line: u64, columns: Arc<[String]>, values: impl IntoIterator<Item = Option<V>>) -> Self {
        let mut text = String::new();
        let mut spans = Vec::with_capacity(columns.len());
        for value in values {
            spans.push(value.and_then(|value| {
                let start = u32::try_from(text.len()).ok()?;
                text.push_str(value.as_ref());
                Some((start, u32::try_from(text.len()).ok()?))
            }));
        }
        text.shrink_to_fit();
        Self { line, columns, text, spans: spans.into_boxed_slice() }
    }

    /// Returns the value of `column`, if the row has one. Of a column that the header names twice, it returns the
    /// last.
    pub fn get(&self, column: &str) -> Option<&str> {
        let index = self.columns.iter().rposition(|name| name == column)?;
        let (start, end) = (*self.spans.get(index)?)?;
        self.text.get(start as usize..end as usize)
    }
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
    let columns: Arc<[String]> = kept.iter().map(|(_, name)| (*name).clone()).collect();

    let mut feed = Feed::default();
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let line = lines.line_at(bytes, reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| lines.line_at(bytes, p.byte()));
                if record.iter().all(|field| field.trim().is_empty()) {
                    continue;
                }
                let values = kept.iter().map(|(index, _)| record.get(*index));
                feed.rows.push(Row::from_values(line, Arc::clone(&columns), values));
            }
            Err(error) => {
                let line = error.position().map_or(line, |p| lines.line_at(bytes, p.byte()));
                feed.errors.push(RowError::new(line, None, format!("the row cannot be read as CSV: {}", csv_reason(&error))));
                if !matches!(error.kind(), csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    Ok(feed)
}

/// Turns byte offsets into line numbers by counting line feeds. The csv crate's own line count is one short per
/// line for CRLF line endings, which exports from Windows and many HR systems use. Offsets only grow, so each
/// byte is counted once.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line_feeds: u64,
}

impl LineCounter {
    /// Returns the 1-based line of the record that starts at `offset`. After a CRLF line end the csv crate starts the
    /// next record at the line feed, so a line feed at `offset` itself counts as a line passed.
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).saturating_add(1).min(bytes.len());
        if offset > self.offset {
            let counted = bytes.get(self.offset..offset).map_or(0, |span| span.iter().filter(|b| **b == b'\n').count());
            self.line_feeds += counted as u64;
            self.offset = offset;
        }
        self.line_feeds + 1
    }
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
    let columns: Arc<[String]> = keep.iter().cloned().collect();
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
        let values = columns.iter().map(|name| match object.get(name) {
            Some(serde_json::Value::String(text)) => Some(text.clone()),
            Some(serde_json::Value::Number(number)) => Some(number.to_string()),
            Some(serde_json::Value::Bool(flag)) => Some(flag.to_string()),
            _ => None,
        });
        let row = Row::from_values(line, Arc::clone(&columns), values);
        feed.rows.push(row);
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
        assert_eq!(feed.rows[0].get("name"), Some("Doe; Jane"));
        assert_eq!(feed.rows[0].line, 2);
        assert_eq!(feed.rows[0].get("salary"), None);
    }

    #[test]
    fn csv_lines_counted_with_crlf() {
        // The second row's quoted name spans two lines, so the third row starts on line 5.
        for ending in ["\n", "\r\n"] {
            let text = ["id,name", "1,Ada", "2,\"Doe,", "Jane\"", "3,Roe"].join(ending);
            let feed = read_feed(text.as_bytes(), &keep(&["id", "name"]), &keep(&["id"])).unwrap_or_default();
            let lines: Vec<u64> = feed.rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, vec![2, 3, 5], "line numbers with {ending:?} line endings");
        }
    }

    #[test]
    fn csv_tab_delimited() {
        let bytes = b"id\tname\n7\tAda\n";
        let feed = read_feed(bytes, &keep(&["id", "name"]), &keep(&["id"])).unwrap_or_default();
        assert_eq!(feed.rows[0].get("name"), Some("Ada"));
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
        assert_eq!(feed.rows[0].get("id"), Some("1"));
        assert_eq!(feed.rows[0].get("dob"), None);
        assert_eq!(feed.errors.len(), 1);
        assert_eq!(feed.errors[0].line, 2);
    }
}

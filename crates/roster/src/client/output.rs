//! Printing results as an aligned table, JSON or CSV.

use clap::ValueEnum;
use serde_json::Value;
use std::io::{IsTerminal, Write};

/// The output format of a command's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for reading.
    Table,
    /// The server's JSON:API document, for scripts and for saving (`roles get` output feeds `roles sync`).
    Json,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
}

impl Format {
    /// Returns the requested format, or a table on a terminal and JSON when stdout is a pipe or a file.
    pub fn resolve(requested: Option<Format>) -> Format {
        requested.unwrap_or_else(|| if std::io::stdout().is_terminal() { Format::Table } else { Format::Json })
    }
}

/// Rows under named columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self { headers: headers.to_vec(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Prints the table as `format`; JSON prints `json` instead, which is the server's document.
    pub fn print(&self, format: Format, json: &Value) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match format {
            Format::Table => write!(out, "{}", self.to_text())?,
            Format::Csv => write!(out, "{}", self.to_csv())?,
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(json)?)?,
        }
        out.flush()?;
        Ok(())
    }

    fn to_text(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }

        let mut text = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        text
    }

    fn to_csv(&self) -> String {
        let mut text = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_lowercase().replace(' ', "_")).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let cells: Vec<String> = row.iter().map(|cell| csv_field(cell)).collect();
            text.push_str(&cells.join(","));
            text.push_str("\r\n");
        }
        text
    }
}

/// Quotes a field that contains a comma, a quote or a line break, doubling inner quotes (RFC 4180).
fn csv_field(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Renders a JSON value as a cell: strings as they are, null as empty, anything else as compact JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_table_aligns_columns() {
        let mut table = Table::new(&["ID", "EMAIL"]);
        table.push(vec!["1".into(), "ada@example.com".into()]);
        table.push(vec!["12".into(), String::new()]);
        assert_eq!(table.to_text(), "ID  EMAIL\n1   ada@example.com\n12\n");
    }

    #[test]
    fn csv_quotes_special_fields() {
        let mut table = Table::new(&["LAST NAME", "NOTE"]);
        table.push(vec!["O\"Brien".into(), "a,b".into()]);
        assert_eq!(table.to_csv(), "last_name,note\r\n\"O\"\"Brien\",\"a,b\"\r\n");
    }
}

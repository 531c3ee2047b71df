//! Export and import of a whole deployment as JSON Lines, to move it between backends.
//!
//! The first line is a header, every following line one table row (`{"table": ..., "row": ...}`), and the last
//! line the row count of each table, which an import compares after writing.

use roster_store::{EXPORT_TABLES, ExportRecord};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::Roster;
use crate::error::{Result, ServiceError};

/// Identifies the file format; an import refuses any other.
const FORMAT: &str = "roster-export";
const FORMAT_VERSION: i64 = 1;
const PAGE: i64 = 1000;

/// Row counts by table.
pub type TableCounts = BTreeMap<String, i64>;

fn io_error(e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("cannot write the export: {e}"))
}

fn invalid(line: usize, why: impl std::fmt::Display) -> ServiceError {
    ServiceError::field("input", "invalid", format!("line {line}: {why}"))
}

impl Roster {
    /// Writes every table, from one consistent snapshot, and returns the row counts.
    pub async fn export(&self, out: &mut dyn Write) -> Result<TableCounts> {
        let mut conn = self.store.begin_snapshot().await?;
        let schema_version = self.store.applied_versions().await?.last().copied().unwrap_or(0);
        let header = json!({ "format": FORMAT, "version": FORMAT_VERSION, "schema_version": schema_version });
        writeln!(out, "{header}").map_err(io_error)?;

        let mut counts = TableCounts::new();
        for table in EXPORT_TABLES {
            let mut after = 0;
            let mut count = 0;
            loop {
                let rows = conn.export_rows(table, after, PAGE).await?;
                let Some((last, _)) = rows.last() else { break };
                after = *last;
                for (_, record) in &rows {
                    let line = serde_json::to_string(record).map_err(|e| ServiceError::Internal(e.to_string()))?;
                    writeln!(out, "{line}").map_err(io_error)?;
                    count += 1;
                }
            }
            counts.insert((*table).to_string(), count);
        }

        writeln!(out, "{}", json!({ "counts": counts })).map_err(io_error)?;
        out.flush().map_err(io_error)?;
        Ok(counts)
    }

    /// Reads an export into this database, which must be empty, in one transaction. Before committing it compares
    /// the row counts with the file's and verifies the audit chain.
    pub async fn import(&self, input: &mut dyn BufRead) -> Result<TableCounts> {
        let mut conn = self.store.begin().await?;
        for table in ["users", "tokens", "audit_log", "role_types", "jml_plans"] {
            if conn.count_rows(table).await? > 0 {
                return Err(ServiceError::Conflict {
                    code: "not_empty",
                    message: format!("the target database already has {table}; import into a new, empty database"),
                    details: Value::Null,
                });
            }
        }

        let mut expected: Option<TableCounts> = None;
        let mut managers = Vec::new();
        let mut header_seen = false;
        for (index, line) in input.lines().enumerate() {
            let number = index + 1;
            let line = line.map_err(|e| invalid(number, e))?;
            if line.trim().is_empty() {
                continue;
            }
            if !header_seen {
                check_header(&line, number)?;
                header_seen = true;
                continue;
            }
            if let Ok(trailer) = serde_json::from_str::<Value>(&line)
                && let Some(counts) = trailer.get("counts")
            {
                expected = Some(serde_json::from_value(counts.clone()).map_err(|e| invalid(number, e))?);
                continue;
            }
            let mut record: ExportRecord = serde_json::from_str(&line).map_err(|e| invalid(number, e))?;
            if let ExportRecord::Users(user) = &mut record
                && let Some(manager) = user.manager_id.take()
            {
                managers.push((user.id, manager));
            }
            conn.import_record(&record).await.map_err(|e| invalid(number, e))?;
        }
        for (user_id, manager_id) in managers {
            conn.import_manager(user_id, manager_id).await?;
        }
        conn.reset_id_sequences().await?;

        let Some(mut expected) = expected else {
            return Err(ServiceError::field("input", "invalid", "the file has no counts line; it was cut short"));
        };
        // An export made before a table existed has no count for it, and no rows.
        for table in EXPORT_TABLES {
            expected.entry((*table).to_string()).or_insert(0);
        }
        let mut found = TableCounts::new();
        for table in EXPORT_TABLES {
            found.insert((*table).to_string(), conn.count_rows(table).await?);
        }
        if found != expected {
            return Err(ServiceError::Conflict {
                code: "count_mismatch",
                message: "the imported row counts differ from the file's; nothing was imported".into(),
                details: json!({ "expected": expected, "found": found }),
            });
        }
        let verification = crate::audit::verify_chain(&mut conn).await?;
        if let Some((seq, reason)) = verification.first_mismatch {
            return Err(ServiceError::Conflict {
                code: "audit_chain_broken",
                message: format!("the imported audit chain does not verify at entry {seq}: {reason}; nothing was imported"),
                details: Value::Null,
            });
        }
        conn.commit().await?;
        tracing::info!(counts = ?found, "imported an export");
        Ok(found)
    }
}

fn check_header(line: &str, number: usize) -> Result<()> {
    let header: Value = serde_json::from_str(line).map_err(|e| invalid(number, e))?;
    if header.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid(number, "not a Roster export; the first line must be its header"));
    }
    if header.get("version").and_then(Value::as_i64) != Some(FORMAT_VERSION) {
        return Err(invalid(number, format!("unsupported export version; this build reads version {FORMAT_VERSION}")));
    }
    Ok(())
}

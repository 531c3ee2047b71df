//! Folds the domain [`Filter`] into a parameterised SQL condition over the `users` table.

mod elements;

use crate::dialect::Backend;
use crate::types::{Param, SqlBuf};
use roster_domain::filter::{CmpOp, Filter, FilterValue, StoredAttr, UserAttr};
use roster_domain::fold;

/// The columns that store one attribute.
struct Column {
    /// The column, or the expression, as given.
    raw: std::borrow::Cow<'static, str>,
    /// The column or expression holding the folded (lower-case) text, for case-insensitive comparison.
    folded: Option<std::borrow::Cow<'static, str>>,
}

fn column(attr: UserAttr, backend: Backend) -> Column {
    let (raw, folded) = match attr {
        UserAttr::Stored(stored) => {
            return Column {
                raw: stored_value(backend, "scim_attributes", stored).into(),
                folded: Some(stored_value(backend, "scim_attributes_folded", stored).into()),
            };
        }
        UserAttr::Id => ("id", None),
        UserAttr::Email => ("email", Some("email_folded")),
        UserAttr::UserName => ("user_name", Some("user_name_folded")),
        UserAttr::UniqueId => ("unique_id", Some("unique_id_folded")),
        UserAttr::ExternalId => ("external_id", None),
        UserAttr::FirstName => ("first_name", Some("first_name_folded")),
        UserAttr::LastName => ("last_name", Some("last_name_folded")),
        UserAttr::MobileNumber => ("mobile_number", None),
        UserAttr::JobTitle => ("job_title", Some("job_title_folded")),
        UserAttr::Department => ("department", Some("department_folded")),
        UserAttr::ManagerId => ("manager_id", None),
        UserAttr::StartDate => ("start_date", None),
        UserAttr::EndDate => ("end_date", None),
        UserAttr::CreatedAt => ("created_at", None),
        UserAttr::UpdatedAt => ("updated_at", None),
    };
    Column { raw: raw.into(), folded: folded.map(Into::into) }
}

/// Returns the SQL expression that extracts a stored attribute from a JSON text column, as text or NULL. The keys
/// come from [`StoredAttr::json_path`], never from a request, so they are written into the SQL text. On
/// PostgreSQL the result is compared bytewise (`COLLATE "C"`), as SQLite compares text, so `gt` and `lt` agree.
// NOTE: no index covers these expressions, so a filter on them reads every user row.
pub(crate) fn stored_value(backend: Backend, json_column: &str, attr: StoredAttr) -> String {
    let path = attr.json_path();
    match backend {
        Backend::Sqlite => {
            let keys: Vec<String> = path.iter().map(|key| format!(".\"{key}\"")).collect();
            format!("json_extract({json_column}, '${}')", keys.concat())
        }
        Backend::Postgres => {
            let mut expression = format!("({json_column}::jsonb");
            for (i, key) in path.iter().enumerate() {
                let arrow = if i + 1 == path.len() { " ->> " } else { " -> " };
                expression.push_str(arrow);
                expression.push('\'');
                expression.push_str(key);
                expression.push('\'');
            }
            expression.push_str(") COLLATE \"C\"");
            expression
        }
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Appends the condition for `filter` to `buf`.
pub(crate) fn push_filter(buf: &mut SqlBuf, filter: &Filter, backend: Backend) {
    match filter {
        Filter::All => {
            buf.push("1 = 1");
        }
        Filter::And(terms) => push_joined(buf, terms, " AND ", "1 = 1", backend),
        Filter::Or(terms) => push_joined(buf, terms, " OR ", "1 = 0", backend),
        Filter::Not(inner) => push_filter_not(buf, |buf| push_filter(buf, inner, backend)),
        Filter::Present(attr) => {
            let col = column(*attr, backend).raw;
            let col = col.as_ref();
            buf.push("(").push(col).push(" IS NOT NULL");
            if !matches!(attr, UserAttr::Id | UserAttr::ManagerId | UserAttr::StartDate | UserAttr::EndDate)
                && !matches!(attr, UserAttr::CreatedAt | UserAttr::UpdatedAt)
            {
                buf.push(" AND ").push(col).push(" <> ''");
            }
            buf.push(")");
        }
        Filter::HasRole(role_type_id) => {
            buf.push("EXISTS (SELECT 1 FROM role_assignments ra WHERE ra.user_id = users.id AND ra.role_type_id = ");
            buf.bind(Param::Int(*role_type_id));
            buf.push(")");
        }
        Filter::InGroup(group_id) => {
            buf.push("EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = users.id");
            if let Some(group_id) = group_id {
                buf.push(" AND gm.group_id = ");
                buf.bind(Param::Int(*group_id));
            }
            buf.push(")");
        }
        Filter::StatusIn(states) => {
            if states.is_empty() {
                buf.push("1 = 0");
                return;
            }
            buf.push("status IN (");
            buf.bind_list(states.iter().map(|state| Param::Text(state.as_str().to_string())));
            buf.push(")");
        }
        Filter::Cmp { attr, op, value, case_exact } => {
            push_comparison(buf, *attr, *op, value, *case_exact, backend);
        }
        Filter::AnyElement { attr, condition } => elements::push_any_element(buf, *attr, condition, backend),
    }
}

/// Appends the negation of the condition that `push_inner` appends.
fn push_filter_not(buf: &mut SqlBuf, push_inner: impl FnOnce(&mut SqlBuf)) {
    // SQL makes a comparison with a missing (NULL) value unknown, and NOT keeps it unknown. COALESCE makes it
    // false first, so `not (email eq "x")` matches users without an email, as `email ne "x"` does.
    buf.push("NOT COALESCE((");
    push_inner(buf);
    buf.push("), FALSE)");
}

fn push_joined(buf: &mut SqlBuf, terms: &[Filter], joiner: &str, empty: &str, backend: Backend) {
    if terms.is_empty() {
        buf.push(empty);
        return;
    }
    buf.push("(");
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            buf.push(joiner);
        }
        push_filter(buf, term, backend);
    }
    buf.push(")");
}

fn push_comparison(buf: &mut SqlBuf, attr: UserAttr, op: CmpOp, value: &FilterValue, case_exact: bool, backend: Backend) {
    let col = column(attr, backend);
    // Only real folded columns have an index that a prefix range can use.
    let indexed = !matches!(attr, UserAttr::Stored(_));

    let (column_name, param, bytewise) = match value {
        FilterValue::Text(text) => match (case_exact, &col.folded) {
            (false, Some(folded)) => (folded.as_ref(), fold(text), indexed),
            _ => (col.raw.as_ref(), text.clone(), false),
        },
        FilterValue::Int(v) => return push_ordered(buf, &col.raw, op, Param::Int(*v)),
        FilterValue::Date(v) => return push_ordered(buf, &col.raw, op, Param::Date(*v)),
        FilterValue::Time(v) => return push_ordered(buf, &col.raw, op, Param::Time(*v)),
    };

    push_text_match(buf, column_name, op, param, bytewise);
}

/// Appends the comparison of a text expression with `param`, which the caller has folded when `column_name` contains
/// folded text. `bytewise` adds the index range of [`push_prefix_range`] to a prefix match.
fn push_text_match(buf: &mut SqlBuf, column_name: &str, op: CmpOp, param: String, bytewise: bool) {
    match op {
        CmpOp::Co | CmpOp::Sw | CmpOp::Ew => {
            let escaped = escape_like(&param);
            let pattern = match op {
                CmpOp::Co => format!("%{escaped}%"),
                CmpOp::Sw => format!("{escaped}%"),
                _ => format!("%{escaped}"),
            };
            let with_range = op == CmpOp::Sw && bytewise;
            if with_range {
                buf.push("(");
                push_prefix_range(buf, column_name, &param);
            }
            buf.push(column_name).push(" LIKE ");
            buf.bind(Param::Text(pattern));
            buf.push(" ESCAPE '\\'");
            if with_range {
                buf.push(")");
            }
        }
        _ => push_ordered(buf, column_name, op, Param::Text(param)),
    }
}

/// Adds `column >= prefix AND column < prefix || U+10FFFF AND` ahead of a prefix `LIKE`, so that both databases
/// can scan the column's index: SQLite does not use an index for a `LIKE` whose pattern is a bound parameter when
/// its query planner stability guarantee is on, as Roster builds it. Only for folded columns, which both databases
/// compare bytewise (SQLite's BINARY, PostgreSQL's "C" collation), so every string with the prefix falls in the
/// range; a raw column may have a linguistic collation on PostgreSQL.
// NOTE: a value whose character right after the prefix is U+10FFFF followed by more text sorts above the bound
// and is missed; U+10FFFF is a noncharacter that valid names and emails do not contain.
fn push_prefix_range(buf: &mut SqlBuf, column_name: &str, prefix: &str) {
    buf.push(column_name).push(" >= ");
    buf.bind(Param::Text(prefix.to_string()));
    buf.push(" AND ").push(column_name).push(" < ");
    buf.bind(Param::Text(format!("{prefix}\u{10FFFF}")));
    buf.push(" AND ");
}

fn push_ordered(buf: &mut SqlBuf, column_name: &str, op: CmpOp, param: Param) {
    let symbol = match op {
        CmpOp::Eq => " = ",
        CmpOp::Ne => {
            buf.push("(").push(column_name).push(" IS NULL OR ").push(column_name).push(" <> ");
            buf.bind(param);
            buf.push(")");
            return;
        }
        CmpOp::Gt => " > ",
        CmpOp::Ge => " >= ",
        CmpOp::Lt => " < ",
        CmpOp::Le => " <= ",
        // Substring operators on numbers or dates have no meaning; the filter parser rejects them, and here they
        // match nothing rather than everything.
        CmpOp::Co | CmpOp::Sw | CmpOp::Ew => {
            buf.push("1 = 0");
            return;
        }
    };
    buf.push(column_name).push(symbol);
    buf.bind(param);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_is_escaped_and_folded() {
        let mut buf = SqlBuf::default();
        push_filter(&mut buf, &Filter::text(UserAttr::Email, CmpOp::Co, "50%_Off"), Backend::Sqlite);
        assert_eq!(buf.sql, "email_folded LIKE $1 ESCAPE '\\'");
        assert_eq!(buf.params, vec![Param::Text("%50\\%\\_off%".into())]);
    }

    #[test]
    fn starts_with_adds_index_range() {
        let mut buf = SqlBuf::default();
        push_filter(&mut buf, &Filter::text(UserAttr::Email, CmpOp::Sw, "Ann"), Backend::Sqlite);
        assert_eq!(buf.sql, "(email_folded >= $1 AND email_folded < $2 AND email_folded LIKE $3 ESCAPE '\\')");
        assert_eq!(
            buf.params,
            vec![Param::Text("ann".into()), Param::Text("ann\u{10FFFF}".into()), Param::Text("ann%".into())]
        );
    }

    #[test]
    fn or_and_not_nest() {
        let filter = Filter::Not(Box::new(Filter::Or(vec![Filter::HasRole(1), Filter::HasRole(2)])));
        let mut buf = SqlBuf::default();
        push_filter(&mut buf, &filter, Backend::Sqlite);
        assert!(buf.sql.starts_with("NOT COALESCE(((EXISTS"), "{}", buf.sql);
        assert_eq!(buf.params.len(), 2);
    }

    #[test]
    fn stored_attribute_extracts_folded_json() {
        let filter = Filter::text(UserAttr::Stored(StoredAttr::CostCenter), CmpOp::Sw, "Ab");
        let expected = [
            (
                Backend::Sqlite,
                "json_extract(scim_attributes_folded, \
                 '$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".\"costCenter\"') LIKE $1 ESCAPE '\\'",
            ),
            (
                Backend::Postgres,
                "(scim_attributes_folded::jsonb -> 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' \
                 ->> 'costCenter') COLLATE \"C\" LIKE $1 ESCAPE '\\'",
            ),
        ];
        for (backend, sql) in expected {
            let mut buf = SqlBuf::default();
            push_filter(&mut buf, &filter, backend);
            assert_eq!(buf.sql, sql);
            assert_eq!(buf.params, vec![Param::Text("ab%".into())]);
        }
    }
}

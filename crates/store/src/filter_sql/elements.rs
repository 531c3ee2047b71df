//! Folds [`Filter::AnyElement`](roster_domain::Filter::AnyElement) into an `EXISTS` over the values of a
//! multi-valued attribute kept as sent: `json_each` on SQLite and `jsonb_array_elements` on PostgreSQL, over the
//! case-folded copy of the stored JSON. Every string sub-attribute these attributes have is declared with
//! `caseExact` false, so the folded copy is the only one read.
//!
//! The attribute and sub-attribute keys come from [`MultiValuedAttr::json_key`] and [`SubAttr::json_key`], never
//! from a request, so they are written into the SQL text. Compared values are bound.

use super::{push_filter_not, push_ordered, push_text_match};
use crate::dialect::Backend;
use crate::types::{Param, SqlBuf};
use roster_domain::filter::{CmpOp, ElementFilter, MultiValuedAttr, SubAttr};
use roster_domain::fold;

/// The folded copy of `scim_attributes`, written by Rust with every string value case-folded.
const FOLDED: &str = "users.scim_attributes_folded";

/// Appends `EXISTS (...)`, true when some value of `attr` satisfies `condition`.
// NOTE: no index covers the stored JSON, so this reads every user row that the rest of the filter leaves.
pub(super) fn push_any_element(buf: &mut SqlBuf, attr: MultiValuedAttr, condition: &ElementFilter, backend: Backend) {
    let element = "element";
    buf.push("EXISTS (SELECT 1 FROM ");
    push_values_source(buf, attr, element, backend);
    buf.push(" WHERE ");
    match backend {
        // `json_each` iterates the members of an object too, so the attribute itself must be an array.
        Backend::Sqlite => {
            buf.push(&format!("json_type({FOLDED}, '{}') = 'array' AND {element}.type = 'object'", sqlite_path(attr)));
        }
        Backend::Postgres => {
            buf.push(&format!("jsonb_typeof({element}.value) = 'object'"));
        }
    }
    push_mapped_exclusion(buf, attr, element, backend);
    buf.push(" AND (");
    push_element_filter(buf, condition, element, backend);
    buf.push("))");
}

/// Appends the row source of the values of `attr`, named `alias`, with the value's position as `alias.key` on
/// SQLite (from 0) and `alias.position` on PostgreSQL (from 1).
fn push_values_source(buf: &mut SqlBuf, attr: MultiValuedAttr, alias: &str, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            buf.push(&format!("json_each({FOLDED}, '{}') AS {alias}", sqlite_path(attr)));
        }
        // `jsonb_array_elements` fails on anything but an array, so any other value reads as no values.
        Backend::Postgres => {
            let key = attr.json_key();
            buf.push(&format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof({FOLDED}::jsonb -> '{key}') = 'array' \
                 THEN {FOLDED}::jsonb -> '{key}' ELSE '[]'::jsonb END) WITH ORDINALITY AS {alias}(value, position)"
            ));
        }
    }
}

fn sqlite_path(attr: MultiValuedAttr) -> String {
    format!("$.\"{}\"", attr.json_key())
}

/// Returns the position column of a values source and the position of its first value.
fn position(alias: &str, backend: Backend) -> (String, i64) {
    match backend {
        Backend::Sqlite => (format!("{alias}.key"), 0),
        Backend::Postgres => (format!("{alias}.position"), 1),
    }
}

/// Leaves out the stored email or phone number that a Roster column replaces when the user is rendered, because
/// the column's value is rendered in its place. The choice mirrors `select_email` and `select_mobile` of the SCIM User
/// representation: for emails the first value with `primary` true, else the first of type `work`, else the first;
/// for phone numbers the first of type `mobile`, and only while `mobile_number` is set.
// NOTE: a stored mobile number that `/core` later cleared is no longer rendered, but is still matched here while
// it stays first of type mobile; the stored JSON does not tell a cleared number from one Roster never mapped.
fn push_mapped_exclusion(buf: &mut SqlBuf, attr: MultiValuedAttr, element: &str, backend: Backend) {
    let (element_position, first) = position(element, backend);
    match attr {
        MultiValuedAttr::Emails => {
            buf.push(&format!(" AND {element_position} <> COALESCE("));
            push_first_position(buf, attr, backend, |buf, mapped| push_is_true(buf, SubAttr::Primary, mapped, backend));
            buf.push(", ");
            push_first_position(buf, attr, backend, |buf, mapped| push_has_type(buf, "work", mapped, backend));
            buf.push(&format!(", {first})"));
        }
        MultiValuedAttr::PhoneNumbers => {
            buf.push(&format!(" AND (COALESCE(users.mobile_number, '') = '' OR {element_position} <> COALESCE("));
            push_first_position(buf, attr, backend, |buf, mapped| push_has_type(buf, "mobile", mapped, backend));
            buf.push(", -1))");
        }
        _ => {}
    }
}

/// Appends a subquery for the position of the first value of `attr` that `condition` appends a test for.
fn push_first_position(
    buf: &mut SqlBuf,
    attr: MultiValuedAttr,
    backend: Backend,
    condition: impl FnOnce(&mut SqlBuf, &str),
) {
    let mapped = "mapped";
    let (mapped_position, _) = position(mapped, backend);
    buf.push(&format!("(SELECT MIN({mapped_position}) FROM "));
    push_values_source(buf, attr, mapped, backend);
    buf.push(" WHERE ");
    condition(buf, mapped);
    buf.push(")");
}

/// Appends a test that the value's `type` is `folded_type`, which must already be folded.
fn push_has_type(buf: &mut SqlBuf, folded_type: &'static str, alias: &str, backend: Backend) {
    buf.push(&sub_attribute(SubAttr::Type, alias, backend)).push(&format!(" = '{folded_type}'"));
}

fn push_is_true(buf: &mut SqlBuf, sub: SubAttr, alias: &str, backend: Backend) {
    let key = sub.json_key();
    match backend {
        Backend::Sqlite => buf.push(&format!("json_type({FOLDED}, {alias}.fullkey || '.\"{key}\"') = 'true'")),
        Backend::Postgres => buf.push(&format!("({alias}.value -> '{key}') = 'true'::jsonb")),
    };
}

/// Returns the expression of a sub-attribute of the value `alias`, as text or NULL, compared bytewise as the
/// single-valued stored attributes are. On SQLite it is read from the whole document by the value's full path,
/// because `json_extract` on the value itself would fail for a value that is not JSON text, such as a bare string.
fn sub_attribute(sub: SubAttr, alias: &str, backend: Backend) -> String {
    let key = sub.json_key();
    match backend {
        Backend::Sqlite => format!("json_extract({FOLDED}, {alias}.fullkey || '.\"{key}\"')"),
        Backend::Postgres => format!("({alias}.value ->> '{key}') COLLATE \"C\""),
    }
}

fn push_element_filter(buf: &mut SqlBuf, filter: &ElementFilter, alias: &str, backend: Backend) {
    match filter {
        ElementFilter::All => {
            buf.push("1 = 1");
        }
        ElementFilter::And(terms) => push_joined(buf, terms, " AND ", "1 = 1", alias, backend),
        ElementFilter::Or(terms) => push_joined(buf, terms, " OR ", "1 = 0", alias, backend),
        ElementFilter::Not(inner) => push_filter_not(buf, |buf| push_element_filter(buf, inner, alias, backend)),
        ElementFilter::Present(sub) => {
            let expression = sub_attribute(*sub, alias, backend);
            buf.push(&format!("({expression} IS NOT NULL AND {expression} <> '')"));
        }
        ElementFilter::IsTrue(sub) => push_is_true(buf, *sub, alias, backend),
        ElementFilter::Cmp { sub, op, value } => {
            let expression = sub_attribute(*sub, alias, backend);
            match op {
                CmpOp::Co | CmpOp::Sw | CmpOp::Ew => push_text_match(buf, &expression, *op, fold(value), false),
                _ => push_ordered(buf, &expression, *op, Param::Text(fold(value))),
            }
        }
    }
}

fn push_joined(buf: &mut SqlBuf, terms: &[ElementFilter], joiner: &str, empty: &str, alias: &str, backend: Backend) {
    if terms.is_empty() {
        buf.push(empty);
        return;
    }
    buf.push("(");
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            buf.push(joiner);
        }
        push_element_filter(buf, term, alias, backend);
    }
    buf.push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_reads_values_of_the_folded_array() {
        let condition = ElementFilter::Cmp { sub: SubAttr::Locality, op: CmpOp::Eq, value: "Paris".into() };
        let mut buf = SqlBuf::default();
        push_any_element(&mut buf, MultiValuedAttr::Addresses, &condition, Backend::Sqlite);
        assert_eq!(
            buf.sql,
            "EXISTS (SELECT 1 FROM json_each(users.scim_attributes_folded, '$.\"addresses\"') AS element \
             WHERE json_type(users.scim_attributes_folded, '$.\"addresses\"') = 'array' AND element.type = 'object' \
             AND (json_extract(users.scim_attributes_folded, element.fullkey || '.\"locality\"') = $1))"
        );
        assert_eq!(buf.params, vec![Param::Text("paris".into())]);
    }

    #[test]
    fn postgres_reads_values_of_the_folded_array() {
        let condition = ElementFilter::Present(SubAttr::Value);
        let mut buf = SqlBuf::default();
        push_any_element(&mut buf, MultiValuedAttr::Ims, &condition, Backend::Postgres);
        assert_eq!(
            buf.sql,
            "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(users.scim_attributes_folded::jsonb \
             -> 'ims') = 'array' THEN users.scim_attributes_folded::jsonb -> 'ims' ELSE '[]'::jsonb END) \
             WITH ORDINALITY AS element(value, position) WHERE jsonb_typeof(element.value) = 'object' \
             AND (((element.value ->> 'value') COLLATE \"C\" IS NOT NULL \
             AND (element.value ->> 'value') COLLATE \"C\" <> '')))"
        );
    }

    #[test]
    fn emails_leave_out_the_mapped_value() {
        let mut buf = SqlBuf::default();
        push_any_element(&mut buf, MultiValuedAttr::Emails, &ElementFilter::All, Backend::Sqlite);
        assert!(buf.sql.contains("AND element.key <> COALESCE((SELECT MIN(mapped.key)"), "{}", buf.sql);
        assert!(buf.sql.contains("'.\"type\"') = 'work'), 0)"), "{}", buf.sql);
    }
}

//! Opaque keyset cursors for cursor pagination (RFC 9865).
//!
//! A cursor contains the resource type, the sort key and direction of the request that produced it, and the sort
//! value and id of a resource. A `nextCursor` names the last resource of its page, and the next page starts after
//! it. A `previousCursor` names the first, and the previous page ends just before it. So a cursor never expires
//! and pages stay consistent while resources are created or deleted in between. Cursors are the hex form
//! of that text, so clients treat them as opaque strings.

use crate::scim::error::ScimApiError;
use crate::scim::list::ListRequest;
use axum::http::StatusCode;

/// The `scimType` of a cursor that this server did not issue, or issued for another query, as RFC 9865 names it.
const INVALID_CURSOR: &str = "invalidCursor";

/// Separates the fields of a cursor's text. The value comes last, so it may contain the separator.
const SEPARATOR: char = '|';

/// The position next to which a page of a cursor-paginated list starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `User` or `Group`.
    pub resource_type: String,
    /// The sort key's name, as the store names it.
    pub sort_key: String,
    pub descending: bool,
    /// Whether the page ends just before the resource, for `previousCursor`, instead of starting after it.
    pub backward: bool,
    /// The id of the resource.
    pub id: i64,
    /// The sort value of the resource, in the store's folded or canonical form; empty when sorting by id.
    pub value: String,
}

impl Cursor {
    /// Encodes the cursor as lower-case hex, so it is safe in a query string without escaping.
    pub fn encode(&self) -> String {
        let direction = if self.descending { "d" } else { "a" };
        let side = if self.backward { "b" } else { "f" };
        let text = ["2", &self.resource_type, &self.sort_key, direction, side, &self.id.to_string(), &self.value]
            .join(&SEPARATOR.to_string());
        text.bytes().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Decodes a cursor that [`Cursor::encode`] produced, and checks that it belongs to a query of
    /// `resource_type` sorted by `sort_key` in the same direction.
    pub fn decode(text: &str, resource_type: &str, sort_key: &str, descending: bool) -> Result<Self, ScimApiError> {
        let cursor = Self::parse(text).ok_or_else(|| {
            invalid_cursor(format!(
                "the cursor {text:?} is not one this server issued; send cursor= (empty) for the first page and then \
                 the nextCursor of each response"
            ))
        })?;

        if cursor.resource_type != resource_type || cursor.sort_key != sort_key || cursor.descending != descending {
            return Err(invalid_cursor(
                "the cursor belongs to another resource type, sortBy or sortOrder; keep those parameters the same \
                 for every page, or send cursor= (empty) to start again",
            ));
        }
        Ok(cursor)
    }

    /// Parses the text of a cursor: version 2, which has the `f` or `b` side, or version 1, which earlier releases
    /// issued for next pages only and which stays valid.
    fn parse(text: &str) -> Option<Self> {
        let bytes = decode_hex(text)?;
        let text = String::from_utf8(bytes).ok()?;
        let (version, rest) = text.split_once(SEPARATOR)?;
        let field_count = match version {
            "1" => 5,
            "2" => 6,
            _ => return None,
        };
        let fields: Vec<&str> = rest.splitn(field_count, SEPARATOR).collect();
        let (resource_type, sort_key, direction, side, id, value) = match (version, fields.as_slice()) {
            ("1", [resource_type, sort_key, direction, id, value]) => (resource_type, sort_key, direction, &"f", id, value),
            ("2", [resource_type, sort_key, direction, side, id, value]) => (resource_type, sort_key, direction, side, id, value),
            _ => return None,
        };
        Some(Self {
            resource_type: resource_type.to_string(),
            sort_key: sort_key.to_string(),
            descending: flag(direction, "a", "d")?,
            backward: flag(side, "f", "b")?,
            id: id.parse().ok()?,
            value: value.to_string(),
        })
    }
}

/// Reads a one-letter field that is `when_false` or `when_true`.
fn flag(text: &str, when_false: &str, when_true: &str) -> Option<bool> {
    if text == when_false {
        Some(false)
    } else if text == when_true {
        Some(true)
    } else {
        None
    }
}

/// The cursors of one page of a cursor-paginated list (RFC 9865).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageCursors {
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// Drops the extra row that a cursor-paginated read fetched, and returns the page's cursors. `rows` are in the
/// sort order. `requested` is the cursor the request sent, `None` for the first page. `cursor_at` builds the
/// encoded cursor that starts after a row (`false`) or ends before it (`true`).
///
/// A page read forwards has `nextCursor` when the extra row exists, and `previousCursor` unless it is the first
/// page. A page read backwards has `previousCursor` when the extra row exists, so a page that reaches the start of
/// the list has none, like the first page. It always has `nextCursor`, because it ends before the page it was read
/// from. An empty page has neither.
pub fn page_cursors<T>(
    request: &ListRequest,
    requested: Option<&Cursor>,
    rows: &mut Vec<T>,
    cursor_at: impl Fn(&T, bool) -> String,
) -> PageCursors {
    if request.cursor.is_none() || request.count == 0 {
        return PageCursors::default();
    }
    let count = request.count as usize;
    let backward = requested.is_some_and(|cursor| cursor.backward);
    let more = rows.len() > count;
    if more && backward {
        rows.drain(..rows.len() - count);
    } else if more {
        rows.truncate(count);
    }

    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return PageCursors::default();
    };
    let has_next = if backward { true } else { more };
    let has_previous = if backward { more } else { requested.is_some() };
    PageCursors {
        next: has_next.then(|| cursor_at(last, false)),
        previous: has_previous.then(|| cursor_at(first, true)),
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

/// Returns the 400 `invalidCursor` error of RFC 9865 with `detail`.
pub fn invalid_cursor(detail: impl Into<String>) -> ScimApiError {
    ScimApiError::new(StatusCode::BAD_REQUEST, Some(INVALID_CURSOR), detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            resource_type: "User".into(),
            sort_key: "user_name".into(),
            descending: true,
            backward: false,
            id: 42,
            value: "ann|bell".into(),
        }
    }

    #[test]
    fn round_trips() {
        for backward in [false, true] {
            let cursor = Cursor { backward, ..cursor() };
            let encoded = cursor.encode();
            assert!(encoded.bytes().all(|b| b.is_ascii_hexdigit()), "{encoded}");
            let decoded = Cursor::decode(&encoded, "User", "user_name", true).expect("decodes");
            assert_eq!(decoded, cursor);
        }
    }

    #[test]
    fn reads_version_one_as_forward() {
        let text = "1|User|user_name|d|42|ann|bell";
        let encoded: String = text.bytes().map(|byte| format!("{byte:02x}")).collect();
        let decoded = Cursor::decode(&encoded, "User", "user_name", true).expect("decodes");
        assert_eq!(decoded, cursor());
    }

    #[test]
    fn rejects_other_queries() {
        let encoded = cursor().encode();
        for (resource_type, sort_key, descending) in
            [("Group", "user_name", true), ("User", "id", true), ("User", "user_name", false)]
        {
            let error = Cursor::decode(&encoded, resource_type, sort_key, descending).expect_err("another query");
            assert_eq!(error.body()["scimType"], "invalidCursor");
        }
    }

    #[test]
    fn rejects_foreign_text() {
        for text in ["abc", "zz", "", "6869", "0x31"] {
            let error = Cursor::decode(text, "User", "id", false).expect_err(text);
            assert_eq!(error.body()["scimType"], "invalidCursor", "input {text:?}");
        }
    }
}

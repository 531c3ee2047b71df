//! Opaque keyset cursors for cursor pagination (RFC 9865).
//!
//! A cursor contains the resource type, the sort key and direction of the request that produced it, and the sort
//! value and id of the last resource on its page. The next page continues after that resource, so a cursor never
//! expires and pages stay consistent while resources are created or deleted in between. Cursors are the hex form
//! of that text, so clients treat them as opaque strings.

use crate::scim::error::ScimApiError;
use axum::http::StatusCode;

/// The `scimType` of a cursor that this server did not issue, or issued for another query, as RFC 9865 names it.
const INVALID_CURSOR: &str = "invalidCursor";

/// Separates the fields of a cursor's text. The value comes last, so it may contain the separator.
const SEPARATOR: char = '|';

/// The position after which the next page of a cursor-paginated list starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `User` or `Group`.
    pub resource_type: String,
    /// The sort key's name, as the store names it.
    pub sort_key: String,
    pub descending: bool,
    /// The id of the last resource on the page.
    pub id: i64,
    /// The sort value of the last resource on the page, in the store's folded or canonical form; empty when
    /// sorting by id.
    pub value: String,
}

impl Cursor {
    /// Encodes the cursor as lower-case hex, so it is safe in a query string without escaping.
    pub fn encode(&self) -> String {
        let direction = if self.descending { "d" } else { "a" };
        let text = ["1", &self.resource_type, &self.sort_key, direction, &self.id.to_string(), &self.value]
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

    fn parse(text: &str) -> Option<Self> {
        let bytes = decode_hex(text)?;
        let text = String::from_utf8(bytes).ok()?;
        let mut fields = text.splitn(6, SEPARATOR);
        let (Some("1"), Some(resource_type), Some(sort_key), Some(direction), Some(id), Some(value)) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        let descending = match direction {
            "a" => false,
            "d" => true,
            _ => return None,
        };
        Some(Self {
            resource_type: resource_type.to_string(),
            sort_key: sort_key.to_string(),
            descending,
            id: id.parse().ok()?,
            value: value.to_string(),
        })
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
            id: 42,
            value: "ann|bell".into(),
        }
    }

    #[test]
    fn round_trips() {
        let encoded = cursor().encode();
        assert!(encoded.bytes().all(|b| b.is_ascii_hexdigit()), "{encoded}");
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

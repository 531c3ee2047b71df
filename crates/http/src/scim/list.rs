//! List requests (RFC 7644 §3.4.2 and §3.4.3): the query parameters of `GET /Users` and `GET /Groups`, the
//! body of `POST /.search`, and the `ListResponse` they return.

use serde_json::{Value, json};

use crate::scim::cursor::PageCursors;
use crate::scim::error::ScimApiError;
use crate::scim::projection::Projection;
use crate::scim::{DEFAULT_COUNT, MAX_RESULTS};

/// The schema URN of a list response.
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A list request, from query parameters or a search body.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    /// The 1-based index of the first result; values below 1 are read as 1.
    pub start_index: u64,
    /// The page size: at most [`MAX_RESULTS`], and 0 requests only `totalResults`.
    pub count: u32,
    /// The `cursor` parameter of cursor pagination (RFC 9865): empty for the first page, then the `nextCursor` of
    /// the previous response. `None` selects index pagination by `startIndex`.
    pub cursor: Option<String>,
    pub projection: Projection,
}

impl ListRequest {
    /// Reads the query string of a list or single-resource request. Parameter names match without regard to case,
    /// and parameters this server does not know are ignored.
    pub fn from_query(query: Option<&str>) -> Result<Self, ScimApiError> {
        let params = QueryParams::parse(query)?;
        let start_index = match params.get("startIndex") {
            None => 1,
            Some(text) => parse_start_index(&Value::String(text.to_string()))?,
        };
        let count = match params.get("count") {
            None => DEFAULT_COUNT,
            Some(text) => parse_count(&Value::String(text.to_string()))?,
        };
        let cursor = params.get("cursor").map(str::to_string);
        check_one_pagination(cursor.as_deref(), params.get("startIndex").is_some())?;
        Ok(Self {
            filter: params.get("filter").map(str::to_string),
            sort_by: params.get("sortBy").map(str::to_string),
            descending: parse_sort_order(params.get("sortOrder"))?,
            start_index,
            count,
            cursor,
            projection: Projection::new(params.get("attributes"), params.get("excludedAttributes")),
        })
    }

    /// Reads a `POST /.search` body (`urn:ietf:params:scim:api:messages:2.0:SearchRequest`).
    pub fn from_search_body(body: &Value) -> Result<Self, ScimApiError> {
        let Some(object) = body.as_object() else {
            return Err(ScimApiError::invalid_syntax("a search request must be a JSON object such as {\"filter\": \"userName eq \\\"bjensen\\\"\"}"));
        };
        let member = |name: &str| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let text = |name: &str| -> Result<Option<String>, ScimApiError> {
            match member(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(ScimApiError::invalid_value(format!("{name} must be a string, found {other}"))),
            }
        };
        let names = |name: &str| -> Result<Vec<String>, ScimApiError> {
            match member(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(text)) => Ok(text.split(',').map(str::to_string).collect()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_string).ok_or_else(|| {
                            ScimApiError::invalid_value(format!("{name} must be an array of attribute names"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimApiError::invalid_value(format!("{name} must be an array of attribute names"))),
            }
        };

        let start_index = match member("startIndex") {
            None | Some(Value::Null) => 1,
            Some(value) => parse_start_index(value)?,
        };
        let count = match member("count") {
            None | Some(Value::Null) => DEFAULT_COUNT,
            Some(value) => parse_count(value)?,
        };
        let cursor = text("cursor")?;
        check_one_pagination(cursor.as_deref(), !matches!(member("startIndex"), None | Some(Value::Null)))?;
        Ok(Self {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            descending: parse_sort_order(text("sortOrder")?.as_deref())?,
            start_index,
            count,
            cursor,
            projection: Projection::from_lists(&names("attributes")?, &names("excludedAttributes")?),
        })
    }

    /// Returns the 0-based offset of the first result.
    pub fn offset(&self) -> u64 {
        self.start_index.saturating_sub(1)
    }

    /// Returns the cursor of a cursor-paginated request after the first page, or `None` for the first page and
    /// for index pagination.
    pub fn continuation(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|cursor| !cursor.is_empty())
    }

    /// Returns how many rows to read for one page: one more than `count` under cursor pagination, so the handler
    /// can tell whether a next page exists without an empty last page.
    pub fn rows_to_read(&self) -> u32 {
        match (&self.cursor, self.count) {
            (Some(_), count) if count > 0 => count.saturating_add(1),
            (_, count) => count,
        }
    }

    /// Builds the list response for one page of rendered resources. Under cursor pagination the response has the
    /// page's `nextCursor` and `previousCursor`, and no `startIndex`.
    pub fn response(&self, total: i64, resources: Vec<Value>, cursors: PageCursors) -> Value {
        let resources: Vec<Value> = resources.into_iter().map(|r| self.projection.apply(r)).collect();
        let mut response = json!({
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": total,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        });
        if let Some(object) = response.as_object_mut() {
            if self.cursor.is_none() {
                object.insert("startIndex".into(), self.start_index.into());
            }
            if let Some(next_cursor) = cursors.next {
                object.insert("nextCursor".into(), next_cursor.into());
            }
            if let Some(previous_cursor) = cursors.previous {
                object.insert("previousCursor".into(), previous_cursor.into());
            }
        }
        response
    }
}

/// Rejects a request that asks for both pagination methods of RFC 9865, because their pages would disagree.
fn check_one_pagination(cursor: Option<&str>, has_start_index: bool) -> Result<(), ScimApiError> {
    if cursor.is_some() && has_start_index {
        return Err(ScimApiError::invalid_value(
            "cursor and startIndex cannot be combined; send cursor (empty for the first page) or startIndex, not both",
        ));
    }
    Ok(())
}

/// The query parameters of a request, with names matched without regard to case. The first of a repeated
/// parameter wins.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Result<Self, ScimApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ScimApiError::invalid_value("the query string is not valid URL encoding"))?;
        if let Some((name, _)) = pairs.iter().find(|(_, value)| value.contains('\0')) {
            return Err(ScimApiError::invalid_value(format!("the {name} parameter contains a NUL character; remove it")));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn projection(&self) -> Projection {
        Projection::new(self.get("attributes"), self.get("excludedAttributes"))
    }
}

/// Reads an integer given as a JSON number or as text.
fn integer(name: &str, value: &Value) -> Result<i64, ScimApiError> {
    let parsed = match value {
        Value::Number(number) => number.as_i64().or_else(|| number.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| ScimApiError::invalid_value(format!("{name} must be an integer, found {value}")))
}

fn parse_start_index(value: &Value) -> Result<u64, ScimApiError> {
    let index = integer("startIndex", value)?;
    Ok(u64::try_from(index).unwrap_or(0).max(1))
}

/// Reads `count`: a negative value is read as 0 and a value above [`MAX_RESULTS`] as [`MAX_RESULTS`], as RFC 7644
/// §3.4.2.4 specifies.
fn parse_count(value: &Value) -> Result<u32, ScimApiError> {
    let count = integer("count", value)?;
    Ok(u32::try_from(count.clamp(0, i64::from(MAX_RESULTS))).unwrap_or(MAX_RESULTS))
}

fn parse_sort_order(text: Option<&str>) -> Result<bool, ScimApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("descending") => Ok(true),
        Some(other) => Err(ScimApiError::invalid_value(format!(
            "sortOrder {other:?} is not valid; use ascending or descending"
        ))),
    }
}

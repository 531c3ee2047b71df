//! Query-string parsing with errors that name the parameter.

use roster_domain::Timestamp;
use std::collections::BTreeMap;

use crate::error::ApiError;

/// The query parameters of a request, by name. A repeated parameter is an error, since every parameter here
/// takes one value.
#[derive(Debug, Clone, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| ApiError::bad_parameter("", "the query string is not valid URL encoding"))?;

        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            // JSON:API's filter family: filter[email] means the same as email.
            let name = match name.strip_prefix("filter[").and_then(|rest| rest.strip_suffix(']')) {
                Some(inner) => inner.to_string(),
                None => name,
            };
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("unknown parameter {name:?}; this route accepts {}", allowed.join(", ")),
                ));
            }
            // PostgreSQL rejects NUL in a text parameter, and no stored value contains one.
            if value.contains('\0') {
                return Err(ApiError::bad_parameter(&name, format!("{name} contains a NUL character; remove it")));
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_parameter(&name, format!("{name} is given twice; give it once")));
            }
        }
        Ok(Self(map))
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.text(name) {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_parameter(name, format!("{other:?} is not a boolean; use true or false"))),
        }
    }

    pub fn positive_int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => text.parse::<i64>().ok().filter(|v| *v > 0).map(Some).ok_or_else(|| {
                ApiError::bad_parameter(name, format!("{text:?} is not a positive integer"))
            }),
        }
    }

    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => Timestamp::parse(text).map(Some).ok_or_else(|| {
                ApiError::bad_parameter(name, format!("{text:?} is not an RFC 3339 time such as 2026-01-31T09:00:00Z"))
            }),
        }
    }

    /// Reads `page[size]`: default 25, at most 100.
    pub fn page_size(&self) -> Result<u32, ApiError> {
        match self.positive_int("page[size]")? {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(size) if size <= i64::from(MAX_PAGE_SIZE) => Ok(u32::try_from(size).unwrap_or(MAX_PAGE_SIZE)),
            Some(size) => Err(ApiError::bad_parameter(
                "page[size]",
                format!("{size} exceeds the maximum page size {MAX_PAGE_SIZE}; ask for {MAX_PAGE_SIZE} or fewer"),
            )),
        }
    }

    /// Returns the query string with `page[after]` and `page[number]` replaced, for `links.next`.
    pub fn with_page(&self, name: &str, value: &str) -> String {
        let mut pairs: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| k.as_str() != "page[after]" && k.as_str() != "page[number]")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.push((name.to_string(), value.to_string()));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

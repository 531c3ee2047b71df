//! Users: attributes, lifecycle state and the validation every door applies before storing.

use crate::error::{FieldError, ValidationErrors};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use time::Date;

/// Maximum length in characters of a free-text attribute such as a name or a department.
pub const MAX_TEXT_LEN: usize = 255;
/// Maximum length of an email address (RFC 5321 §4.5.3.1.3 path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_CUSTOM_ATTRIBUTES: usize = 100;
pub const MAX_CUSTOM_KEY_LEN: usize = 64;
pub const MAX_CUSTOM_VALUE_LEN: usize = 2048;

/// Folds text for case-insensitive comparison.
///
/// Folding happens in Rust before storing and before binding, never in the database, because SQLite's `lower()`
/// folds only ASCII while PostgreSQL's folds Unicode, and both backends must agree on what collides.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// A person's (or service account's) place in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    /// Exists, holds no roles yet, and its tokens do not work.
    Pending,
    Active,
    /// On leave: keeps its roles, and its tokens do not work.
    Suspended,
    /// Left: no roles (they are kept in a snapshot), tokens disabled, hidden from default lists.
    Archived,
    /// Removed through SCIM `DELETE`: invisible to every API and its unique keys released.
    Deleted,
}

impl LifecycleState {
    /// Every state but deleted: the users that some API can still see.
    pub const LIVE: [LifecycleState; 4] = [Self::Pending, Self::Active, Self::Suspended, Self::Archived];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Archived => "archived",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "archived" => Some(Self::Archived),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An email address, stored as given and compared after [`fold`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Checks the shape `local@domain` without whitespace; deliverability is not Roster's concern.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let invalid = |why: &str| {
            FieldError::new(field, "invalid", format!("{why}; expected an address such as jane.doe@example.com"))
        };

        if text.is_empty() {
            return Err(FieldError::new(field, "blank", "must not be blank; give an address such as jane.doe@example.com"));
        }
        if text.chars().count() > MAX_EMAIL_LEN {
            return Err(FieldError::new(field, "too_long", format!("is longer than {MAX_EMAIL_LEN} characters")));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        match text.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => {
                Ok(Self(text.to_string()))
            }
            _ => Err(invalid("is not an email address")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn folded(&self) -> String {
        fold(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A login name (SCIM `userName`), unique case-insensitively among users that are not deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        check_text(field, text, MAX_TEXT_LEN)?;
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn folded(&self) -> String {
        fold(&self.0)
    }
}

/// Checks a required single-line text value: not blank, no control characters, at most `max` characters.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "blank", "must not be blank"));
    }
    if text.chars().count() > max {
        return Err(FieldError::new(field, "too_long", format!("is longer than {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(field, "invalid", "must not contain control characters such as newlines or tabs"));
    }
    Ok(())
}

/// Checks a mobile number: digits with optional `+`, spaces, dots, dashes and brackets.
pub fn check_phone(field: &str, text: &str) -> Result<(), FieldError> {
    check_text(field, text, 64)?;
    let allowed = |c: char| c.is_ascii_digit() || " +-.()".contains(c);
    if !text.chars().all(allowed) || !text.chars().any(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            "invalid",
            "must contain digits with optional +, spaces, dots, dashes and brackets, such as +44 20 7946 0958",
        ));
    }
    Ok(())
}

/// Checks `custom_attributes`: a bounded map of short keys to string values.
pub fn check_custom_attributes(field: &str, map: &BTreeMap<String, String>) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();

    if map.len() > MAX_CUSTOM_ATTRIBUTES {
        errors.push(FieldError::new(field, "too_long", format!("has more than {MAX_CUSTOM_ATTRIBUTES} keys")));
    }
    for (key, value) in map {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_CUSTOM_KEY_LEN
            && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !key_ok {
            errors.push(FieldError::new(
                format!("{field}/{key}"),
                "invalid",
                format!("keys must be 1 to {MAX_CUSTOM_KEY_LEN} characters of letters, digits, '_', '-' or '.'"),
            ));
        }
        if value.chars().count() > MAX_CUSTOM_VALUE_LEN {
            errors.push(FieldError::new(
                format!("{field}/{key}"),
                "too_long",
                format!("is longer than {MAX_CUSTOM_VALUE_LEN} characters"),
            ));
        }
    }

    errors.into_result()
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub user_name: String,
    pub unique_id: Option<String>,
    pub external_id: Option<String>,
    pub mobile_number: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub manager_id: Option<i64>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub custom_attributes: BTreeMap<String, String>,
    /// SCIM attributes without a Roster field (such as `displayName` or `addresses`), kept as the client sent
    /// them and returned intact.
    pub scim_attributes: serde_json::Map<String, serde_json::Value>,
    pub status: LifecycleState,
    /// Incremented on every change to the user or its roles; the ETag.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

impl User {
    /// The attributes recorded in audit entries and snapshots, as a canonical JSON object.
    pub fn attributes_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        let text = |v: &Option<String>| v.clone().map_or(serde_json::Value::Null, serde_json::Value::String);
        let date = |v: &Option<Date>| v.map_or(serde_json::Value::Null, |d| serde_json::Value::String(d.to_string()));

        map.insert("first_name".into(), text(&self.first_name));
        map.insert("last_name".into(), text(&self.last_name));
        map.insert("email".into(), text(&self.email));
        map.insert("user_name".into(), serde_json::Value::String(self.user_name.clone()));
        map.insert("unique_id".into(), text(&self.unique_id));
        map.insert("external_id".into(), text(&self.external_id));
        map.insert("mobile_number".into(), text(&self.mobile_number));
        map.insert("job_title".into(), text(&self.job_title));
        map.insert("department".into(), text(&self.department));
        map.insert("manager_id".into(), self.manager_id.map_or(serde_json::Value::Null, |id| id.into()));
        map.insert("start_date".into(), date(&self.start_date));
        map.insert("end_date".into(), date(&self.end_date));
        map.insert(
            "custom_attributes".into(),
            serde_json::Value::Object(
                self.custom_attributes.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
            ),
        );
        if !self.scim_attributes.is_empty() {
            map.insert("scim_attributes".into(), serde_json::Value::Object(self.scim_attributes.clone()));
        }
        map.insert("status".into(), serde_json::Value::String(self.status.as_str().into()));
        map
    }
}

/// The attributes of a user to create, already validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewUser {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub user_name: Option<UserName>,
    pub unique_id: Option<String>,
    pub external_id: Option<String>,
    pub mobile_number: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub manager_id: Option<i64>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub custom_attributes: BTreeMap<String, String>,
    pub scim_attributes: serde_json::Map<String, serde_json::Value>,
}

impl NewUser {
    /// Returns the login name: the one given, or else the email.
    pub fn effective_user_name(&self) -> Option<UserName> {
        self.user_name.clone().or_else(|| self.email.as_ref().map(|e| UserName(e.as_str().to_string())))
    }

    /// Checks rules that involve more than one attribute.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();

        if self.effective_user_name().is_none() {
            errors.push(FieldError::new("user_name", "blank", "is required when no email is given"));
        }
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            errors.push(FieldError::new("end_date", "invalid", format!("{end} is before start_date {start}")));
        }

        errors.into_result()
    }
}

/// A partial update: `None` leaves an attribute alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserPatch {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub email: Option<Option<Email>>,
    pub user_name: Option<UserName>,
    pub unique_id: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub mobile_number: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub manager_id: Option<Option<i64>>,
    pub start_date: Option<Option<Date>>,
    pub end_date: Option<Option<Date>>,
    pub custom_attributes: Option<BTreeMap<String, String>>,
    pub scim_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

impl UserPatch {
    /// Applies the patch to a copy of `user`; the caller stores the result.
    pub fn apply_to(&self, user: &User) -> User {
        let mut next = user.clone();

        if let Some(v) = &self.first_name {
            next.first_name = v.clone();
        }
        if let Some(v) = &self.last_name {
            next.last_name = v.clone();
        }
        if let Some(v) = &self.email {
            next.email = v.as_ref().map(|e| e.as_str().to_string());
        }
        if let Some(v) = &self.user_name {
            next.user_name = v.as_str().to_string();
        }
        if let Some(v) = &self.unique_id {
            next.unique_id = v.clone();
        }
        if let Some(v) = &self.external_id {
            next.external_id = v.clone();
        }
        if let Some(v) = &self.mobile_number {
            next.mobile_number = v.clone();
        }
        if let Some(v) = &self.job_title {
            next.job_title = v.clone();
        }
        if let Some(v) = &self.department {
            next.department = v.clone();
        }
        if let Some(v) = &self.manager_id {
            next.manager_id = *v;
        }
        if let Some(v) = &self.start_date {
            next.start_date = *v;
        }
        if let Some(v) = &self.end_date {
            next.end_date = *v;
        }
        if let Some(v) = &self.custom_attributes {
            next.custom_attributes = v.clone();
        }
        if let Some(v) = &self.scim_attributes {
            next.scim_attributes = v.clone();
        }

        next
    }

    /// Checks rules that involve the result of the patch as a whole.
    pub fn validate_result(user: &User) -> Result<(), ValidationErrors> {
        if let (Some(start), Some(end)) = (user.start_date, user.end_date)
            && end < start
        {
            return Err(ValidationErrors::single("end_date", "invalid", format!("{end} is before start_date {start}")));
        }
        Ok(())
    }
}

/// How a path segment names a user: a numeric id or an email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(i64),
    Email(String),
}

impl UserRef {
    /// Parses a path segment; `None` when it is neither a positive id nor an email address.
    pub fn parse(segment: &str) -> Option<Self> {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            return segment.parse::<i64>().ok().filter(|id| *id > 0).map(Self::Id);
        }
        if segment.contains('@') {
            return Some(Self::Email(segment.to_string()));
        }
        None
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Email(email) => f.write_str(email),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_plain_address() {
        assert!(Email::parse("email", "Jane.Doe@Example.com").is_ok());
    }

    #[test]
    fn email_rejects_bad_shapes() {
        for bad in ["", "jane", "@example.com", "jane@", "ja ne@example.com", "a@b@c", "jane\n@example.com"] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn fold_handles_unicode() {
        assert_eq!(fold("ÉLODIE@Example.COM"), "élodie@example.com");
    }

    #[test]
    fn user_ref_parses_id_and_email() {
        assert_eq!(UserRef::parse("42"), Some(UserRef::Id(42)));
        assert_eq!(UserRef::parse("a@b.c"), Some(UserRef::Email("a@b.c".into())));
        assert_eq!(UserRef::parse("0"), None);
        assert_eq!(UserRef::parse("99999999999999999999"), None);
        assert_eq!(UserRef::parse("jane"), None);
    }

    #[test]
    fn phone_rejects_letters() {
        assert!(check_phone("mobile_number", "+44 20 7946 0958").is_ok());
        assert!(check_phone("mobile_number", "call me").is_err());
    }

    #[test]
    fn custom_attribute_keys_checked() {
        let mut map = BTreeMap::new();
        map.insert("cost centre".to_string(), "x".to_string());
        assert!(check_custom_attributes("custom_attributes", &map).is_err());
    }
}

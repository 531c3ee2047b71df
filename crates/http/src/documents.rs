//! JSON:API documents: rendering resources and reading request bodies into domain types.

use roster_domain::user::{MAX_TEXT_LEN, check_custom_attributes, check_phone, check_text};
use roster_domain::{
    Email, FieldError, NewUser, RoleAssignment, RoleKey, RoleSource, RoleType, Timestamp, TokenInfo, User, UserName,
    UserPatch, ValidationErrors,
};
use roster_service::{RoleRequest, UserWithRoles};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use time::Date;

use crate::error::ApiError;

fn opt_text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::String)
}

fn opt_time(value: Option<Timestamp>) -> Value {
    value.map_or(Value::Null, |t| Value::String(t.canonical()))
}

/// A user resource object that borrows from the user, so that a page of users serialises without first building
/// a `serde_json::Value` per user, whose allocations dominated the cost of a list page.
#[derive(Serialize)]
pub struct UserResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: UserAttributes<'a>,
    meta: ResourceMeta,
    links: SelfLink,
}

#[derive(Serialize)]
struct UserAttributes<'a> {
    first_name: &'a Option<String>,
    last_name: &'a Option<String>,
    email: &'a Option<String>,
    user_name: &'a str,
    unique_id: &'a Option<String>,
    external_id: &'a Option<String>,
    mobile_number: &'a Option<String>,
    job_title: &'a Option<String>,
    department: &'a Option<String>,
    manager_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    custom_attributes: &'a BTreeMap<String, String>,
    status: &'static str,
    created_at: String,
    updated_at: String,
    archived_at: Option<String>,
}

#[derive(Serialize)]
struct ResourceMeta {
    version: i64,
}

#[derive(Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    self_link: String,
}

impl<'a> UserResource<'a> {
    pub fn new(user: &'a User) -> Self {
        Self {
            kind: "users",
            id: user.id.to_string(),
            attributes: UserAttributes {
                first_name: &user.first_name,
                last_name: &user.last_name,
                email: &user.email,
                user_name: &user.user_name,
                unique_id: &user.unique_id,
                external_id: &user.external_id,
                mobile_number: &user.mobile_number,
                job_title: &user.job_title,
                department: &user.department,
                manager_id: user.manager_id.map(|id| id.to_string()),
                start_date: user.start_date.map(|d| d.to_string()),
                end_date: user.end_date.map(|d| d.to_string()),
                custom_attributes: &user.custom_attributes,
                status: user.status.as_str(),
                created_at: user.created_at.canonical(),
                updated_at: user.updated_at.canonical(),
                archived_at: user.archived_at.map(|t| t.canonical()),
            },
            meta: ResourceMeta { version: user.version },
            links: SelfLink { self_link: format!("/core/users/{}", user.id) },
        }
    }
}

/// Renders a user resource object, with relationship linkage to `roles` when given.
pub fn user_resource(user: &User, roles: Option<&[RoleView]>) -> Value {
    // Serialising these plain types cannot fail; the fallback only satisfies the signature.
    let mut resource = serde_json::to_value(UserResource::new(user)).unwrap_or_default();
    if let (Some(roles), Some(map)) = (roles, resource.as_object_mut()) {
        let linkage: Vec<Value> = roles.iter().map(|r| json!({ "type": "role_assignments", "id": r.id() })).collect();
        map.insert("relationships".into(), json!({ "roles": { "data": linkage } }));
    }
    resource
}

/// Renders a user document with its roles as included resources.
pub fn user_document(found: &UserWithRoles) -> Value {
    let roles = group_roles(&found.roles);
    json!({
        "data": user_resource(&found.user, Some(&roles)),
        "included": roles.iter().map(RoleView::resource).collect::<Vec<_>>(),
    })
}

/// A role the user holds: one key, shown once, with every source that grants it.
#[derive(Debug, Clone)]
pub struct RoleView {
    /// The grant whose terms are shown: the direct one if any, else the first.
    pub primary: RoleAssignment,
    pub sources: Vec<RoleSource>,
}

impl RoleView {
    pub fn id(&self) -> String {
        role_id(&self.primary.key)
    }

    pub fn resource(&self) -> Value {
        let grant = &self.primary;
        let source_ref = match grant.source.reference() {
            "" => Value::Null,
            other => Value::String(other.to_string()),
        };
        json!({
            "type": "role_assignments",
            "id": self.id(),
            "attributes": {
                "role_type_id": grant.key.role_type_id.to_string(),
                "role_type_name": grant.role_type_name,
                "resource_type": opt_text(&grant.key.resource_type),
                "resource_id": opt_text(&grant.key.resource_id),
                "source": grant.source.kind(),
                "source_ref": source_ref,
                "sources": self.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "approved_by": opt_text(&grant.approved_by),
                "reason": opt_text(&grant.reason),
                "expires_at": opt_time(grant.expires_at),
                "granted_at": grant.granted_at.canonical(),
            }
        })
    }
}

/// Identifies an assignment by its key, as `role_type_id:resource_type:resource_id`.
pub fn role_id(key: &RoleKey) -> String {
    format!(
        "{}:{}:{}",
        key.role_type_id,
        key.resource_type.as_deref().unwrap_or(""),
        key.resource_id.as_deref().unwrap_or("")
    )
}

/// Groups grants by key, so a role granted by several sources is shown once.
pub fn group_roles(grants: &[RoleAssignment]) -> Vec<RoleView> {
    let mut by_key: BTreeMap<RoleKey, Vec<&RoleAssignment>> = BTreeMap::new();
    for grant in grants {
        by_key.entry(grant.key.clone()).or_default().push(grant);
    }
    by_key
        .into_values()
        .filter_map(|group| {
            let primary = group.iter().find(|g| g.source == RoleSource::Direct).or(group.first())?;
            Some(RoleView { primary: (*primary).clone(), sources: group.iter().map(|g| g.source.clone()).collect() })
        })
        .collect()
}

pub fn role_type_resource(role_type: &RoleType) -> Value {
    json!({
        "type": "role_types",
        "id": role_type.id.to_string(),
        "attributes": {
            "name": role_type.name,
            "description": opt_text(&role_type.description),
            "category": opt_text(&role_type.category),
            "resource_type": opt_text(&role_type.resource_type),
            "created_at": role_type.created_at.canonical(),
            "updated_at": role_type.updated_at.canonical(),
        },
        "links": { "self": format!("/core/role_types/{}", role_type.id) },
    })
}

pub fn token_resource(token: &TokenInfo, now: Timestamp) -> Value {
    json!({
        "type": "user_app_tokens",
        "id": token.id.to_string(),
        "attributes": {
            "name": token.name,
            "scopes": token.scopes.as_slice().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "user_id": token.user_id.map_or(Value::Null, |id| Value::String(id.to_string())),
            "created_at": token.created_at.canonical(),
            "expires_at": opt_time(token.expires_at),
            "revoked_at": opt_time(token.revoked_at),
            "disabled_at": opt_time(token.disabled_at),
            "active": token.inactive_reason(now).is_none(),
        },
    })
}

/// Returns `data` of a single-resource document, checking `type` when present.
pub fn resource_data<'a>(document: &'a Value, expected_type: &str) -> Result<&'a Map<String, Value>, ApiError> {
    let data = document
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid_json("expected a JSON:API document with a \"data\" object"))?;
    match data.get("type").and_then(Value::as_str) {
        None => Ok(data),
        Some(found) if found == expected_type => Ok(data),
        Some(found) => Err(ApiError::validation(
            ValidationErrors::single("type", "invalid", format!("is {found:?}; this route takes {expected_type:?}")),
            "/data",
        )),
    }
}

/// Returns `data.attributes` as an object (an absent one reads as empty).
pub fn attributes(data: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    match data.get("attributes") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(ApiError::invalid_json("\"data.attributes\" must be an object")),
    }
}

/// The writable user attributes.
const USER_ATTRIBUTES: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "user_name",
    "unique_id",
    "external_id",
    "mobile_number",
    "job_title",
    "department",
    "manager_id",
    "start_date",
    "end_date",
    "custom_attributes",
];
const READ_ONLY_ATTRIBUTES: &[&str] = &["id", "status", "created_at", "updated_at", "archived_at", "version"];

/// Collects typed attribute values and the errors found on the way.
struct Reader<'a> {
    attributes: &'a Map<String, Value>,
    errors: ValidationErrors,
}

impl<'a> Reader<'a> {
    fn new(attributes: &'a Map<String, Value>) -> Self {
        Self { attributes, errors: ValidationErrors::default() }
    }

    fn fail(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// Reads a nullable string: `None` when absent, `Some(None)` for null.
    fn text(&mut self, field: &str, max: usize) -> Option<Option<String>> {
        match self.attributes.get(field)? {
            Value::Null => Some(None),
            Value::String(text) => match check_text(field, text, max) {
                Ok(()) => Some(Some(text.clone())),
                Err(e) => {
                    self.fail(e);
                    None
                }
            },
            _ => {
                self.fail(FieldError::new(field, "invalid", "must be a string or null"));
                None
            }
        }
    }

    fn date(&mut self, field: &str) -> Option<Option<Date>> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        match self.attributes.get(field)? {
            Value::Null => Some(None),
            Value::String(text) => match Date::parse(text, &format) {
                Ok(date) => Some(Some(date)),
                Err(_) => {
                    self.fail(FieldError::new(field, "invalid", format!("{text:?} is not a date; use YYYY-MM-DD")));
                    None
                }
            },
            _ => {
                self.fail(FieldError::new(field, "invalid", "must be a date string such as 2026-01-31, or null"));
                None
            }
        }
    }

    fn id(&mut self, field: &str) -> Option<Option<i64>> {
        match self.attributes.get(field)? {
            Value::Null => Some(None),
            value => match parse_id(value) {
                Some(id) => Some(Some(id)),
                None => {
                    self.fail(FieldError::new(field, "invalid", "must be a numeric id such as \"12\", or null"));
                    None
                }
            },
        }
    }

    fn email(&mut self, field: &str) -> Option<Option<Email>> {
        match self.text(field, usize::MAX)? {
            None => Some(None),
            Some(text) => match Email::parse(field, &text) {
                Ok(email) => Some(Some(email)),
                Err(e) => {
                    self.fail(e);
                    None
                }
            },
        }
    }

    fn phone(&mut self, field: &str) -> Option<Option<String>> {
        match self.text(field, 64)? {
            None => Some(None),
            Some(text) => match check_phone(field, &text) {
                Ok(()) => Some(Some(text)),
                Err(e) => {
                    self.fail(e);
                    None
                }
            },
        }
    }

    fn custom(&mut self, field: &str) -> Option<BTreeMap<String, String>> {
        match self.attributes.get(field)? {
            Value::Null => Some(BTreeMap::new()),
            Value::Object(map) => {
                let mut out = BTreeMap::new();
                for (key, value) in map {
                    match value {
                        Value::String(text) => {
                            out.insert(key.clone(), text.clone());
                        }
                        _ => self.fail(FieldError::new(format!("{field}/{key}"), "invalid", "values must be strings")),
                    }
                }
                if let Err(errors) = check_custom_attributes(field, &out) {
                    errors.0.into_iter().for_each(|e| self.fail(e));
                }
                Some(out)
            }
            _ => {
                self.fail(FieldError::new(field, "invalid", "must be an object of string values"));
                None
            }
        }
    }

    fn reject_unknown(&mut self, allowed_extra: &[&str]) {
        let unknown: Vec<String> = self
            .attributes
            .keys()
            .filter(|k| !USER_ATTRIBUTES.contains(&k.as_str()) && !allowed_extra.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            if READ_ONLY_ATTRIBUTES.contains(&key.as_str()) {
                let hint = if key == "status" { "; use the archive and unarchive routes" } else { "" };
                self.fail(FieldError::new(key, "read_only", format!("is read-only{hint}")));
            } else {
                let detail = match suggest_attribute(&key, allowed_extra) {
                    Some(known) => format!("is not a user attribute; did you mean {known}?"),
                    None => "is not a user attribute; check the spelling".to_string(),
                };
                self.fail(FieldError::new(key, "unknown_attribute", detail));
            }
        }
    }
}

/// Finds the attribute that `key` most likely meant: the same letters ignoring case and underscores, as in
/// `firstName` for `first_name`, or `roles_attributes` for `roles` where roles may be given.
fn suggest_attribute(key: &str, allowed_extra: &[&str]) -> Option<String> {
    let squash = |text: &str| text.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect::<String>();
    let wanted = squash(key);

    let mut known = USER_ATTRIBUTES.iter().chain(allowed_extra.iter());
    if let Some(found) = known.find(|name| squash(name) == wanted) {
        return Some((*found).to_string());
    }
    if wanted == "roles" && allowed_extra.contains(&"roles_attributes") {
        return Some("roles_attributes".to_string());
    }
    None
}

/// Parses an id given as a number or a numeric string.
pub fn parse_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().filter(|id| *id > 0),
        Value::String(s) => s.parse::<i64>().ok().filter(|id| *id > 0),
        _ => None,
    }
}

/// Reads a create-user document: the attributes and the `roles_attributes` to grant.
pub fn read_new_user(document: &Value) -> Result<(NewUser, Vec<RoleRequest>), ApiError> {
    let data = resource_data(document, "users")?;
    let attributes = attributes(data)?;
    let mut reader = Reader::new(&attributes);

    reader.reject_unknown(&["roles_attributes"]);
    let email = match reader.email("email") {
        Some(Some(email)) => Some(email),
        Some(None) | None if !reader.errors.0.iter().any(|e| e.field == "email") => {
            reader.fail(FieldError::new("email", "blank", "is required; give an address such as jane.doe@example.com"));
            None
        }
        _ => None,
    };
    let user_name = match reader.text("user_name", MAX_TEXT_LEN) {
        Some(Some(text)) => UserName::parse("user_name", &text).map_err(|e| reader.fail(e)).ok(),
        _ => None,
    };
    let new = NewUser {
        first_name: reader.text("first_name", MAX_TEXT_LEN).flatten(),
        last_name: reader.text("last_name", MAX_TEXT_LEN).flatten(),
        email,
        user_name,
        unique_id: reader.text("unique_id", MAX_TEXT_LEN).flatten(),
        external_id: reader.text("external_id", MAX_TEXT_LEN).flatten(),
        mobile_number: reader.phone("mobile_number").flatten(),
        job_title: reader.text("job_title", MAX_TEXT_LEN).flatten(),
        department: reader.text("department", MAX_TEXT_LEN).flatten(),
        manager_id: reader.id("manager_id").flatten(),
        start_date: reader.date("start_date").flatten(),
        end_date: reader.date("end_date").flatten(),
        custom_attributes: reader.custom("custom_attributes").unwrap_or_default(),
        scim_attributes: serde_json::Map::new(),
    };
    let roles = match attributes.get("roles_attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => read_role_items(items, "roles_attributes", &mut reader.errors),
        Some(_) => {
            reader.fail(FieldError::new("roles_attributes", "invalid", "must be an array of role assignments"));
            Vec::new()
        }
    };

    if !reader.errors.is_empty() {
        return Err(ApiError::validation(reader.errors, "/data/attributes"));
    }
    Ok((new, roles))
}

/// Reads an update-user document into a patch.
pub fn read_user_patch(document: &Value) -> Result<UserPatch, ApiError> {
    let data = resource_data(document, "users")?;
    let attributes = attributes(data)?;
    let mut reader = Reader::new(&attributes);

    reader.reject_unknown(&[]);
    let email = match reader.email("email") {
        Some(None) => {
            reader.fail(FieldError::new("email", "blank", "cannot be removed; give a new address instead"));
            None
        }
        other => other,
    };
    let user_name = match reader.text("user_name", MAX_TEXT_LEN) {
        Some(Some(text)) => UserName::parse("user_name", &text).map_err(|e| reader.fail(e)).ok(),
        Some(None) => {
            reader.fail(FieldError::new("user_name", "blank", "cannot be removed; give a new user name instead"));
            None
        }
        None => None,
    };
    let patch = UserPatch {
        first_name: reader.text("first_name", MAX_TEXT_LEN),
        last_name: reader.text("last_name", MAX_TEXT_LEN),
        email,
        user_name,
        unique_id: reader.text("unique_id", MAX_TEXT_LEN),
        external_id: reader.text("external_id", MAX_TEXT_LEN),
        mobile_number: reader.phone("mobile_number"),
        job_title: reader.text("job_title", MAX_TEXT_LEN),
        department: reader.text("department", MAX_TEXT_LEN),
        manager_id: reader.id("manager_id"),
        start_date: reader.date("start_date"),
        end_date: reader.date("end_date"),
        custom_attributes: reader.custom("custom_attributes"),
        scim_attributes: None,
    };

    if !reader.errors.is_empty() {
        return Err(ApiError::validation(reader.errors, "/data/attributes"));
    }
    Ok(patch)
}

/// Reads a role sync document: `data` is an array of role assignment resources (the shape of the GET output) or
/// of bare attribute objects.
pub fn read_role_sync(document: &Value) -> Result<Vec<RoleRequest>, ApiError> {
    let items = document
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_json("expected a JSON:API document whose \"data\" is an array"))?;

    let unwrapped: Vec<Value> =
        items.iter().map(|item| item.get("attributes").cloned().unwrap_or_else(|| item.clone())).collect();
    let mut errors = ValidationErrors::default();
    let requests = read_role_items(&unwrapped, "", &mut errors);

    if !errors.is_empty() {
        return Err(ApiError::validation(errors, "/data"));
    }
    Ok(requests)
}

fn read_role_items(items: &[Value], pointer: &str, errors: &mut ValidationErrors) -> Vec<RoleRequest> {
    let mut requests = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = if pointer.is_empty() { index.to_string() } else { format!("{pointer}/{index}") };
        match read_role_item(item) {
            Ok(request) => requests.push(request),
            Err(found) => found.0.into_iter().for_each(|e| errors.push(e.nested(&at))),
        }
    }
    requests
}

fn read_role_item(item: &Value) -> Result<RoleRequest, ValidationErrors> {
    let Some(object) = item.as_object() else {
        return Err(ValidationErrors::single("", "invalid", "must be an object with role_type_id"));
    };
    let mut reader = Reader::new(object);

    let role_type_id = match object.get("role_type_id") {
        None | Some(Value::Null) => {
            reader.fail(FieldError::new("role_type_id", "blank", "is required; GET /core/role_types lists the ids"));
            0
        }
        Some(value) => parse_id(value).unwrap_or_else(|| {
            reader.fail(FieldError::new("role_type_id", "invalid", "must be a numeric id such as \"3\""));
            0
        }),
    };
    let resource_type = reader.text("resource_type", 64).flatten();
    let resource_id = reader.text("resource_id", MAX_TEXT_LEN).flatten();
    let approved_by = reader.text("approved_by", MAX_TEXT_LEN);
    let reason = reader.text("reason", 1000);
    let expires_at = match object.get("expires_at") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => match Timestamp::parse(text) {
            Some(t) => Some(Some(t)),
            None => {
                reader.fail(FieldError::new(
                    "expires_at",
                    "invalid",
                    format!("{text:?} is not an RFC 3339 time such as 2027-01-31T17:00:00Z"),
                ));
                None
            }
        },
        Some(_) => {
            reader.fail(FieldError::new("expires_at", "invalid", "must be an RFC 3339 time string or null"));
            None
        }
    };
    let source = match object.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(kind)) if ["direct", "policy", "group"].contains(&kind.as_str()) => Some(kind.clone()),
        Some(_) => {
            reader.fail(FieldError::new("source", "invalid", "must be direct, policy or group"));
            None
        }
    };

    reader.errors.clone().into_result()?;
    Ok(RoleRequest {
        key: RoleKey { role_type_id, resource_type, resource_id },
        approved_by,
        reason,
        expires_at,
        source,
    })
}

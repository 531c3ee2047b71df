//! Translation of SCIM User filters and `sortBy` values into the domain's [`Filter`] and [`SortKey`], which the
//! store turns into parameterised SQL.
//!
//! Case-exactness follows the `caseExact` of each attribute in RFC 7643's schemas: `id` and `externalId` compare
//! exactly, and `userName`, the names, emails, phone numbers, `title` and the enterprise attributes ignore case.
//!
//! Roster maps one email and one phone number per user onto its `email` and `mobile_number` columns. Filters treat
//! the mapped email as a value of `emails`, `{"value": ..., "type": "work", "primary": true}`, and the mapped
//! number as a value of `phoneNumbers`, `{"value": ..., "type": "mobile", "primary": true}`, whose `display` is
//! absent. So `emails[type eq "work" and primary eq true]` matches every user with an email.
//! NOTE: the User representation renders these `type` and `primary` values for a user created through `/core`, but
//! keeps the ones a SCIM client sent. A mapped email sent with `"type": "home"` is therefore shown as home and still
//! matched here as work.
//!
//! The other values of `emails` and `phoneNumbers`, and the values of `ims`, `photos`, `addresses`,
//! `entitlements` and `x509Certificates`, are kept as sent and filtered in the stored JSON (see [`elements`]). A
//! filter on `emails` or `phoneNumbers` matches a user when the mapped value or one of the kept values matches.
//!
//! A filter on a multi-valued attribute matches a user when some value matches (RFC 7644 §3.4.2.2). So
//! `addresses.type ne "work"` matches a user with some address that is not of type work, and `not
//! (addresses.type eq "work")` one without any work address. A value that lacks the sub-attribute satisfies `ne`,
//! as an absent single-valued attribute does. `attr.sub eq null` matches a user of whose values none has the
//! sub-attribute, the same as `not (attr.sub pr)`.
//!
//! The single-valued strings that Roster keeps as sent (`displayName`, `nickName`, `profileUrl`, `userType`,
//! `preferredLanguage`, `locale`, `timezone`, the other sub-attributes of `name`, and the enterprise
//! `costCenter`, `organization` and `division`) are filtered in the stored JSON. The User schemas that `/Schemas`
//! serves declare each of them with `caseExact` false, so they ignore case.

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, CompValue, CompareOp, ScimFilter};
use crate::normalise::normalise_bool;
use crate::parser::{parse_attr_path_only, parse_filter};
use crate::schema;
use roster_domain::{
    CmpOp, Filter, FilterValue, LifecycleState, MultiValuedAttr, SortKey, StoredAttr, Timestamp, UserAttr, fold,
};

mod elements;

/// The attributes that [`translate_user_filter`] accepts, for error messages.
const FILTERABLE: &str = "id, externalId, userName, name (givenName, familyName, formatted, middleName, \
                          honorificPrefix, honorificSuffix), displayName, nickName, profileUrl, userType, \
                          preferredLanguage, locale, timezone, emails, phoneNumbers, ims, photos, addresses, \
                          entitlements, x509Certificates, title, active, groups.value, meta.created, \
                          meta.lastModified, and the enterprise employeeNumber, department, costCenter, organization, \
                          division and manager.value";

/// Parses a SCIM filter and translates it for the Users endpoint.
pub fn parse_user_filter(text: &str) -> Result<Filter, ScimError> {
    translate_user_filter(&parse_filter(text)?)
}

/// Translates a SCIM filter on Users into the domain filter.
///
/// Fails with `invalidFilter` for an attribute Roster cannot filter on, an operator that has no meaning for the
/// attribute's type (such as `co` on a timestamp or `gt` on `active`), or a value of the wrong type.
pub fn translate_user_filter(filter: &ScimFilter) -> Result<Filter, ScimError> {
    translate(filter, Scope::Resource)
}

/// Translates a `sortBy` attribute into the domain's sort key. Fails with `invalidValue` for an attribute that
/// users cannot be sorted by.
pub fn translate_user_sort_by(sort_by: &str) -> Result<SortKey, ScimError> {
    let path = parse_attr_path_only(sort_by, ScimType::InvalidValue)?;
    let in_core_schema = path.schema.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(schema::CORE_USER));
    let name = path.name.to_ascii_lowercase();
    let sub_attribute = path.sub_attribute.as_deref().map(str::to_ascii_lowercase);

    let key = match (name.as_str(), sub_attribute.as_deref()) {
        _ if !in_core_schema => None,
        ("id", None) => Some(SortKey::Id),
        ("username", None) => Some(SortKey::UserName),
        ("name", Some("familyname")) => Some(SortKey::LastName),
        ("meta", Some("created")) => Some(SortKey::CreatedAt),
        ("meta", Some("lastmodified")) => Some(SortKey::UpdatedAt),
        ("displayname", None) => Some(SortKey::DisplayName),
        _ => None,
    };
    key.ok_or_else(|| {
        ScimError::new(
            ScimType::InvalidValue,
            format!(
                "users cannot be sorted by {path}; sort by userName, id, displayName, name.familyName, \
                 meta.created or meta.lastModified"
            ),
        )
    })
}

// ---- attribute resolution ----

/// The context an attribute path is resolved in: the top level of a User, or a value path's brackets.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource,
    Within { container: Container, written: &'a AttrPath },
}

/// An attribute whose sub-attributes a value path can filter on.
#[derive(Clone, Copy)]
enum Container {
    /// `emails` or `phoneNumbers`, of which Roster maps one value onto a column and keeps the others as sent.
    Stored(StoredValue),
    /// A multi-valued attribute whose values are all kept as sent, such as `addresses`.
    Kept(MultiValuedAttr),
    Name,
    /// The enterprise `manager`.
    Manager,
    Meta,
    /// The read-only `groups`, whose `value` is a group id.
    Groups,
}

/// A multi-valued attribute of which Roster maps one value onto a column, the fixed `type` it renders that value
/// with, and the attribute whose other values are kept as sent.
#[derive(Clone, Copy)]
struct StoredValue {
    attr: UserAttr,
    type_name: &'static str,
    kept: MultiValuedAttr,
}

const EMAILS: StoredValue = StoredValue { attr: UserAttr::Email, type_name: "work", kept: MultiValuedAttr::Emails };
const PHONE_NUMBERS: StoredValue =
    StoredValue { attr: UserAttr::MobileNumber, type_name: "mobile", kept: MultiValuedAttr::PhoneNumbers };

/// The target of a resolved attribute path.
#[derive(Clone, Copy)]
enum Field {
    Column {
        attr: UserAttr,
        kind: ColumnKind,
    },
    /// `active`, which is true exactly for users in the active state.
    Active,
    /// A sub-attribute of a stored email or phone number whose value is fixed, or absent.
    Fixed(Option<FixedValue>),
    /// `groups.value`: the id of a group the user is a member of.
    GroupId,
}

#[derive(Clone, Copy)]
enum ColumnKind {
    /// A string, compared exactly when its RFC 7643 attribute definition sets `caseExact`.
    Text {
        case_exact: bool,
    },
    /// A SCIM id (a string) that Roster stores as an integer: `id` and `manager.value`.
    Id,
    Timestamp,
}

#[derive(Clone, Copy)]
enum FixedValue {
    Text(&'static str),
    Bool(bool),
}

/// A resolved path. `guard` is set for a sub-attribute of `emails` or `phoneNumbers` used outside brackets, whose
/// test also requires that the user has the stored value.
struct Resolved {
    field: Field,
    guard: Option<UserAttr>,
}

fn resolve(scope: Scope<'_>, path: &AttrPath) -> Result<Resolved, ScimError> {
    match scope {
        Scope::Resource => resolve_top_level(path),
        Scope::Within { container, written } => {
            if path.schema.is_some() || path.sub_attribute.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "inside {written}[...], name a sub-attribute of {written} such as value, not {path}"
                )));
            }
            let field = resolve_in_container(container, Some(&path.name.to_ascii_lowercase()))
                .ok_or_else(|| unknown_sub_attribute(written, &path.name))?;
            Ok(Resolved { field, guard: None })
        }
    }
}

/// The schema an attribute path is resolved in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UserSchema {
    Core,
    Enterprise,
    /// No URN: core attributes first, then the enterprise ones, whose names no core attribute uses.
    Either,
}

fn schema_of(path: &AttrPath) -> Result<UserSchema, ScimError> {
    let Some(urn) = path.schema.as_deref() else {
        return Ok(UserSchema::Either);
    };
    match schema::resource_schema(urn) {
        Some(schema::CORE_USER) => Ok(UserSchema::Core),
        Some(schema::ENTERPRISE_USER) => Ok(UserSchema::Enterprise),
        _ => Err(ScimError::invalid_filter(format!(
            "{path} is not a User attribute; qualify attributes with {} or {}, or leave the URN out",
            schema::CORE_USER,
            schema::ENTERPRISE_USER
        ))),
    }
}

/// Resolves a path outside brackets. The multi-valued attributes kept as sent are translated by [`elements`]
/// instead, except for the mapped email and phone number; `roles` cannot be filtered on.
fn resolve_top_level(path: &AttrPath) -> Result<Resolved, ScimError> {
    let schema = schema_of(path)?;
    let name = path.name.to_ascii_lowercase();
    let sub_attribute = path.sub_attribute.as_deref().map(str::to_ascii_lowercase);
    let sub_attribute = sub_attribute.as_deref();
    let column = |attr, kind| Some(Resolved { field: Field::Column { attr, kind }, guard: None });
    let text = ColumnKind::Text { case_exact: false };

    let core = match (name.as_str(), sub_attribute) {
        _ if schema == UserSchema::Enterprise => None,
        ("id", None) => column(UserAttr::Id, ColumnKind::Id),
        ("externalid", None) => column(UserAttr::ExternalId, ColumnKind::Text { case_exact: true }),
        ("username", None) => column(UserAttr::UserName, text),
        ("title", None) => column(UserAttr::JobTitle, text),
        ("active", None) => Some(Resolved { field: Field::Active, guard: None }),
        ("displayname", None) => column(UserAttr::Stored(StoredAttr::DisplayName), text),
        ("nickname", None) => column(UserAttr::Stored(StoredAttr::NickName), text),
        ("profileurl", None) => column(UserAttr::Stored(StoredAttr::ProfileUrl), text),
        ("usertype", None) => column(UserAttr::Stored(StoredAttr::UserType), text),
        ("preferredlanguage", None) => column(UserAttr::Stored(StoredAttr::PreferredLanguage), text),
        ("locale", None) => column(UserAttr::Stored(StoredAttr::Locale), text),
        ("timezone", None) => column(UserAttr::Stored(StoredAttr::Timezone), text),
        ("name", None) => return Err(complex_without_sub_attribute(path, "name.givenName or name.familyName")),
        ("meta", None) => return Err(complex_without_sub_attribute(path, "meta.created or meta.lastModified")),
        ("name", sub) => resolve_in_container(Container::Name, sub).map(|field| Resolved { field, guard: None }),
        ("meta", sub) => resolve_in_container(Container::Meta, sub).map(|field| Resolved { field, guard: None }),
        ("emails", sub) => resolve_stored(EMAILS, sub),
        ("phonenumbers", sub) => resolve_stored(PHONE_NUMBERS, sub),
        ("groups", sub) => resolve_in_container(Container::Groups, sub).map(|field| Resolved { field, guard: None }),
        _ => None,
    };
    let enterprise = || match (name.as_str(), sub_attribute) {
        _ if schema == UserSchema::Core => None,
        ("employeenumber", None) => column(UserAttr::UniqueId, text),
        ("department", None) => column(UserAttr::Department, text),
        ("costcenter", None) => column(UserAttr::Stored(StoredAttr::CostCenter), text),
        ("organization", None) => column(UserAttr::Stored(StoredAttr::Organization), text),
        ("division", None) => column(UserAttr::Stored(StoredAttr::Division), text),
        // `manager` is complex; a client that leaves out `.value` can only mean the manager's id.
        ("manager", sub) => resolve_in_container(Container::Manager, sub).map(|field| Resolved { field, guard: None }),
        _ => None,
    };

    core.or_else(enterprise)
        .ok_or_else(|| ScimError::invalid_filter(format!("Users cannot be filtered on {path}; filter on {FILTERABLE}")))
}

/// Resolves a sub-attribute of `emails` or `phoneNumbers` outside brackets, as in `emails.value`.
fn resolve_stored(stored: StoredValue, sub_attribute: Option<&str>) -> Option<Resolved> {
    let field = resolve_in_container(Container::Stored(stored), sub_attribute)?;
    Some(Resolved { field, guard: Some(stored.attr) })
}

/// Resolves a sub-attribute (lower case) of a container. `None` stands for the attribute written without one,
/// which for a multi-valued attribute or `manager` means its `value`, as in the RFC 7644 example
/// `emails co "example.com"`.
fn resolve_in_container(container: Container, sub_attribute: Option<&str>) -> Option<Field> {
    let text = ColumnKind::Text { case_exact: false };
    let column = |attr, kind| Some(Field::Column { attr, kind });

    match (container, sub_attribute) {
        (Container::Stored(stored), None | Some("value")) => column(stored.attr, text),
        (Container::Stored(stored), Some("type")) => Some(Field::Fixed(Some(FixedValue::Text(stored.type_name)))),
        (Container::Stored(_), Some("primary")) => Some(Field::Fixed(Some(FixedValue::Bool(true)))),
        (Container::Stored(_), Some("display")) => Some(Field::Fixed(None)),
        (Container::Name, Some("givenname")) => column(UserAttr::FirstName, text),
        (Container::Name, Some("familyname")) => column(UserAttr::LastName, text),
        (Container::Name, Some("formatted")) => column(UserAttr::Stored(StoredAttr::NameFormatted), text),
        (Container::Name, Some("middlename")) => column(UserAttr::Stored(StoredAttr::NameMiddleName), text),
        (Container::Name, Some("honorificprefix")) => column(UserAttr::Stored(StoredAttr::NameHonorificPrefix), text),
        (Container::Name, Some("honorificsuffix")) => column(UserAttr::Stored(StoredAttr::NameHonorificSuffix), text),
        (Container::Manager, None | Some("value")) => column(UserAttr::ManagerId, ColumnKind::Id),
        (Container::Groups, None | Some("value")) => Some(Field::GroupId),
        (Container::Meta, Some("created")) => column(UserAttr::CreatedAt, ColumnKind::Timestamp),
        (Container::Meta, Some("lastmodified")) => column(UserAttr::UpdatedAt, ColumnKind::Timestamp),
        _ => None,
    }
}

/// Resolves the attribute before a value path's `[`.
fn resolve_container(path: &AttrPath) -> Result<Container, ScimError> {
    let schema = schema_of(path)?;
    if path.sub_attribute.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "a value filter must follow an attribute name, not {path}; write a filter such as \
             emails[type eq \"work\"]"
        )));
    }
    let name = path.name.to_ascii_lowercase();
    let container = match name.as_str() {
        "emails" if schema != UserSchema::Enterprise => Some(Container::Stored(EMAILS)),
        "phonenumbers" if schema != UserSchema::Enterprise => Some(Container::Stored(PHONE_NUMBERS)),
        "name" if schema != UserSchema::Enterprise => Some(Container::Name),
        "meta" if schema != UserSchema::Enterprise => Some(Container::Meta),
        "groups" if schema != UserSchema::Enterprise => Some(Container::Groups),
        "manager" if schema != UserSchema::Core => Some(Container::Manager),
        name if schema != UserSchema::Enterprise => elements::multi_valued_attr(name).map(Container::Kept),
        _ => None,
    };
    container.ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "Users cannot be filtered on values of {path}; value filters work on emails, phoneNumbers, ims, \
             photos, addresses, entitlements, x509Certificates, name, meta, groups and the enterprise manager"
        ))
    })
}

fn complex_without_sub_attribute(path: &AttrPath, suggestion: &str) -> ScimError {
    ScimError::invalid_filter(format!("{path} is a complex attribute; filter on a sub-attribute such as {suggestion}"))
}

fn unknown_sub_attribute(container: &AttrPath, name: &str) -> ScimError {
    ScimError::invalid_filter(format!("Users cannot be filtered on the sub-attribute {name} of {container}"))
}

// ---- filters ----

fn translate(filter: &ScimFilter, scope: Scope<'_>) -> Result<Filter, ScimError> {
    if let Scope::Resource = scope
        && let Some(attr) = kept_values_tested(filter)?
    {
        return translate_kept_values_test(filter, attr);
    }
    match filter {
        ScimFilter::And(terms) => Ok(and_all(translate_each(terms, scope)?)),
        ScimFilter::Or(terms) => Ok(or_any(translate_each(terms, scope)?)),
        ScimFilter::Not(inner) => Ok(negate(translate(inner, scope)?)),
        ScimFilter::Present(_) | ScimFilter::Compare { .. } => translate_test(filter, scope),
        ScimFilter::ValuePath { path, filter: inner } => {
            if let Scope::Within { written, .. } = scope {
                return Err(ScimError::invalid_filter(format!(
                    "the value filter of {written} cannot contain another value path ({path}[...])"
                )));
            }
            let container = resolve_container(path)?;
            match container {
                Container::Stored(stored) => {
                    let condition = translate(inner, Scope::Within { container, written: path })?;
                    let mapped = and_all(vec![Filter::Present(stored.attr), condition]);
                    let kept = elements::any_value(stored.kept, inner, path)?;
                    Ok(or_any(vec![mapped, kept]))
                }
                Container::Kept(attr) => elements::any_value(attr, inner, path),
                _ => translate(inner, Scope::Within { container, written: path }),
            }
        }
    }
}

/// Returns the multi-valued attribute kept as sent that a presence test or comparison outside brackets names,
/// such as `addresses` in `addresses.locality eq "Paris"`.
fn kept_values_tested(filter: &ScimFilter) -> Result<Option<MultiValuedAttr>, ScimError> {
    let (ScimFilter::Present(path) | ScimFilter::Compare { path, .. }) = filter else {
        return Ok(None);
    };
    if schema_of(path)? == UserSchema::Enterprise {
        return Ok(None);
    }
    Ok(elements::multi_valued_attr(&path.name.to_ascii_lowercase()))
}

/// Translates a presence test or comparison on a multi-valued attribute kept as sent. For `emails` and
/// `phoneNumbers`, it tests the mapped value and then the kept values, so an unknown sub-attribute gets the
/// error of the mapped value.
fn translate_kept_values_test(test: &ScimFilter, attr: MultiValuedAttr) -> Result<Filter, ScimError> {
    // `attr.sub eq null` tests whether the user has no such value at all (RFC 7643 §2.5), not whether one value
    // lacks it.
    if let ScimFilter::Compare { path, op: op @ (CompareOp::Eq | CompareOp::Ne), value: CompValue::Null } = test {
        let presence = translate(&ScimFilter::Present(path.clone()), Scope::Resource)?;
        return Ok(if *op == CompareOp::Eq { negate(presence) } else { presence });
    }

    let mut terms = Vec::with_capacity(2);
    if matches!(attr, MultiValuedAttr::Emails | MultiValuedAttr::PhoneNumbers) {
        terms.push(translate_test(test, Scope::Resource)?);
    }
    terms.push(elements::any_value_outside_brackets(attr, test)?);
    Ok(or_any(terms))
}

/// Translates a presence test or comparison of an attribute that [`resolve`] resolves, which for `emails` and
/// `phoneNumbers` is the mapped value.
fn translate_test(test: &ScimFilter, scope: Scope<'_>) -> Result<Filter, ScimError> {
    match test {
        ScimFilter::Present(path) => {
            let resolved = resolve(scope, path)?;
            let condition = presence(resolved.field);
            // A column's presence test is already the guard, as in `emails.value pr`.
            let needs_guard = !matches!(resolved.field, Field::Column { .. });
            Ok(if needs_guard { guarded(resolved.guard, condition) } else { condition })
        }
        ScimFilter::Compare { path, op, value } => {
            let resolved = resolve(scope, path)?;
            let condition = compare(resolved.field, *op, value, path)?;
            // A column comparison other than `ne` already fails for a user without the value.
            let needs_guard = *op == CompareOp::Ne || !matches!(resolved.field, Field::Column { .. });
            Ok(if needs_guard { guarded(resolved.guard, condition) } else { condition })
        }
        other => translate(other, scope),
    }
}

fn translate_each(terms: &[ScimFilter], scope: Scope<'_>) -> Result<Vec<Filter>, ScimError> {
    terms.iter().map(|term| translate(term, scope)).collect()
}

fn guarded(guard: Option<UserAttr>, condition: Filter) -> Filter {
    match guard {
        Some(attr) => and_all(vec![Filter::Present(attr), condition]),
        None => condition,
    }
}

fn presence(field: Field) -> Filter {
    match field {
        Field::Column { attr, .. } => Filter::Present(attr),
        // Every user has a lifecycle state, so `active` always has a value.
        Field::Active => Filter::All,
        Field::Fixed(Some(_)) => Filter::All,
        Field::Fixed(None) => nothing(),
        Field::GroupId => Filter::InGroup(None),
    }
}

fn compare(field: Field, op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<Filter, ScimError> {
    // RFC 7643 §2.5 makes null equivalent to an unassigned attribute, so `eq null` tests absence.
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq => Ok(negate(presence(field))),
            CompareOp::Ne => Ok(presence(field)),
            _ => Err(ScimError::invalid_filter(format!("{path} can only be compared with null by eq or ne"))),
        };
    }

    match field {
        Field::Column { attr, kind: ColumnKind::Text { case_exact } } => {
            let CompValue::String(text) = value else {
                return Err(wrong_value_type(path, "a string", "a double-quoted string such as \"bjensen\""));
            };
            Ok(Filter::Cmp { attr, op: domain_op(op), value: FilterValue::Text(text.clone()), case_exact })
        }
        Field::Column { attr, kind: ColumnKind::Id } => compare_id(attr, op, value, path),
        Field::Column { attr, kind: ColumnKind::Timestamp } => compare_timestamp(attr, op, value, path),
        Field::Active => compare_active(op, value, path),
        Field::GroupId => compare_group_id(op, value, path),
        Field::Fixed(Some(FixedValue::Text(fixed))) => {
            let CompValue::String(text) = value else {
                return Err(wrong_value_type(path, "a string", "a double-quoted string such as \"work\""));
            };
            Ok(constant(compare_text_ignoring_case(fixed, op, text)))
        }
        Field::Fixed(Some(FixedValue::Bool(fixed))) => {
            let flag = bool_value(value).ok_or_else(|| wrong_value_type(path, "a boolean", "true or false"))?;
            match op {
                CompareOp::Eq => Ok(constant(fixed == flag)),
                CompareOp::Ne => Ok(constant(fixed != flag)),
                _ => Err(boolean_operator(path, op)),
            }
        }
        // An absent value equals nothing, so only `ne` is true.
        Field::Fixed(None) => {
            if !matches!(value, CompValue::String(_)) {
                return Err(wrong_value_type(path, "a string", "a double-quoted string"));
            }
            Ok(constant(op == CompareOp::Ne))
        }
    }
}

/// Compares `id` or `manager.value`. SCIM ids are strings, and Roster's are the decimal form of an integer.
fn compare_id(attr: UserAttr, op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<Filter, ScimError> {
    let id = match value {
        // A string that is not the canonical decimal form of an integer, such as "abc" or "007", is no user's id.
        CompValue::String(text) => text.parse::<i64>().ok().filter(|id| id.to_string() == *text),
        CompValue::Number(literal) => literal.parse::<i64>().ok(),
        CompValue::Bool(_) | CompValue::Null => {
            return Err(wrong_value_type(path, "an id", "a double-quoted id such as \"42\""));
        }
    };

    let cmp = |id: i64| Filter::Cmp { attr, op: domain_op(op), value: FilterValue::Int(id), case_exact: true };
    match (op, id) {
        (CompareOp::Eq | CompareOp::Ne, Some(id)) => Ok(cmp(id)),
        (CompareOp::Eq, None) => Ok(nothing()),
        (CompareOp::Ne, None) => Ok(Filter::All),
        // Ids are ordered as integers ("9" before "10"), not as the strings that RFC 7644 would order.
        (CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le, Some(id)) => Ok(cmp(id)),
        (CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le, None) => Err(ScimError::invalid_filter(
            format!("{path} {op} needs a numeric id such as \"42\", because Roster's ids are integers"),
        )),
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => {
            Err(ScimError::invalid_filter(format!("{path} does not support {op}; use eq, ne, gt, ge, lt, le or pr")))
        }
    }
}

/// Compares `groups.value`, which holds the ids of the user's groups. Only `eq` has one meaning for a
/// multi-valued attribute, "some value equals"; write `not (groups.value eq "7")` for "not in group 7".
fn compare_group_id(op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<Filter, ScimError> {
    if op != CompareOp::Eq {
        return Err(ScimError::invalid_filter(format!(
            "{path} supports eq and pr, not {op}; write not ({path} eq \"42\") for users outside a group"
        )));
    }
    let id = match value {
        CompValue::String(text) => text.parse::<i64>().ok().filter(|id| id.to_string() == *text),
        CompValue::Number(literal) => literal.parse::<i64>().ok(),
        CompValue::Bool(_) | CompValue::Null => {
            return Err(wrong_value_type(path, "a group id", "a double-quoted id such as \"42\""));
        }
    };
    // A string that is not the decimal form of an integer is no group's id.
    Ok(id.map_or_else(nothing, |id| Filter::InGroup(Some(id))))
}

fn compare_timestamp(attr: UserAttr, op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<Filter, ScimError> {
    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        return Err(ScimError::invalid_filter(format!(
            "{path} is a timestamp and does not support {op}; use eq, ne, gt, ge, lt, le or pr"
        )));
    }
    let example = "an RFC 3339 timestamp such as \"2011-05-13T04:42:34Z\"";
    let CompValue::String(text) = value else {
        return Err(wrong_value_type(path, "a timestamp", example));
    };
    let Some(time) = Timestamp::parse(text) else {
        return Err(ScimError::invalid_filter(format!(
            "{text:?} is not a valid timestamp for {path}; write {example}"
        )));
    };
    Ok(Filter::Cmp { attr, op: domain_op(op), value: FilterValue::Time(time), case_exact: true })
}

/// Compares `active`. Strings `"true"` and `"false"` are accepted as booleans, as some clients send them.
fn compare_active(op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<Filter, ScimError> {
    let flag = bool_value(value).ok_or_else(|| wrong_value_type(path, "a boolean", "true or false"))?;
    let wanted = match op {
        CompareOp::Eq => flag,
        CompareOp::Ne => !flag,
        _ => return Err(boolean_operator(path, op)),
    };
    let states = if wanted {
        vec![LifecycleState::Active]
    } else {
        vec![LifecycleState::Pending, LifecycleState::Suspended, LifecycleState::Archived]
    };
    Ok(Filter::StatusIn(states))
}

fn bool_value(value: &CompValue) -> Option<bool> {
    match value {
        CompValue::Bool(flag) => Some(*flag),
        CompValue::String(text) => normalise_bool(&serde_json::Value::String(text.clone())),
        _ => None,
    }
}

/// Evaluates a comparison of a fixed string, ignoring case because SCIM defines `type` with `caseExact` false.
fn compare_text_ignoring_case(fixed: &str, op: CompareOp, text: &str) -> bool {
    let (left, right) = (fold(fixed), fold(text));
    match op {
        CompareOp::Eq => left == right,
        CompareOp::Ne => left != right,
        CompareOp::Co => left.contains(&right),
        CompareOp::Sw => left.starts_with(&right),
        CompareOp::Ew => left.ends_with(&right),
        CompareOp::Gt => left > right,
        CompareOp::Ge => left >= right,
        CompareOp::Lt => left < right,
        CompareOp::Le => left <= right,
    }
}

fn domain_op(op: CompareOp) -> CmpOp {
    match op {
        CompareOp::Eq => CmpOp::Eq,
        CompareOp::Ne => CmpOp::Ne,
        CompareOp::Co => CmpOp::Co,
        CompareOp::Sw => CmpOp::Sw,
        CompareOp::Ew => CmpOp::Ew,
        CompareOp::Gt => CmpOp::Gt,
        CompareOp::Ge => CmpOp::Ge,
        CompareOp::Lt => CmpOp::Lt,
        CompareOp::Le => CmpOp::Le,
    }
}

fn wrong_value_type(path: &AttrPath, kind: &str, example: &str) -> ScimError {
    ScimError::invalid_filter(format!("{path} is compared with {kind}; write {example}"))
}

fn boolean_operator(path: &AttrPath, op: CompareOp) -> ScimError {
    ScimError::invalid_filter(format!("{path} is a boolean and does not support {op}; use eq, ne or pr"))
}

// ---- simplification ----
//
// Fixed sub-attributes make parts of a filter always true or always false. These helpers fold such parts away, so
// the store receives no constant tests beyond `Filter::All` or an empty `Filter::Or` (which matches no user).

/// Returns a filter that matches no user: the empty disjunction, which the store renders as `1 = 0`.
fn nothing() -> Filter {
    Filter::Or(Vec::new())
}

fn is_nothing(filter: &Filter) -> bool {
    matches!(filter, Filter::Or(terms) if terms.is_empty())
}

fn constant(value: bool) -> Filter {
    if value { Filter::All } else { nothing() }
}

fn and_all(filters: Vec<Filter>) -> Filter {
    let mut terms = Vec::with_capacity(filters.len());
    for filter in filters {
        match filter {
            Filter::All => {}
            f if is_nothing(&f) => return nothing(),
            Filter::And(inner) => terms.extend(inner),
            f => terms.push(f),
        }
    }
    match terms.len() {
        0 => Filter::All,
        1 => terms.pop().unwrap_or(Filter::All),
        _ => Filter::And(terms),
    }
}

fn or_any(filters: Vec<Filter>) -> Filter {
    let mut terms = Vec::with_capacity(filters.len());
    for filter in filters {
        match filter {
            Filter::All => return Filter::All,
            Filter::Or(inner) => terms.extend(inner),
            f => terms.push(f),
        }
    }
    match terms.len() {
        0 => nothing(),
        1 => terms.pop().unwrap_or_else(nothing),
        _ => Filter::Or(terms),
    }
}

fn negate(filter: Filter) -> Filter {
    match filter {
        Filter::All => nothing(),
        f if is_nothing(&f) => Filter::All,
        Filter::Not(inner) => *inner,
        f => Filter::Not(Box::new(f)),
    }
}

#[cfg(test)]
mod tests;

//! The user filter AST shared by every door. `/core` query parameters and (later) SCIM filters become a
//! [`Filter`], and the store folds it into parameterised SQL; no door evaluates filters in memory.

use crate::time::Timestamp;
use crate::user::LifecycleState;
use time::Date;

/// A filterable user attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserAttr {
    Id,
    Email,
    UserName,
    UniqueId,
    ExternalId,
    FirstName,
    LastName,
    MobileNumber,
    JobTitle,
    Department,
    ManagerId,
    StartDate,
    EndDate,
    CreatedAt,
    UpdatedAt,
    /// A SCIM attribute kept as sent in the user's `scim_attributes` object.
    Stored(StoredAttr),
}

/// The enterprise extension's key in a user's `scim_attributes` (RFC 7643 §4.3).
const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A single-valued string attribute of SCIM's core or enterprise User schema that Roster keeps as sent, in the
/// user's `scim_attributes` object, instead of in a column of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredAttr {
    DisplayName,
    NickName,
    ProfileUrl,
    UserType,
    PreferredLanguage,
    Locale,
    Timezone,
    NameFormatted,
    NameMiddleName,
    NameHonorificPrefix,
    NameHonorificSuffix,
    CostCenter,
    Organization,
    Division,
}

impl StoredAttr {
    /// Returns the object keys that lead to the value in `scim_attributes`, outermost first.
    pub fn json_path(&self) -> &'static [&'static str] {
        match self {
            Self::DisplayName => &["displayName"],
            Self::NickName => &["nickName"],
            Self::ProfileUrl => &["profileUrl"],
            Self::UserType => &["userType"],
            Self::PreferredLanguage => &["preferredLanguage"],
            Self::Locale => &["locale"],
            Self::Timezone => &["timezone"],
            Self::NameFormatted => &["name", "formatted"],
            Self::NameMiddleName => &["name", "middleName"],
            Self::NameHonorificPrefix => &["name", "honorificPrefix"],
            Self::NameHonorificSuffix => &["name", "honorificSuffix"],
            Self::CostCenter => &[ENTERPRISE_USER, "costCenter"],
            Self::Organization => &[ENTERPRISE_USER, "organization"],
            Self::Division => &[ENTERPRISE_USER, "division"],
        }
    }

    /// Returns the attribute's value in a `scim_attributes` object, if it is a string.
    pub fn lookup<'a>(&self, attributes: &'a serde_json::Map<String, serde_json::Value>) -> Option<&'a str> {
        let (first, rest) = self.json_path().split_first()?;
        let mut value = attributes.get(*first)?;
        for key in rest {
            value = value.get(*key)?;
        }
        value.as_str()
    }
}

/// A multi-valued complex attribute of SCIM's core User schema whose values Roster keeps as sent, as an array of
/// objects under [`MultiValuedAttr::json_key`] in the user's `scim_attributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MultiValuedAttr {
    /// The stored element that the `email` column replaces when a user is rendered (the first with `primary`
    /// true, else the first of type `work`, else the first) is not one of the kept values: the column is.
    Emails,
    /// The stored element that the `mobile_number` column replaces when a user is rendered (the first of type
    /// `mobile`) is not one of the kept values while the column is set: the column is.
    PhoneNumbers,
    Ims,
    Photos,
    Addresses,
    Entitlements,
    X509Certificates,
}

impl MultiValuedAttr {
    /// Returns the attribute's key in `scim_attributes`.
    pub fn json_key(&self) -> &'static str {
        match self {
            Self::Emails => "emails",
            Self::PhoneNumbers => "phoneNumbers",
            Self::Ims => "ims",
            Self::Photos => "photos",
            Self::Addresses => "addresses",
            Self::Entitlements => "entitlements",
            Self::X509Certificates => "x509Certificates",
        }
    }
}

/// A sub-attribute of a [`MultiValuedAttr`]'s values, named as in RFC 7643 §4.1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubAttr {
    Value,
    Display,
    Type,
    Primary,
    Formatted,
    StreetAddress,
    Locality,
    Region,
    PostalCode,
    Country,
}

impl SubAttr {
    /// Returns the sub-attribute's key in a stored value.
    pub fn json_key(&self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Display => "display",
            Self::Type => "type",
            Self::Primary => "primary",
            Self::Formatted => "formatted",
            Self::StreetAddress => "streetAddress",
            Self::Locality => "locality",
            Self::Region => "region",
            Self::PostalCode => "postalCode",
            Self::Country => "country",
        }
    }
}

/// A test on one value (a JSON object) of a [`MultiValuedAttr`].
#[derive(Debug, Clone, PartialEq)]
pub enum ElementFilter {
    /// Matches every value.
    All,
    And(Vec<ElementFilter>),
    Or(Vec<ElementFilter>),
    /// Matches a value for which the inner test is false, including one that lacks the sub-attributes it names.
    Not(Box<ElementFilter>),
    /// Compares a string sub-attribute, ignoring case. `ne` also matches a value without the sub-attribute.
    Cmp { sub: SubAttr, op: CmpOp, value: String },
    /// The sub-attribute is present and is not the empty string.
    Present(SubAttr),
    /// The sub-attribute is the boolean `true`.
    IsTrue(SubAttr),
}

/// A comparison operator, named as in RFC 7644 §3.4.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal a filter compares against.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Text(String),
    Int(i64),
    Date(Date),
    Time(Timestamp),
}

/// A filter over users.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every user.
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Compares an attribute. Text comparisons ignore case unless `case_exact` is set.
    Cmp { attr: UserAttr, op: CmpOp, value: FilterValue, case_exact: bool },
    /// The attribute has a value.
    Present(UserAttr),
    /// The user holds at least one assignment of the role type.
    HasRole(i64),
    /// The user is a member of this group, or of any group for `None`.
    InGroup(Option<i64>),
    /// The user's lifecycle state is one of these.
    StatusIn(Vec<LifecycleState>),
    /// Some value of the multi-valued attribute kept as sent satisfies `condition` (RFC 7644 §3.4.2.2). For
    /// `Emails` and `PhoneNumbers`, the stored value that a Roster column replaces is left out; test the column
    /// itself for it.
    AnyElement { attr: MultiValuedAttr, condition: ElementFilter },
}

impl Filter {
    /// A case-insensitive comparison of a text attribute.
    pub fn text(attr: UserAttr, op: CmpOp, value: impl Into<String>) -> Self {
        Self::Cmp { attr, op, value: FilterValue::Text(value.into()), case_exact: false }
    }

    /// Joins filters with `and`, dropping `All` terms.
    pub fn and(filters: Vec<Filter>) -> Self {
        let mut terms: Vec<Filter> = filters.into_iter().filter(|f| *f != Filter::All).collect();
        match terms.len() {
            0 => Filter::All,
            1 => terms.remove(0),
            _ => Filter::And(terms),
        }
    }
}

/// A sort key of user lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Id,
    LastName,
    UserName,
    CreatedAt,
    UpdatedAt,
    /// SCIM's `displayName`, ignoring case; users without one sort as the empty string.
    DisplayName,
}

impl SortKey {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "id" => Some(Self::Id),
            "last_name" => Some(Self::LastName),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::LastName => "last_name",
            Self::UserName => "user_name",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::DisplayName => "display_name",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Asc,
    Desc,
}

/// An order for user lists; ties are always broken by id in the same direction, so keyset pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub direction: SortDirection,
}

impl Default for Sort {
    fn default() -> Self {
        Self { key: SortKey::Id, direction: SortDirection::Asc }
    }
}

impl Sort {
    /// Parses `key` or `-key`.
    pub fn parse(text: &str) -> Option<Self> {
        let (direction, name) = match text.strip_prefix('-') {
            Some(rest) => (SortDirection::Desc, rest),
            None => (SortDirection::Asc, text),
        };
        SortKey::parse(name).map(|key| Self { key, direction })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_drops_all() {
        let f = Filter::and(vec![Filter::All, Filter::HasRole(3)]);
        assert_eq!(f, Filter::HasRole(3));
    }

    #[test]
    fn sort_parses_direction() {
        assert_eq!(Sort::parse("-last_name"), Some(Sort { key: SortKey::LastName, direction: SortDirection::Desc }));
        assert_eq!(Sort::parse("email"), None);
    }
}

//! The schemas Roster publishes under `/Schemas` (RFC 7643 §7), as data. The same definitions give request
//! attributes their canonical spelling, since SCIM attribute names are case-insensitive.
//!
//! The definitions list what Roster stores and returns, not all of RFC 7643: the core User schema has no
//! `password` (Roster does not keep passwords) and no `groups` (not rendered on users yet), and its `roles`
//! are read-only. The Group schema adds `roles`, the role grants a group gives its members.

use roster_scim::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Complex,
    Reference,
    Binary,
}

impl AttrType {
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Complex => "complex",
            Self::Reference => "reference",
            Self::Binary => "binary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct AttributeDef {
    pub name: &'static str,
    pub kind: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// `server` uniqueness; otherwise `none`.
    pub unique: bool,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
    pub description: &'static str,
}

const fn attr(name: &'static str, kind: AttrType, description: &'static str) -> AttributeDef {
    AttributeDef {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

const fn string(name: &'static str, description: &'static str) -> AttributeDef {
    attr(name, AttrType::String, description)
}

const fn complex(name: &'static str, sub_attributes: &'static [AttributeDef], description: &'static str) -> AttributeDef {
    AttributeDef { sub_attributes, ..attr(name, AttrType::Complex, description) }
}

impl AttributeDef {
    const fn multi(self) -> Self {
        Self { multi_valued: true, ..self }
    }

    const fn required(self) -> Self {
        Self { required: true, ..self }
    }

    const fn case_exact(self) -> Self {
        Self { case_exact: true, ..self }
    }

    const fn read_only(self) -> Self {
        Self { mutability: Mutability::ReadOnly, ..self }
    }

    const fn immutable(self) -> Self {
        Self { mutability: Mutability::Immutable, ..self }
    }

    const fn always(self) -> Self {
        Self { returned: Returned::Always, ..self }
    }

    const fn unique(self) -> Self {
        Self { unique: true, ..self }
    }

    const fn canonical(self, canonical_values: &'static [&'static str]) -> Self {
        Self { canonical_values, ..self }
    }

    const fn references(self, reference_types: &'static [&'static str]) -> Self {
        Self { reference_types, ..self }
    }

    /// Finds a sub-attribute by name, ignoring case.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(self) -> Value {
        let mut map = Map::new();

        map.insert("name".into(), self.name.into());
        map.insert("type".into(), self.kind.as_str().into());
        map.insert("multiValued".into(), self.multi_valued.into());
        map.insert("description".into(), self.description.into());
        map.insert("required".into(), self.required.into());
        map.insert("caseExact".into(), self.case_exact.into());

        if !self.canonical_values.is_empty() {
            map.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            map.insert("referenceTypes".into(), json!(self.reference_types));
        }

        let mutability = match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        };
        map.insert("mutability".into(), mutability.into());
        let returned = match self.returned {
            Returned::Always => "always",
            Returned::Default => "default",
        };
        map.insert("returned".into(), returned.into());
        map.insert("uniqueness".into(), (if self.unique { "server" } else { "none" }).into());

        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(|a| a.to_json()).collect();
            map.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(map)
    }
}

/// A schema: its URN, name and attributes.
#[derive(Debug, Clone, Copy)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Finds a top-level attribute by name, ignoring case.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Renders the schema resource; `base` is the absolute SCIM base URL.
    pub fn to_json(self, base: &str) -> Value {
        let attributes: Vec<Value> = self.attributes.iter().map(|a| a.to_json()).collect();
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attributes,
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", self.id) },
        })
    }
}

const TYPE_VALUE_PRIMARY: [AttributeDef; 4] = [
    string("value", "The value"),
    string("display", "A human-readable name, primarily used for display purposes"),
    string("type", "A label indicating the attribute's function"),
    attr("primary", AttrType::Boolean, "Whether this is the primary value of the attribute"),
];

const EMAIL_SUBS: [AttributeDef; 4] = [
    string("value", "Email address for the user"),
    TYPE_VALUE_PRIMARY[1],
    string("type", "A label indicating the attribute's function, e.g., 'work' or 'home'")
        .canonical(&["work", "home", "other"]),
    TYPE_VALUE_PRIMARY[3],
];

const PHONE_SUBS: [AttributeDef; 4] = [
    string("value", "Phone number of the User"),
    TYPE_VALUE_PRIMARY[1],
    string("type", "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    TYPE_VALUE_PRIMARY[3],
];

const ADDRESS_SUBS: [AttributeDef; 8] = [
    string("formatted", "The full mailing address, formatted for display"),
    string("streetAddress", "The full street address component"),
    string("locality", "The city or locality component"),
    string("region", "The state or region component"),
    string("postalCode", "The zip code or postal code component"),
    string("country", "The country name component"),
    string("type", "A label indicating the attribute's function, e.g., 'work' or 'home'")
        .canonical(&["work", "home", "other"]),
    attr("primary", AttrType::Boolean, "Whether this is the primary address"),
];

const NAME_SUBS: [AttributeDef; 6] = [
    string("formatted", "The full name, formatted for display"),
    string("familyName", "The family name of the User; Roster's last name"),
    string("givenName", "The given name of the User; Roster's first name"),
    string("middleName", "The middle name(s) of the User"),
    string("honorificPrefix", "The honorific prefix(es) of the User"),
    string("honorificSuffix", "The honorific suffix(es) of the User"),
];

const ROLE_SUBS: [AttributeDef; 3] = [
    string("value", "The role type id, followed for a scoped role by ':' and the resource type and ':' and the \
                     resource id, as in '6:workspace:analytics'")
        .case_exact(),
    string("display", "The role type's name").read_only(),
    string("type", "The resource type the role is scoped to; absent for a global role").read_only(),
];

const GROUP_REF_SUBS: [AttributeDef; 4] = [
    string("value", "The id of a Group the User belongs to").case_exact().read_only(),
    attr("$ref", AttrType::Reference, "The URI of the Group").references(&["Group"]).read_only(),
    string("display", "The Group's displayName").read_only(),
    string("type", "How the User belongs to the Group; always 'direct', because Roster has no nested groups")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

const X509_SUBS: [AttributeDef; 4] = [
    attr("value", AttrType::Binary, "The certificate, base64-encoded DER; a filter may only test its presence, \
                                     because one certificate has several base64 forms"),
    TYPE_VALUE_PRIMARY[1],
    TYPE_VALUE_PRIMARY[2],
    TYPE_VALUE_PRIMARY[3],
];

const PHOTO_SUBS: [AttributeDef; 4] = [
    attr("value", AttrType::Reference, "URL of a photo of the User").references(&["external"]),
    TYPE_VALUE_PRIMARY[1],
    string("type", "A label indicating the attribute's function, e.g., 'photo' or 'thumbnail'")
        .canonical(&["photo", "thumbnail"]),
    TYPE_VALUE_PRIMARY[3],
];

const USER_ATTRIBUTES: [AttributeDef; 20] = [
    string("userName", "Unique identifier for the User, compared case-insensitively").required().unique(),
    complex("name", &NAME_SUBS, "The components of the user's real name"),
    string("displayName", "The name of the User, suitable for display to end-users"),
    string("nickName", "The casual way to address the user"),
    attr("profileUrl", AttrType::Reference, "A fully qualified URL pointing to a page representing the User's \
                                             online profile")
        .references(&["external"]),
    string("title", "The user's title, such as 'Vice President'; Roster's job title"),
    string("userType", "Used to identify the relationship between the organization and the user"),
    string("preferredLanguage", "Indicates the User's preferred written or spoken language"),
    string("locale", "Used to indicate the User's default location for purposes of localizing items"),
    string("timezone", "The User's time zone in the 'Olson' time zone database format"),
    // Required because every Roster user has a lifecycle state, so `active` always has a value and a PATCH cannot
    // remove it (RFC 7644 §3.5.2.2). A create without it starts the user active.
    attr("active", AttrType::Boolean, "True exactly when the user is active; false archives the user, true \
                                        restores or activates it. A new user without it starts active")
        .required(),
    complex("emails", &EMAIL_SUBS, "Email addresses for the user; the primary one (or else the work one) is \
                                     Roster's email")
        .multi(),
    complex("phoneNumbers", &PHONE_SUBS, "Phone numbers for the User; the mobile one is Roster's mobile number")
        .multi(),
    complex("ims", &TYPE_VALUE_PRIMARY, "Instant messaging addresses for the User").multi(),
    complex("photos", &PHOTO_SUBS, "URLs of photos of the User").multi(),
    complex("addresses", &ADDRESS_SUBS, "A physical mailing address for this User").multi(),
    complex("entitlements", &TYPE_VALUE_PRIMARY, "A list of entitlements for the User").multi(),
    complex("groups", &GROUP_REF_SUBS, "The Groups the User is a member of; change them through the Group \
                                         resources")
        .multi()
        .read_only(),
    complex("roles", &ROLE_SUBS, "The roles the user holds in Roster; read-only here").multi().read_only(),
    complex("x509Certificates", &X509_SUBS, "A list of certificates issued to the User").multi(),
];

const MANAGER_SUBS: [AttributeDef; 3] = [
    string("value", "The id of the SCIM resource representing the User's manager").case_exact(),
    attr("$ref", AttrType::Reference, "The URI of the SCIM resource representing the User's manager; when value is \
                                        absent, the id is read from its last path segment")
        .references(&["User"]),
    string("displayName", "The displayName of the User's manager").read_only(),
];

const ENTERPRISE_ATTRIBUTES: [AttributeDef; 6] = [
    string("employeeNumber", "Numeric or alphanumeric identifier assigned to a person; Roster's unique id").unique(),
    string("costCenter", "Identifies the name of a cost center"),
    string("organization", "Identifies the name of an organization"),
    string("division", "Identifies the name of a division"),
    string("department", "Identifies the name of a department"),
    complex("manager", &MANAGER_SUBS, "The User's manager"),
];

const MEMBER_SUBS: [AttributeDef; 3] = [
    string("value", "The id of a User that is a member of the Group").case_exact().immutable(),
    attr("$ref", AttrType::Reference, "The URI of the member").references(&["User"]).immutable(),
    string("type", "The type of the member; always 'User'").canonical(&["User"]).immutable(),
];

const GROUP_ATTRIBUTES: [AttributeDef; 3] = [
    string("displayName", "A human-readable name for the Group").required(),
    complex("members", &MEMBER_SUBS, "The members of the Group").multi(),
    complex("roles", &ROLE_SUBS, "Role grants that every active member of the Group receives; changing them \
                                   requires the roles:write scope")
        .multi(),
];

pub const USER_SCHEMA: SchemaDef = SchemaDef {
    id: CORE_USER,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

pub const ENTERPRISE_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRIBUTES,
};

pub const GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: CORE_GROUP,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

/// Every schema `/Schemas` lists.
pub const ALL_SCHEMAS: [SchemaDef; 3] = [USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA];

/// The attributes every resource has besides its schema's (RFC 7643 §3.1). They are not listed under
/// `/Schemas`, but PATCH paths and request bodies name them. `schemas` is treated as read-only, since a resource's
/// schemas follow from the attributes it has.
const COMMON_ATTRIBUTES: [AttributeDef; 4] = [
    string("id", "A unique identifier for the resource").case_exact().read_only().always(),
    string("externalId", "An identifier for the resource as defined by the provisioning client").case_exact(),
    complex("meta", &[], "Resource metadata").read_only(),
    attr("schemas", AttrType::Reference, "The schema URNs of the resource").multi().read_only().always(),
];

/// Finds a common attribute (`id`, `externalId`, `meta`, `schemas`) by name, ignoring case.
pub fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    COMMON_ATTRIBUTES.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The schemas of one resource type: its core schema and its extensions.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSchemas {
    pub core: &'static SchemaDef,
    pub extensions: &'static [SchemaDef],
}

impl ResourceSchemas {
    /// Finds an extension by its URN, ignoring case.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Finds where an attribute named without a URN is defined: the core schema (or the common attributes) first,
    /// then the extensions, whose attribute names the core schemas do not use.
    pub fn locate(&self, name: &str) -> Located {
        if let Some(def) = self.core.attribute(name).or_else(|| common_attribute(name)) {
            return Located::Core(Some(def));
        }
        for extension in self.extensions {
            if let Some(def) = extension.attribute(name) {
                return Located::Extension(extension, def);
            }
        }
        Located::Core(None)
    }
}

/// The place of an attribute named without a URN.
#[derive(Debug, Clone, Copy)]
pub enum Located {
    /// At the top level of the resource; `None` for an attribute no schema defines.
    Core(Option<&'static AttributeDef>),
    Extension(&'static SchemaDef, &'static AttributeDef),
}

pub const USER_RESOURCE: ResourceSchemas = ResourceSchemas { core: &USER_SCHEMA, extensions: &[ENTERPRISE_SCHEMA] };
pub const GROUP_RESOURCE: ResourceSchemas = ResourceSchemas { core: &GROUP_SCHEMA, extensions: &[] };

//! The schema URNs of RFC 7643 that Roster's SCIM resources use, and the PatchOp message URN of RFC 7644.

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The resource schemas whose URNs may qualify an attribute name.
pub const RESOURCE_SCHEMAS: [&str; 3] = [CORE_USER, ENTERPRISE_USER, CORE_GROUP];

/// Returns the resource schema URN that `text` names, compared without regard to letter case as SCIM clients
/// vary it, or `None` if `text` is not one of [`RESOURCE_SCHEMAS`].
pub fn resource_schema(text: &str) -> Option<&'static str> {
    RESOURCE_SCHEMAS.into_iter().find(|urn| urn.eq_ignore_ascii_case(text))
}

/// Returns whether attributes of this schema sit at the top level of a resource, as the core schemas' do, rather
/// than inside an object keyed by the URN, as an extension's do.
pub fn is_core(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(CORE_USER) || urn.eq_ignore_ascii_case(CORE_GROUP)
}

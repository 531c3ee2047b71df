//! SCIM 2.0 protocol translation for Roster's service provider.
//!
//! The crate parses filters (RFC 7644 §3.4.2.2) and translates User filters and `sortBy` into the domain's
//! [`roster_domain::Filter`] and [`roster_domain::SortKey`]. It also parses PATCH paths and operations
//! (RFC 7644 §3.5.2) and repairs the value variants that real clients send.
//!
//! Nothing here performs I/O. Every error is a [`ScimError`] whose `scimType` and message the HTTP layer can send
//! as they are.
//!
//! ```
//! use roster_scim::{parse_filter, translate_user_filter};
//!
//! let filter = parse_filter(r#"userName eq "bjensen" and emails[type eq "work"]"#)?;
//! let domain_filter = translate_user_filter(&filter)?;
//! # let _ = domain_filter;
//! # Ok::<(), roster_scim::ScimError>(())
//! ```

pub mod error;
pub mod filter;
pub mod normalise;
pub mod parser;
pub mod patch;
pub mod schema;
pub mod translate;

pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, ScimFilter};
pub use normalise::{expand_dotted_keys, member_ids, member_ids_in_filter, normalise_bool, normalise_manager};
pub use parser::{MAX_NESTING, MAX_TERMS, parse_filter};
pub use patch::{PatchOp, PatchOpKind, PatchPath, parse_patch_request};
pub use translate::{parse_user_filter, translate_user_filter, translate_user_sort_by};

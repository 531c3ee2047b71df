//! The SCIM filter AST (RFC 7644 §3.4.2.2) and its printer, which writes an AST back in filter syntax.
//!
//! The parser in [`crate::parser`] builds these values. `Display` prints them so that parsing the output yields an
//! equal AST, provided the AST has the shape the parser produces (see [`ScimFilter::And`]).

use std::fmt;

/// An attribute path: `[schema ":"] name ["." subAttribute]`, as in `name.givenName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
///
/// Names keep the letter case the client wrote, so the AST prints back as written. Attribute names and schema
/// URNs are case-insensitive in SCIM, so code that resolves a path compares them with
/// [`str::eq_ignore_ascii_case`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN that qualifies the attribute, without the `:` before the attribute name.
    pub schema: Option<String>,
    pub name: String,
    pub sub_attribute: Option<String>,
}

impl AttrPath {
    /// Creates an unqualified path such as `userName` or, with a sub-attribute, `name.givenName`.
    pub fn new(name: impl Into<String>, sub_attribute: Option<&str>) -> Self {
        Self { schema: None, name: name.into(), sub_attribute: sub_attribute.map(str::to_string) }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub_attribute) = &self.sub_attribute {
            write!(f, ".{sub_attribute}")?;
        }
        Ok(())
    }
}

/// A comparison operator of RFC 7644 §3.4.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
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

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// Returns the operator keyword in lower case.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Parses an operator keyword in any letter case.
    pub fn parse(keyword: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(keyword))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value: a JSON literal (RFC 7644 §3.4.2.2 `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    /// A JSON number literal (RFC 8259) exactly as written, so it prints back unchanged and keeps every digit.
    Number(String),
    /// The decoded string, with JSON escapes already resolved.
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Number(literal) => f.write_str(literal),
            Self::String(text) => {
                let quoted = serde_json::to_string(text).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimFilter {
    /// `attrPath op value`, such as `userName eq "bjensen"`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`: the attribute has a value.
    Present(AttrPath),
    /// `attrPath[filter]`: at least one value of a multi-valued (or complex) attribute matches `filter`, whose
    /// paths name sub-attributes of `path`. The inner filter never contains another `ValuePath`.
    ValuePath {
        path: AttrPath,
        filter: Box<ScimFilter>,
    },
    Not(Box<ScimFilter>),
    /// Two or more terms joined by `and`. The parser flattens chains, so `a and (b and c)` is one `And` of three
    /// terms, and no term of an `And` is itself an `And`. `Display` reproduces only ASTs of that shape.
    And(Vec<ScimFilter>),
    /// Two or more terms joined by `or`, flattened like [`ScimFilter::And`].
    Or(Vec<ScimFilter>),
}

impl ScimFilter {
    /// Joins two filters with `and`, flattening nested `And` terms the way the parser does.
    pub fn and(left: ScimFilter, right: ScimFilter) -> ScimFilter {
        let mut terms = match left {
            ScimFilter::And(terms) => terms,
            other => vec![other],
        };
        match right {
            ScimFilter::And(more) => terms.extend(more),
            other => terms.push(other),
        }
        ScimFilter::And(terms)
    }

    /// Joins two filters with `or`, flattening nested `Or` terms the way the parser does.
    pub fn or(left: ScimFilter, right: ScimFilter) -> ScimFilter {
        let mut terms = match left {
            ScimFilter::Or(terms) => terms,
            other => vec![other],
        };
        match right {
            ScimFilter::Or(more) => terms.extend(more),
            other => terms.push(other),
        }
        ScimFilter::Or(terms)
    }
}

impl std::str::FromStr for ScimFilter {
    type Err = crate::ScimError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        crate::parser::parse_filter(text)
    }
}

impl fmt::Display for ScimFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::And(terms) => write_joined(f, terms, "and"),
            Self::Or(terms) => write_joined(f, terms, "or"),
        }
    }
}

/// Writes terms joined by `and` or `or`. An `or` term inside an `and` is parenthesised because `and` binds tighter.
/// A term of the same kind as its parent, which the parser never produces, is parenthesised too, although parsing
/// the output flattens it.
fn write_joined(f: &mut fmt::Formatter<'_>, terms: &[ScimFilter], keyword: &str) -> fmt::Result {
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            write!(f, " {keyword} ")?;
        }
        let needs_parentheses = match term {
            ScimFilter::Or(_) => true,
            ScimFilter::And(_) => keyword == "and",
            _ => false,
        };
        if needs_parentheses {
            write!(f, "({term})")?;
        } else {
            write!(f, "{term}")?;
        }
    }
    Ok(())
}

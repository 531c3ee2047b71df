//! Translation of filters on the multi-valued User attributes that Roster keeps as sent (`emails`,
//! `phoneNumbers`, `ims`, `photos`, `addresses`, `entitlements` and `x509Certificates`) into
//! [`Filter::AnyElement`], which matches a user when some value of the attribute matches (RFC 7644 §3.4.2.2).
//!
//! Every string sub-attribute of these attributes has `caseExact` false in the User schema that `/Schemas` serves,
//! as in RFC 7643 §8.7.1, so every comparison ignores case. `primary` is a boolean, and a value without it is not
//! the primary one, so `primary eq false` matches it. `x509Certificates.value` is binary: the same certificate
//! has several valid base64 texts (line breaks, padding), so comparing the text would miss matches, and a filter
//! may only test its presence.

use super::{bool_value, boolean_operator, domain_op, wrong_value_type};
use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, ScimFilter};
use roster_domain::{ElementFilter, Filter, MultiValuedAttr, SubAttr};

/// The kind of value a sub-attribute holds, as the User schema declares it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SubKind {
    Text,
    Boolean,
    Binary,
}

/// Returns the multi-valued attribute kept as sent that a lower-case attribute name names.
pub(super) fn multi_valued_attr(name: &str) -> Option<MultiValuedAttr> {
    match name {
        "emails" => Some(MultiValuedAttr::Emails),
        "phonenumbers" => Some(MultiValuedAttr::PhoneNumbers),
        "ims" => Some(MultiValuedAttr::Ims),
        "photos" => Some(MultiValuedAttr::Photos),
        "addresses" => Some(MultiValuedAttr::Addresses),
        "entitlements" => Some(MultiValuedAttr::Entitlements),
        "x509certificates" => Some(MultiValuedAttr::X509Certificates),
        _ => None,
    }
}

/// Translates `written[inner]`: some value of `attr` satisfies `inner`.
pub(super) fn any_value(attr: MultiValuedAttr, inner: &ScimFilter, written: &AttrPath) -> Result<Filter, ScimError> {
    let condition = translate_value_filter(attr, inner, written)?;
    Ok(Filter::AnyElement { attr, condition })
}

/// Translates a presence test or comparison written outside brackets, such as `addresses.locality eq "Paris"`,
/// `ims co "x"` or `addresses pr`: some value of `attr` passes the test. A comparison with `null` is not handled
/// here, because it tests the whole attribute for absence rather than one value.
pub(super) fn any_value_outside_brackets(attr: MultiValuedAttr, test: &ScimFilter) -> Result<Filter, ScimError> {
    let condition = match test {
        ScimFilter::Present(path) => match path.sub_attribute.as_deref() {
            // RFC 7644 §3.4.2.2: a complex attribute is present when it contains a non-empty value; Roster stores
            // no empty values, so any value will do.
            None => ElementFilter::All,
            Some(name) => ElementFilter::Present(resolve_sub(attr, name, path)?.0),
        },
        ScimFilter::Compare { path, op, value } => {
            let sub = match path.sub_attribute.as_deref() {
                Some(name) => resolve_sub(attr, name, path)?,
                None => default_sub(attr, path)?,
            };
            compare(sub, *op, value, path)?
        }
        ScimFilter::ValuePath { .. } | ScimFilter::And(_) | ScimFilter::Or(_) | ScimFilter::Not(_) => {
            return Err(ScimError::invalid_filter(format!("{test} is not a test of one attribute")));
        }
    };
    Ok(Filter::AnyElement { attr, condition })
}

fn translate_value_filter(
    attr: MultiValuedAttr,
    filter: &ScimFilter,
    written: &AttrPath,
) -> Result<ElementFilter, ScimError> {
    let translate_terms = |terms: &[ScimFilter]| -> Result<Vec<ElementFilter>, ScimError> {
        terms.iter().map(|term| translate_value_filter(attr, term, written)).collect()
    };
    match filter {
        ScimFilter::And(terms) => Ok(ElementFilter::And(translate_terms(terms)?)),
        ScimFilter::Or(terms) => Ok(ElementFilter::Or(translate_terms(terms)?)),
        ScimFilter::Not(inner) => Ok(ElementFilter::Not(Box::new(translate_value_filter(attr, inner, written)?))),
        ScimFilter::Present(path) => Ok(ElementFilter::Present(resolve_sub_in_brackets(attr, path, written)?.0)),
        ScimFilter::Compare { path, op, value } => compare(resolve_sub_in_brackets(attr, path, written)?, *op, value, path),
        ScimFilter::ValuePath { path, .. } => Err(ScimError::invalid_filter(format!(
            "the value filter of {written} cannot contain another value path ({path}[...])"
        ))),
    }
}

fn resolve_sub_in_brackets(
    attr: MultiValuedAttr,
    path: &AttrPath,
    written: &AttrPath,
) -> Result<(SubAttr, SubKind), ScimError> {
    if path.schema.is_some() || path.sub_attribute.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "inside {written}[...], name a sub-attribute of {written} such as {}, not {path}",
            example_sub(attr)
        )));
    }
    resolve_sub(attr, &path.name, written)
}

/// Resolves a sub-attribute name, in any letter case, among those the User schema gives `attr`.
fn resolve_sub(attr: MultiValuedAttr, name: &str, written: &AttrPath) -> Result<(SubAttr, SubKind), ScimError> {
    let found = match (attr, name.to_ascii_lowercase().as_str()) {
        (_, "type") => Some((SubAttr::Type, SubKind::Text)),
        (_, "primary") => Some((SubAttr::Primary, SubKind::Boolean)),
        (MultiValuedAttr::Addresses, "formatted") => Some((SubAttr::Formatted, SubKind::Text)),
        (MultiValuedAttr::Addresses, "streetaddress") => Some((SubAttr::StreetAddress, SubKind::Text)),
        (MultiValuedAttr::Addresses, "locality") => Some((SubAttr::Locality, SubKind::Text)),
        (MultiValuedAttr::Addresses, "region") => Some((SubAttr::Region, SubKind::Text)),
        (MultiValuedAttr::Addresses, "postalcode") => Some((SubAttr::PostalCode, SubKind::Text)),
        (MultiValuedAttr::Addresses, "country") => Some((SubAttr::Country, SubKind::Text)),
        (MultiValuedAttr::Addresses, _) => None,
        (MultiValuedAttr::X509Certificates, "value") => Some((SubAttr::Value, SubKind::Binary)),
        (_, "value") => Some((SubAttr::Value, SubKind::Text)),
        (_, "display") => Some((SubAttr::Display, SubKind::Text)),
        _ => None,
    };
    found.ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "Users cannot be filtered on the sub-attribute {name} of {}; filter on {}",
            written.name,
            sub_attribute_names(attr)
        ))
    })
}

/// Resolves the sub-attribute that an attribute written without one compares, as in RFC 7644's
/// `emails co "example.com"`: its `value`. `addresses` has none.
fn default_sub(attr: MultiValuedAttr, path: &AttrPath) -> Result<(SubAttr, SubKind), ScimError> {
    match attr {
        MultiValuedAttr::Addresses => Err(ScimError::invalid_filter(format!(
            "{path} is a complex attribute without a value; filter on a sub-attribute such as {path}.locality, or \
             test it with {path} pr"
        ))),
        MultiValuedAttr::X509Certificates => Ok((SubAttr::Value, SubKind::Binary)),
        _ => Ok((SubAttr::Value, SubKind::Text)),
    }
}

fn sub_attribute_names(attr: MultiValuedAttr) -> &'static str {
    match attr {
        MultiValuedAttr::Addresses => "formatted, streetAddress, locality, region, postalCode, country, type or primary",
        _ => "value, display, type or primary",
    }
}

fn example_sub(attr: MultiValuedAttr) -> &'static str {
    match attr {
        MultiValuedAttr::Addresses => "locality",
        _ => "value",
    }
}

/// Translates a comparison of one value's sub-attribute. Comparing with `null` tests that the value lacks the
/// sub-attribute (RFC 7643 §2.5 makes null equivalent to unassigned).
fn compare(
    (sub, kind): (SubAttr, SubKind),
    op: CompareOp,
    value: &CompValue,
    path: &AttrPath,
) -> Result<ElementFilter, ScimError> {
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq => Ok(ElementFilter::Not(Box::new(ElementFilter::Present(sub)))),
            CompareOp::Ne => Ok(ElementFilter::Present(sub)),
            _ => Err(ScimError::invalid_filter(format!("{path} can only be compared with null by eq or ne"))),
        };
    }
    match kind {
        SubKind::Text => {
            let CompValue::String(text) = value else {
                return Err(wrong_value_type(path, "a string", "a double-quoted string such as \"work\""));
            };
            Ok(ElementFilter::Cmp { sub, op: domain_op(op), value: text.clone() })
        }
        SubKind::Boolean => compare_boolean(sub, op, value, path),
        SubKind::Binary => Err(ScimError::invalid_filter(format!(
            "{path} is binary (base64) and cannot be compared, because one certificate has several base64 forms; \
             test it with pr, or filter on the display or type of the value"
        ))),
    }
}

fn compare_boolean(sub: SubAttr, op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<ElementFilter, ScimError> {
    let flag = bool_value(value).ok_or_else(|| wrong_value_type(path, "a boolean", "true or false"))?;
    let expected = match op {
        CompareOp::Eq => flag,
        CompareOp::Ne => !flag,
        _ => return Err(boolean_operator(path, op)),
    };
    let is_true = ElementFilter::IsTrue(sub);
    Ok(if expected { is_true } else { ElementFilter::Not(Box::new(is_true)) })
}

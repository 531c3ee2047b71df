//! A recursive-descent parser for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).
//!
//! The `scim_v2` crate (1.0.0, feature `filter`) parses the grammar's precedence, value paths, `not`, URNs and
//! JSON escapes correctly. This parser replaces it for these reasons:
//! - It rejects `not(title pr)`, which is exactly what the RFC's ABNF (`*1"not" "(" FILTER ")"`) writes. It
//!   accepts only `not (title pr)`, the form of the RFC's own examples, and a server should take both.
//! - Its errors cannot be turned into messages a client can act on. Invalid escapes, numbers and attribute paths
//!   carry no position. Token errors name the grammar's regular expressions and contradict themselves, as in
//!   ``Unrecognized token `and` … Expected one of "and" or "or"`` for `userName eq "a" and`.
//! - Its lexer reads a space followed by a name that starts with `pr` as the `pr` operator, so it rejects
//!   `emails[ primary eq true]` and `( primary eq true)`.
//! - It rejects `$ref`, the sub-attribute name SCIM uses for references such as a group's `members`, and reads a
//!   PATCH path that is only an extension URN as an attribute named `User`.
//!
//! The tests compare this parser with `scim_v2` on generated filters that both should accept.
//!
//! Grammar, with the RFC's precedence (`not` binds tighter than `and`, which binds tighter than `or`):
//! ```text
//! filter     = or
//! or         = and *(SP "or" SP and)
//! and        = unary *(SP "and" SP unary)
//! unary      = "not" *SP "(" or ")" / "(" or ")" / attrExp
//! attrExp    = attrPath SP "pr" / attrPath SP compareOp SP compValue
//!            / attrPath "[" or "]" [ "." ATTRNAME SP ( "pr" / compareOp SP compValue ) ]
//! ```
//! Keywords and operators match in any letter case, and `SP` is one or more ASCII whitespace characters. A value
//! filter (inside `[...]`) cannot contain another value path. `emails[type eq "work"].value eq "x"` is not in the
//! RFC's filter grammar but mirrors its PATCH path grammar, and it parses as `emails[type eq "work" and value eq
//! "x"]`, which means the same.

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, CompValue, CompareOp, ScimFilter};

/// Maximum nesting of parentheses, `not` and value paths. Deeper input is rejected before it can exhaust the stack
/// of the recursive parser, printer or translator.
pub const MAX_NESTING: usize = 64;

/// Maximum number of comparisons and presence tests in one filter. The store binds at least one SQL parameter per
/// term, and SQLite (since 3.32.0) rejects a statement with more than 32,766 parameters, so a filter far below that
/// keeps an oversized request a 400 rather than a database error.
pub const MAX_TERMS: usize = 1_000;

/// Maximum length, in characters, of a piece of input quoted in an error message.
const MAX_QUOTED_CHARS: usize = 24;

/// Parses a SCIM filter such as `userName eq "bjensen" and not (emails[type eq "work"])`.
///
/// Errors have `scimType` `invalidFilter` and the character offset of the problem.
pub fn parse_filter(text: &str) -> Result<ScimFilter, ScimError> {
    let mut parser = Parser::new(text, ScimType::InvalidFilter);
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_here("the filter is empty; write an expression such as userName eq \"bjensen\""));
    }

    let filter = parser.parse_or(false)?;
    parser.skip_whitespace();
    if !parser.at_end() {
        return Err(parser.unexpected_after_expression("the end of the filter"));
    }
    Ok(filter)
}

/// The parts of a PATCH path: `attrPath` or `valuePath [subAttr]`.
pub(crate) struct PathParts {
    pub path: AttrPath,
    pub value_filter: Option<ScimFilter>,
    /// The sub-attribute written after `]`.
    pub trailing_sub_attribute: Option<String>,
}

/// Parses a PATCH path. Errors have `scimType` `invalidPath`.
pub(crate) fn parse_path_parts(text: &str) -> Result<PathParts, ScimError> {
    let mut parser = Parser::new(text, ScimType::InvalidPath);
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_here("the path is empty; name an attribute such as name.givenName"));
    }

    let path = parser.parse_attr_path()?;
    let mut value_filter = None;
    let mut trailing_sub_attribute = None;
    if parser.peek() == Some('[') {
        value_filter = Some(parser.parse_bracketed_filter()?);
        if parser.peek() == Some('.') {
            parser.pos += 1;
            trailing_sub_attribute = Some(parser.parse_attr_name("sub-attribute")?);
        }
    }

    parser.skip_whitespace();
    if !parser.at_end() {
        let found = parser.describe_rest();
        return Err(parser.error_here(format!(
            "unexpected {found} after the path; a path is an attribute such as name.givenName or a value path such \
             as emails[type eq \"work\"].value"
        )));
    }
    Ok(PathParts { path, value_filter, trailing_sub_attribute })
}

/// Parses an attribute path alone, such as a `sortBy` value. Errors have the given `scim_type`.
pub(crate) fn parse_attr_path_only(text: &str, scim_type: ScimType) -> Result<AttrPath, ScimError> {
    let mut parser = Parser::new(text, scim_type);
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_here("the attribute name is empty; name an attribute such as userName"));
    }
    let path = parser.parse_attr_path()?;
    parser.skip_whitespace();
    if !parser.at_end() {
        let found = parser.describe_rest();
        return Err(parser.error_here(format!("unexpected {found} after the attribute name {path}")));
    }
    Ok(path)
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
    /// Open parentheses, `not` groups and value paths around `pos`.
    depth: usize,
    /// Comparisons and presence tests read so far.
    terms: usize,
    scim_type: ScimType,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, scim_type: ScimType) -> Self {
        Self { text, pos: 0, depth: 0, terms: 0, scim_type }
    }

    // ---- logical structure ----

    fn parse_or(&mut self, in_value_path: bool) -> Result<ScimFilter, ScimError> {
        let mut filter = self.parse_and(in_value_path)?;
        while self.take_logical_keyword("or")? {
            let right = self.parse_and(in_value_path)?;
            filter = ScimFilter::or(filter, right);
        }
        Ok(filter)
    }

    fn parse_and(&mut self, in_value_path: bool) -> Result<ScimFilter, ScimError> {
        let mut filter = self.parse_unary(in_value_path)?;
        while self.take_logical_keyword("and")? {
            let right = self.parse_unary(in_value_path)?;
            filter = ScimFilter::and(filter, right);
        }
        Ok(filter)
    }

    /// Consumes ` keyword ` if it comes next, and otherwise leaves the position unchanged.
    fn take_logical_keyword(&mut self, keyword: &str) -> Result<bool, ScimError> {
        let start = self.pos;
        let spaced = self.skip_whitespace();
        let word = self.peek_word();
        if !spaced || !word.eq_ignore_ascii_case(keyword) {
            self.pos = start;
            return Ok(false);
        }

        self.pos += word.len();
        if self.at_end() {
            return Err(self.error_here(format!("expected an expression after {keyword}, found the end of the text")));
        }
        if !self.skip_whitespace() {
            let found = self.describe_rest();
            return Err(self.error_here(format!("expected a space after {keyword}, found {found}")));
        }
        Ok(true)
    }

    fn parse_unary(&mut self, in_value_path: bool) -> Result<ScimFilter, ScimError> {
        self.skip_whitespace();
        let start = self.pos;

        if self.peek() == Some('(') {
            return self.parse_group(in_value_path);
        }

        let word = self.peek_word();
        let word_ends_path = !self.text[start + word.len()..].starts_with(is_path_char);
        if word.eq_ignore_ascii_case("not") && word_ends_path {
            self.pos += word.len();
            self.skip_whitespace();
            if self.peek() == Some('(') {
                let inner = self.parse_group(in_value_path)?;
                return Ok(ScimFilter::Not(Box::new(inner)));
            }
            // An attribute may be named `not`, as in `not pr`. Anything else after `not` lacks its parentheses.
            let next_word = self.peek_word();
            let next_is_operator = next_word.eq_ignore_ascii_case("pr") || CompareOp::parse(next_word).is_some();
            if !next_is_operator {
                return Err(self.error_at(start, "expected ( after not; write not (expression)"));
            }
            self.pos = start;
        }

        if self.at_end() {
            return Err(self.error_here("expected an expression, found the end of the text"));
        }
        self.parse_attr_expression(in_value_path)
    }

    /// Parses `( or )`, with the position at the `(`.
    fn parse_group(&mut self, in_value_path: bool) -> Result<ScimFilter, ScimError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;

        let inner = self.parse_or(in_value_path)?;
        self.skip_whitespace();
        if self.peek() != Some(')') {
            let found = self.describe_rest();
            let open_char = self.char_offset(open);
            return Err(self
                .error_here(format!("expected and, or or ) to close the ( at character {open_char}, found {found}")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// Parses `[ or ]`, with the position at the `[`.
    fn parse_bracketed_filter(&mut self) -> Result<ScimFilter, ScimError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;

        let inner = self.parse_or(true)?;
        self.skip_whitespace();
        if self.peek() != Some(']') {
            let found = self.describe_rest();
            let open_char = self.char_offset(open);
            return Err(self
                .error_here(format!("expected and, or or ] to close the [ at character {open_char}, found {found}")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    fn enter(&mut self, at: usize) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error_at(
                at,
                format!("parentheses, not and value paths are nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    // ---- attribute expressions ----

    fn parse_attr_expression(&mut self, in_value_path: bool) -> Result<ScimFilter, ScimError> {
        let path = self.parse_attr_path()?;
        if self.peek() != Some('[') {
            return self.parse_operator_and_value(path);
        }

        if in_value_path {
            return Err(self.error_here(format!(
                "a value filter cannot contain another value path; compare {path} with an operator instead"
            )));
        }
        let mut inner = self.parse_bracketed_filter()?;
        if self.peek() == Some('.') {
            self.pos += 1;
            let sub_attribute = self.parse_attr_name("sub-attribute")?;
            let condition = self.parse_operator_and_value(AttrPath::new(sub_attribute, None))?;
            inner = ScimFilter::and(inner, condition);
        }
        Ok(ScimFilter::ValuePath { path, filter: Box::new(inner) })
    }

    /// Parses ` pr` or ` op value` after `path`.
    fn parse_operator_and_value(&mut self, path: AttrPath) -> Result<ScimFilter, ScimError> {
        const OPERATORS: &str = "eq, ne, co, sw, ew, gt, ge, lt, le or pr";

        if self.at_end() {
            return Err(self.error_here(format!("expected an operator ({OPERATORS}) after {path}")));
        }
        if !self.skip_whitespace() {
            let found = self.describe_rest();
            return Err(
                self.error_here(format!("expected a space and an operator ({OPERATORS}) after {path}, found {found}"))
            );
        }

        let operator_start = self.pos;
        let word = self.peek_word();
        if word.eq_ignore_ascii_case("pr") {
            self.pos += word.len();
            self.count_term(operator_start)?;
            return Ok(ScimFilter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            let found = self.describe_rest();
            return Err(self.error_here(format!("expected an operator ({OPERATORS}) after {path}, found {found}")));
        };
        self.pos += word.len();

        let value_hint = "a double-quoted string, a number, true, false or null";
        if self.at_end() {
            return Err(self.error_here(format!("expected a value after {op}: {value_hint}")));
        }
        if !self.skip_whitespace() {
            let found = self.describe_rest();
            return Err(self.error_here(format!("expected a space and a value after {op}, found {found}")));
        }
        let value = self.parse_value(op)?;
        self.count_term(operator_start)?;
        Ok(ScimFilter::Compare { path, op, value })
    }

    fn count_term(&mut self, at: usize) -> Result<(), ScimError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.error_at(
                at,
                format!("the filter has more than {MAX_TERMS} comparisons; split it into several requests"),
            ));
        }
        Ok(())
    }

    /// Parses `[URI ":"] ATTRNAME ["." ATTRNAME]`.
    fn parse_attr_path(&mut self) -> Result<AttrPath, ScimError> {
        let start = self.pos;
        let token_len = self.text[start..].find(|c: char| !is_path_char(c)).unwrap_or(self.text.len() - start);
        if token_len == 0 {
            let found = self.describe_rest();
            return Err(self.error_here(format!("expected an attribute name such as userName, found {found}")));
        }
        let token = &self.text[start..start + token_len];
        self.pos += token_len;

        let (schema, rest, rest_start) = match token.rfind(':') {
            Some(colon) => (Some(&token[..colon]), &token[colon + 1..], start + colon + 1),
            None => (None, token, start),
        };
        if let Some(schema) = schema {
            self.check_schema_urn(schema, start)?;
        }
        if rest.is_empty() {
            return Err(self.error_at(rest_start, "expected an attribute name after the schema URN and its :"));
        }

        let mut segments = rest.split('.');
        let name = segments.next().unwrap_or_default();
        let sub_attribute = segments.next();
        if segments.next().is_some() {
            return Err(self.error_at(
                rest_start,
                format!("{} has more than one sub-attribute; write at most one, as in name.givenName", quote(rest)),
            ));
        }

        self.check_attr_name(name, rest_start)?;
        if let Some(sub_attribute) = sub_attribute {
            self.check_attr_name(sub_attribute, rest_start + name.len() + 1)?;
        }
        Ok(AttrPath {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            sub_attribute: sub_attribute.map(str::to_string),
        })
    }

    /// Parses one `ATTRNAME`, such as the sub-attribute after `]`.
    fn parse_attr_name(&mut self, role: &str) -> Result<String, ScimError> {
        let start = self.pos;
        let len = self.text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '$'))
            .unwrap_or(self.text.len() - start);
        if len == 0 {
            let found = self.describe_rest();
            return Err(self.error_here(format!("expected a {role} name after the dot, found {found}")));
        }
        let name = &self.text[start..start + len];
        self.check_attr_name(name, start)?;
        self.pos += len;
        Ok(name.to_string())
    }

    /// Checks `ATTRNAME = ALPHA *("-" / "_" / DIGIT / ALPHA)`, also allowing a leading `$` for `$ref`.
    fn check_attr_name(&self, name: &str, at: usize) -> Result<(), ScimError> {
        let body = name.strip_prefix('$').unwrap_or(name);
        let mut chars = body.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest_valid = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if name.is_empty() {
            return Err(self.error_at(at, "expected an attribute name, found an empty one"));
        }
        if !starts_with_letter || !rest_valid {
            return Err(self.error_at(
                at,
                format!(
                    "{} is not a valid attribute name; names start with a letter and contain only letters, digits, \
                     - and _",
                    quote(name)
                ),
            ));
        }
        Ok(())
    }

    /// Checks that the part before an attribute name's last `:` looks like a URN or other absolute URI.
    fn check_schema_urn(&self, schema: &str, at: usize) -> Result<(), ScimError> {
        let starts_with_letter = schema.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if !starts_with_letter || !schema.contains(':') {
            return Err(self.error_at(
                at,
                format!(
                    "{} is not a schema URN; qualify an attribute with a URN such as \
                     urn:ietf:params:scim:schemas:core:2.0:User:userName",
                    quote(schema)
                ),
            ));
        }
        Ok(())
    }

    // ---- values ----

    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, ScimError> {
        match self.peek() {
            Some('"') => self.parse_string().map(CompValue::String),
            Some(c) if c == '-' || c.is_ascii_digit() => self.parse_number().map(CompValue::Number),
            Some('\'') => {
                Err(self.error_here("strings must be in double quotes, as in \"bjensen\", not single quotes"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let word = self.peek_word();
                let value = match word {
                    "true" => CompValue::Bool(true),
                    "false" => CompValue::Bool(false),
                    "null" => CompValue::Null,
                    _ => {
                        let message = if ["true", "false", "null"].iter().any(|w| w.eq_ignore_ascii_case(word)) {
                            format!(
                                "{} is not a valid value; write {} in lower case, as JSON does",
                                quote(word),
                                word.to_ascii_lowercase()
                            )
                        } else {
                            format!(
                                "expected a value after {op}, found {}; put strings in double quotes, as in \"{word}\"",
                                quote(word)
                            )
                        };
                        return Err(self.error_here(message));
                    }
                };
                self.pos += word.len();
                Ok(value)
            }
            _ => {
                let found = self.describe_rest();
                Err(self.error_here(format!(
                    "expected a value after {op}: a double-quoted string, a number, true, false or null; found {found}"
                )))
            }
        }
    }

    /// Parses a JSON number (RFC 8259), reading the whole run of number-like characters so that `01` or `1.`
    /// is reported as one invalid number.
    fn parse_number(&mut self) -> Result<String, ScimError> {
        let start = self.pos;
        let len = self.text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')))
            .unwrap_or(self.text.len() - start);
        let literal = &self.text[start..start + len];

        if !is_json_number(literal) {
            return Err(self.error_at(
                start,
                format!("{} is not a valid number; write a JSON number such as 42, -1.5 or 2e3", quote(literal)),
            ));
        }
        self.pos += len;
        Ok(literal.to_string())
    }

    /// Parses a JSON string literal (RFC 8259), with the position at its opening quote.
    fn parse_string(&mut self) -> Result<String, ScimError> {
        let start = self.pos;
        let mut decoded = String::new();
        let mut chars = self.text[start + 1..].char_indices();

        while let Some((offset, c)) = chars.next() {
            let at = start + 1 + offset;
            match c {
                '"' => {
                    self.pos = at + 1;
                    return Ok(decoded);
                }
                '\\' => {
                    let escaped = chars.next().map(|(_, e)| e);
                    let unescaped = match escaped {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => self.parse_unicode_escape(&mut chars, at)?,
                        _ => {
                            let written = escaped.map(|e| format!("\\{e}")).unwrap_or_else(|| "\\".to_string());
                            return Err(self.error_at(
                                at,
                                format!(
                                    "invalid escape {} in a string; JSON strings allow \\\" \\\\ \\/ \\b \\f \\n \\r \
                                     \\t and \\uXXXX",
                                    quote(&written)
                                ),
                            ));
                        }
                    };
                    decoded.push(unescaped);
                }
                c if u32::from(c) < 0x20 => {
                    return Err(self.error_at(
                        at,
                        format!(
                            "a string contains the control character U+{:04X}; write it as an escape such as \\n",
                            u32::from(c)
                        ),
                    ));
                }
                c => decoded.push(c),
            }
        }
        Err(self.error_at(start, "the string that starts here has no closing \""))
    }

    /// Decodes the `XXXX` of `\uXXXX`, and a following `\uXXXX` low surrogate when the first is a high surrogate.
    /// `escape_at` is the byte offset of the backslash.
    fn parse_unicode_escape(&self, chars: &mut std::str::CharIndices<'_>, escape_at: usize) -> Result<char, ScimError> {
        let high = self.read_hex4(chars, escape_at)?;
        if !(0xD800..0xDC00).contains(&high) {
            return match char::from_u32(high) {
                Some(c) => Ok(c),
                None => Err(self.error_at(
                    escape_at,
                    format!("\\u{high:04X} is a lone low surrogate; a string must contain whole UTF-16 pairs"),
                )),
            };
        }

        let low_escape_at = escape_at + 6;
        let backslash = chars.next().map(|(_, c)| c);
        let letter_u = chars.next().map(|(_, c)| c);
        if backslash != Some('\\') || letter_u != Some('u') {
            return Err(self.error_at(
                escape_at,
                format!("\\u{high:04X} is a high surrogate that must be followed by a \\uXXXX low surrogate"),
            ));
        }
        let low = self.read_hex4(chars, low_escape_at)?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(self.error_at(
                low_escape_at,
                format!("\\u{low:04X} is not a low surrogate, so it cannot follow the high surrogate \\u{high:04X}"),
            ));
        }
        let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(combined).ok_or_else(|| self.error_at(escape_at, "invalid surrogate pair"))
    }

    fn read_hex4(&self, chars: &mut std::str::CharIndices<'_>, escape_at: usize) -> Result<u32, ScimError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = chars.next().and_then(|(_, c)| c.to_digit(16));
            let Some(digit) = digit else {
                return Err(self.error_at(escape_at, "\\u must be followed by four hexadecimal digits, as in \\u00e9"));
            };
            value = value * 16 + digit;
        }
        Ok(value)
    }

    // ---- characters and errors ----

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Returns the run of ASCII letters and digits at the position, without consuming it.
    fn peek_word(&self) -> &'a str {
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        &rest[..len]
    }

    /// Skips ASCII whitespace and returns whether there was any.
    fn skip_whitespace(&mut self) -> bool {
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| !c.is_ascii_whitespace()).unwrap_or(rest.len());
        self.pos += len;
        len > 0
    }

    /// Describes what follows the position for an error message: a short quote, or "the end of the text".
    fn describe_rest(&self) -> String {
        let rest = &self.text[self.pos..];
        if rest.is_empty() {
            return "the end of the text".to_string();
        }
        let first = rest.chars().next().unwrap_or(' ');
        let len = if is_path_char(first) {
            rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len())
        } else {
            first.len_utf8()
        };
        quote(&rest[..len])
    }

    /// Builds the error for text that follows a complete expression but is not `and`, `or` or `expected`.
    fn unexpected_after_expression(&self, expected: &str) -> ScimError {
        match self.peek() {
            Some(')') => self.error_here("this ) has no matching ("),
            Some(']') => self.error_here("this ] has no matching ["),
            _ => {
                let found = self.describe_rest();
                self.error_here(format!("expected and, or or {expected}, found {found}"))
            }
        }
    }

    fn char_offset(&self, byte: usize) -> usize {
        self.text[..byte.min(self.text.len())].chars().count()
    }

    fn error_at(&self, byte: usize, message: impl Into<String>) -> ScimError {
        ScimError::at(self.scim_type, self.char_offset(byte), message)
    }

    fn error_here(&self, message: impl Into<String>) -> ScimError {
        self.error_at(self.pos, message)
    }
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

/// Checks the JSON number grammar of RFC 8259: `[ "-" ] int [ frac ] [ exp ]`.
fn is_json_number(literal: &str) -> bool {
    let bytes = literal.as_bytes();
    let mut i = 0;
    let digits_from = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();

    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let int_digits = digits_from(i);
    if int_digits == 0 || (int_digits > 1 && bytes[i] == b'0') {
        return false;
    }
    i += int_digits;

    if bytes.get(i) == Some(&b'.') {
        let frac_digits = digits_from(i + 1);
        if frac_digits == 0 {
            return false;
        }
        i += 1 + frac_digits;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = digits_from(i);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == bytes.len()
}

/// Quotes input for an error message, shortened to [`MAX_QUOTED_CHARS`] characters.
fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        return format!("`{text}`");
    }
    let short: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    format!("`{short}…`")
}

#[cfg(test)]
mod tests;

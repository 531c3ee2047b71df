//! Property tests of the filter parser and the User filter translation.
//!
//! Filters come from a generator that follows the RFC 7644 filter grammar, from mutations of generated filters,
//! and from arbitrary text. For every input, parsing and translation must return rather than panic, and every
//! filter that parses must print back to text that parses to an equal AST. Generated filters must parse, and
//! those written in the RFC's strict form must parse to the same structure in the `scim_v2` crate.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use roster_scim::{AttrPath, CompValue, CompareOp, ScimFilter, parse_filter, translate_user_filter};

/// Keywords that `scim_v2` reads as tokens wherever they appear, so strict filters do not use them as names.
const KEYWORDS: [&str; 16] =
    ["and", "or", "not", "pr", "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "true", "false", "null"];

/// How much of the grammar's leeway the generated text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Only what the RFC's examples and `scim_v2` accept: `not (`, no sub-attribute after a value path, no `$ref`,
    /// no names that are keywords, and no space after `(`, since `scim_v2` then reads a name such as `primary` as
    /// its `pr` operator.
    Strict,
    /// Also `not(`, `emails[...].value eq "x"`, `$ref`, names that are keywords and spaces inside parentheses.
    Lenient,
}

/// Grammar choices read from bytes that proptest generates.
///
/// Once the bytes run out every choice is 0, the simplest option, so each filter is finite, and proptest's
/// shrinking of the bytes (dropping them, or lowering them towards 0) shrinks the filter too. In a debug build on a
/// 2-core machine, composing proptest strategies per grammar rule took about 13 s for 10,000 filters, and
/// generating the byte vectors takes about 1 s.
struct Choices<'a> {
    bytes: &'a [u8],
    next: usize,
}

impl<'a> Choices<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, next: 0 }
    }

    fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        byte
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn pick<'b>(&mut self, options: &[&'b str]) -> &'b str {
        options[self.below(options.len())]
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |value, _| value << 8 | u64::from(self.byte()))
    }

    /// Returns `word` with some letters in upper case.
    fn vary_case(&mut self, word: &str) -> String {
        let mask = self.byte();
        word.chars()
            .enumerate()
            .map(|(i, c)| if mask >> (i % 8) & 1 == 1 { c.to_ascii_uppercase() } else { c })
            .collect()
    }

    fn space(&mut self) -> &'static str {
        self.pick(&[" ", " ", " ", "  ", "\t", " \n "])
    }
}

const TOP_LEVEL_PATHS: [&str; 30] = [
    "userName",
    "id",
    "externalId",
    "name.givenName",
    "name.familyName",
    "name.middleName",
    "emails",
    "emails.value",
    "emails.type",
    "phoneNumbers.value",
    "phoneNumbers.type",
    "addresses",
    "addresses.locality",
    "ADDRESSES.postalCode",
    "ims.value",
    "photos.type",
    "entitlements",
    "x509Certificates.value",
    "x509Certificates.display",
    "title",
    "active",
    "displayName",
    "meta.created",
    "meta.lastModified",
    "employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:example:ext:1.0:User:badge",
];

const CONTAINERS: [&str; 11] = [
    "emails",
    "phoneNumbers",
    "name",
    "meta",
    "addresses",
    "ims",
    "photos",
    "entitlements",
    "x509Certificates",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:core:2.0:User:emails",
];

const OPERATORS: [&str; 10] = ["pr", "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

/// Characters of string values: plain text, JSON's special characters, control characters and non-ASCII text.
const STRING_CHARS: [char; 24] = [
    'a', 'B', 'z', '0', '9', ' ', '@', '.', '-', '(', ')', '[', ']', '"', '\\', '/', '\n', '\t', '\u{1}', 'é', '😀',
    '\u{2028}', '\u{fffd}', 'ß',
];

fn random_name(choices: &mut Choices<'_>, form: Form) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const NAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    let mut name = String::from(char::from(LETTERS[choices.below(LETTERS.len())]));
    for _ in 0..choices.below(9) {
        name.push(char::from(NAME_CHARS[choices.below(NAME_CHARS.len())]));
    }
    if form == Form::Strict && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
        name.push('x');
    }
    name
}

fn top_level_path(choices: &mut Choices<'_>, form: Form) -> String {
    if choices.below(4) < 3 {
        let path = choices.pick(&TOP_LEVEL_PATHS);
        return choices.vary_case(path);
    }
    let name = random_name(choices, form);
    if choices.below(2) == 0 { name } else { format!("{name}.{}", random_name(choices, form)) }
}

fn sub_attribute_name(choices: &mut Choices<'_>, form: Form) -> String {
    match choices.below(6) {
        5 => random_name(choices, form),
        4 if form == Form::Lenient => "$ref".to_string(),
        _ => {
            let name = choices.pick(&["value", "type", "primary", "display", "locality", "Country"]);
            choices.vary_case(name)
        }
    }
}

/// Writes a JSON string literal, sometimes with every ASCII punctuation character written as a `\u` escape.
fn string_literal(choices: &mut Choices<'_>) -> String {
    let content: String = match choices.below(4) {
        0 => choices.pick(&["work", "home", "mobile", "42", "007", "True", "2011-05-13T04:42:34Z", ""]).to_string(),
        _ => (0..choices.below(16))
            .map(|_| match choices.below(5) {
                4 => char::from_u32(u32::from(choices.byte()) << 8 | u32::from(choices.byte())).unwrap_or('x'),
                _ => STRING_CHARS[choices.below(STRING_CHARS.len())],
            })
            .collect(),
    };
    let quoted = serde_json::to_string(&content).unwrap_or_else(|_| "\"\"".to_string());
    if choices.below(4) != 3 {
        return quoted;
    }
    let inner = &quoted[1..quoted.len() - 1];
    let escaped: String = inner
        .chars()
        .map(|c| match c {
            '\\' | '"' => c.to_string(),
            c if c.is_ascii_punctuation() => format!("\\u{:04x}", u32::from(c)),
            c => c.to_string(),
        })
        .collect();
    format!("\"{escaped}\"")
}

fn value_literal(choices: &mut Choices<'_>, form: Form) -> String {
    match choices.below(8) {
        4 => (choices.u64() as i64).to_string(),
        5 => {
            let number = f64::from_bits(choices.u64());
            if number.is_finite() { format!("{number:e}") } else { "0".to_string() }
        }
        // `scim_v2` rejects numbers beyond the range of f64, which JSON allows.
        6 if form == Form::Lenient => {
            choices.pick(&["true", "false", "null", "0", "-0", "1.5", "2E+3", "1e400"]).to_string()
        }
        6 => choices.pick(&["true", "false", "null", "0", "-0", "1.5", "2E+3", "1e-2"]).to_string(),
        _ => string_literal(choices),
    }
}

/// `path pr` or `path op value`.
fn attr_expression(choices: &mut Choices<'_>, form: Form, path: String) -> String {
    let operator = choices.pick(&OPERATORS);
    let operator = choices.vary_case(operator);
    let space = choices.space();
    if operator.eq_ignore_ascii_case("pr") {
        return format!("{path}{space}{operator}");
    }
    let second_space = choices.space();
    let value = value_literal(choices, form);
    format!("{path}{space}{operator}{second_space}{value}")
}

/// `container[filter]`, and in the lenient form sometimes `container[filter].sub op value`.
fn value_path(choices: &mut Choices<'_>, form: Form, depth: usize) -> String {
    let container = choices.pick(&CONTAINERS);
    let inner = write_filter(choices, form, depth, true);
    if form == Form::Lenient && choices.below(4) == 3 {
        let sub_attribute = choices.pick(&["value", "type", "display"]).to_string();
        let condition = attr_expression(choices, form, sub_attribute);
        return format!("{container}[{inner}].{condition}");
    }
    format!("{container}[{inner}]")
}

/// Writes a filter of at most `depth` levels of `and`, `or`, `not` and parentheses. Inside a value path, leaves
/// compare sub-attributes and contain no further value path.
fn write_filter(choices: &mut Choices<'_>, form: Form, depth: usize, in_value_path: bool) -> String {
    let kind = if depth == 0 { 0 } else { choices.below(8) };
    match kind {
        4 | 5 => {
            let left = write_filter(choices, form, depth - 1, in_value_path);
            let keyword = if kind == 4 { "and" } else { "or" };
            let keyword = choices.vary_case(keyword);
            let (space_before, space_after) = (choices.space(), choices.space());
            let right = write_filter(choices, form, depth - 1, in_value_path);
            format!("{left}{space_before}{keyword}{space_after}{right}")
        }
        6 => {
            let keyword = choices.vary_case("not");
            let space = if form == Form::Strict { " " } else { choices.pick(&["", " ", "  "]) };
            let inner = write_filter(choices, form, depth - 1, in_value_path);
            format!("{keyword}{space}({inner})")
        }
        7 => {
            let padding = if form == Form::Strict { "" } else { choices.pick(&["", " "]) };
            let inner = write_filter(choices, form, depth - 1, in_value_path);
            format!("({padding}{inner}{padding})")
        }
        _ if in_value_path => {
            let path = sub_attribute_name(choices, form);
            attr_expression(choices, form, path)
        }
        _ if depth > 0 && choices.below(5) == 4 => value_path(choices, form, depth - 1),
        _ => {
            let path = top_level_path(choices, form);
            attr_expression(choices, form, path)
        }
    }
}

fn generated_filter(bytes: &[u8], form: Form) -> String {
    write_filter(&mut Choices::new(bytes), form, 4, false)
}

/// Deletes, inserts or replaces characters of `text` at the positions the edit bytes give.
fn mutate(text: &str, edit_bytes: &[u8]) -> String {
    const INSERTED: [char; 20] =
        ['(', ')', '[', ']', '"', '\\', ' ', '.', ':', '$', '-', '0', 'e', 'u', 'n', 'o', 't', '\n', 'é', '\u{0}'];
    let mut chars: Vec<char> = text.chars().collect();
    let mut edits = Choices::new(edit_bytes);
    for _ in 0..edit_bytes.len().div_ceil(4) {
        let position = usize::from(edits.byte()) << 8 | usize::from(edits.byte());
        let index = position % (chars.len() + 1);
        let kind = edits.below(3);
        let c = INSERTED[edits.below(INSERTED.len())];
        match kind {
            0 if index < chars.len() => {
                chars.remove(index);
            }
            2 if index < chars.len() => chars[index] = c,
            _ => chars.insert(index, c),
        }
    }
    chars.into_iter().collect()
}

/// Text made of the characters filters are written with, in any order.
fn near_grammar_text(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abeilnopqrstuvwxyzAEINOPRST0123456789 ()[]\".:$\\-\t";
    bytes.iter().map(|&b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()])).collect()
}

/// Returns the default configuration, which saves failing inputs beside this file in
/// `filter_properties.regressions`.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

/// Returns the number of cases of the main property: `PROPTEST_CASES` when it is set, for longer runs, and
/// otherwise 10,000.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(10_000)
}

/// Parses `text`, and if it parses, checks that its printed form parses to the same AST and that it translates
/// without panicking.
fn check_round_trip(text: &str) -> Result<(), TestCaseError> {
    let Ok(filter) = parse_filter(text) else {
        return Ok(());
    };
    let printed = filter.to_string();
    let reparsed = parse_filter(&printed);
    prop_assert_eq!(reparsed.as_ref(), Ok(&filter), "printed {:?} from {:?}", printed, text);
    let _ = translate_user_filter(&filter);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..config() })]

    /// Each case checks four filters: a generated one, a mutation of it, arbitrary text and text made of filter
    /// characters, so 10,000 cases check 40,000 inputs.
    #[test]
    fn parsing_never_panics_and_round_trips(
        choices in prop::collection::vec(any::<u8>(), 0..256),
        edits in prop::collection::vec(any::<u8>(), 1..16),
        noise in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let valid = generated_filter(&choices, Form::Lenient);
        let filter = parse_filter(&valid);
        prop_assert!(filter.is_ok(), "generated filter {:?} did not parse: {:?}", valid, filter);
        check_round_trip(&valid)?;

        check_round_trip(&mutate(&valid, &edits))?;
        check_round_trip(&String::from_utf8_lossy(&noise))?;
        check_round_trip(&near_grammar_text(&noise))?;
    }
}

// ---- agreement with scim_v2 ----

fn from_scim_v2_path(path: scim_v2::filter::AttrPath) -> AttrPath {
    AttrPath { schema: path.uri, name: path.name, sub_attribute: path.sub_attr }
}

fn from_scim_v2_attr_exp(expression: scim_v2::filter::AttrExp) -> ScimFilter {
    use scim_v2::filter::{AttrExp, CompValue as V, CompareOp as Op};
    match expression {
        AttrExp::Present(path) => ScimFilter::Present(from_scim_v2_path(path)),
        AttrExp::Comparison(path, op, value) => {
            let op = match op {
                Op::Eq => CompareOp::Eq,
                Op::Ne => CompareOp::Ne,
                Op::Co => CompareOp::Co,
                Op::Sw => CompareOp::Sw,
                Op::Ew => CompareOp::Ew,
                Op::Gt => CompareOp::Gt,
                Op::Ge => CompareOp::Ge,
                Op::Lt => CompareOp::Lt,
                Op::Le => CompareOp::Le,
            };
            let value = match value {
                V::False => CompValue::Bool(false),
                V::True => CompValue::Bool(true),
                V::Null => CompValue::Null,
                V::Number(number) => CompValue::Number(number.to_string()),
                V::Str(text) => CompValue::String(text),
            };
            ScimFilter::Compare { path: from_scim_v2_path(path), op, value }
        }
    }
}

fn from_scim_v2_val_filter(filter: scim_v2::filter::ValFilter) -> ScimFilter {
    use scim_v2::filter::ValFilter;
    match filter {
        ValFilter::Attr(expression) => from_scim_v2_attr_exp(expression),
        ValFilter::Not(inner) => ScimFilter::Not(Box::new(from_scim_v2_val_filter(*inner))),
        ValFilter::And(terms) => ScimFilter::And(terms.into_iter().map(from_scim_v2_val_filter).collect()),
        ValFilter::Or(terms) => ScimFilter::Or(terms.into_iter().map(from_scim_v2_val_filter).collect()),
    }
}

fn from_scim_v2(filter: scim_v2::filter::Filter) -> ScimFilter {
    use scim_v2::filter::Filter;
    match filter {
        Filter::Attr(expression) => from_scim_v2_attr_exp(expression),
        Filter::ValuePath(value_path) => ScimFilter::ValuePath {
            path: from_scim_v2_path(value_path.attr),
            filter: Box::new(from_scim_v2_val_filter(*value_path.filter)),
        },
        Filter::Not(inner) => ScimFilter::Not(Box::new(from_scim_v2(*inner))),
        Filter::And(terms) => ScimFilter::And(terms.into_iter().map(from_scim_v2).collect()),
        Filter::Or(terms) => ScimFilter::Or(terms.into_iter().map(from_scim_v2).collect()),
    }
}

/// Rewrites number literals the way `scim_v2` stores them (as `serde_json::Number`), so the ASTs compare equal.
fn with_numbers_as_scim_v2_reads_them(filter: ScimFilter) -> ScimFilter {
    let normalise = with_numbers_as_scim_v2_reads_them;
    match filter {
        ScimFilter::Compare { path, op, value: CompValue::Number(literal) } => {
            let number = literal.parse::<serde_json::Number>().map_or(literal, |number| number.to_string());
            ScimFilter::Compare { path, op, value: CompValue::Number(number) }
        }
        ScimFilter::ValuePath { path, filter } => ScimFilter::ValuePath { path, filter: Box::new(normalise(*filter)) },
        ScimFilter::Not(inner) => ScimFilter::Not(Box::new(normalise(*inner))),
        ScimFilter::And(terms) => ScimFilter::And(terms.into_iter().map(normalise).collect()),
        ScimFilter::Or(terms) => ScimFilter::Or(terms.into_iter().map(normalise).collect()),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..config() })]

    #[test]
    fn strict_filters_match_scim_v2(choices in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = generated_filter(&choices, Form::Strict);
        let ours = parse_filter(&text);
        let theirs = text.parse::<scim_v2::filter::Filter>();
        prop_assert!(theirs.is_ok(), "scim_v2 rejected {:?}: {:?}", text, theirs);
        if let Ok(theirs) = theirs {
            let ours = ours.map(with_numbers_as_scim_v2_reads_them);
            prop_assert_eq!(ours, Ok(from_scim_v2(theirs)), "filter {:?}", text);
        }
    }
}

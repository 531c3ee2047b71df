#![allow(clippy::expect_used, clippy::panic)]

use super::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn attr(name: &str) -> AttrPath {
    AttrPath::new(name, None)
}

fn sub(name: &str, sub_attribute: &str) -> AttrPath {
    AttrPath::new(name, Some(sub_attribute))
}

fn qualified(schema: &str, name: &str, sub_attribute: Option<&str>) -> AttrPath {
    AttrPath { schema: Some(schema.to_string()), ..AttrPath::new(name, sub_attribute) }
}

fn text(value: &str) -> CompValue {
    CompValue::String(value.to_string())
}

fn number(literal: &str) -> CompValue {
    CompValue::Number(literal.to_string())
}

fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> ScimFilter {
    ScimFilter::Compare { path, op, value }
}

fn eq(name: &str, value: &str) -> ScimFilter {
    cmp(attr(name), CompareOp::Eq, text(value))
}

fn pr(name: &str) -> ScimFilter {
    ScimFilter::Present(attr(name))
}

fn not(inner: ScimFilter) -> ScimFilter {
    ScimFilter::Not(Box::new(inner))
}

fn value_path(path: AttrPath, inner: ScimFilter) -> ScimFilter {
    ScimFilter::ValuePath { path, filter: Box::new(inner) }
}

fn parsed(input: &str) -> ScimFilter {
    match parse_filter(input) {
        Ok(filter) => filter,
        Err(error) => panic!("{input:?} did not parse: {error}"),
    }
}

fn assert_parses(cases: Vec<(&str, ScimFilter)>) {
    for (input, expected) in cases {
        assert_eq!(parsed(input), expected, "input {input:?}");
    }
}

#[test]
fn every_compare_operator_parses() {
    for op in CompareOp::ALL {
        for keyword in [op.as_str().to_string(), op.as_str().to_ascii_uppercase()] {
            let input = format!("title {keyword} \"x\"");
            assert_eq!(parsed(&input), cmp(attr("title"), op, text("x")), "input {input:?}");
        }
    }
}

#[test]
fn present_parses_in_any_case() {
    assert_parses(vec![("title pr", pr("title")), ("title PR", pr("title")), ("title Pr", pr("title"))]);
}

#[test]
fn literals_parse() {
    let cases = vec![
        ("x eq true", cmp(attr("x"), CompareOp::Eq, CompValue::Bool(true))),
        ("x eq false", cmp(attr("x"), CompareOp::Eq, CompValue::Bool(false))),
        ("x eq null", cmp(attr("x"), CompareOp::Eq, CompValue::Null)),
        ("x eq 42", cmp(attr("x"), CompareOp::Eq, number("42"))),
        ("x gt -1.5", cmp(attr("x"), CompareOp::Gt, number("-1.5"))),
        ("x lt 2e3", cmp(attr("x"), CompareOp::Lt, number("2e3"))),
        ("x le 0", cmp(attr("x"), CompareOp::Le, number("0"))),
        ("x ge 1.25E-2", cmp(attr("x"), CompareOp::Ge, number("1.25E-2"))),
        (r#"x eq """#, cmp(attr("x"), CompareOp::Eq, text(""))),
    ];
    assert_parses(cases);
}

#[test]
fn string_escapes_decode() {
    let cases = vec![
        (r#"x eq "a\"b""#, "a\"b"),
        (r#"x eq "back\\slash""#, "back\\slash"),
        (r#"x eq "a\/b""#, "a/b"),
        (r#"x eq "\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
        (r#"x eq "caf\u00e9""#, "café"),
        (r#"x eq "\u00C9""#, "É"),
        (r#"x eq "\ud83d\ude00""#, "😀"),
        (r#"x eq "😀 and ( or ) [ ]""#, "😀 and ( or ) [ ]"),
    ];
    for (input, expected) in cases {
        assert_eq!(parsed(input), cmp(attr("x"), CompareOp::Eq, text(expected)), "input {input:?}");
    }
}

#[test]
fn and_binds_tighter_than_or() {
    assert_parses(vec![
        ("a pr or b pr and c pr", ScimFilter::Or(vec![pr("a"), ScimFilter::And(vec![pr("b"), pr("c")])])),
        ("a pr and b pr or c pr", ScimFilter::Or(vec![ScimFilter::And(vec![pr("a"), pr("b")]), pr("c")])),
        (
            "a pr and b pr or c pr and d pr",
            ScimFilter::Or(vec![ScimFilter::And(vec![pr("a"), pr("b")]), ScimFilter::And(vec![pr("c"), pr("d")])]),
        ),
    ]);
}

#[test]
fn parentheses_override_precedence() {
    assert_parses(vec![
        ("(a pr or b pr) and c pr", ScimFilter::And(vec![ScimFilter::Or(vec![pr("a"), pr("b")]), pr("c")])),
        ("a pr and (b pr or c pr)", ScimFilter::And(vec![pr("a"), ScimFilter::Or(vec![pr("b"), pr("c")])])),
        ("((a pr))", pr("a")),
        ("( a pr )", pr("a")),
        ("((a pr or (b pr and (c pr))))", ScimFilter::Or(vec![pr("a"), ScimFilter::And(vec![pr("b"), pr("c")])])),
    ]);
}

#[test]
fn chains_flatten() {
    assert_parses(vec![
        ("a pr and b pr and c pr", ScimFilter::And(vec![pr("a"), pr("b"), pr("c")])),
        ("a pr and (b pr and c pr)", ScimFilter::And(vec![pr("a"), pr("b"), pr("c")])),
        ("(a pr or b pr) or c pr", ScimFilter::Or(vec![pr("a"), pr("b"), pr("c")])),
    ]);
}

#[test]
fn not_binds_tighter_than_and() {
    assert_parses(vec![
        ("not (a pr)", not(pr("a"))),
        ("not(a pr)", not(pr("a"))),
        ("NOT (a pr)", not(pr("a"))),
        ("not  (a pr or b pr)", not(ScimFilter::Or(vec![pr("a"), pr("b")]))),
        ("not (a pr) and b pr", ScimFilter::And(vec![not(pr("a")), pr("b")])),
        ("a pr or not (b pr) and c pr", ScimFilter::Or(vec![pr("a"), ScimFilter::And(vec![not(pr("b")), pr("c")])])),
        ("not (not (a pr))", not(not(pr("a")))),
    ]);
}

#[test]
fn keyword_like_names_parse() {
    assert_parses(vec![
        ("not pr", pr("not")),
        (r#"not eq "x""#, eq("not", "x")),
        (r#"notes eq "x""#, eq("notes", "x")),
        ("order pr or android pr", ScimFilter::Or(vec![pr("order"), pr("android")])),
        ("prefix pr", pr("prefix")),
        ("not-me pr", pr("not-me")),
    ]);
}

#[test]
fn attribute_paths_parse() {
    assert_parses(vec![
        (r#"name.givenName eq "Ann""#, cmp(sub("name", "givenName"), CompareOp::Eq, text("Ann"))),
        (
            &format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#),
            cmp(qualified(ENTERPRISE, "employeeNumber", None), CompareOp::Eq, text("701984")),
        ),
        (
            &format!(r#"{ENTERPRISE}:manager.value eq "42""#),
            cmp(qualified(ENTERPRISE, "manager", Some("value")), CompareOp::Eq, text("42")),
        ),
        (&format!("{CORE}:userName pr"), ScimFilter::Present(qualified(CORE, "userName", None))),
        ("members[$ref pr]", value_path(attr("members"), pr("$ref"))),
        ("user_name-2 pr", pr("user_name-2")),
    ]);
}

#[test]
fn value_paths_parse() {
    let work = || eq("type", "work");
    assert_parses(vec![
        (r#"emails[type eq "work"]"#, value_path(attr("emails"), work())),
        (
            r#"emails[type eq "work" and primary eq true]"#,
            value_path(
                attr("emails"),
                ScimFilter::And(vec![work(), cmp(attr("primary"), CompareOp::Eq, CompValue::Bool(true))]),
            ),
        ),
        (r#"emails[ not (type eq "work") ]"#, value_path(attr("emails"), not(work()))),
        (
            r#"emails[type eq "work"].value eq "a@example.com""#,
            value_path(attr("emails"), ScimFilter::And(vec![work(), eq("value", "a@example.com")])),
        ),
        (
            r#"emails[type eq "work" or type eq "home"].value pr"#,
            value_path(
                attr("emails"),
                ScimFilter::And(vec![ScimFilter::Or(vec![work(), eq("type", "home")]), pr("value")]),
            ),
        ),
        (&format!(r#"{CORE}:emails[type eq "work"]"#), value_path(qualified(CORE, "emails", None), work())),
        (
            r#"userName eq "a" and emails[type eq "work"] or title pr"#,
            ScimFilter::Or(vec![
                ScimFilter::And(vec![eq("userName", "a"), value_path(attr("emails"), work())]),
                pr("title"),
            ]),
        ),
    ]);
}

#[test]
fn whitespace_is_flexible_where_allowed() {
    let expected = ScimFilter::And(vec![eq("userName", "x"), pr("title")]);
    for input in [
        r#"userName eq "x" and title pr"#,
        r#"  userName eq "x" and title pr  "#,
        "userName\teq\t\"x\"\tand\ttitle\tpr",
        "userName  eq   \"x\"\n and \r\n title   pr",
        r#"userName EQ "x" AND title PR"#,
    ] {
        assert_eq!(parsed(input), expected, "input {input:?}");
    }
}

/// Checks the error's type, position and that its message contains `fragment`.
fn assert_error(input: &str, position: usize, fragment: &str) {
    let error = match parse_filter(input) {
        Ok(filter) => panic!("{input:?} parsed as {filter:?}, expected an error containing {fragment:?}"),
        Err(error) => error,
    };
    assert_eq!(error.scim_type, ScimType::InvalidFilter, "input {input:?}");
    assert_eq!(error.position, Some(position), "position for {input:?}: {}", error.message);
    assert!(error.message.contains(fragment), "message for {input:?} was {:?}, expected {fragment:?}", error.message);
}

#[test]
fn syntax_errors_locate_the_problem() {
    let cases = [
        ("", 0, "the filter is empty"),
        ("   ", 3, "the filter is empty"),
        ("userName", 8, "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after userName"),
        (r#"userName xx "a""#, 9, "after userName, found `xx`"),
        (r#"userName="a""#, 8, "expected a space and an operator"),
        ("userName eq", 11, "expected a value after eq"),
        ("userName eq ", 12, "found the end of the text"),
        (r#"userName eq "unterminated"#, 12, "no closing \""),
        (r#"userName eq 'a'"#, 12, "double quotes"),
        ("userName eq bjensen", 12, "put strings in double quotes, as in \"bjensen\""),
        ("active eq True", 10, "write true in lower case"),
        ("active eq NULL", 10, "write null in lower case"),
        (r#"(a pr"#, 5, "to close the ( at character 0, found the end of the text"),
        (r#"(a pr]"#, 5, "to close the ( at character 0, found `]`"),
        ("a pr)", 4, "this ) has no matching ("),
        ("a pr]", 4, "this ] has no matching ["),
        ("a pr and", 8, "expected an expression after and"),
        ("a pr or ", 8, "expected an expression, found the end of the text"),
        ("a pr and(b pr)", 8, "expected a space after and, found `(`"),
        ("a pr b pr", 5, "expected and, or or the end of the filter, found `b`"),
        (r#"userName eq "a"b"#, 15, "found `b`"),
        ("not title pr", 0, "expected ( after not"),
        ("not", 0, "expected ( after not"),
        ("not (a pr", 9, "to close the ( at character 4"),
        ("()", 1, "expected an attribute name"),
        ("a pr and ()", 10, "expected an attribute name"),
        (r#"emails[type eq "work""#, 21, "to close the [ at character 6"),
        (r#"emails[value[type eq "work"]]"#, 12, "cannot contain another value path"),
        (r#"emails[type eq "work"]."#, 23, "expected a sub-attribute name after the dot"),
        (r#"emails[type eq "work"].value"#, 28, "expected an operator"),
        ("emails [type pr]", 7, "after emails, found `[`"),
    ];
    for (input, position, fragment) in cases {
        assert_error(input, position, fragment);
    }
}

#[test]
fn path_errors_locate_the_problem() {
    let cases = [
        (r#"name.givenName.x eq "a""#, 0, "has more than one sub-attribute"),
        ("foo:bar pr", 0, "`foo` is not a schema URN"),
        ("1abc pr", 0, "`1abc` is not a valid attribute name"),
        ("name. pr", 5, "found an empty one"),
        ("name.1 pr", 5, "`1` is not a valid attribute name"),
        ("urn:a:b: pr", 8, "expected an attribute name after the schema URN"),
        ("a$b pr", 0, "`a$b` is not a valid attribute name"),
        ("= pr", 0, "expected an attribute name such as userName, found `=`"),
    ];
    for (input, position, fragment) in cases {
        assert_error(input, position, fragment);
    }
}

#[test]
fn value_errors_locate_the_problem() {
    let cases = [
        ("x eq 01", 5, "`01` is not a valid number"),
        ("x eq 1.", 5, "`1.` is not a valid number"),
        ("x eq -", 5, "`-` is not a valid number"),
        ("x eq 1e", 5, "`1e` is not a valid number"),
        ("x eq 12abc", 5, "`12abc` is not a valid number"),
        (r#"x eq "bad \x""#, 10, "invalid escape `\\x`"),
        ("x eq \"new\nline\"", 9, "control character U+000A"),
        (r#"x eq "\ud83d""#, 6, "high surrogate that must be followed"),
        (r#"x eq "\ud83d\u0041""#, 12, "is not a low surrogate"),
        (r#"x eq "\ude00""#, 6, "lone low surrogate"),
        (r#"x eq "\u12""#, 6, "four hexadecimal digits"),
        ("x eq \"ends with backslash\\", 25, "invalid escape `\\`"),
    ];
    for (input, position, fragment) in cases {
        assert_error(input, position, fragment);
    }
}

#[test]
fn error_position_counts_characters() {
    assert_error(r#"x eq "ééé" zz"#, 11, "found `zz`");
    assert_error(r#"x eq "😀" zz"#, 9, "found `zz`");
}

#[test]
fn long_input_is_shortened_in_messages() {
    let long_name = "a".repeat(100);
    let error = parse_filter(&format!("userName {long_name} \"x\"")).expect_err("unknown operator");
    assert!(error.message.contains(&format!("`{}…`", "a".repeat(MAX_QUOTED_CHARS))), "{}", error.message);
    assert!(error.message.len() < 200, "{}", error.message);
}

#[test]
fn nesting_limit_is_enforced() {
    let nested = |depth: usize| format!("{}a pr{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parsed(&nested(MAX_NESTING)), pr("a"));
    assert_error(&nested(MAX_NESTING + 1), MAX_NESTING, "nested more than 64 levels deep");

    let negated = |depth: usize| format!("{}a pr{}", "not (".repeat(depth), ")".repeat(depth));
    assert!(parse_filter(&negated(MAX_NESTING)).is_ok());
    assert!(parse_filter(&negated(MAX_NESTING + 1)).is_err());

    let deep = "(".repeat(100_000);
    let error = parse_filter(&deep).expect_err("too deep");
    assert_eq!(error.position, Some(MAX_NESTING));
}

#[test]
fn term_limit_is_enforced() {
    let chain = |terms: usize| vec!["a pr"; terms].join(" or ");
    let ScimFilter::Or(terms) = parsed(&chain(MAX_TERMS)) else {
        panic!("expected an or chain");
    };
    assert_eq!(terms.len(), MAX_TERMS);

    let error = parse_filter(&chain(MAX_TERMS + 1)).expect_err("too many terms");
    assert!(error.message.contains("more than 1000 comparisons"), "{}", error.message);
}

#[test]
fn display_prints_canonical_syntax() {
    let cases = [
        (r#"userName EQ "bjensen""#, r#"userName eq "bjensen""#),
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("((a pr))", "a pr"),
        ("not(a pr)", "not (a pr)"),
        (r#"emails[type eq "work"].value co "@""#, r#"emails[type eq "work" and value co "@"]"#),
        (
            r#"emails[type eq "work" or primary eq true].value pr"#,
            r#"emails[(type eq "work" or primary eq true) and value pr]"#,
        ),
        (r#"x eq "tab\there \"q\" \u00e9""#, r#"x eq "tab\there \"q\" é""#),
        ("x eq 2E3", "x eq 2E3"),
        ("x eq -0", "x eq -0"),
        ("x eq 1e400", "x eq 1e400"),
        ("x eq 123456789012345678901234567890", "x eq 123456789012345678901234567890"),
        (&format!("{ENTERPRISE}:manager.value pr"), &format!("{ENTERPRISE}:manager.value pr")),
    ];
    for (input, expected) in cases {
        let filter = parsed(input);
        assert_eq!(filter.to_string(), expected, "input {input:?}");
        assert_eq!(parsed(&filter.to_string()), filter, "round trip of {input:?}");
    }
}

#[test]
fn display_keeps_hand_built_grouping() {
    let nested_and = ScimFilter::And(vec![pr("a"), ScimFilter::And(vec![pr("b"), pr("c")])]);
    assert_eq!(nested_and.to_string(), "a pr and (b pr and c pr)");
    let and_in_or = ScimFilter::Or(vec![ScimFilter::And(vec![pr("a"), pr("b")]), pr("c")]);
    assert_eq!(and_in_or.to_string(), "a pr and b pr or c pr");
}

#[test]
fn attr_path_only_rejects_trailing_text() {
    let error = parse_attr_path_only("userName desc", ScimType::InvalidValue).expect_err("trailing text");
    assert_eq!(error.scim_type, ScimType::InvalidValue);
    assert_eq!(error.position, Some(9));
    assert_eq!(parse_attr_path_only(" name.familyName ", ScimType::InvalidValue), Ok(sub("name", "familyName")));
}

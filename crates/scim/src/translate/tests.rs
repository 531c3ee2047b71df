#![allow(clippy::expect_used, clippy::panic)]

use super::*;
use roster_domain::{ElementFilter, SubAttr};
use time::macros::datetime;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn translated(input: &str) -> Filter {
    match parse_user_filter(input) {
        Ok(filter) => filter,
        Err(error) => panic!("{input:?} did not translate: {error}"),
    }
}

fn text(attr: UserAttr, op: CmpOp, value: &str) -> Filter {
    Filter::Cmp { attr, op, value: FilterValue::Text(value.to_string()), case_exact: false }
}

fn exact(attr: UserAttr, op: CmpOp, value: &str) -> Filter {
    Filter::Cmp { attr, op, value: FilterValue::Text(value.to_string()), case_exact: true }
}

fn int(attr: UserAttr, op: CmpOp, value: i64) -> Filter {
    Filter::Cmp { attr, op, value: FilterValue::Int(value), case_exact: true }
}

fn time(attr: UserAttr, op: CmpOp, value: time::OffsetDateTime) -> Filter {
    Filter::Cmp { attr, op, value: FilterValue::Time(Timestamp::from_datetime(value)), case_exact: true }
}

fn present(attr: UserAttr) -> Filter {
    Filter::Present(attr)
}

fn not(inner: Filter) -> Filter {
    Filter::Not(Box::new(inner))
}

fn active() -> Filter {
    Filter::StatusIn(vec![LifecycleState::Active])
}

fn inactive() -> Filter {
    Filter::StatusIn(vec![LifecycleState::Pending, LifecycleState::Suspended, LifecycleState::Archived])
}

fn assert_translates(cases: Vec<(String, Filter)>) {
    for (input, expected) in cases {
        assert_eq!(translated(&input), expected, "input {input:?}");
    }
}

fn case(input: &str, expected: Filter) -> (String, Filter) {
    (input.to_string(), expected)
}

#[test]
fn core_attributes_map_to_columns() {
    assert_translates(vec![
        case(r#"userName eq "bjensen""#, text(UserAttr::UserName, CmpOp::Eq, "bjensen")),
        case(r#"USERNAME Eq "BJensen""#, text(UserAttr::UserName, CmpOp::Eq, "BJensen")),
        case(r#"name.givenName sw "Ba""#, text(UserAttr::FirstName, CmpOp::Sw, "Ba")),
        case(r#"name.familyName ew "sen""#, text(UserAttr::LastName, CmpOp::Ew, "sen")),
        case(r#"NAME.FAMILYNAME co "ens""#, text(UserAttr::LastName, CmpOp::Co, "ens")),
        case(r#"title ne "Tour Guide""#, text(UserAttr::JobTitle, CmpOp::Ne, "Tour Guide")),
        case(r#"title gt "M""#, text(UserAttr::JobTitle, CmpOp::Gt, "M")),
        case(r#"externalId eq "AbC-1""#, exact(UserAttr::ExternalId, CmpOp::Eq, "AbC-1")),
        case(r#"externalId co "bC""#, exact(UserAttr::ExternalId, CmpOp::Co, "bC")),
        case(&format!(r#"{CORE}:userName eq "x""#), text(UserAttr::UserName, CmpOp::Eq, "x")),
        case(&format!(r#"{}:USERNAME eq "x""#, CORE.to_ascii_lowercase()), text(UserAttr::UserName, CmpOp::Eq, "x")),
    ]);
}

#[test]
fn enterprise_attributes_map_to_columns() {
    assert_translates(vec![
        case(&format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#), text(UserAttr::UniqueId, CmpOp::Eq, "701984")),
        case(&format!(r#"{ENTERPRISE}:department sw "R&""#), text(UserAttr::Department, CmpOp::Sw, "R&")),
        case(&format!(r#"{ENTERPRISE}:manager.value eq "42""#), int(UserAttr::ManagerId, CmpOp::Eq, 42)),
        case(&format!(r#"{ENTERPRISE}:manager eq "42""#), int(UserAttr::ManagerId, CmpOp::Eq, 42)),
        case(&format!(r#"{ENTERPRISE}:manager[value eq "42"]"#), int(UserAttr::ManagerId, CmpOp::Eq, 42)),
        case(&format!("{ENTERPRISE}:manager pr"), present(UserAttr::ManagerId)),
        // Enterprise names are unique across both schemas, so the URN may be left out.
        case(r#"employeeNumber eq "7""#, text(UserAttr::UniqueId, CmpOp::Eq, "7")),
        case(r#"department eq "Sales""#, text(UserAttr::Department, CmpOp::Eq, "Sales")),
        case(r#"manager.value ne "7""#, int(UserAttr::ManagerId, CmpOp::Ne, 7)),
    ]);
}

#[test]
fn ids_compare_as_integers() {
    assert_translates(vec![
        case(r#"id eq "42""#, int(UserAttr::Id, CmpOp::Eq, 42)),
        case("id eq 42", int(UserAttr::Id, CmpOp::Eq, 42)),
        case(r#"id ne "42""#, int(UserAttr::Id, CmpOp::Ne, 42)),
        case(r#"id ge "10""#, int(UserAttr::Id, CmpOp::Ge, 10)),
        case(r#"id lt "10""#, int(UserAttr::Id, CmpOp::Lt, 10)),
        case("id pr", present(UserAttr::Id)),
        // No Roster id is written this way, so nothing or everything matches.
        case(r#"id eq "2819c223-7f76-453a-919d-413861904646""#, nothing()),
        case(r#"id eq "007""#, nothing()),
        case(r#"id eq "+7""#, nothing()),
        case(r#"id ne "abc""#, Filter::All),
        case("id eq 1.5", nothing()),
    ]);
}

#[test]
fn timestamps_compare_as_times() {
    assert_translates(vec![
        case(
            r#"meta.created gt "2011-05-13T04:42:34Z""#,
            time(UserAttr::CreatedAt, CmpOp::Gt, datetime!(2011-05-13 04:42:34 UTC)),
        ),
        case(
            r#"meta.lastModified le "2011-05-13T06:42:34.123456+02:00""#,
            time(UserAttr::UpdatedAt, CmpOp::Le, datetime!(2011-05-13 04:42:34.123456 UTC)),
        ),
        case(
            r#"META.LASTMODIFIED eq "2020-01-01T00:00:00Z""#,
            time(UserAttr::UpdatedAt, CmpOp::Eq, datetime!(2020-01-01 00:00:00 UTC)),
        ),
        case(
            r#"meta[created lt "2020-01-01T00:00:00Z"]"#,
            time(UserAttr::CreatedAt, CmpOp::Lt, datetime!(2020-01-01 00:00:00 UTC)),
        ),
        case("meta.created pr", present(UserAttr::CreatedAt)),
    ]);
}

#[test]
fn active_maps_to_lifecycle_states() {
    assert_translates(vec![
        case("active eq true", active()),
        case("active eq false", inactive()),
        case("active ne true", inactive()),
        case("active ne false", active()),
        case(r#"active eq "True""#, active()),
        case(r#"active eq "FALSE""#, inactive()),
        case("active pr", Filter::All),
        case("not (active eq true)", not(active())),
        case("active eq null", nothing()),
    ]);
}

fn kept(attr: MultiValuedAttr, condition: ElementFilter) -> Filter {
    Filter::AnyElement { attr, condition }
}

fn sub_cmp(sub: SubAttr, op: CmpOp, value: &str) -> ElementFilter {
    ElementFilter::Cmp { sub, op, value: value.to_string() }
}

fn sub_not(inner: ElementFilter) -> ElementFilter {
    ElementFilter::Not(Box::new(inner))
}

fn emails(condition: ElementFilter) -> Filter {
    kept(MultiValuedAttr::Emails, condition)
}

fn addresses(condition: ElementFilter) -> Filter {
    kept(MultiValuedAttr::Addresses, condition)
}

#[test]
fn emails_match_mapped_or_kept_values() {
    let email_eq = || text(UserAttr::Email, CmpOp::Eq, "a@example.com");
    let email = || present(UserAttr::Email);
    let value_eq = || sub_cmp(SubAttr::Value, CmpOp::Eq, "a@example.com");
    let type_eq = |value: &str| sub_cmp(SubAttr::Type, CmpOp::Eq, value);
    let or = |terms: Vec<Filter>| Filter::Or(terms);
    assert_translates(vec![
        case(r#"emails.value eq "a@example.com""#, or(vec![email_eq(), emails(value_eq())])),
        case(r#"emails eq "a@example.com""#, or(vec![email_eq(), emails(value_eq())])),
        case(
            r#"emails co "example.com""#,
            or(vec![text(UserAttr::Email, CmpOp::Co, "example.com"), emails(sub_cmp(SubAttr::Value, CmpOp::Co, "example.com"))]),
        ),
        case(r#"emails[value eq "a@example.com"]"#, or(vec![Filter::And(vec![email(), email_eq()]), emails(value_eq())])),
        case(
            r#"emails[type eq "work" and primary eq true]"#,
            or(vec![email(), emails(ElementFilter::And(vec![type_eq("work"), ElementFilter::IsTrue(SubAttr::Primary)]))]),
        ),
        case(r#"emails[TYPE eq "WORK"]"#, or(vec![email(), emails(type_eq("WORK"))])),
        case(r#"emails[type eq "home"]"#, emails(type_eq("home"))),
        case(r#"emails[primary eq false]"#, emails(sub_not(ElementFilter::IsTrue(SubAttr::Primary)))),
        case(r#"emails[primary ne true]"#, emails(sub_not(ElementFilter::IsTrue(SubAttr::Primary)))),
        case(r#"emails[primary eq "true"]"#, or(vec![email(), emails(ElementFilter::IsTrue(SubAttr::Primary))])),
        case(r#"emails[not (type eq "work")]"#, emails(sub_not(type_eq("work")))),
        case(r#"emails[display eq "Work"]"#, emails(sub_cmp(SubAttr::Display, CmpOp::Eq, "Work"))),
        case(r#"emails[display ne "Work"]"#, or(vec![email(), emails(sub_cmp(SubAttr::Display, CmpOp::Ne, "Work"))])),
        case(r#"emails[display pr]"#, emails(ElementFilter::Present(SubAttr::Display))),
        case("emails pr", or(vec![email(), emails(ElementFilter::All)])),
        case("Emails.Type pr", or(vec![email(), emails(ElementFilter::Present(SubAttr::Type))])),
        case(r#"emails.type eq "home""#, emails(type_eq("home"))),
        case(
            r#"emails.value ne "a@example.com""#,
            or(vec![
                Filter::And(vec![email(), text(UserAttr::Email, CmpOp::Ne, "a@example.com")]),
                emails(sub_cmp(SubAttr::Value, CmpOp::Ne, "a@example.com")),
            ]),
        ),
        case(r#"not (emails[type eq "home"])"#, not(emails(type_eq("home")))),
        case("emails.value eq null", not(or(vec![email(), emails(ElementFilter::Present(SubAttr::Value))]))),
        case("emails.display ne null", emails(ElementFilter::Present(SubAttr::Display))),
    ]);
}

#[test]
fn phone_numbers_match_mobile_or_kept() {
    let mobile = || present(UserAttr::MobileNumber);
    let mobile_eq = || text(UserAttr::MobileNumber, CmpOp::Eq, "+1 555 0100");
    let phones = |condition| kept(MultiValuedAttr::PhoneNumbers, condition);
    let type_eq = |value: &str| sub_cmp(SubAttr::Type, CmpOp::Eq, value);
    assert_translates(vec![
        case(
            r#"phoneNumbers[type eq "mobile"].value eq "+1 555 0100""#,
            Filter::Or(vec![
                Filter::And(vec![mobile(), mobile_eq()]),
                phones(ElementFilter::And(vec![type_eq("mobile"), sub_cmp(SubAttr::Value, CmpOp::Eq, "+1 555 0100")])),
            ]),
        ),
        case(
            r#"phoneNumbers.value eq "+1 555 0100""#,
            Filter::Or(vec![mobile_eq(), phones(sub_cmp(SubAttr::Value, CmpOp::Eq, "+1 555 0100"))]),
        ),
        case(r#"phoneNumbers[type eq "work"]"#, phones(type_eq("work"))),
        case(r#"phoneNumbers[type eq "mobile"]"#, Filter::Or(vec![mobile(), phones(type_eq("mobile"))])),
        case("phoneNumbers pr", Filter::Or(vec![mobile(), phones(ElementFilter::All)])),
    ]);
}

#[test]
fn kept_values_match_some_value() {
    let work = || sub_cmp(SubAttr::Type, CmpOp::Eq, "work");
    let paris = || sub_cmp(SubAttr::Locality, CmpOp::Eq, "Paris");
    assert_translates(vec![
        case(r#"addresses[type eq "work" and locality eq "Paris"]"#, addresses(ElementFilter::And(vec![work(), paris()]))),
        case(r#"ADDRESSES[Type eq "work" or LOCALITY eq "Paris"]"#, addresses(ElementFilter::Or(vec![work(), paris()]))),
        case(r#"addresses[not (type eq "work")]"#, addresses(sub_not(work()))),
        case(r#"addresses.locality eq "Paris""#, addresses(paris())),
        case(&format!(r#"{CORE}:addresses.locality eq "Paris""#), addresses(paris())),
        case("addresses pr", addresses(ElementFilter::All)),
        case("addresses.postalCode pr", addresses(ElementFilter::Present(SubAttr::PostalCode))),
        case(r#"not (addresses.type eq "work")"#, not(addresses(work()))),
        case(r#"addresses.type ne "work""#, addresses(sub_cmp(SubAttr::Type, CmpOp::Ne, "work"))),
        case("addresses.region eq null", not(addresses(ElementFilter::Present(SubAttr::Region)))),
        case("addresses[region eq null]", addresses(sub_not(ElementFilter::Present(SubAttr::Region)))),
        case(r#"addresses[primary eq true]"#, addresses(ElementFilter::IsTrue(SubAttr::Primary))),
        case(
            r#"ims.value co "x""#,
            kept(MultiValuedAttr::Ims, sub_cmp(SubAttr::Value, CmpOp::Co, "x")),
        ),
        case(r#"ims sw "bab""#, kept(MultiValuedAttr::Ims, sub_cmp(SubAttr::Value, CmpOp::Sw, "bab"))),
        case(
            r#"entitlements[value eq "a"]"#,
            kept(MultiValuedAttr::Entitlements, sub_cmp(SubAttr::Value, CmpOp::Eq, "a")),
        ),
        case(r#"photos.type eq "photo""#, kept(MultiValuedAttr::Photos, sub_cmp(SubAttr::Type, CmpOp::Eq, "photo"))),
        case(r#"photos.value ew ".JPG""#, kept(MultiValuedAttr::Photos, sub_cmp(SubAttr::Value, CmpOp::Ew, ".JPG"))),
        case(
            r#"x509Certificates[type eq "work" and value pr]"#,
            kept(
                MultiValuedAttr::X509Certificates,
                ElementFilter::And(vec![sub_cmp(SubAttr::Type, CmpOp::Eq, "work"), ElementFilter::Present(SubAttr::Value)]),
            ),
        ),
        case(
            r#"userName eq "a" and (addresses.country eq "FR" or ims pr)"#,
            Filter::And(vec![
                text(UserAttr::UserName, CmpOp::Eq, "a"),
                Filter::Or(vec![
                    addresses(sub_cmp(SubAttr::Country, CmpOp::Eq, "FR")),
                    kept(MultiValuedAttr::Ims, ElementFilter::All),
                ]),
            ]),
        ),
    ]);
}

#[test]
fn kept_values_take_every_operator() {
    let ops = [
        ("eq", CmpOp::Eq),
        ("ne", CmpOp::Ne),
        ("co", CmpOp::Co),
        ("sw", CmpOp::Sw),
        ("ew", CmpOp::Ew),
        ("gt", CmpOp::Gt),
        ("ge", CmpOp::Ge),
        ("lt", CmpOp::Lt),
        ("le", CmpOp::Le),
    ];
    for (name, op) in ops {
        let input = format!(r#"addresses.locality {name} "Paris""#);
        assert_eq!(translated(&input), addresses(sub_cmp(SubAttr::Locality, op, "Paris")), "input {input:?}");
    }
}

#[test]
fn kept_values_reject_what_cannot_be_compared() {
    let cases = [
        (r#"addresses eq "Paris""#, "addresses is a complex attribute without a value"),
        (r#"addresses.value eq "x""#, "the sub-attribute value of addresses; filter on formatted"),
        (r#"addresses[foo eq "x"]"#, "the sub-attribute foo of addresses"),
        (r#"ims.locality eq "x""#, "the sub-attribute locality of ims; filter on value, display, type or primary"),
        (r#"addresses[locality.x eq "x"]"#, "inside addresses[...], name a sub-attribute of addresses such as locality"),
        (r#"x509Certificates.value eq "MIIB""#, "x509Certificates.value is binary (base64) and cannot be compared"),
        (r#"x509Certificates co "MIIB""#, "is binary (base64) and cannot be compared"),
        (r#"x509Certificates[value gt "a"]"#, "value is binary (base64) and cannot be compared"),
        (r#"addresses[primary gt true]"#, "primary is a boolean and does not support gt"),
        (r#"ims.primary eq "maybe""#, "ims.primary is compared with a boolean"),
        ("addresses.locality eq 75", "addresses.locality is compared with a string"),
        ("addresses.locality gt null", "can only be compared with null by eq or ne"),
        ("addresses[locality lt null]", "can only be compared with null by eq or ne"),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:addresses pr"#, "Users cannot be filtered on"),
    ];
    for (input, fragment) in cases {
        assert_rejected(input, fragment);
    }
}

#[test]
fn logic_and_presence_translate() {
    assert_translates(vec![
        case(
            r#"userName eq "a" or userName eq "b" and active eq true"#,
            Filter::Or(vec![
                text(UserAttr::UserName, CmpOp::Eq, "a"),
                Filter::And(vec![text(UserAttr::UserName, CmpOp::Eq, "b"), active()]),
            ]),
        ),
        case(
            r#"name.familyName eq "Okonkwo" and (emails.value co "example.net" or emails.value co "example.org")"#,
            Filter::And(vec![
                text(UserAttr::LastName, CmpOp::Eq, "Okonkwo"),
                Filter::Or(vec![
                    text(UserAttr::Email, CmpOp::Co, "example.net"),
                    emails(sub_cmp(SubAttr::Value, CmpOp::Co, "example.net")),
                    text(UserAttr::Email, CmpOp::Co, "example.org"),
                    emails(sub_cmp(SubAttr::Value, CmpOp::Co, "example.org")),
                ]),
            ]),
        ),
        case(r#"not (title pr)"#, not(present(UserAttr::JobTitle))),
        case(r#"not (not (title pr))"#, present(UserAttr::JobTitle)),
        case("title pr and active pr", present(UserAttr::JobTitle)),
        case("title pr or active pr", Filter::All),
        case(
            r#"title pr and emails[display eq "x"]"#,
            Filter::And(vec![present(UserAttr::JobTitle), emails(sub_cmp(SubAttr::Display, CmpOp::Eq, "x"))]),
        ),
        case(r#"title pr and groups.value eq "x""#, nothing()),
        case(r#"title pr or groups.value eq "x""#, present(UserAttr::JobTitle)),
        case(r#"title eq null"#, not(present(UserAttr::JobTitle))),
        case(r#"title ne null"#, present(UserAttr::JobTitle)),
        case(r#"userName pr"#, present(UserAttr::UserName)),
    ]);
}

/// Checks that translation fails with `invalidFilter` and a message containing `fragment`.
fn assert_rejected(input: &str, fragment: &str) {
    let filter = match parse_filter(input) {
        Ok(filter) => filter,
        Err(error) => panic!("{input:?} did not parse: {error}"),
    };
    let error = match translate_user_filter(&filter) {
        Ok(translated) => panic!("{input:?} translated to {translated:?}, expected an error containing {fragment:?}"),
        Err(error) => error,
    };
    assert_eq!(error.scim_type, ScimType::InvalidFilter, "input {input:?}");
    assert!(error.message.contains(fragment), "message for {input:?} was {:?}, expected {fragment:?}", error.message);
}

#[test]
fn unknown_attributes_are_rejected() {
    let cases = [
        (r#"roles eq "2""#, "Users cannot be filtered on roles; filter on id, externalId"),
        (r#"name.nickName eq "J""#, "Users cannot be filtered on name.nickName"),
        (&format!(r#"{ENTERPRISE}:displayName eq "x""#), "Users cannot be filtered on"),
        (&format!(r#"{CORE}:costCenter eq "x""#), "Users cannot be filtered on"),
        (r#"name eq "Babs""#, "name is a complex attribute; filter on a sub-attribute such as name.givenName"),
        (r#"meta eq "x""#, "meta is a complex attribute"),
        ("meta.version pr", "Users cannot be filtered on meta.version"),
        (r#"emails.foo eq "x""#, "Users cannot be filtered on emails.foo"),
        (r#"emails[foo eq "x"]"#, "the sub-attribute foo of emails"),
        (r#"emails[value.x eq "x"]"#, "inside emails[...], name a sub-attribute of emails such as value, not value.x"),
        (r#"name.givenName[value eq "x"]"#, "a value filter must follow an attribute name, not name.givenName"),
        (&format!(r#"{ENTERPRISE}:userName eq "x""#), "Users cannot be filtered on"),
        (&format!(r#"{CORE}:department eq "x""#), "Users cannot be filtered on"),
        (r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x""#, "is not a User attribute"),
        (r#"urn:example:custom:1.0:User:badge eq "x""#, "is not a User attribute"),
        (r#"roles[value eq "admin"]"#, "Users cannot be filtered on values of roles"),
    ];
    for (input, fragment) in cases {
        assert_rejected(input, fragment);
    }
}

#[test]
fn operators_without_meaning_are_rejected() {
    let cases = [
        (r#"meta.created co "2011""#, "meta.created is a timestamp and does not support co"),
        (r#"meta.lastModified sw "2011""#, "does not support sw"),
        (r#"meta.created gt "yesterday""#, "\"yesterday\" is not a valid timestamp for meta.created"),
        ("meta.created gt 2011", "meta.created is compared with a timestamp"),
        ("active gt true", "active is a boolean and does not support gt"),
        ("active co true", "does not support co"),
        (r#"active eq "yes""#, "active is compared with a boolean; write true or false"),
        ("active eq 1", "active is compared with a boolean"),
        (r#"emails[primary gt true]"#, "primary is a boolean and does not support gt"),
        (r#"id co "4""#, "id does not support co"),
        (r#"id gt "abc""#, "needs a numeric id"),
        ("id eq true", "id is compared with an id"),
        ("userName eq 42", "userName is compared with a string"),
        ("userName eq true", "userName is compared with a string"),
        (r#"emails[type eq 1]"#, "type is compared with a string"),
        ("title gt null", "can only be compared with null by eq or ne"),
    ];
    for (input, fragment) in cases {
        assert_rejected(input, fragment);
    }
}

#[test]
fn nested_value_path_rejected() {
    let inner = ScimFilter::ValuePath {
        path: AttrPath::new("emails", None),
        filter: Box::new(ScimFilter::Present(AttrPath::new("value", None))),
    };
    let outer = ScimFilter::ValuePath { path: AttrPath::new("emails", None), filter: Box::new(inner) };
    let error = translate_user_filter(&outer).expect_err("nested value path");
    assert!(error.message.contains("cannot contain another value path"), "{}", error.message);
}

#[test]
fn sort_by_maps_to_sort_keys() {
    let cases = [
        ("userName", SortKey::UserName),
        ("USERNAME", SortKey::UserName),
        ("id", SortKey::Id),
        ("meta.created", SortKey::CreatedAt),
        ("meta.lastModified", SortKey::UpdatedAt),
        ("name.familyName", SortKey::LastName),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", SortKey::LastName),
        ("displayName", SortKey::DisplayName),
    ];
    for (input, expected) in cases {
        assert_eq!(translate_user_sort_by(input), Ok(expected), "input {input:?}");
    }
}

#[test]
fn sort_by_rejects_unknown_attributes() {
    for input in ["nickName", "name.givenName", "emails", &format!("{ENTERPRISE}:userName"), "", "userName desc"] {
        let error = translate_user_sort_by(input).expect_err(input);
        assert_eq!(error.scim_type, ScimType::InvalidValue, "input {input:?}");
    }
    let error = translate_user_sort_by("nickName").expect_err("unknown");
    assert_eq!(
        error.message,
        "users cannot be sorted by nickName; sort by userName, id, displayName, name.familyName, meta.created or \
         meta.lastModified"
    );
}

#[test]
fn stored_attributes_ignore_case() {
    let cases = [
        (r#"displayName eq "Babs""#, StoredAttr::DisplayName),
        (r#"NICKNAME co "b""#, StoredAttr::NickName),
        (r#"name.middleName sw "J""#, StoredAttr::NameMiddleName),
        (r#"name[honorificPrefix eq "Dr"]"#, StoredAttr::NameHonorificPrefix),
        (&format!(r#"{ENTERPRISE}:costCenter ew "4""#), StoredAttr::CostCenter),
        (r#"division gt "A""#, StoredAttr::Division),
        (&format!(r#"{CORE}:locale le "fr""#), StoredAttr::Locale),
    ];
    for (input, attr) in cases {
        let filter = parse_user_filter(input).expect(input);
        let Filter::Cmp { attr: found, case_exact, .. } = filter else {
            panic!("{input:?} translated to {filter:?}");
        };
        assert_eq!(found, UserAttr::Stored(attr), "input {input:?}");
        assert!(!case_exact, "input {input:?}");
    }
}

#[test]
fn stored_attribute_presence() {
    let filter = parse_user_filter("timezone pr").expect("parses");
    assert_eq!(filter, Filter::Present(UserAttr::Stored(StoredAttr::Timezone)));
}

#[test]
fn groups_value_is_membership() {
    let cases = [
        (r#"groups.value eq "7""#, Filter::InGroup(Some(7))),
        (r#"groups[value eq "7"]"#, Filter::InGroup(Some(7))),
        (r#"groups eq "7""#, Filter::InGroup(Some(7))),
        (r#"groups.value eq "seven""#, Filter::Or(Vec::new())),
        ("groups pr", Filter::InGroup(None)),
        (r#"not (groups.value eq "7")"#, Filter::Not(Box::new(Filter::InGroup(Some(7))))),
    ];
    for (input, expected) in cases {
        assert_eq!(translated(input), expected, "input {input:?}");
    }
    assert_rejected(r#"groups.value ne "7""#, "groups.value supports eq and pr, not ne");
    assert_rejected(r#"groups.display eq "x""#, "Users cannot be filtered on");
}

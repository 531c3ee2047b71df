//! Generated filters, PATCH bodies and search requests sent to the real server: none may get a 5xx or stop the
//! server. The property tests of `roster-scim` and of the HTTP layer's PATCH engine cover many more inputs without
//! HTTP. This test checks that the handlers, the store and both SQL dialects turn every error into a 4xx.
//!
//! `ROSTER_SCIM_FUZZ_REQUESTS` sets the number of requests per backend (default 400), and
//! `ROSTER_SCIM_FUZZ_SEED` the seed (a fixed default), which a failure prints.

use super::*;

const DEFAULT_REQUESTS: u64 = 400;
const DEFAULT_SEED: u64 = 0x5C1A_F022;

/// A xorshift64* generator: small, seedable and the same on every platform, so a failing seed repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len())]
    }
}

const ATTRIBUTES: [&str; 31] = [
    "userName", "id", "externalId", "name.givenName", "name.familyName", "emails", "emails.value", "emails.type",
    "emails.primary", "phoneNumbers.value", "title", "active", "meta.created", "meta.lastModified", "employeeNumber",
    "department", "manager.value", "displayName", "members.value", "members", "x.y", "addresses",
    "addresses.locality", "addresses.primary", "ims", "ims.type", "photos.value", "entitlements.display",
    "x509Certificates", "x509Certificates.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
];
const OPERATORS: [&str; 11] = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "zz"];
const VALUES: [&str; 16] = [
    "\"ann\"", "\"\"", "\"%\"", "\"_\"", "\"\\\\\"", "\"'\"", "\"é😀\"", "true", "false", "null", "42", "-1",
    "1e400", "9223372036854775808", "\"2011-05-13T04:42:34Z\"", "\"not a date\"",
];
const STRAY: [&str; 10] = ["(", ")", "[", "]", "\"", " and ", " or ", "not ", ".", "\u{0}"];

fn filter(rng: &mut Rng, depth: usize) -> String {
    match if depth == 0 { 0 } else { rng.below(6) } {
        1 => format!("{} and {}", filter(rng, depth - 1), filter(rng, depth - 1)),
        2 => format!("{} or {}", filter(rng, depth - 1), filter(rng, depth - 1)),
        3 => format!("not ({})", filter(rng, depth - 1)),
        4 => {
            let container = rng.pick(&[
                "emails", "phoneNumbers", "members", "name", "addresses", "ims", "photos", "entitlements", "x509Certificates",
            ]);
            let sub = rng.pick(&["value", "type", "primary", "display", "locality", "postalCode"]);
            format!("{container}[{sub} {} {}]", rng.pick(&OPERATORS), rng.pick(&VALUES))
        }
        _ => {
            let operator = rng.pick(&OPERATORS);
            if operator == "pr" {
                format!("{} pr", rng.pick(&ATTRIBUTES))
            } else {
                format!("{} {operator} {}", rng.pick(&ATTRIBUTES), rng.pick(&VALUES))
            }
        }
    }
}

/// Writes a filter, sometimes with a stray token inserted at a character boundary.
fn mangled_filter(rng: &mut Rng) -> String {
    let mut text = filter(rng, 3);
    if rng.below(4) == 0 {
        let position = rng.below(text.len() + 1);
        if text.is_char_boundary(position) {
            text.insert_str(position, rng.pick(&STRAY));
        }
    }
    text
}

fn json_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth >= 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.pick(&["True", "FALSE", "", "ann", "ann@example.org", "+15550100", "1", "x".repeat(300).as_str()])),
        3 => json!(rng.next() as i64),
        4 => json!(1.5),
        5 => json!(rng.pick(&["999999999999", "0", "-1", "a"])),
        6 => json!(rng.pick(&STRAY)),
        7 => Value::Array((0..rng.below(3)).map(|_| json_value(rng, depth + 1)).collect()),
        _ => {
            let mut object = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                let key = match rng.below(3) {
                    0 => rng.pick(&["value", "type", "primary", "givenName", "display", "$ref"]).to_string(),
                    1 => rng.pick(&ATTRIBUTES).to_string(),
                    _ => format!("{ENTERPRISE}:{}", rng.pick(&["manager", "department", "manager.value", "employeeNumber"])),
                };
                object.insert(key, json_value(rng, depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// Operations that a server accepts on the fuzzed user or group, so that generated requests also reach the store.
fn valid_operation(rng: &mut Rng) -> Value {
    let suffix = rng.below(1000);
    match rng.below(10) {
        0 => json!({"op": "replace", "path": "title", "value": format!("Title {suffix}")}),
        1 => json!({"op": "Replace", "path": "active", "value": rng.pick(&["False", "true"])}),
        2 => json!({"op": "add", "path": "emails", "value": [{"value": format!("f{suffix}@example.org"), "type": "home"}]}),
        3 => json!({"op": "remove", "path": format!("emails[type eq \"{}\"]", rng.pick(&["home", "work", "other"]))}),
        4 => json!({"op": "replace", "value": {"name.givenName": format!("Given{suffix}"), "nickName": "N"}}),
        5 => json!({"op": "add", "path": format!("{ENTERPRISE}:department"), "value": format!("Dept {suffix}")}),
        6 => json!({"op": "remove", "path": "nickName"}),
        7 => json!({"op": "replace", "path": "displayName", "value": format!("Fuzz {suffix}")}),
        8 => json!({"op": "remove", "path": format!("members[value eq \"{suffix}\"]")}),
        _ => json!({"op": "replace", "path": "externalId", "value": format!("ext-{suffix}")}),
    }
}

fn patch_operations(rng: &mut Rng) -> Value {
    let operations: Vec<Value> = (0..1 + rng.below(3))
        .map(|_| {
            if rng.below(2) == 0 {
                return valid_operation(rng);
            }
            let mut operation = serde_json::Map::new();
            operation.insert("op".into(), json!(rng.pick(&["add", "replace", "remove", "Replace", "ADD", "move"])));
            if rng.below(6) != 0 {
                let mut path = rng.pick(&ATTRIBUTES).to_string();
                if rng.below(3) == 0 {
                    path = format!("{}[{}]", rng.pick(&["emails", "members", "phoneNumbers", "roles"]), filter(rng, 1));
                    if rng.below(2) == 0 {
                        path.push_str(".value");
                    }
                }
                if rng.below(8) == 0 {
                    path.push_str(rng.pick(&STRAY));
                }
                operation.insert("path".into(), json!(path));
            }
            if rng.below(6) != 0 {
                operation.insert("value".into(), json_value(rng, 0));
            }
            Value::Object(operation)
        })
        .collect();
    Value::Array(operations)
}

/// Describes a request for a failure message.
fn describe(method: &str, path: &str, body: Option<&Value>) -> String {
    match body {
        Some(body) => format!("{method} {path} {body}"),
        None => format!("{method} {path}"),
    }
}

api_test!(generated_requests_never_fail_with_5xx, |server| {
    let requests = std::env::var("ROSTER_SCIM_FUZZ_REQUESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_REQUESTS);
    // A fixed default keeps CI repeatable, and another seed explores other inputs. Zero would stall xorshift.
    let seed = std::env::var("ROSTER_SCIM_FUZZ_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_SEED).max(1);
    let mut rng = Rng(seed);

    let manager = create_user(&server, &user_body("fuzz.manager")).await?;
    let body = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "fuzz.user", "title": "Clerk",
        "emails": [{"value": "fuzz@example.org", "type": "work", "primary": true}, {"value": "home@example.org", "type": "home"}],
        "addresses": [{"locality": "Paris", "type": "work", "primary": true}], "ims": [{"value": "fuzz", "type": "xmpp"}],
        "x509Certificates": [{"value": "MIIB", "display": "Fuzz"}],
        ENTERPRISE: {"department": "Ops", "manager": {"value": manager}}});
    let user = create_user(&server, &body).await?;
    let group = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Fuzz", "members": [{"value": user}]})).await?;

    for _ in 0..requests {
        let (method, path, body) = match rng.below(5) {
            0 => (Method::GET, format!("/Users?filter={}", encode(&mangled_filter(&mut rng))), None),
            1 => {
                let filter = match rng.below(2) {
                    0 => format!("displayName {} {}", rng.pick(&OPERATORS), rng.pick(&VALUES)),
                    _ => mangled_filter(&mut rng),
                };
                let sort_by = rng.pick(&["displayName", "id", "DISPLAYNAME", "members", "userName"]);
                (Method::GET, format!("/Groups?filter={}&sortBy={sort_by}", encode(&filter)), None)
            }
            2 => {
                let (start_index, count) = match rng.below(4) {
                    0 => (json_value(&mut rng, 2), json_value(&mut rng, 2)),
                    _ => (json!(rng.below(4)), json!(rng.below(20))),
                };
                let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": mangled_filter(&mut rng), "sortBy": rng.pick(&ATTRIBUTES), "startIndex": start_index,
                    "count": count, "attributes": [rng.pick(&ATTRIBUTES)]});
                (Method::POST, "/Users/.search".to_string(), Some(search))
            }
            3 => (Method::PATCH, format!("/Users/{user}"), Some(patch_body(patch_operations(&mut rng)))),
            _ => (Method::PATCH, format!("/Groups/{group}"), Some(patch_body(patch_operations(&mut rng)))),
        };
        let request = describe(method.as_str(), &path, body.as_ref());
        let reply = scim(&server, method, &path, body.as_ref()).await.with_context(|| format!("seed {seed}: {request}"))?;
        assert!(
            !reply.status.is_server_error(),
            "seed {seed} (ROSTER_SCIM_FUZZ_SEED): {request} got {}",
            reply.describe()
        );
        if reply.status.is_client_error() {
            assert_eq!(reply.body["schemas"], json!([ERROR]), "seed {seed}: {request} got a non-SCIM error: {}", reply.describe());
        }
    }

    // The PATCHes above may have renamed or deactivated the users, but the server must still serve them.
    assert_eq!(get(&server, &format!("/Users/{user}")).await?.status, StatusCode::OK);
    assert_eq!(get(&server, &format!("/Groups/{group}")).await?.status, StatusCode::OK);
});

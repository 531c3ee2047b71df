//! Listing users: filters, sort orders, keyset and offset pagination, and counts.

use crate::common::{at, insert_user, user};
use roster_domain::filter::{
    CmpOp, ElementFilter, Filter, FilterValue, MultiValuedAttr, Sort, SortDirection, SortKey, StoredAttr, SubAttr, UserAttr,
};
use roster_domain::{LifecycleState, RoleAssignment, RoleKey, RoleSource, RoleType, Timestamp, User, fold};
use roster_store::{Page, Store, UserQuery, sort_value};
use time::macros::date;

const ALL_SORT_KEYS: [SortKey; 6] =
    [SortKey::Id, SortKey::LastName, SortKey::UserName, SortKey::CreatedAt, SortKey::UpdatedAt, SortKey::DisplayName];

fn everyone(sort: Sort) -> UserQuery {
    UserQuery { filter: Filter::All, sort, limit: 1000, page: Page::Offset(0) }
}

fn user_names(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.user_name.clone()).collect()
}

fn ids(users: &[User]) -> Vec<i64> {
    users.iter().map(|u| u.id).collect()
}

/// Inserts the users that the filter cases select from, and returns the id of the role type that `baker` and
/// `fischer` hold.
async fn insert_filter_fixture(store: &Store) -> anyhow::Result<i64> {
    let people = [
        User {
            last_name: Some("Adams".into()),
            email: Some("Adams@Example.com".into()),
            department: Some("Sales".into()),
            start_date: Some(date!(2026 - 04 - 01)),
            created_at: at("2026-01-03T00:00:00Z"),
            ..user("adams")
        },
        User {
            last_name: Some("baker".into()),
            department: Some("Engineering".into()),
            created_at: at("2026-01-01T00:00:00Z"),
            ..user("baker")
        },
        User {
            last_name: Some("Carter".into()),
            department: Some("Engineering".into()),
            status: LifecycleState::Suspended,
            ..user("carter")
        },
        User {
            last_name: Some("Dubois".into()),
            status: LifecycleState::Archived,
            created_at: at("2026-01-05T00:00:00Z"),
            ..user("dubois")
        },
        User { status: LifecycleState::Pending, ..user("evans") },
        User { last_name: Some("Fischer".into()), created_at: at("2026-01-04T00:00:00Z"), ..user("fischer") },
        User { last_name: Some("Adams".into()), ..user("garcia") },
        User { last_name: Some("50% Off".into()), ..user("percent") },
        User { last_name: Some("50 Percent".into()), ..user("fifty") },
        User { last_name: Some("a_b".into()), ..user("underscore") },
        User { last_name: Some("axb".into()), ..user("axb") },
        User { last_name: Some("back\\slash".into()), ..user("slash") },
        User { last_name: Some("Lefèvre".into()), ..user("lefevre") },
        User { last_name: Some("Adams".into()), status: LifecycleState::Deleted, ..user("deleted") },
    ];
    let mut stored = Vec::new();
    for person in &people {
        stored.push(insert_user(store, person).await?);
    }

    let granted_at = at("2026-01-10T00:00:00Z");
    let role = RoleType {
        id: 0,
        name: "auditor".into(),
        description: None,
        category: None,
        resource_type: None,
        created_at: granted_at,
        updated_at: granted_at,
    };
    let mut tx = store.begin().await?;
    let role_type_id = tx.insert_role_type(&role).await?;
    let grant = RoleAssignment {
        key: RoleKey { role_type_id, resource_type: None, resource_id: None },
        role_type_name: role.name.clone(),
        source: RoleSource::Direct,
        approved_by: None,
        reason: None,
        expires_at: None,
        granted_at,
    };
    for holder in stored.iter().filter(|u| u.user_name == "baker" || u.user_name == "fischer") {
        tx.insert_assignment(holder.id, &grant).await?;
    }
    tx.commit().await?;

    Ok(role_type_id)
}

store_test!(filters_select_expected_users, |db| {
    let role = insert_filter_fixture(&db.store).await?;
    let eq_exact = |text: &str| Filter::Cmp {
        attr: UserAttr::LastName,
        op: CmpOp::Eq,
        value: FilterValue::Text(text.into()),
        case_exact: true,
    };

    // Each case lists the user names it should match, in user name order.
    let cases: Vec<(&str, Filter, &str)> = vec![
        (
            "all users that are not deleted",
            Filter::All,
            "adams axb baker carter dubois evans fifty fischer garcia lefevre percent slash underscore",
        ),
        ("last_name co AD", Filter::text(UserAttr::LastName, CmpOp::Co, "AD"), "adams garcia"),
        ("email eq in another case", Filter::text(UserAttr::Email, CmpOp::Eq, "ADAMS@EXAMPLE.COM"), "adams"),
        ("user_name sw BA", Filter::text(UserAttr::UserName, CmpOp::Sw, "BA"), "baker"),
        ("department ew ING", Filter::text(UserAttr::Department, CmpOp::Ew, "ING"), "baker carter"),
        ("case-exact last_name eq Adams", eq_exact("Adams"), "adams garcia"),
        ("case-exact last_name eq ADAMS", eq_exact("ADAMS"), ""),
        (
            "last_name co 50% matches the percent sign literally",
            Filter::text(UserAttr::LastName, CmpOp::Co, "50%"),
            "percent",
        ),
        (
            "last_name co a_b matches the underscore literally",
            Filter::text(UserAttr::LastName, CmpOp::Co, "a_b"),
            "underscore",
        ),
        (
            "last_name co k\\s matches the backslash literally",
            Filter::text(UserAttr::LastName, CmpOp::Co, "k\\s"),
            "slash",
        ),
        ("last_name co FÈV folds non-ASCII letters", Filter::text(UserAttr::LastName, CmpOp::Co, "FÈV"), "lefevre"),
        ("has role", Filter::HasRole(role), "baker fischer"),
        ("has an unknown role", Filter::HasRole(role + 1000), ""),
        (
            "status in suspended or archived",
            Filter::StatusIn(vec![LifecycleState::Suspended, LifecycleState::Archived]),
            "carter dubois",
        ),
        ("status in nothing", Filter::StatusIn(vec![]), ""),
        ("not active", Filter::Not(Box::new(Filter::StatusIn(vec![LifecycleState::Active]))), "carter dubois evans"),
        (
            "not last_name co a, which keeps a missing last name",
            Filter::Not(Box::new(Filter::text(UserAttr::LastName, CmpOp::Co, "a"))),
            "dubois evans fifty fischer lefevre percent",
        ),
        (
            "not email eq, which keeps users without an email",
            Filter::Not(Box::new(Filter::text(UserAttr::Email, CmpOp::Eq, "adams@example.com"))),
            "axb baker carter dubois evans fifty fischer garcia lefevre percent slash underscore",
        ),
        (
            "email ne, which keeps users without an email",
            Filter::text(UserAttr::Email, CmpOp::Ne, "adams@example.com"),
            "axb baker carter dubois evans fifty fischer garcia lefevre percent slash underscore",
        ),
        (
            "has role or user_name eq evans",
            Filter::Or(vec![Filter::HasRole(role), Filter::text(UserAttr::UserName, CmpOp::Eq, "evans")]),
            "baker evans fischer",
        ),
        (
            "has role or last_name eq ADAMS, which must not reach the deleted Adams",
            Filter::Or(vec![Filter::HasRole(role), Filter::text(UserAttr::LastName, CmpOp::Eq, "ADAMS")]),
            "adams baker fischer garcia",
        ),
        (
            "department co eng and active",
            Filter::And(vec![
                Filter::text(UserAttr::Department, CmpOp::Co, "eng"),
                Filter::StatusIn(vec![LifecycleState::Active]),
            ]),
            "baker",
        ),
        ("empty or", Filter::Or(vec![]), ""),
        ("last_name not present", Filter::Not(Box::new(Filter::Present(UserAttr::LastName))), "evans"),
        (
            "created_at before 2026-01-04",
            Filter::Cmp {
                attr: UserAttr::CreatedAt,
                op: CmpOp::Lt,
                value: FilterValue::Time(at("2026-01-04T00:00:00Z")),
                case_exact: false,
            },
            "adams baker",
        ),
        (
            "start_date on or after 2026-03-01",
            Filter::Cmp {
                attr: UserAttr::StartDate,
                op: CmpOp::Ge,
                value: FilterValue::Date(date!(2026 - 03 - 01)),
                case_exact: false,
            },
            "adams",
        ),
    ];

    let mut conn = db.store.read().await?;
    for (description, filter, expected) in cases {
        let query = UserQuery {
            filter: filter.clone(),
            ..everyone(Sort { key: SortKey::UserName, direction: SortDirection::Asc })
        };
        let expected: Vec<&str> = expected.split_whitespace().collect();
        let listed = user_names(&conn.list_users(&query).await?);
        assert_eq!(listed, expected, "filter \"{description}\" listed the wrong users");

        let counted = conn.count_users(&filter).await?;
        assert_eq!(counted, expected.len() as i64, "filter \"{description}\" counted the wrong number of users");
    }
});

/// Inserts users whose sort values tie in places, with plain letters in last names so the order is the same under
/// every collation. Returns them as stored.
async fn insert_sort_fixture(store: &Store) -> anyhow::Result<Vec<User>> {
    let rows: [(&str, Option<&str>, &str, &str); 8] = [
        ("Mia", Some("moreau"), "2026-01-02T00:00:00.000002Z", "2026-02-01T00:00:00Z"),
        ("ben", Some("Baker"), "2026-01-02T00:00:00.000001Z", "2026-02-03T00:00:00Z"),
        ("Zoe", Some("adams"), "2026-01-02T00:00:00.000002Z", "2026-02-02T00:00:00Z"),
        ("anna", None, "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z"),
        ("Carl", Some("Adams"), "2026-01-03T00:00:00Z", "2026-02-05T00:00:00Z"),
        ("dora", Some("Young"), "2025-12-31T23:59:59.999999Z", "2026-02-04T00:00:00Z"),
        ("Eli", Some("baker"), "2026-01-02T00:00:00.000002Z", "2026-02-01T00:00:00Z"),
        ("finn", Some("Ng"), "2026-01-04T00:00:00Z", "2026-02-06T00:00:00Z"),
    ];
    let mut stored = Vec::new();
    for (user_name, last_name, created, updated) in rows {
        // The display name repeats the last name in other letter cases, so display name sorts have ties and gaps.
        let mut scim_attributes = serde_json::Map::new();
        if let Some(last_name) = last_name {
            scim_attributes.insert("displayName".into(), serde_json::Value::String(last_name.to_uppercase()));
        }
        let person = User {
            last_name: last_name.map(String::from),
            scim_attributes,
            created_at: at(created),
            updated_at: at(updated),
            ..user(user_name)
        };
        stored.push(insert_user(store, &person).await?);
    }
    Ok(stored)
}

/// Sorts `users` as the store should: by the folded sort value, then by id, both in `sort`'s direction.
fn expected_order(users: &[User], sort: Sort) -> Vec<i64> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Text(String),
        Time(Timestamp),
        None,
    }
    let key_of = |u: &User| match sort.key {
        SortKey::Id => Key::None,
        SortKey::LastName => Key::Text(fold(u.last_name.as_deref().unwrap_or(""))),
        SortKey::UserName => Key::Text(fold(&u.user_name)),
        SortKey::CreatedAt => Key::Time(u.created_at),
        SortKey::UpdatedAt => Key::Time(u.updated_at),
        SortKey::DisplayName => Key::Text(fold(u.scim_attributes.get("displayName").and_then(|v| v.as_str()).unwrap_or(""))),
    };

    let mut sorted: Vec<&User> = users.iter().collect();
    sorted.sort_by(|a, b| key_of(a).cmp(&key_of(b)).then(a.id.cmp(&b.id)));
    if sort.direction == SortDirection::Desc {
        sorted.reverse();
    }
    sorted.iter().map(|u| u.id).collect()
}

fn all_sorts() -> Vec<Sort> {
    let directions = [SortDirection::Asc, SortDirection::Desc];
    ALL_SORT_KEYS.iter().flat_map(|&key| directions.map(|direction| Sort { key, direction })).collect()
}

store_test!(sort_orders_break_ties_by_id, |db| {
    let users = insert_sort_fixture(&db.store).await?;

    let mut conn = db.store.read().await?;
    for sort in all_sorts() {
        let listed = ids(&conn.list_users(&everyone(sort)).await?);
        assert_eq!(listed, expected_order(&users, sort), "sort {sort:?} listed users in the wrong order");
    }
});

store_test!(keyset_pages_visit_each_once, |db| {
    let users = insert_sort_fixture(&db.store).await?;
    let page_size = 3;

    let mut conn = db.store.read().await?;
    for sort in all_sorts() {
        let mut visited = Vec::new();
        let mut page = Page::Offset(0);
        // Each page contains at least one row until the end, so this bound is reached only if paging loops.
        for _ in 0..=users.len() {
            let query = UserQuery { filter: Filter::All, sort, limit: page_size, page: page.clone() };
            let rows = conn.list_users(&query).await?;
            visited.extend(ids(&rows));
            let Some(last) = rows.last() else { break };
            if rows.len() < page_size as usize {
                break;
            }
            page = Page::After { value: sort_value(last, sort.key), id: last.id };
        }
        assert_eq!(
            visited,
            expected_order(&users, sort),
            "keyset pages of {page_size} with sort {sort:?} should visit every user once, in order"
        );
    }
});

store_test!(offset_pages_visit_each_once, |db| {
    let users = insert_sort_fixture(&db.store).await?;
    let sort = Sort { key: SortKey::CreatedAt, direction: SortDirection::Desc };
    let page_size = 3;

    let mut conn = db.store.read().await?;
    let mut visited = Vec::new();
    for offset in (0..=users.len() as u64).step_by(page_size as usize) {
        let query = UserQuery { filter: Filter::All, sort, limit: page_size, page: Page::Offset(offset) };
        visited.extend(ids(&conn.list_users(&query).await?));
    }
    assert_eq!(
        visited,
        expected_order(&users, sort),
        "offset pages of {page_size} should visit every user once, in order"
    );
});

store_test!(keyset_pages_before_walk_back, |db| {
    let users = insert_sort_fixture(&db.store).await?;
    let page_size = 3;

    let mut conn = db.store.read().await?;
    for sort in all_sorts() {
        let expected = expected_order(&users, sort);
        let mut visited = Vec::new();
        let Some(&last_id) = expected.last() else { continue };
        let Some(last) = users.iter().find(|user| user.id == last_id) else { continue };
        // Walk back from the last user: each page ends just before the first user of the page read before it.
        visited.push(last.id);
        let mut page = Page::Before { value: sort_value(last, sort.key), id: last.id };
        // Each page contains at least one row until the start, so this bound is reached only if paging loops.
        for _ in 0..=users.len() {
            let query = UserQuery { filter: Filter::All, sort, limit: page_size, page: page.clone() };
            let rows = conn.list_users(&query).await?;
            let Some(first) = rows.first() else { break };
            let mut page_ids = ids(&rows);
            page_ids.extend(visited);
            visited = page_ids;
            page = Page::Before { value: sort_value(first, sort.key), id: first.id };
        }
        assert_eq!(visited, expected, "pages before of {page_size} under {sort:?} should visit every user once, in order");
    }
});

store_test!(keyset_page_respects_filter, |db| {
    let role = insert_filter_fixture(&db.store).await?;
    let filter = Filter::Or(vec![Filter::HasRole(role), Filter::StatusIn(vec![LifecycleState::Suspended])]);
    let sort = Sort { key: SortKey::LastName, direction: SortDirection::Asc };

    let mut conn = db.store.read().await?;
    let first = conn.list_users(&UserQuery { filter: filter.clone(), sort, limit: 2, page: Page::Offset(0) }).await?;
    assert_eq!(
        user_names(&first),
        ["baker", "carter"],
        "the first page should hold the first two matches by last name"
    );

    let last = first.last().map(|u| (sort_value(u, sort.key), u.id));
    let page = last.map(|(value, id)| Page::After { value, id }).unwrap_or(Page::Offset(0));
    let second = conn.list_users(&UserQuery { filter, sort, limit: 2, page }).await?;
    assert_eq!(user_names(&second), ["fischer"], "the second page should hold only the remaining match");
});

store_test!(stored_attribute_filters_fold_case, |db| {
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let people = [
        ("elodie", serde_json::json!({"displayName": "ÉLODIE Mercier", enterprise: {"costCenter": "CC-4200"}})),
        ("femi", serde_json::json!({"displayName": "Femi Adeyemi", enterprise: {"costCenter": "cc-1000"}})),
        ("gus", serde_json::json!({"displayName": "", "nickName": "Gus"})),
        ("hana", serde_json::json!({})),
    ];
    for (user_name, attributes) in people {
        let scim_attributes = attributes.as_object().cloned().unwrap_or_default();
        insert_user(&db.store, &User { scim_attributes, ..user(user_name) }).await?;
    }
    let display_name = UserAttr::Stored(StoredAttr::DisplayName);
    let cost_center = UserAttr::Stored(StoredAttr::CostCenter);
    let exact = |op, text: &str| Filter::Cmp { attr: display_name, op, value: FilterValue::Text(text.into()), case_exact: true };

    let cases: Vec<(&str, Filter, &str)> = vec![
        ("eq folds non-ASCII letters", Filter::text(display_name, CmpOp::Eq, "élodie mercier"), "elodie"),
        ("co", Filter::text(display_name, CmpOp::Co, "ADEY"), "femi"),
        ("sw", Filter::text(display_name, CmpOp::Sw, "Élo"), "elodie"),
        ("ew", Filter::text(display_name, CmpOp::Ew, "MERCIER"), "elodie"),
        ("ne includes users without the attribute", Filter::text(display_name, CmpOp::Ne, "femi adeyemi"), "elodie gus hana"),
        ("gt compares folded text bytewise", Filter::text(cost_center, CmpOp::Gt, "CC-2"), "elodie"),
        ("le", Filter::text(cost_center, CmpOp::Le, "CC-1000"), "femi"),
        ("present skips empty strings", Filter::Present(display_name), "elodie femi"),
        ("present of a nested attribute", Filter::Present(cost_center), "elodie femi"),
        ("not present", Filter::Not(Box::new(Filter::Present(UserAttr::Stored(StoredAttr::NickName)))), "elodie femi hana"),
        ("case-exact eq reads the value as sent", exact(CmpOp::Eq, "ÉLODIE Mercier"), "elodie"),
        ("case-exact eq in another case", exact(CmpOp::Eq, "élodie mercier"), ""),
    ];

    let mut conn = db.store.read().await?;
    for (name, filter, expected) in cases {
        let query = UserQuery { filter: filter.clone(), ..everyone(Sort { key: SortKey::UserName, direction: SortDirection::Asc }) };
        let found = user_names(&conn.list_users(&query).await?).join(" ");
        assert_eq!(found, expected, "case {name:?}");
        let count = conn.count_users(&filter).await?;
        assert_eq!(count, expected.split_whitespace().count() as i64, "count of case {name:?}");
    }
});

store_test!(multi_valued_filters_match_some_value, |db| {
    let people = [
        (
            "ana",
            Some("ana@work.example"),
            None,
            serde_json::json!({
                "addresses": [{"type": "work", "locality": "Paris"}, {"type": "home", "locality": "Lyon", "primary": true}],
                "ims": [{"value": "Ana.Chat", "type": "xmpp"}],
                "emails": [{"value": "ana@work.example", "type": "work", "primary": true}, {"value": "Ana@Home.Example", "type": "home"}],
            }),
        ),
        (
            // The mapped email changed through `/core` after it was stored, so the stored copy is stale.
            "bo",
            Some("bo@new.example"),
            None,
            serde_json::json!({
                "addresses": [{"type": "home", "locality": "PARIS"}],
                "emails": [{"value": "bo@old.example", "type": "work"}],
                "phoneNumbers": [{"value": "tel:+1-201-555-0123", "type": "mobile"}],
            }),
        ),
        (
            // Values of the wrong shape are skipped without an error.
            "cy",
            None,
            Some("+1 555 0111"),
            serde_json::json!({
                "addresses": {"locality": "Paris"},
                "emails": ["cy@example.com"],
                "phoneNumbers": [{"value": "+1 555 0100", "type": "Mobile"}, {"value": "+1 555 0199", "type": "work"}],
            }),
        ),
        ("dee", None, None, serde_json::json!({"ims": [{"value": "ÉCOLE"}], "photos": [{"value": "https://x/p.JPG", "type": "photo"}]})),
    ];
    for (user_name, email, mobile_number, attributes) in people {
        let scim_attributes = attributes.as_object().cloned().unwrap_or_default();
        let new_user = User {
            email: email.map(str::to_string),
            mobile_number: mobile_number.map(str::to_string),
            scim_attributes,
            ..user(user_name)
        };
        insert_user(&db.store, &new_user).await?;
    }

    let any = |attr, condition| Filter::AnyElement { attr, condition };
    let cmp = |sub, op, value: &str| ElementFilter::Cmp { sub, op, value: value.to_string() };
    let work = || cmp(SubAttr::Type, CmpOp::Eq, "WORK");
    let not = |inner| ElementFilter::Not(Box::new(inner));
    let addresses = MultiValuedAttr::Addresses;
    let cases: Vec<(&str, Filter, &str)> = vec![
        ("and in one value", any(addresses, ElementFilter::And(vec![work(), cmp(SubAttr::Locality, CmpOp::Eq, "paris")])), "ana"),
        ("eq ignores case", any(addresses, cmp(SubAttr::Locality, CmpOp::Eq, "paris")), "ana bo"),
        ("or in one value", any(addresses, ElementFilter::Or(vec![work(), cmp(SubAttr::Locality, CmpOp::Eq, "lyon")])), "ana"),
        ("present needs an array", any(addresses, ElementFilter::All), "ana bo"),
        ("not outside", Filter::Not(Box::new(any(addresses, work()))), "bo cy dee"),
        ("not inside", any(addresses, not(work())), "ana bo"),
        ("ne includes values without it", any(addresses, cmp(SubAttr::Type, CmpOp::Ne, "home")), "ana"),
        ("primary true", any(addresses, ElementFilter::IsTrue(SubAttr::Primary)), "ana"),
        ("primary false or absent", any(addresses, not(ElementFilter::IsTrue(SubAttr::Primary))), "ana bo"),
        ("gt compares folded text", any(addresses, cmp(SubAttr::Locality, CmpOp::Gt, "Lyon")), "ana bo"),
        ("le", any(addresses, cmp(SubAttr::Locality, CmpOp::Le, "LYON")), "ana"),
        ("sub-attribute absent", any(addresses, ElementFilter::Present(SubAttr::Region)), ""),
        ("co", any(MultiValuedAttr::Ims, cmp(SubAttr::Value, CmpOp::Co, ".CHAT")), "ana"),
        ("co escapes wildcards", any(MultiValuedAttr::Ims, cmp(SubAttr::Value, CmpOp::Co, "%")), ""),
        ("sw folds non-ASCII letters", any(MultiValuedAttr::Ims, cmp(SubAttr::Value, CmpOp::Sw, "éc")), "dee"),
        ("ew", any(MultiValuedAttr::Photos, cmp(SubAttr::Value, CmpOp::Ew, ".jpg")), "dee"),
        ("kept email", any(MultiValuedAttr::Emails, cmp(SubAttr::Value, CmpOp::Eq, "ana@home.example")), "ana"),
        ("mapped email is left out", any(MultiValuedAttr::Emails, cmp(SubAttr::Value, CmpOp::Eq, "ana@work.example")), ""),
        ("stale mapped email is left out", any(MultiValuedAttr::Emails, cmp(SubAttr::Value, CmpOp::Co, "bo@")), ""),
        ("kept emails of any value", any(MultiValuedAttr::Emails, ElementFilter::All), "ana"),
        (
            "unmapped mobile is kept",
            any(MultiValuedAttr::PhoneNumbers, cmp(SubAttr::Value, CmpOp::Eq, "tel:+1-201-555-0123")),
            "bo",
        ),
        ("mapped mobile is left out", any(MultiValuedAttr::PhoneNumbers, cmp(SubAttr::Value, CmpOp::Eq, "+1 555 0100")), ""),
        ("other phone is kept", any(MultiValuedAttr::PhoneNumbers, cmp(SubAttr::Value, CmpOp::Sw, "+1 555 01")), "cy"),
    ];

    let mut conn = db.store.read().await?;
    for (name, filter, expected) in cases {
        let query = UserQuery { filter: filter.clone(), ..everyone(Sort { key: SortKey::UserName, direction: SortDirection::Asc }) };
        let found = user_names(&conn.list_users(&query).await?).join(" ");
        assert_eq!(found, expected, "case {name:?}");
        let count = conn.count_users(&filter).await?;
        assert_eq!(count, expected.split_whitespace().count() as i64, "count of case {name:?}");
    }
});

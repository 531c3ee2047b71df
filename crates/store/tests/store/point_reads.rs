//! The lookups that `Store` runs itself (on SQLite through a synchronous reader) return exactly what the
//! pooled connection's queries return, and see every committed change at once.

use crate::common::{at, insert_user, user};
use roster_domain::filter::{CmpOp, Filter, FilterValue, Sort, SortDirection, SortKey, UserAttr};
use roster_domain::{
    Group, LifecycleState, NewTokenSpec, RoleAssignment, RoleKey, RoleSource, RoleType, Scope, Scopes, User,
};
use roster_store::{Page, PageExtras, Store, UserPage, UserQuery};
use std::collections::BTreeMap;

/// Builds a user with every column set, so a column that the two readers decode differently shows up.
fn full_user() -> User {
    let mut scim_attributes = serde_json::Map::new();
    scim_attributes.insert("displayName".into(), serde_json::json!("Ada L."));
    User {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("Ada.Lovelace@Example.com".into()),
        unique_id: Some("E-1815".into()),
        external_id: Some("idp-42".into()),
        mobile_number: Some("+44 20 7946 0000".into()),
        job_title: Some("Analyst".into()),
        department: Some("Engines".into()),
        start_date: time::Date::from_calendar_date(2026, time::Month::February, 28).ok(),
        end_date: time::Date::from_calendar_date(2027, time::Month::December, 1).ok(),
        custom_attributes: BTreeMap::from([("desk".to_string(), "4.12".to_string())]),
        scim_attributes,
        updated_at: at("2026-01-06T10:11:12.131415Z"),
        ..user("ada")
    }
}

fn grants(global: &RoleType, scoped: &RoleType) -> Vec<RoleAssignment> {
    let direct = RoleAssignment {
        key: RoleKey { role_type_id: global.id, resource_type: None, resource_id: None },
        role_type_name: global.name.clone(),
        source: RoleSource::Direct,
        approved_by: Some("security-lead".into()),
        reason: Some("on-call rota".into()),
        expires_at: Some(at("2026-12-31T23:59:59.999999Z")),
        granted_at: at("2026-01-10T08:00:00.000123Z"),
    };
    let scoped = RoleAssignment {
        key: RoleKey { role_type_id: scoped.id, resource_type: Some("workspace".into()), resource_id: Some("7".into()) },
        role_type_name: scoped.name.clone(),
        approved_by: None,
        reason: None,
        expires_at: None,
        ..direct.clone()
    };
    vec![direct, scoped]
}

async fn role_type(store: &roster_store::Store, name: &str, resource_type: Option<&str>) -> anyhow::Result<RoleType> {
    let role = RoleType {
        id: 0,
        name: name.to_string(),
        description: None,
        category: None,
        resource_type: resource_type.map(String::from),
        created_at: at("2026-01-02T03:04:05Z"),
        updated_at: at("2026-01-02T03:04:05Z"),
    };
    let mut tx = store.begin().await?;
    let id = tx.insert_role_type(&role).await?;
    tx.commit().await?;
    Ok(RoleType { id, ..role })
}

store_test!(user_lookups_match_pooled_queries, |db| {
    let global = role_type(&db.store, "Point Reader", None).await?;
    let scoped = role_type(&db.store, "Point Scoped", Some("workspace")).await?;
    let stored = insert_user(&db.store, &full_user()).await?;
    let mut tx = db.store.begin().await?;
    for grant in grants(&global, &scoped) {
        tx.insert_assignment(stored.id, &grant).await?;
    }
    tx.commit().await?;

    let by_id = db.store.user_with_grants_by_id(stored.id).await?;
    let pooled = db.store.read().await?.user_with_grants_by_id(stored.id).await?;
    let (user, roles) = by_id.clone().ok_or_else(|| anyhow::anyhow!("the stored user was not found by id"))?;
    assert_eq!(user, stored, "the user should read back with every column unchanged");
    assert_eq!(roles.len(), 2, "both grants should be returned, but got {roles:?}");
    assert_eq!(by_id, pooled, "the store's lookup by id should equal the pooled connection's");

    let by_email = db.store.user_with_grants_by_email("ADA.lovelace@example.COM").await?;
    assert_eq!(by_email, pooled, "the lookup by email should ignore case and return the same user and grants");

    let missing = db.store.user_with_grants_by_id(stored.id + 1000).await?;
    assert_eq!(missing, None, "an unknown id should find nothing");
});

store_test!(user_lookup_sees_commits_at_once, |db| {
    let stored = insert_user(&db.store, &user("mover")).await?;
    assert!(db.store.user_with_grants_by_id(stored.id).await?.is_some(), "the new user should be found");

    let moved = User { department: Some("Finance".into()), ..stored.clone() };
    let mut tx = db.store.begin().await?;
    tx.update_user(&moved, 1).await?;
    tx.commit().await?;

    let loaded = db.store.user_with_grants_by_id(stored.id).await?.map(|(u, _)| u.department);
    assert_eq!(loaded, Some(Some("Finance".into())), "the committed department should be read at once");
});

store_test!(token_lookup_sees_revocation_at_once, |db| {
    let owner = insert_user(&db.store, &user("holder")).await?;
    let spec = NewTokenSpec {
        name: "point".into(),
        scopes: Scopes::new(vec![Scope::UsersRead]),
        user_id: Some(owner.id),
        expires_at: Some(at("2027-01-01T00:00:00.000001Z")),
    };
    let mut tx = db.store.begin().await?;
    let id = tx.insert_token("hash-point", &spec, at("2026-01-01T00:00:00.123456Z")).await?;
    tx.commit().await?;

    let found = db.store.token_by_hash("hash-point").await?;
    let pooled = db.store.read().await?.token_by_hash("hash-point").await?;
    let found = found.ok_or_else(|| anyhow::anyhow!("the token was not found by its hash"))?;
    let pooled = pooled.ok_or_else(|| anyhow::anyhow!("the pooled lookup did not find the token"))?;
    assert_eq!(found.token, pooled.token, "both lookups should return the same token");
    assert_eq!(found.owner_status, Some(LifecycleState::Active), "the owner is active");
    assert_eq!(found.token.expires_at, spec.expires_at, "expires_at should keep its microseconds");

    let mut tx = db.store.begin().await?;
    tx.revoke_token(id, at("2026-02-02T02:02:02.000202Z")).await?;
    tx.commit().await?;

    let found = db.store.token_by_hash("hash-point").await?;
    assert_eq!(
        found.and_then(|f| f.token.revoked_at),
        Some(at("2026-02-02T02:02:02.000202Z")),
        "the revocation should be read on the next lookup, with nothing cached"
    );
    assert!(db.store.token_by_hash("hash-other").await?.is_none(), "an unknown hash should find nothing");
});

/// Reads a page as the pooled connection's queries do, one query at a time.
async fn pooled_page(store: &Store, query: &UserQuery) -> anyhow::Result<UserPage> {
    let mut conn = store.read().await?;
    let users = conn.list_users(query).await?;
    let total = Some(conn.count_users(&query.filter).await?);
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let grants = conn.assignments_of_users(&ids).await?;
    let groups = conn.groups_of_users(&ids).await?;
    Ok(UserPage { users, total, grants, groups })
}

fn assert_same_page(page: &UserPage, pooled: &UserPage, case: &str) {
    assert_eq!(page.users, pooled.users, "{case}: the users should equal the pooled list's, in its order");
    assert_eq!(page.total, pooled.total, "{case}: the total should equal the pooled count");
    assert_eq!(page.grants, pooled.grants, "{case}: the grants should equal the pooled query's");
    assert_eq!(page.groups, pooled.groups, "{case}: the groups should equal the pooled query's");
}

store_test!(user_page_matches_pooled_queries, |db| {
    let global = role_type(&db.store, "Page Reader", None).await?;
    let scoped = role_type(&db.store, "Page Scoped", Some("workspace")).await?;
    let ada = insert_user(&db.store, &full_user()).await?;
    let mut people = vec![ada.clone()];
    for (name, status) in [
        ("brook", LifecycleState::Active),
        ("casey", LifecycleState::Archived),
        ("devon", LifecycleState::Pending),
        ("ellis", LifecycleState::Deleted),
        ("frank", LifecycleState::Suspended),
    ] {
        let start_date = time::Date::from_calendar_date(2026, time::Month::March, 2).ok();
        people.push(insert_user(&db.store, &User { status, start_date, ..user(name) }).await?);
    }
    let group = Group {
        id: 0,
        display_name: "Page Group".into(),
        external_id: None,
        scim_attributes: serde_json::Map::new(),
        version: 1,
        created_at: at("2026-01-02T00:00:00Z"),
        updated_at: at("2026-01-02T00:00:00Z"),
    };
    let mut tx = db.store.begin().await?;
    for grant in grants(&global, &scoped) {
        tx.insert_assignment(ada.id, &grant).await?;
    }
    let group_id = tx.insert_group(&group).await?;
    tx.add_group_member(group_id, ada.id, at("2026-01-03T00:00:00Z")).await?;
    tx.add_group_member(group_id, people[1].id, at("2026-01-03T00:00:00Z")).await?;
    tx.commit().await?;
    let everything = PageExtras { total: true, grants: true, groups: true };
    let by_id = Sort { key: SortKey::Id, direction: SortDirection::Asc };

    let live = UserQuery { filter: Filter::StatusIn(LifecycleState::LIVE.to_vec()), sort: by_id, limit: 100, page: Page::Offset(0) };
    let page = db.store.user_page(&live, everything).await?;
    assert_same_page(&page, &pooled_page(&db.store, &live).await?, "every live user");
    assert_eq!(page.total, Some(5), "the count should leave out only the deleted user");
    assert_eq!(page.users.len(), 5, "the page should hold the five users that are not deleted");
    assert_eq!(page.grants.get(&ada.id).map(Vec::len), Some(2), "ada's two grants should be read");
    assert_eq!(page.groups.get(&ada.id), Some(&vec![(group_id, "Page Group".to_string())]), "ada's group");

    // The filter binds a date, and the keyset page a text and an id: the synchronous reader binds them as the pool
    // does.
    let started = Filter::Cmp {
        attr: UserAttr::StartDate,
        op: CmpOp::Ge,
        value: FilterValue::Date(time::Date::from_calendar_date(2026, time::Month::March, 1)?),
        case_exact: false,
    };
    let by_name = Sort { key: SortKey::UserName, direction: SortDirection::Desc };
    let after = UserQuery {
        filter: started,
        sort: by_name,
        limit: 2,
        page: Page::After { value: Some(FilterValue::Text("frank".into())), id: people[5].id },
    };
    let page = db.store.user_page(&after, everything).await?;
    assert_same_page(&page, &pooled_page(&db.store, &after).await?, "a keyset page after frank");
    let names: Vec<&str> = page.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["devon", "casey"], "the page after frank, by user name descending");

    let before = UserQuery { page: Page::Before { value: Some(FilterValue::Text("casey".into())), id: people[2].id }, ..after };
    let page = db.store.user_page(&before, everything).await?;
    assert_same_page(&page, &pooled_page(&db.store, &before).await?, "a keyset page before casey");
    let names: Vec<&str> = page.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["frank", "devon"], "the page before casey, in the sort order");

    let bare = db.store.user_page(&live, PageExtras::default()).await?;
    assert_eq!(bare.total, None, "no total was asked for");
    assert!(bare.grants.is_empty(), "no grants were asked for");
    assert!(bare.groups.is_empty(), "no groups were asked for");
});

//! Plan computation over small feeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::collections::BTreeMap;
use time::macros::datetime;

const MAPPING: &str = r#"
source = "hr"
key = "id"
[columns]
full_name = "name"
department = "dept"
job_title = "title"
start_date = "start"
end_date = "end"
[dates]
format = "%m/%d/%y"
two_digit_year_pivot = 50
[email]
template = "{first}.{last}@example.com"
[status]
column = "status"
active = ["Active"]
suspended = ["Leave of Absence"]
terminated = ["Terminated"]
pending = ["Future Start"]
[manager]
name_column = "manager"
"#;

const POLICY: &str = r#"
[[rule]]
name = "everyone"
grant = [{ role = "stakeholder" }]
[[rule]]
name = "engineering"
department = "Engineering"
grant = [{ role = "developer" }]
[[rule]]
name = "managers"
is_manager = true
grant = [{ role = "user_admin" }]
"#;

fn plan(feed: &str, users: Vec<CurrentUser>, full_feed: bool) -> Plan {
    let mapping = Mapping::parse(MAPPING).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let feed = read_mapped_feed(feed.as_bytes(), &mapping).unwrap();
    let taken_emails = users
        .iter()
        .filter_map(|u| u.attributes.email.as_ref().map(|e| (e.to_lowercase(), Some(u.unique_id.to_lowercase()))))
        .collect();
    compute_plan(PlanInput {
        mapping: &mapping,
        policy: &policy,
        feed,
        users,
        taken_emails,
        now: datetime!(2026-12-04 12:00 UTC),
        options: PlanOptions { full_feed },
    })
}

const HEADER: &str = "id,name,dept,title,start,end,status,manager,salary\n";

fn change<'p>(plan: &'p Plan, key: &str) -> &'p PersonChange {
    plan.changes.iter().find(|c| c.key == key).unwrap_or_else(|| panic!("no change for {key}: {plan:#?}"))
}

/// Turns a planned create into the user it would leave behind.
fn user_from(change: &PersonChange, id: i64) -> CurrentUser {
    let mut roles = BTreeMap::new();
    for role in &change.roles_added {
        roles.insert(role.grant.clone(), role.rule.clone());
    }
    CurrentUser {
        id,
        unique_id: change.key.clone(),
        attributes: change.attributes.clone(),
        state: change.state_after.unwrap(),
        policy_roles: roles,
        owned: true,
        scheduled: change.scheduled.iter().map(|s| (s.kind, s.at)).collect(),
        fingerprint: "1".into(),
    }
}

#[test]
fn joiners_get_roles_and_managers_first() {
    let feed = format!(
        "{HEADER}2,\"Doe, Jane\",Engineering,Engineer,01/02/20,,Active,Ada Lovelace,1\n\
         1,\"Lovelace, Ada\",Engineering  ,Lead,01/02/19,,Active,,2\n\
         3,\"Old, Timer\",Sales,Rep,01/02/10,05/05/15,Terminated,,3\n"
    );
    let plan = plan(&feed, vec![], false);
    assert_eq!(plan.counts["create"], 2, "{plan:#?}");
    assert_eq!(plan.changes[0].key, "1", "the manager is created first");
    let jane = change(&plan, "2");
    assert_eq!(jane.attributes.manager_key.as_deref(), Some("1"));
    assert_eq!(jane.attributes.email.as_deref(), Some("jane.doe@example.com"));
    let ada = change(&plan, "1");
    let ada_roles: Vec<(&str, &str)> = ada.roles_added.iter().map(|r| (r.grant.role.as_str(), r.rule.as_str())).collect();
    assert_eq!(ada_roles, vec![("developer", "engineering"), ("stakeholder", "everyone"), ("user_admin", "managers")]);
    assert!(plan.changes.iter().all(|c| c.key != "3"), "a terminated never-user causes no action");
}

#[test]
fn whitespace_change_is_not_a_mover() {
    let first = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n"), vec![], false);
    let user = user_from(&first.changes[0], 10);
    let again = plan(&format!("{HEADER}1,\" Lovelace,  Ada \",Engineering   ,Lead ,01/02/19,,Active,,9\n"), vec![user], false);
    assert!(again.changes.is_empty(), "{again:#?}");
}

#[test]
fn mover_changes_roles_with_rules() {
    let first = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n"), vec![], false);
    let user = user_from(&first.changes[0], 10);
    let moved = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Sales,Lead,01/02/19,,Active,,1\n"), vec![user], false);
    let ada = change(&moved, "1");
    assert_eq!(ada.kind, ChangeKind::None);
    assert_eq!(ada.changes["department"].after.as_deref(), Some("Sales"));
    assert_eq!(ada.roles_removed.len(), 1);
    assert_eq!(ada.roles_removed[0].grant.role, "developer");
    assert!(ada.roles_added.is_empty());
    assert_eq!(moved.counts["update"], 1);
}

#[test]
fn leavers_rehires_and_leave() {
    let first = plan(
        &format!(
            "{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n\
             2,\"Doe, Jane\",Sales,Rep,01/02/19,,Active,,1\n\
             3,\"Roe, Rick\",Sales,Rep,01/02/19,,Active,,1\n"
        ),
        vec![],
        false,
    );
    let mut users: Vec<CurrentUser> = first.changes.iter().enumerate().map(|(i, c)| user_from(c, i as i64 + 10)).collect();
    users[2].state = UserState::Archived;
    users[2].policy_roles.clear();
    let next = plan(
        &format!(
            "{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,12/01/26,Terminated,,1\n\
             2,\"Doe, Jane\",Sales,Rep,01/02/19,,Leave of Absence,,1\n\
             3,\"Roe, Rick\",Engineering,Dev,01/02/19,,Active,,1\n"
        ),
        users,
        false,
    );
    assert_eq!(change(&next, "1").kind, ChangeKind::Archive);
    let jane = change(&next, "2");
    assert_eq!(jane.kind, ChangeKind::Suspend);
    assert!(jane.roles_removed.is_empty(), "a leave of absence keeps roles");
    let rick = change(&next, "3");
    assert_eq!(rick.kind, ChangeKind::Restore);
    let roles: Vec<&str> = rick.roles_added.iter().map(|r| r.grant.role.as_str()).collect();
    assert_eq!(roles, vec!["developer", "stakeholder"], "a rehire gets the current policy's roles");
}

#[test]
fn future_dates_are_scheduled() {
    let plan = plan(
        &format!(
            "{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/04/27,,Active,,1\n\
             2,\"Doe, Jane\",Sales,Rep,01/02/19,12/31/26,Terminated,,1\n"
        ),
        vec![],
        false,
    );
    let ada = change(&plan, "1");
    assert_eq!(ada.state_after, Some(UserState::Pending));
    assert!(ada.roles_added.is_empty());
    let scheduled = ada.scheduled.as_ref().unwrap();
    assert_eq!(scheduled.kind, ScheduledKind::Activate);
    assert_eq!(scheduled.at, datetime!(2027-01-04 0:00 UTC));
    assert_eq!(scheduled.roles.len(), 2);
    let jane = change(&plan, "2");
    assert_eq!(jane.state_after, Some(UserState::Active));
    let leaves = jane.scheduled.as_ref().unwrap();
    assert_eq!((leaves.kind, leaves.at), (ScheduledKind::Archive, datetime!(2027-01-01 0:00 UTC)), "access ends after the last day");
}

#[test]
fn bad_rows_reported_by_line() {
    let plan = plan(
        &format!(
            "{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n\
             2,\"Doe, Jane\",Sales,Rep,31/31/19,,Active,,1\n\
             1,\"Other, Person\",Sales,Rep,01/02/19,,Active,,1\n\
             ,\"No, Key\",Sales,Rep,01/02/19,,Active,,1\n\
             4,\"Ok, Fine\",Sales,Rep,01/02/19,,Active,,1\n"
        ),
        vec![],
        false,
    );
    let lines: Vec<u64> = plan.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5], "{:#?}", plan.errors);
    assert!(plan.errors[1].reason.contains("date format"), "{:#?}", plan.errors[1]);
    assert!(plan.errors[3].reason.contains("empty"), "{:#?}", plan.errors[3]);
    assert_eq!(plan.counts["create"], 1);
}

#[test]
fn full_feed_archives_only_owned_users() {
    let first = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n2,\"Doe, Jane\",Sales,Rep,01/02/19,,Active,,1\n"), vec![], false);
    let mut users: Vec<CurrentUser> = first.changes.iter().enumerate().map(|(i, c)| user_from(c, i as i64 + 10)).collect();
    users[1].owned = false;
    let feed = format!("{HEADER}5,\"New, Person\",Sales,Rep,01/02/19,,Active,,1\n");
    let partial = plan(&feed, users.clone(), false);
    assert_eq!(partial.counts["archive"], 0);
    let full = plan(&feed, users, true);
    assert_eq!(full.counts["archive"], 1);
    assert_eq!(change(&full, "1").kind, ChangeKind::Archive);
}

#[test]
fn derived_email_clash_numbered() {
    let plan = plan(
        &format!("{HEADER}1,\"Doe, Jane\",Sales,Rep,01/02/19,,Active,,1\n2,\"Doe, Jane A\",Sales,Rep,01/02/19,,Active,,1\n"),
        vec![],
        false,
    );
    assert_eq!(change(&plan, "2").attributes.email.as_deref(), Some("jane.doe2@example.com"));
    assert_eq!(plan.warnings.len(), 1);
}

#[test]
fn generated_feed_plans_cleanly() {
    let csv = generate::generate_csv(generate::GenerateOptions { people: 300, churn_percent: 2, seed: 7 });
    let mapping = Mapping::parse(include_str!("../../../examples/synthetic-mapping.toml")).unwrap();
    let policy = Policy::parse(include_str!("../../../examples/synthetic-policy.toml")).unwrap();
    let feed = read_mapped_feed(csv.as_bytes(), &mapping).unwrap();
    let plan = compute_plan(PlanInput {
        mapping: &mapping,
        policy: &policy,
        feed,
        users: vec![],
        taken_emails: BTreeMap::new(),
        now: datetime!(2026-12-04 12:00 UTC),
        options: PlanOptions::default(),
    });
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    assert!(plan.warnings.iter().all(|w| w.message.contains("email")), "{:#?}", plan.warnings);
    assert!(plan.counts["create"] > 280, "{:?}", plan.counts);
}

#[test]
fn plan_round_trips_through_json() {
    let plan = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n"), vec![], false);
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains("\"start_date\":\"2019-01-02\""), "{text}");
    let back: Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn policy_change_shows_role_diff() {
    let first = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n"), vec![], false);
    let user = user_from(&first.changes[0], 10);
    let mapping = Mapping::parse(MAPPING).unwrap();
    let changed = Policy::parse(
        "[[rule]]\nname = \"everyone\"\ngrant = [{ role = \"stakeholder\" }]\n\
         [[rule]]\nname = \"engineering-workspace\"\ndepartment = \"Engineering\"\n\
         grant = [{ role = \"workspace_member\", resource_type = \"workspace\", resource_id = \"eng\" }]\n",
    )
    .unwrap();
    let feed = read_mapped_feed(format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n").as_bytes(), &mapping).unwrap();
    let plan = compute_plan(PlanInput {
        mapping: &mapping,
        policy: &changed,
        feed,
        users: vec![user],
        taken_emails: BTreeMap::new(),
        now: datetime!(2026-12-04 12:00 UTC),
        options: PlanOptions::default(),
    });
    let ada = change(&plan, "1");
    let added: Vec<(&str, &str)> = ada.roles_added.iter().map(|r| (r.grant.role.as_str(), r.rule.as_str())).collect();
    let removed: Vec<(&str, &str)> = ada.roles_removed.iter().map(|r| (r.grant.role.as_str(), r.rule.as_str())).collect();
    assert_eq!(added, vec![("workspace_member", "engineering-workspace")]);
    assert_eq!(removed, vec![("developer", "engineering")]);
    assert!(ada.changes.is_empty(), "attributes did not change");
}

#[test]
fn changed_feed_zero_percent_is_base() {
    let options = generate::GenerateOptions { people: 500, churn_percent: 2, seed: 7 };
    assert_eq!(generate::generate_changed_csv(options, 0), generate::generate_csv(options));
}

#[test]
fn changed_feed_keeps_population() {
    let options = generate::GenerateOptions { people: 2000, churn_percent: 2, seed: 7 };
    let base = generate::generate_csv(options);
    let changed = generate::generate_changed_csv(options, 10);
    assert_eq!(changed, generate::generate_changed_csv(options, 10), "the same seed writes the same feed");

    let base_rows: Vec<&str> = base.lines().collect();
    let changed_rows: Vec<&str> = changed.lines().collect();
    assert_eq!(changed_rows.len(), base_rows.len() + 50, "10% of 2000 people add a quarter of 200 changes as joiners");
    let differing: Vec<(&str, &str)> = base_rows.iter().zip(&changed_rows).filter(|(b, c)| b != c).map(|(b, c)| (*b, *c)).collect();
    // 7.5% of 2000 people move or leave; the draw is random, so the bounds are wide.
    assert!((100..=200).contains(&differing.len()), "{} rows differ", differing.len());
    for (before, after) in &differing {
        let before: Vec<&str> = before.split(',').collect();
        let after: Vec<&str> = after.split(',').collect();
        assert_eq!(before[..3], after[..3], "key and name stay: {before:?} {after:?}");
        assert_eq!(before[8], after[8], "start date stays: {before:?} {after:?}");
        let moved = before[4] != after[4];
        let left = after[7] == "Terminated" && before[7] == "Active";
        assert!(moved != left, "a row either moves or leaves: {before:?} {after:?}");
    }
    assert!(changed_rows[base_rows.len()..].iter().all(|row| row.contains(",Active,2026-")), "joiners start in 2026");
}

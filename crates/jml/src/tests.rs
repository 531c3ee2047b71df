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
    let taken = taken_by(&users);
    compute_plan(PlanInput {
        mapping: &mapping,
        policy: &policy,
        feed,
        users,
        taken,
        now: datetime!(2026-12-04 12:00 UTC),
        options: PlanOptions { full_feed },
    })
}

/// Builds the complete set of emails and user names that `users` have, where each user name is the email.
fn taken_by(users: &[CurrentUser]) -> TakenIdentifiers {
    let mut taken = TakenIdentifiers { complete: true, ..TakenIdentifiers::default() };
    for user in users {
        let Some(email) = &user.attributes.email else { continue };
        let holder = Holder { user_id: user.id, unique_id: Some(user.unique_id.to_lowercase()) };
        taken.emails.insert(email.to_lowercase(), holder.clone());
        taken.user_names.insert(email.to_lowercase(), holder);
    }
    taken
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
        policy_roles: roles.into(),
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
    assert!(plan.errors[1].reason.contains("not a day of the calendar"), "{:#?}", plan.errors[1]);
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

    // Ada's row is still there but lost its key. No one may be archived, since the missing person may be her.
    let keyless = format!("{HEADER}5,\"New, Person\",Sales,Rep,01/02/19,,Active,,1\n,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n");
    let guarded = plan(&keyless, users_again(&first), true);
    assert_eq!(guarded.counts["archive"], 0, "{guarded:#?}");
    assert_eq!(guarded.errors.len(), 1, "the keyless row is an error: {:#?}", guarded.errors);
    assert!(
        guarded.warnings.iter().any(|w| w.line == 3 && w.message.contains("archives nobody")),
        "a warning should say why nobody is archived: {:#?}",
        guarded.warnings
    );
}

fn users_again(first: &Plan) -> Vec<CurrentUser> {
    first.changes.iter().enumerate().map(|(i, c)| user_from(c, i as i64 + 10)).collect()
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
        taken: TakenIdentifiers { complete: true, ..TakenIdentifiers::default() },
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
        taken: TakenIdentifiers { complete: true, ..TakenIdentifiers::default() },
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

/// Plans `feed` against holders of emails and user names that are not feed people (such as SCIM users), running
/// the look-up rounds as the service does against `held` (folded value, holder id, is it a user name).
fn plan_with_holders(feed: &str, held: &[(&str, i64, bool)]) -> (Plan, usize) {
    let mapping = Mapping::parse(MAPPING).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let feed = read_mapped_feed(feed.as_bytes(), &mapping).unwrap();
    let mut taken = TakenIdentifiers::default();
    let mut rounds = 0;
    loop {
        let wanted = identifiers_to_look_up(&mapping, &feed, &[], &taken);
        if wanted.is_empty() {
            break;
        }
        rounds += 1;
        assert!(rounds < 20, "the look-up rounds should end");
        assert!(wanted.iter().all(|w| !taken.looked_up.contains(w)), "a round repeats a value: {wanted:?}");
        for (value, id, is_user_name) in held {
            if wanted.contains(*value) {
                let holder = Holder { user_id: *id, unique_id: None };
                let map = if *is_user_name { &mut taken.user_names } else { &mut taken.emails };
                map.insert((*value).to_string(), holder);
            }
        }
        taken.looked_up.extend(wanted);
    }
    let plan = compute_plan(PlanInput {
        mapping: &mapping,
        policy: &policy,
        feed,
        users: vec![],
        taken,
        now: datetime!(2026-12-04 12:00 UTC),
        options: PlanOptions::default(),
    });
    (plan, rounds)
}

const EMAIL_HEADER: &str = "id,name,email,dept,title,start,end,status,manager\n";

/// Plans `feed` with the sample mapping plus an email column, so rows may give their own email.
fn plan_with_email_column(feed: &str, held: &[(&str, i64, bool)]) -> Plan {
    let mapping_text = MAPPING.replace("[columns]\n", "[columns]\nemail = \"email\"\n");
    let mapping = Mapping::parse(&mapping_text).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let feed = read_mapped_feed(feed.as_bytes(), &mapping).unwrap();
    let mut taken = TakenIdentifiers { complete: true, ..TakenIdentifiers::default() };
    for (value, id, is_user_name) in held {
        let map = if *is_user_name { &mut taken.user_names } else { &mut taken.emails };
        map.insert((*value).to_string(), Holder { user_id: *id, unique_id: None });
    }
    compute_plan(PlanInput {
        mapping: &mapping,
        policy: &policy,
        feed,
        users: vec![],
        taken,
        now: datetime!(2026-12-04 12:00 UTC),
        options: PlanOptions::default(),
    })
}

#[test]
fn derived_email_skips_other_users() {
    let feed = format!(
        "{HEADER}1,\"Doe, Jane\",Sales,Rep,01/02/19,,Active,,1\n2,\"Doe, Jane A\",Sales,Rep,01/02/19,,Active,,1\n"
    );
    // jane.doe@ is a SCIM user's email, and jane.doe2@ another user's user name.
    let held = [("jane.doe@example.com", 7, false), ("jane.doe2@example.com", 8, true)];

    let (plan, _) = plan_with_holders(&feed, &held);

    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    assert_eq!(change(&plan, "1").attributes.email.as_deref(), Some("jane.doe3@example.com"));
    assert_eq!(change(&plan, "2").attributes.email.as_deref(), Some("jane.doe4@example.com"));
    assert_eq!(plan.warnings.len(), 2, "{:#?}", plan.warnings);
    assert!(plan.warnings[0].message.contains("jane.doe3@example.com"), "{:#?}", plan.warnings);
}

#[test]
fn long_variant_chain_needs_few_rounds() {
    let feed = format!("{HEADER}1,\"Doe, Jane\",Sales,Rep,01/02/19,,Active,,1\n");
    let variants: Vec<String> =
        (1..=12).map(|n| if n == 1 { "jane.doe@example.com".into() } else { format!("jane.doe{n}@example.com") }).collect();
    let held: Vec<(&str, i64, bool)> = variants.iter().map(|v| (v.as_str(), 1, false)).collect();

    let (plan, rounds) = plan_with_holders(&feed, &held);

    assert_eq!(change(&plan, "1").attributes.email.as_deref(), Some("jane.doe13@example.com"));
    assert!(rounds <= 4, "each round looks several variants ahead, but took {rounds} rounds");
}

#[test]
fn given_email_of_other_user_is_row_error() {
    let feed = format!(
        "{EMAIL_HEADER}1,\"Doe, Jane\",jane@corp.example,Sales,Rep,01/02/19,,Active,\n\
         2,\"Roe, Rick\",RICK@corp.example,Sales,Rep,01/02/19,,Active,\n\
         3,\"Poe, Pat\",pat@corp.example,Sales,Rep,01/02/19,,Active,\n"
    );
    let held = [("jane@corp.example", 41, false), ("rick@corp.example", 42, true)];

    let plan = plan_with_email_column(&feed, &held);

    let lines: Vec<u64> = plan.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 3], "{:#?}", plan.errors);
    assert!(plan.errors[0].reason.contains("jane@corp.example belongs to user 41"), "{:#?}", plan.errors);
    assert!(plan.errors[1].reason.contains("user name of user 42"), "{:#?}", plan.errors);
    assert_eq!(plan.changes.len(), 1, "only the row without a clash is planned: {:#?}", plan.changes);
    assert_eq!(plan.counts["errors"], 2);
    assert_eq!(plan.counts["unchanged"], 0);
}

#[test]
fn given_email_twice_in_feed_is_row_error() {
    let feed = format!(
        "{EMAIL_HEADER}1,\"Doe, Jane\",jane.doe@example.com,Sales,Rep,01/02/19,,Active,\n\
         2,\"Doe, John\",Jane.Doe@example.com,Sales,Rep,01/02/19,,Active,\n\
         3,\"Doe, Jane B\",,Sales,Rep,01/02/19,,Active,\n"
    );

    let plan = plan_with_email_column(&feed, &[]);

    assert_eq!(plan.errors.len(), 1, "{:#?}", plan.errors);
    assert_eq!(plan.errors[0].line, 3);
    assert!(plan.errors[0].reason.contains("also given on line 2"), "{:#?}", plan.errors);
    assert_eq!(change(&plan, "3").attributes.email.as_deref(), Some("jane.doe2@example.com"), "a derived email avoids given ones");
}

#[test]
fn existing_user_keeps_own_email() {
    let first = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n"), vec![], false);
    let user = user_from(&first.changes[0], 10);

    let again = plan(&format!("{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,01/02/19,,Active,,1\n"), vec![user], false);

    assert!(again.errors.is_empty(), "{:#?}", again.errors);
    assert!(again.warnings.is_empty(), "{:#?}", again.warnings);
    assert_eq!(again.counts["unchanged"], 1);
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

#[test]
fn loaded_users_variants_skip_look_up() {
    // Forty feed people named Jane Doe already have jane.doe@ to jane.doe40@, and a SCIM user outside the feed has
    // jane.doe41@. A forty-first Jane Doe joins.
    let mapping = Mapping::parse(MAPPING).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let mut rows = String::from(HEADER);
    let mut users = Vec::new();
    for n in 1..=41 {
        rows.push_str(&format!("{n},\"Doe, Jane\",Sales,Rep,01/02/20,,Active,,1\n"));
        if n <= 40 {
            let email = if n == 1 { "jane.doe@example.com".to_string() } else { format!("jane.doe{n}@example.com") };
            let attributes = Attributes {
                first_name: Some("Jane".into()),
                last_name: Some("Doe".into()),
                email: Some(email),
                job_title: Some("Rep".into()),
                department: Some("Sales".into()),
                start_date: Some(time::macros::date!(2020 - 01 - 02)),
                ..Attributes::default()
            };
            users.push(CurrentUser {
                id: n,
                unique_id: n.to_string(),
                attributes,
                state: UserState::Active,
                policy_roles: PolicyRoles::default(),
                owned: true,
                scheduled: Vec::new(),
                fingerprint: "1".into(),
            });
        }
    }
    let feed = read_mapped_feed(rows.as_bytes(), &mapping).unwrap();
    let mut in_database: BTreeMap<String, Holder> = users
        .iter()
        .map(|u| (u.attributes.email.clone().unwrap(), Holder { user_id: u.id, unique_id: Some(u.unique_id.clone()) }))
        .collect();
    in_database.insert("jane.doe41@example.com".into(), Holder { user_id: 99, unique_id: None });

    let prepared = PreparedFeed::new(&mapping, feed, &users);
    let mut taken = TakenIdentifiers::default();
    let mut asked = Vec::new();
    loop {
        let wanted = prepared.identifiers_to_look_up(&taken);
        if wanted.is_empty() {
            break;
        }
        asked.extend(wanted.iter().cloned());
        for value in &wanted {
            if let Some(holder) = in_database.get(value) {
                taken.emails.insert(value.clone(), holder.clone());
                taken.user_names.insert(value.clone(), holder.clone());
            }
        }
        taken.looked_up.extend(wanted);
    }
    let plan = prepared.plan(&policy, &taken, datetime!(2026-12-04 12:00 UTC), PlanOptions::default());

    assert_eq!(change(&plan, "41").attributes.email.as_deref(), Some("jane.doe42@example.com"), "{plan:#?}");
    let loaded_asked: Vec<&String> = asked.iter().filter(|v| users.iter().any(|u| u.attributes.email.as_ref() == Some(*v))).collect();
    assert!(loaded_asked.is_empty(), "emails the loaded users hold need no look-up, but these were asked: {loaded_asked:?}");
    assert!(asked.len() <= 8, "the joiner should need a few look-ups, not one per Jane Doe: {asked:?}");
}

#[test]
fn policy_roles_share_entries_and_find_by_grant() {
    let grant = |role: &str| Grant { role: role.into(), resource_type: None, resource_id: None };
    let everyone = std::sync::Arc::new((grant("employee"), "everyone".to_string()));
    let sales = std::sync::Arc::new((grant("crm_user"), "sales".to_string()));
    let repeated = std::sync::Arc::new((grant("employee"), "later".to_string()));
    let roles = PolicyRoles::new(vec![std::sync::Arc::clone(&sales), std::sync::Arc::clone(&everyone), repeated]);

    assert_eq!(roles.get(&grant("employee")).map(String::as_str), Some("everyone"), "the first entry of a grant is kept");
    assert_eq!(roles.get(&grant("crm_user")).map(String::as_str), Some("sales"));
    assert_eq!(roles.get(&grant("admin")), None);
    let order: Vec<&str> = roles.iter().map(|(grant, _)| grant.role.as_str()).collect();
    assert_eq!(order, vec!["crm_user", "employee"], "entries are in grant order");
    assert_eq!(std::sync::Arc::strong_count(&everyone), 2, "the user's roles share the entry instead of copying it");
    let from_map: PolicyRoles = BTreeMap::from([(grant("employee"), "everyone".to_string()), (grant("crm_user"), "sales".to_string())]).into();
    assert_eq!(from_map.iter().count(), 2);
}

#[test]
fn manager_chains_apply_top_down() {
    let feed = format!(
        "{HEADER}4,\"Four, Report\",Sales,Rep,01/02/20,,Active,Lead Three,1\n\
         5,\"Five, Alone\",Sales,Rep,01/02/20,,Active,,1\n\
         3,\"Three, Lead\",Sales,Lead,01/02/20,,Active,Head Two,1\n\
         6,\"Six, Report\",Sales,Rep,01/02/20,,Active,Head Two,1\n\
         2,\"Two, Head\",Sales,Head,01/02/20,,Active,Chief One,1\n\
         1,\"One, Chief\",Sales,Chief,01/02/20,,Active,,1\n"
    );
    let plan = plan(&feed, vec![], false);
    let order: Vec<&str> = plan.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(order, vec!["1", "2", "3", "4", "5", "6"], "each manager comes before their reports, others keep feed order");
}

#[test]
fn date_errors_tell_format_from_calendar() {
    let feed = format!(
        "{HEADER}1,\"Lovelace, Ada\",Engineering,Lead,2019-01-02,,Active,,1\n\
         2,\"Doe, Jane\",Sales,Rep,02/31/19,,Active,,1\n"
    );
    let plan = plan(&feed, vec![], false);
    let reasons: Vec<&str> = plan.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons[0].contains("does not match the date format \"%m/%d/%y\""), "{reasons:?}");
    assert!(reasons[1].contains("\"02/31/19\" in column start is not a day of the calendar"), "{reasons:?}");
}

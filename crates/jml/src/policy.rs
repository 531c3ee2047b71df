//! The access policy (TOML): birthright rules from a person's attributes to role grants.
//!
//! ```toml
//! [[rule]]
//! name = "everyone"
//! grant = [{ role = "stakeholder" }]
//!
//! [[rule]]
//! name = "it-developers"
//! department = "IT/IS"            # equals, after whitespace normalisation, ignoring case
//! job_title_matches = "*engineer*" # a pattern with * and ?, ignoring case
//! grant = [{ role = "workspace_member", resource_type = "workspace", resource_id = "it" }]
//! ```
//!
//! Every condition of a rule must hold. Rules are evaluated in file order, and a role granted by several rules
//! records the first of them, so the result is the same on every run.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::JmlError;
use crate::mapping::normalise;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub department: Option<String>,
    pub department_matches: Option<String>,
    pub job_title: Option<String>,
    pub job_title_matches: Option<String>,
    /// True: only people who manage someone in the feed; false: only people who manage nobody.
    pub is_manager: Option<bool>,
    pub grant: Vec<Grant>,
}

/// A role grant by role type name, scoped to a resource when the role type needs one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub role: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

/// The attributes a rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub department: Option<&'a str>,
    pub job_title: Option<&'a str>,
    pub is_manager: bool,
}

impl Policy {
    /// Parses and checks a policy file. Role names are checked against the catalogue by the service.
    pub fn parse(text: &str) -> Result<Self, JmlError> {
        let policy: Policy = toml::from_str(text).map_err(|e| JmlError::Policy(e.to_string()))?;
        let mut names = BTreeSet::new();
        for rule in &policy.rules {
            if rule.name.trim().is_empty() {
                return Err(JmlError::Policy("every rule needs a name".into()));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(JmlError::Policy(format!("the rule name {:?} is used twice; give each rule its own name", rule.name)));
            }
            if rule.grant.is_empty() {
                return Err(JmlError::Policy(format!("rule {:?} grants nothing; add grant = [{{ role = \"...\" }}]", rule.name)));
            }
            for grant in &rule.grant {
                if grant.resource_type.is_some() != grant.resource_id.is_some() {
                    return Err(JmlError::Policy(format!(
                        "rule {:?} grants {:?} with only one of resource_type and resource_id; give both or neither",
                        rule.name, grant.role
                    )));
                }
            }
        }
        Ok(policy)
    }

    /// Every role name the policy uses.
    pub fn role_names(&self) -> BTreeSet<&str> {
        self.rules.iter().flat_map(|r| r.grant.iter().map(|g| g.role.as_str())).collect()
    }

    /// Evaluates the rules for one subject: each granted role with the first rule that grants it.
    pub fn evaluate(&self, subject: Subject<'_>) -> BTreeMap<Grant, String> {
        let mut granted = BTreeMap::new();
        for rule in &self.rules {
            if rule.matches(subject) {
                for grant in &rule.grant {
                    granted.entry(grant.clone()).or_insert_with(|| rule.name.clone());
                }
            }
        }
        granted
    }
}

impl Policy {
    /// Lists every (grant, rule) pair whose rule matches the subject, not only the first rule per grant, so an
    /// access review accepts a grant recorded under any rule that still grants it.
    pub fn matching_grants(&self, subject: Subject<'_>) -> BTreeSet<(Grant, String)> {
        self.rules
            .iter()
            .filter(|rule| rule.matches(subject))
            .flat_map(|rule| rule.grant.iter().map(|grant| (grant.clone(), rule.name.clone())))
            .collect()
    }
}

impl Rule {
    fn matches(&self, subject: Subject<'_>) -> bool {
        let equals = |wanted: &Option<String>, actual: Option<&str>| match wanted {
            None => true,
            Some(wanted) => actual.is_some_and(|a| normalise(a).to_lowercase() == normalise(wanted).to_lowercase()),
        };
        let matches = |pattern: &Option<String>, actual: Option<&str>| match pattern {
            None => true,
            Some(pattern) => actual.is_some_and(|a| glob_match(&pattern.to_lowercase(), &normalise(a).to_lowercase())),
        };
        equals(&self.department, subject.department)
            && matches(&self.department_matches, subject.department)
            && equals(&self.job_title, subject.job_title)
            && matches(&self.job_title_matches, subject.job_title)
            && self.is_manager.is_none_or(|wanted| wanted == subject.is_manager)
    }
}

/// Matches `*` (any run of characters) and `?` (one character).
fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == '?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[[rule]]
name = "everyone"
grant = [{ role = "stakeholder" }]

[[rule]]
name = "production"
department_matches = "prod*"
grant = [{ role = "workspace_member", resource_type = "workspace", resource_id = "production" }]

[[rule]]
name = "managers"
is_manager = true
grant = [{ role = "stakeholder" }, { role = "user_admin" }]
"#;

    fn policy() -> Policy {
        match Policy::parse(POLICY) {
            Ok(p) => p,
            Err(e) => unreachable!("{e}"),
        }
    }

    #[test]
    fn first_rule_recorded() {
        let granted = policy().evaluate(Subject { department: Some("Production  "), job_title: None, is_manager: true });
        let names: Vec<(&str, &str)> = granted.iter().map(|(g, r)| (g.role.as_str(), r.as_str())).collect();
        assert_eq!(names, vec![("stakeholder", "everyone"), ("user_admin", "managers"), ("workspace_member", "production")]);
    }

    #[test]
    fn pattern_needs_match() {
        let granted = policy().evaluate(Subject { department: Some("Sales"), job_title: None, is_manager: false });
        assert_eq!(granted.len(), 1);
    }

    #[test]
    fn glob_cases() {
        assert!(glob_match("*engineer*", "senior engineer ii"));
        assert!(glob_match("it/??", "it/is"));
        assert!(!glob_match("it/?", "it/is"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn duplicate_rule_name_rejected() {
        let text = "[[rule]]\nname = \"a\"\ngrant = [{ role = \"x\" }]\n[[rule]]\nname = \"a\"\ngrant = [{ role = \"y\" }]\n";
        assert!(Policy::parse(text).is_err());
    }
}

//! A generator of realistic synthetic HR feeds: departments, job titles, manager chains and churn, for the
//! README's walk-through and for benchmarks. It is deterministic for a given seed.

use std::fmt::Write as _;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia", "Tim",
    "Hedy", "John", "Katherine", "Donald", "Élodie", "Søren", "Zoë", "José", "Ngozi", "Mei", "Arjun", "Fatima",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra",
    "Perlman", "Berners-Lee", "Lamarr", "McCarthy", "Johnson", "Knuth", "Dubois", "Kierkegaard", "Núñez", "García",
    "Okafor", "Chen", "Patel", "Haddad",
];
const DEPARTMENTS: &[(&str, &[&str])] = &[
    ("Engineering", &["Software Engineer", "Senior Software Engineer", "Site Reliability Engineer"]),
    ("Sales", &["Account Executive", "Sales Engineer"]),
    ("Finance", &["Accountant", "Financial Analyst"]),
    ("Operations", &["Operations Analyst", "Support Specialist"]),
    ("People", &["Recruiter", "HR Partner"]),
];

/// Settings of a generated feed.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    pub people: usize,
    /// Percent of people who left (terminated rows), such as 2 for about 2% monthly churn.
    pub churn_percent: u32,
    pub seed: u64,
}

/// A small xorshift generator; the feed must be reproducible, not unpredictable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// Writes a CSV feed with the columns `employee_id,name,email,department,job_title,manager_id,status,start_date,
/// end_date`, matching `examples/synthetic-mapping.toml`. The first person of each department manages it and
/// reports to person 1; everyone else reports to their department's manager or a team lead. About `churn_percent`
/// percent of the people, never a manager of a department, left (terminated rows), and no one reports to a team
/// lead who left.
pub fn generate_csv(options: GenerateOptions) -> String {
    generate_changed_csv(options, 0)
}

/// Writes the feed of [`generate_csv`] for the same options, with about `changed_percent` percent of the people
/// changed, as the next export of the same HR system would show them. For every 4 changes, 2 people move to
/// another department and title, 1 leaves (terminated with an end date in 2026) and 1 joiner is added at the end.
/// Department heads and person 1 never change, so the manager chains stay as they are. The changes come from
/// their own random sequence, so the unchanged rows are byte for byte those of [`generate_csv`], and
/// `changed_percent` 0 writes exactly its feed.
pub fn generate_changed_csv(options: GenerateOptions, changed_percent: u32) -> String {
    let mut rng = Rng(options.seed.max(1));
    let mut change_rng = Rng(options.seed.max(1).rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15);
    // Movers and leavers are 3 of every 4 changes, drawn per person in ten-thousandths.
    let change_chance = usize::try_from(changed_percent).unwrap_or(100).min(100) * 75;
    let mut out = String::from("employee_id,name,email,department,job_title,manager_id,status,start_date,end_date\n");
    let mut department_heads: Vec<Option<usize>> = vec![None; DEPARTMENTS.len()];
    // Whether each person, by index, has left, so that no one reports to a team lead who left.
    let mut has_left = vec![false; options.people + 1];
    for index in 1..=options.people {
        let first = FIRST_NAMES[rng.below(FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.below(LAST_NAMES.len())];
        let mut department = if index == 1 { 0 } else { rng.below(DEPARTMENTS.len()) };
        let (department_name, titles) = DEPARTMENTS[department];
        let (mut title, mut manager) = match department_heads[department] {
            _ if index == 1 => ("Chief Executive Officer".to_string(), None),
            None => {
                department_heads[department] = Some(index);
                (format!("Head of {department_name}"), Some(1))
            }
            Some(head) => {
                // One person in ten leads a team under the department head, so chains are three deep.
                let lead = if index > 20 && rng.below(10) != 0 { Some(index - 1 - rng.below(10.min(index - 2))) } else { None };
                let lead = lead.filter(|l| *l > head && !has_left.get(*l).copied().unwrap_or(false));
                (titles[rng.below(titles.len())].to_string(), lead.or(Some(head)))
            }
        };
        // Department heads stay, so that every department keeps a manager who is a user.
        let is_head = department_heads.contains(&Some(index)) || index == 1;
        let mut left = rng.below(100) < usize::try_from(options.churn_percent).unwrap_or(0) && !is_head;
        if let Some(slot) = has_left.get_mut(index) {
            *slot = left;
        }
        let start = format!("20{:02}-{:02}-{:02}", 10 + rng.below(15), 1 + rng.below(12), 1 + rng.below(28));
        let mut end = if left { format!("2026-{:02}-{:02}", 1 + rng.below(11), 1 + rng.below(28)) } else { String::new() };

        if changed_percent > 0 && !left && !is_head && change_rng.below(10_000) < change_chance {
            if change_rng.below(3) == 0 {
                left = true;
                end = format!("2026-{:02}-{:02}", 1 + change_rng.below(11), 1 + change_rng.below(28));
            } else {
                // The new department's head manages the mover, or person 1 while that department has no head yet.
                department = (department + 1 + change_rng.below(DEPARTMENTS.len() - 1)) % DEPARTMENTS.len();
                let titles = DEPARTMENTS[department].1;
                title = titles[change_rng.below(titles.len())].to_string();
                manager = department_heads[department].or(Some(1));
            }
        }
        let department_name = DEPARTMENTS[department].0;
        let status = if left { "Terminated" } else { "Active" };
        let manager = manager.map(|m| format!("E{m:06}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "E{index:06},\"{last}, {first}\",,{department_name},{title},{manager},{status},{start},{end}"
        );
    }

    let joiners = options.people * usize::try_from(changed_percent).unwrap_or(100).min(100) / 400;
    for index in options.people + 1..=options.people + joiners {
        let first = FIRST_NAMES[change_rng.below(FIRST_NAMES.len())];
        let last = LAST_NAMES[change_rng.below(LAST_NAMES.len())];
        let department = change_rng.below(DEPARTMENTS.len());
        let (department_name, titles) = DEPARTMENTS[department];
        let title = titles[change_rng.below(titles.len())];
        let manager = department_heads[department].unwrap_or(1);
        let start = format!("2026-{:02}-{:02}", 1 + change_rng.below(11), 1 + change_rng.below(28));
        let _ = writeln!(
            out,
            "E{index:06},\"{last}, {first}\",,{department_name},{title},E{manager:06},Active,{start},"
        );
    }
    out
}

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
/// reports to person 1; everyone else reports to their department's manager or a team lead.
pub fn generate_csv(options: GenerateOptions) -> String {
    let mut rng = Rng(options.seed.max(1));
    let mut out = String::from("employee_id,name,email,department,job_title,manager_id,status,start_date,end_date\n");
    let mut department_heads: Vec<Option<usize>> = vec![None; DEPARTMENTS.len()];
    for index in 1..=options.people {
        let first = FIRST_NAMES[rng.below(FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.below(LAST_NAMES.len())];
        let department = if index == 1 { 0 } else { rng.below(DEPARTMENTS.len()) };
        let (department_name, titles) = DEPARTMENTS[department];
        let (title, manager) = match department_heads[department] {
            _ if index == 1 => ("Chief Executive Officer".to_string(), None),
            None => {
                department_heads[department] = Some(index);
                (format!("Head of {department_name}"), Some(1))
            }
            Some(head) => {
                // One person in ten leads a team under the department head, so chains are three deep.
                let lead = if index > 20 && rng.below(10) != 0 { Some(index - 1 - rng.below(10.min(index - 2))) } else { None };
                (titles[rng.below(titles.len())].to_string(), lead.filter(|l| *l > head).or(Some(head)))
            }
        };
        let left = index > 1 && rng.below(100) < usize::try_from(options.churn_percent).unwrap_or(0);
        let start = format!("20{:02}-{:02}-{:02}", 10 + rng.below(15), 1 + rng.below(12), 1 + rng.below(28));
        let end = if left { format!("2026-{:02}-{:02}", 1 + rng.below(11), 1 + rng.below(28)) } else { String::new() };
        let status = if left { "Terminated" } else { "Active" };
        let manager = manager.map(|m| format!("E{m:06}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "E{index:06},\"{last}, {first}\",,{department_name},{title},{manager},{status},{start},{end}"
        );
    }
    out
}

//! Writes a synthetic HR feed to stdout, for the README's walk-through and for benchmarks:
//!
//! ```sh
//! cargo run -q -p roster-jml --example generate_feed -- --people 1000 --churn-percent 2 --seed 7 > feed.csv
//! ```
//!
//! `--changed-percent N` writes the same population with about N percent of the people changed (movers, leavers
//! and joiners), as the next export of the same HR system: run it with the same `--people`, `--churn-percent` and
//! `--seed` as the first feed.
//!
//! The feed matches `examples/synthetic-mapping.toml`.

use roster_jml::generate::{GenerateOptions, generate_changed_csv};
use std::io::Write;

const USAGE: &str = "usage: generate_feed [--people N] [--churn-percent 0-100] [--seed N] [--changed-percent 0-100]";

fn main() -> std::process::ExitCode {
    let mut options = GenerateOptions { people: 100, churn_percent: 2, seed: 1 };
    let mut changed_percent = 0;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("Writes a synthetic HR feed (CSV) to stdout.\n{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        let value = args.next();
        let parsed = value.as_deref().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), parsed) {
            ("--people", Some(n)) => options.people = usize::try_from(n).unwrap_or(usize::MAX),
            ("--churn-percent", Some(n)) if n <= 100 => options.churn_percent = u32::try_from(n).unwrap_or(100),
            ("--seed", Some(n)) => options.seed = n,
            ("--changed-percent", Some(n)) if n <= 100 => changed_percent = u32::try_from(n).unwrap_or(100),
            _ => {
                eprintln!("invalid argument {flag} {}; {USAGE}", value.unwrap_or_default());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let csv = generate_changed_csv(options, changed_percent);
    if let Err(error) = std::io::stdout().lock().write_all(csv.as_bytes()) {
        eprintln!("writing the feed failed: {error}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

//! Integration tests of the client commands (`roster users`, `roles`, `scheduled`, `jml` and `access`). Each test
//! starts the real server as `common` describes, then runs the real `roster` binary as a client against it with
//! `--url` and `ROSTER_TOKEN`, on SQLite and on PostgreSQL.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod jml;
mod roles;
mod scheduled;
mod users;

use common::{Run, TestServer};

/// Runs a client command against `server` with the admin token.
async fn run(server: &TestServer, args: &[&str]) -> anyhow::Result<Run> {
    Ok(Run::new(&server.client(args).await?))
}

/// Checks that a run failed with exactly one `error:` line that contains every part of `expected`.
#[track_caller]
fn assert_one_error(run: &Run, expected: &[&str]) {
    assert!(!run.success, "the command should fail: {}", run.describe());
    let lines = run.error_lines();
    assert_eq!(lines.len(), 1, "the failure should print one error line: {}", run.describe());
    for part in expected {
        assert!(lines[0].contains(part), "the error line should contain {part:?}: {}", run.describe());
    }
}

#[test]
fn missing_data_dir_rejected() -> anyhow::Result<()> {
    let parent = tempfile::tempdir()?;
    let missing = parent.path().join("typo");
    let missing_text = missing.to_string_lossy().to_string();
    let output_file = parent.path().join("export.jsonl").to_string_lossy().to_string();

    // A mistyped --data-dir must fail instead of creating an empty database that exports or verifies as fine.
    let commands: [&[&str]; 3] = [
        &["export", "--output", &output_file, "--data-dir", &missing_text],
        &["audit", "verify", "--data-dir", &missing_text],
        &["token", "list", "--data-dir", &missing_text],
    ];
    for args in commands {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(args).output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "`roster {}` should fail on a missing data directory", args.join(" "));
        assert!(stderr.contains("no Roster database"), "`roster {}` should name the cause: {stderr}", args.join(" "));
        assert!(!missing.exists(), "`roster {}` should not create the data directory", args.join(" "));
    }
    Ok(())
}

#[test]
fn unreachable_database_fails_clearly() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let started = std::time::Instant::now();

    // Nothing listens on port 1 of loopback, so every attempt is refused until the one-second budget is spent.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db-connect-timeout", "1", "--data-dir"])
        .arg(data.path())
        .env("ROSTER_DATABASE_URL", "postgres://roster:s3cret-password@127.0.0.1:1/roster")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(!output.status.success(), "serve should exit with an error: {stderr}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "serve should keep retrying for the whole timeout");
    assert!(stderr.contains("127.0.0.1:1"), "the error should name the host and port: {stderr}");
    assert!(stderr.contains("attempt(s)"), "the error should say how often it tried: {stderr}");
    assert!(!stderr.contains("s3cret-password"), "the password must not appear in the output: {stderr}");
    Ok(())
}

//! Command-line parsing, the commands that act on the database directly, and the dispatch of the client commands
//! that call a server's HTTP API.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use roster_domain::UserRef;
use roster_service::{Actor, Roster, SystemClock, TokenRequest};
use std::path::PathBuf;
use std::sync::Arc;

use crate::client::{AccessArgs, JmlArgs, RolesArgs, ScheduledArgs, UsersArgs};
use crate::database::DatabaseArgs;
use crate::serve::{LogFormat, ServeArgs, serve};

/// Roster: the system of record for people and their role assignments.
#[derive(Debug, Parser)]
#[command(name = "roster", version)]
pub struct Cli {
    /// Log line format.
    #[arg(long, global = true, env = "ROSTER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write the whole deployment as JSON Lines (users, roles, role types, tokens as hashes, snapshots, scheduled
    /// actions and the audit trail).
    Export {
        /// The file to write; `-` writes to stdout.
        #[arg(long, default_value = "-")]
        output: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Read an export into a new, empty database; compares row counts and verifies the audit chain.
    Import {
        /// The file to read; `-` reads stdin.
        #[arg(long)]
        input: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Manage users through a server's API (--url, ROSTER_TOKEN).
    Users(UsersArgs),
    /// Read and sync a user's roles through a server's API (--url, ROSTER_TOKEN).
    Roles(RolesArgs),
    /// List and cancel scheduled actions through a server's API (--url, ROSTER_TOKEN).
    Scheduled(ScheduledArgs),
    /// Joiner, mover and leaver work through a server's API (--url, ROSTER_TOKEN).
    Jml(JmlArgs),
    /// Review and fix the difference between approved and held roles through a server's API (--url, ROSTER_TOKEN).
    Access(AccessArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print only its secret on stdout.
    Create {
        /// A name for the token; shown in the audit trail and as the default approver of its grants.
        #[arg(long)]
        name: String,
        /// A scope: users:read, users:write, roles:write, audit:read or admin. Repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// The id or email of the user who owns the token; it stops working while that user is not active.
        #[arg(long)]
        user: Option<String>,
        /// Days until the token expires; without it the token does not expire.
        #[arg(long)]
        expires_in: Option<i64>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by id.
    Revoke {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit trail's hash chain and name the first entry that does not match.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Logs to stderr, so stdout carries only command output such as a new token. The server logs at `info` by
/// default, other commands at `warn`; `RUST_LOG` overrides both. Lines are written by a background thread, so a
/// slow terminal or pipe does not stall request handling. Dropping the returned guard flushes them.
fn init_logging(format: LogFormat, default_filter: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Not lossy: when the queue is full, callers wait rather than lose lines.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(std::io::stderr());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
    guard
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let default_filter = if matches!(cli.command, Command::Serve(_)) { "info,sqlx=warn" } else { "warn" };
    let _log_guard = init_logging(cli.log_format, default_filter);

    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(database) => {
            let store = database.open().await?;
            let versions = store.applied_versions().await?;
            println!("database {} is at schema version {}", database.location().redacted(), versions.last().unwrap_or(&0));
            store.close().await;
            Ok(())
        }
        Command::Token(command) => token(command).await,
        Command::Audit(AuditCommand::Verify { database }) => audit_verify(database).await,
        Command::Export { output, database } => export(&output, database).await,
        Command::Import { input, database } => import(&input, database).await,
        Command::Users(args) => crate::client::run_users(args).await,
        Command::Roles(args) => crate::client::run_roles(args).await,
        Command::Scheduled(args) => crate::client::run_scheduled(args).await,
        Command::Jml(args) => crate::client::run_jml(args).await,
        Command::Access(args) => crate::client::run_access(args).await,
    }
}

async fn export(output: &std::path::Path, database: DatabaseArgs) -> anyhow::Result<()> {
    let roster = roster_for(&database).await?;

    let counts = if output.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        roster.export(&mut out).await.map_err(describe)?
    } else {
        let file = create_private(output).with_context(|| format!("cannot create {}", output.display()))?;
        let mut out = std::io::BufWriter::new(file);
        roster.export(&mut out).await.map_err(describe)?
    };
    roster.store().close().await;

    eprintln!("exported {}", summarise(&counts));
    Ok(())
}

async fn import(input: &std::path::Path, database: DatabaseArgs) -> anyhow::Result<()> {
    // An import may create its target, such as a new SQLite data directory.
    let roster = Roster::new(database.open().await?, Arc::new(SystemClock));

    let counts = if input.as_os_str() == "-" {
        let mut reader = std::io::BufReader::new(std::io::stdin().lock());
        roster.import(&mut reader).await.map_err(describe)?
    } else {
        let file = std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
        let mut reader = std::io::BufReader::new(file);
        roster.import(&mut reader).await.map_err(describe)?
    };
    roster.store().close().await;

    println!("imported {}; row counts match the export and the audit chain verifies", summarise(&counts));
    Ok(())
}

/// Creates a file readable by its owner only, since an export contains personal data and token hashes.
fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn summarise(counts: &roster_service::TableCounts) -> String {
    counts.iter().map(|(table, count)| format!("{count} {table}")).collect::<Vec<_>>().join(", ")
}

async fn roster_for(database: &DatabaseArgs) -> anyhow::Result<Roster> {
    let store = database.open_existing().await?;
    Ok(Roster::new(store, Arc::new(SystemClock)))
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, scopes, user, expires_in, database } => {
            let roster = roster_for(&database).await?;
            let user = match user {
                Some(text) => Some(UserRef::parse(&text).with_context(|| format!("--user {text:?} is neither a numeric id nor an email"))?),
                None => None,
            };
            let request = TokenRequest { name, scopes, user, expires_in_days: expires_in };
            let created = roster.create_token(&Actor::cli(), request).await.map_err(describe)?;
            println!("{}", created.secret);
            roster.store().close().await;
        }
        TokenCommand::List { database } => {
            let roster = roster_for(&database).await?;
            let tokens = roster.list_tokens(&Actor::cli(), None).await.map_err(describe)?;
            let now = roster.clock().now();
            println!("{:<6} {:<24} {:<10} {:<8} {:<28} SCOPES", "ID", "NAME", "STATE", "USER", "EXPIRES");
            for token in tokens {
                let state = token.state(now);
                let user = token.user_id.map_or("-".to_string(), |id| id.to_string());
                let expires = token.expires_at.map_or("never".to_string(), |t| t.canonical());
                println!("{:<6} {:<24} {:<10} {:<8} {:<28} {}", token.id, token.name, state, user, expires, token.scopes.to_stored());
            }
            roster.store().close().await;
        }
        TokenCommand::Revoke { id, database } => {
            let roster = roster_for(&database).await?;
            roster.revoke_token(&Actor::cli(), id, None).await.map_err(describe)?;
            println!("revoked token {id}");
            roster.store().close().await;
        }
    }
    Ok(())
}

async fn audit_verify(database: DatabaseArgs) -> anyhow::Result<()> {
    let roster = roster_for(&database).await?;

    let result = roster.verify_audit().await.map_err(describe)?;
    roster.store().close().await;

    match result.first_mismatch {
        None => {
            println!("audit chain verified: {} entries", result.checked);
            Ok(())
        }
        Some((seq, reason)) => bail!("audit chain broken at entry {seq}: {reason} ({} entries before it verified)", result.checked),
    }
}

/// Turns a service error into one clear line, naming the field for validation errors.
fn describe(error: roster_service::ServiceError) -> anyhow::Error {
    match error {
        roster_service::ServiceError::Validation(errors) => anyhow::anyhow!("invalid input: {errors}"),
        other => anyhow::anyhow!("{other}"),
    }
}

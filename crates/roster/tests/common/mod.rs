//! The test harness: the real `roster` binary started on an ephemeral loopback port, one server per test and
//! backend, and [`api_test!`], which runs one test body against SQLite and against PostgreSQL.
//!
//! SQLite gets a fresh temporary data directory. PostgreSQL gets a fresh schema `roster_t_<uuid>` in the
//! database that `ROSTER_TEST_DATABASE_URL` names. The server selects it through the `search_path` option of its
//! `--database` URL, so its migrations create their tables there, and the schema is dropped when the test ends.
//! When the variable is unset, the PostgreSQL leg is skipped with a notice on stderr, except under `CI=true`,
//! where it fails. A set variable whose server cannot be reached always fails, because setting it requests the
//! PostgreSQL leg.

#![allow(dead_code)]

use anyhow::{Context, bail, ensure};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The environment variable with the URL of the PostgreSQL database that tests create their schemas in.
pub const DATABASE_URL_VAR: &str = "ROSTER_TEST_DATABASE_URL";

/// The line prefix the server prints on stdout once it accepts connections.
const LISTENING_PREFIX: &str = "Roster is listening on http://";

/// How long a debug build may take to migrate, bootstrap and bind.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a SIGTERM'd server may take to finish in-flight requests and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the test waits for one HTTP response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to wait for the PostgreSQL server before failing the test.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Database connections per server; small, because tests run in parallel against one PostgreSQL server.
const SERVER_MAX_CONNECTIONS: &str = "8";

/// Environment variables of the server that would override the arguments the harness passes.
const SERVER_ENV: &[&str] = &["ROSTER_LISTEN", "ROSTER_DATA_DIR", "ROSTER_DATABASE_URL", "ROSTER_LOG_FORMAT"];

/// Environment variables of the client commands that would override what a test passes.
const CLIENT_ENV: &[&str] = &["ROSTER_URL", "ROSTER_TOKEN", "ROSTER_TOKEN_FILE", "ROSTER_LOG_FORMAT"];

static SKIP_NOTICE: Once = Once::new();

/// Defines a module `$name` holding two tests, `sqlite` and `postgres`, that each run `$body` with `$server`
/// bound to a freshly started [`TestServer`] on that backend. The body may use `?`.
macro_rules! api_test {
    ($name:ident, |$server:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                $crate::common::run_on($crate::common::Backend::Sqlite, |$server| async move {
                    #[allow(unused_mut)]
                    let mut $server = $server;
                    $body
                    Ok(())
                })
                .await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                $crate::common::run_on($crate::common::Backend::Postgres, |$server| async move {
                    #[allow(unused_mut)]
                    let mut $server = $server;
                    $body
                    Ok(())
                })
                .await
            }
        }
    };
}

/// The database engine a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL schema made for one test.
#[derive(Debug, Clone)]
struct PgSchema {
    admin_url: String,
    name: String,
}

impl PgSchema {
    /// Returns the URL that the server and direct SQL edits use: the admin URL with `search_path` set to the schema.
    fn server_url(&self) -> String {
        let separator = if self.admin_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.admin_url, self.name)
    }
}

/// Runs `body` with a fresh server on `backend`, stops the server and removes its database afterwards, also
/// when the body fails or panics. Returns without running the body when the PostgreSQL leg is skipped.
pub async fn run_on<F, Fut>(backend: Backend, body: F) -> anyhow::Result<()>
where
    F: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let schema = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => match create_schema().await? {
            Some(schema) => Some(schema),
            None => return Ok(()),
        },
    };

    let server = match TestServer::start(backend, schema.clone()).await {
        Ok(server) => server,
        Err(error) => {
            if let Some(schema) = &schema {
                let _ = drop_schema(schema).await;
            }
            return Err(error);
        }
    };

    // The body runs as its own task and owns the server. A failed assert unwinds through the server's `Drop`, which
    // kills the process, and comes back here as a `JoinError`. Only then is the schema dropped.
    let outcome = tokio::spawn(body(server)).await;
    let released = match &schema {
        Some(schema) => drop_schema(schema).await,
        None => Ok(()),
    };

    match outcome {
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(error.into()),
        Ok(result) => result.and(released),
    }
}

/// Returns the PostgreSQL URL, `None` when the leg is skipped, or an error when `CI=true` requires it.
fn postgres_url() -> anyhow::Result<Option<String>> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => bail!(
            "{DATABASE_URL_VAR} is not set, and CI=true requires the PostgreSQL tests: set it to a database URL \
             such as postgres://postgres@127.0.0.1:5432/test"
        ),
        _ => {
            // libtest captures `eprintln!` of passing tests, so the notice goes straight to stderr, once per run.
            SKIP_NOTICE.call_once(|| {
                let _ = writeln!(std::io::stderr(), "skipped postgres: {DATABASE_URL_VAR} is not set");
            });
            Ok(None)
        }
    }
}

async fn connect_admin(url: &str) -> anyhow::Result<PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => {
            bail!("connecting to PostgreSQL ({DATABASE_URL_VAR}) failed: {error}; start the server or fix the URL")
        }
        Err(_) => bail!(
            "connecting to PostgreSQL ({DATABASE_URL_VAR}) timed out after {} s; start the server or fix the URL",
            CONNECT_TIMEOUT.as_secs()
        ),
    }
}

async fn create_schema() -> anyhow::Result<Option<PgSchema>> {
    let Some(admin_url) = postgres_url()? else {
        return Ok(None);
    };

    // The name is generated here from hex digits only, so it is safe to splice into SQL.
    let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = connect_admin(&admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating the test schema {name} failed"))?;
    admin.close().await?;

    Ok(Some(PgSchema { admin_url, name }))
}

async fn drop_schema(schema: &PgSchema) -> anyhow::Result<()> {
    let mut admin = connect_admin(&schema.admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.name)))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping the test schema {} failed", schema.name))?;
    admin.close().await?;
    Ok(())
}

/// A running `roster serve` process with its own data directory (and PostgreSQL schema), and an HTTP client
/// that sends the admin token. Dropping it kills the process and removes the data directory.
pub struct TestServer {
    backend: Backend,
    schema: Option<PgSchema>,
    data_dir: TempDir,
    /// The server's stderr (its log), kept outside the data directory.
    log_dir: TempDir,
    child: Option<Child>,
    base_url: String,
    admin_token: String,
    /// What the most recent start printed on stdout before the listening line.
    startup_output: Vec<String>,
    /// Extra environment variables and arguments of `serve`, used from the next start on.
    server_env: Vec<(String, String)>,
    server_args: Vec<String>,
    client: reqwest::Client,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestServer {
    async fn start(backend: Backend, schema: Option<PgSchema>) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new().prefix("roster-api-test-").tempdir()?;
        let log_dir = tempfile::Builder::new().prefix("roster-api-log-").tempdir()?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client failed")?;

        let mut server = Self {
            backend,
            schema,
            data_dir,
            log_dir,
            child: None,
            base_url: String::new(),
            admin_token: String::new(),
            startup_output: Vec::new(),
            server_env: Vec::new(),
            server_args: Vec::new(),
            client,
        };
        server.spawn().await?;

        let token_path = server.data_dir().join("admin-token");
        let token = std::fs::read_to_string(&token_path)
            .with_context(|| format!("reading the admin token file {} failed", token_path.display()))?;
        server.admin_token = token.trim().to_string();
        ensure!(!server.admin_token.is_empty(), "the admin token file {} is empty", token_path.display());
        Ok(server)
    }

    /// Starts the process and waits for its listening line.
    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log_path = self.log_path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening the server log {} failed", log_path.display()))?;

        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command.arg("serve").arg("--listen").arg("127.0.0.1:0").arg("--db-max-connections").arg(SERVER_MAX_CONNECTIONS);
        command.args(self.database_args());
        for name in SERVER_ENV {
            command.env_remove(name);
        }
        command.env("RUST_LOG", "info,sqlx=warn").env("NO_COLOR", "1");
        command.args(&self.server_args).envs(self.server_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(log));
        let mut child = command.spawn().context("starting the roster binary failed")?;

        // A thread forwards stdout line by line, and keeps draining it so the server never blocks on a full pipe.
        let stdout = child.stdout.take().context("the server's stdout was not captured")?;
        let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    // The receiver is gone, but reading on keeps the pipe drained.
                    continue;
                }
            }
        });
        self.child = Some(child);

        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let mut printed = Vec::new();
        let address = loop {
            match tokio::time::timeout_at(deadline, lines_rx.recv()).await {
                Ok(Some(line)) => match parse_listening_line(&line) {
                    Some(address) => break address,
                    None => printed.push(line),
                },
                Ok(None) => bail!(
                    "the server exited before it printed its listening line; stdout: {printed:?}; log tail:\n{}",
                    self.log_tail()
                ),
                Err(_) => bail!(
                    "the server printed no listening line within {} s; stdout: {printed:?}; log tail:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                ),
            }
        };

        self.base_url = format!("http://{address}");
        self.startup_output = printed;
        Ok(())
    }

    /// Stops the server with SIGTERM, as an operator would, and returns its exit status. A server that does not
    /// exit within the stop timeout is killed, and that is an error.
    pub async fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the server is not running");
        };

        let signalled = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        ensure!(signalled.is_ok_and(|s| s.success()), "sending SIGTERM to the server (pid {}) failed", child.id());

        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() > STOP_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not exit within {} s of SIGTERM; log tail:\n{}", STOP_TIMEOUT.as_secs(), self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets an environment variable of the server process from its next start on; `None` removes it.
    pub fn set_server_env(&mut self, name: &str, value: Option<&str>) {
        self.server_env.retain(|(k, _)| k != name);
        if let Some(value) = value {
            self.server_env.push((name.to_string(), value.to_string()));
        }
    }

    /// Sets extra `serve` arguments, such as `--scheduler-interval-ms 20`, from the next start on.
    pub fn set_server_args(&mut self, args: &[&str]) {
        self.server_args = args.iter().map(|a| a.to_string()).collect();
    }

    /// Waits for the server to exit by itself, as at a crash point, and returns its exit status.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the server is not running");
        };
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not exit within {} s; log tail:\n{}", timeout.as_secs(), self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the server again on the same data directory (and schema), on a new port.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        ensure!(self.child.is_none(), "the server is still running; stop it first");
        self.spawn().await
    }

    /// Stops the server gracefully and starts it again on the same data.
    pub async fn restart(&mut self) -> anyhow::Result<ExitStatus> {
        let status = self.stop().await?;
        self.start_again().await?;
        Ok(status)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    fn log_path(&self) -> PathBuf {
        self.log_dir.path().join("server.log")
    }

    /// Returns the server's log (its stderr) across every start.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Returns the last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Returns what the most recent start printed on stdout before its listening line.
    pub fn startup_output(&self) -> &[String] {
        &self.startup_output
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Returns the absolute URL of `path`, which starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Returns the `--data-dir` and, on PostgreSQL, `--database` arguments that point a command at this server's data.
    fn database_args(&self) -> Vec<String> {
        let mut args = vec!["--data-dir".to_string(), self.data_dir().display().to_string()];
        if let Some(schema) = &self.schema {
            args.push("--database".into());
            args.push(schema.server_url());
        }
        args
    }

    /// Runs `roster ARGS... --data-dir DIR [--database URL]` on this server's data and waits for it.
    pub async fn cli(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
        command.args(args).args(self.database_args());
        for name in SERVER_ENV {
            command.env_remove(name);
        }
        command.env("RUST_LOG", "warn").env("NO_COLOR", "1").stdin(Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(START_TIMEOUT, command.output())
            .await
            .with_context(|| format!("roster {args:?} did not finish within {} s", START_TIMEOUT.as_secs()))?
            .with_context(|| format!("running roster {args:?} failed"))?;
        Ok(output)
    }

    /// Runs the client command `roster ARGS... --url BASE_URL` with `ROSTER_TOKEN` set to the admin token.
    pub async fn client(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.client_with(Some(&self.admin_token), args).await
    }

    /// Runs the client command `roster ARGS... --url BASE_URL` with `ROSTER_TOKEN` set to `token`, or unset for
    /// `None`, and waits for it. Stdin is empty and stdout is a pipe, so output defaults to JSON.
    pub async fn client_with(&self, token: Option<&str>, args: &[&str]) -> anyhow::Result<Output> {
        self.client_at(&self.base_url, token, args).await
    }

    /// Runs the client command `roster ARGS... --url URL` as [`TestServer::client_with`] does, for a URL other
    /// than this server's.
    pub async fn client_at(&self, url: &str, token: Option<&str>, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
        command.args(args).arg("--url").arg(url);
        for name in CLIENT_ENV {
            command.env_remove(name);
        }
        if let Some(token) = token {
            command.env("ROSTER_TOKEN", token);
        }
        command.env("RUST_LOG", "warn").env("NO_COLOR", "1").stdin(Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(REQUEST_TIMEOUT, command.output())
            .await
            .with_context(|| format!("roster {args:?} did not finish within {} s", REQUEST_TIMEOUT.as_secs()))?
            .with_context(|| format!("running roster {args:?} failed"))?;
        Ok(output)
    }

    /// Executes one SQL statement directly on the server's database, bypassing the service, and returns the
    /// number of rows it changed. Used to simulate tampering and to move times into the past.
    pub async fn execute_sql(&self, sql: &str) -> anyhow::Result<u64> {
        let rows = match &self.schema {
            None => {
                let options = SqliteConnectOptions::new()
                    .filename(self.data_dir().join("roster.db"))
                    .busy_timeout(Duration::from_secs(10));
                let mut conn = SqliteConnection::connect_with(&options).await.context("opening the SQLite file failed")?;
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut conn).await;
                conn.close().await?;
                done.with_context(|| format!("executing {sql:?} on SQLite failed"))?.rows_affected()
            }
            Some(schema) => {
                let mut conn = connect_admin(&schema.server_url()).await?;
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut conn).await;
                conn.close().await?;
                done.with_context(|| format!("executing {sql:?} on PostgreSQL failed"))?.rows_affected()
            }
        };
        Ok(rows)
    }

    /// Runs a query that returns one integer, such as a `COUNT(*)`, directly on the server's database.
    pub async fn query_i64(&self, sql: &str) -> anyhow::Result<i64> {
        let value = match &self.schema {
            None => {
                let options = SqliteConnectOptions::new().filename(self.data_dir().join("roster.db")).read_only(true);
                let mut conn = SqliteConnection::connect_with(&options).await.context("opening the SQLite file failed")?;
                let found = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut conn).await;
                conn.close().await?;
                found.with_context(|| format!("querying {sql:?} on SQLite failed"))?
            }
            Some(schema) => {
                let mut conn = connect_admin(&schema.server_url()).await?;
                let found = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut conn).await;
                conn.close().await?;
                found.with_context(|| format!("querying {sql:?} on PostgreSQL failed"))?
            }
        };
        Ok(value)
    }

    /// Builds a request that carries the admin token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.admin_token)
    }

    /// Builds a request that carries `token`.
    pub fn request_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    /// Builds a request without an `Authorization` header.
    pub fn request_anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends a request and reads the whole response.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Reply> {
        let response = request.send().await.context("sending the request failed")?;
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    /// Sends `PATCH` without a body, as the archive route expects.
    pub async fn patch_empty(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(self.request(Method::PATCH, path)).await
    }

    /// Creates a user from `attributes` and returns its id. Fails unless the status is 201.
    pub async fn create_user(&self, attributes: Value) -> anyhow::Result<String> {
        let reply = self.post("/core/users", &user_document(attributes)).await?;
        ensure!(reply.status == StatusCode::CREATED, "creating a user failed: {}", reply.describe());
        reply.id()
    }

    /// Returns the id of the role type named `name`.
    pub async fn role_type_id(&self, name: &str) -> anyhow::Result<String> {
        let reply = self.get("/core/role_types").await?;
        ensure!(reply.status == StatusCode::OK, "listing role types failed: {}", reply.describe());
        let found = reply.data_items().iter().find(|r| r["attributes"]["name"] == name).map(|r| r["id"].clone());
        match found {
            Some(Value::String(id)) => Ok(id),
            _ => bail!("no role type is named {name:?}: {}", reply.describe()),
        }
    }

    /// Creates a token owned by `user_id` with `scopes` through the API and returns `(token id, secret)`.
    pub async fn create_user_token(&self, user_id: &str, name: &str, scopes: &[&str]) -> anyhow::Result<(String, String)> {
        let body = json!({ "data": { "type": "user_app_tokens", "attributes": { "name": name, "scopes": scopes } } });
        let reply = self.post(&format!("/core/users/{user_id}/user_app_tokens"), &body).await?;
        ensure!(reply.status == StatusCode::CREATED, "creating a user token failed: {}", reply.describe());
        let secret = reply.attr("token").as_str().context("the created token has no attributes.token")?.to_string();
        Ok((reply.id()?, secret))
    }

    /// Creates a token with `scopes` and no owner through `roster token create`, and returns its secret.
    pub async fn create_cli_token(&self, name: &str, scopes: &[&str]) -> anyhow::Result<String> {
        let mut args = vec!["token", "create", "--name", name];
        for scope in scopes {
            args.push("--scope");
            args.push(scope);
        }
        let output = self.cli(&args).await?;
        ensure!(
            output.status.success(),
            "roster token create failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let secret = String::from_utf8(output.stdout).context("roster token create printed invalid UTF-8")?;
        Ok(secret.trim().to_string())
    }

    /// Counts the audit entries, read through the API.
    pub async fn audit_count(&self) -> anyhow::Result<i64> {
        let reply = self.get("/core/action_logs?page[size]=1").await?;
        ensure!(reply.status == StatusCode::OK, "listing action logs failed: {}", reply.describe());
        reply.body["meta"]["total_count"].as_i64().context("the first page of action logs has no meta.total_count")
    }
}

/// Parses `Roster is listening on http://ADDR (database: ...)`.
fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix(LISTENING_PREFIX)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Wraps user attributes in a JSON:API `users` document.
pub fn user_document(attributes: Value) -> Value {
    json!({ "data": { "type": "users", "attributes": attributes } })
}

/// Percent-encodes one path segment, such as an email address.
pub fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A response read in full: status, headers and the body as text and, when it is JSON, parsed.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The parsed body; `Null` when the body is empty or not JSON.
    pub body: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> anyhow::Result<Self> {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.context("reading the response body failed")?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Self { status, headers, text, body })
    }

    /// Describes the response for assert messages: the status and the start of the body.
    pub fn describe(&self) -> String {
        let shown: String = self.text.chars().take(600).collect();
        format!("{} {shown}", self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Returns the first error object, or `Null`.
    pub fn error(&self) -> &Value {
        &self.body["errors"][0]
    }

    pub fn error_code(&self) -> Option<&str> {
        self.error()["code"].as_str()
    }

    /// Lists `source.pointer` of every error object.
    pub fn pointers(&self) -> Vec<String> {
        self.errors().iter().filter_map(|e| e["source"]["pointer"].as_str().map(str::to_string)).collect()
    }

    pub fn errors(&self) -> &[Value] {
        self.body["errors"].as_array().map(Vec::as_slice).unwrap_or_default()
    }

    /// Returns `data` of a single-resource document.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Returns the items of a collection document's `data`.
    pub fn data_items(&self) -> &[Value] {
        self.body["data"].as_array().map(Vec::as_slice).unwrap_or_default()
    }

    /// Lists the ids of a collection document's resources, in order.
    pub fn ids(&self) -> Vec<String> {
        self.data_items().iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
    }

    /// Returns `data.id` of a single-resource document.
    pub fn id(&self) -> anyhow::Result<String> {
        match &self.body["data"]["id"] {
            Value::String(id) => Ok(id.clone()),
            _ => bail!("the response has no data.id: {}", self.describe()),
        }
    }

    /// Returns `data.attributes.NAME` of a single-resource document.
    pub fn attr(&self, name: &str) -> &Value {
        &self.body["data"]["attributes"][name]
    }
}

/// The result of one client command: exit status, stdout and stderr as text.
#[derive(Debug, Clone)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn new(output: &Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Describes the run for assert messages.
    pub fn describe(&self) -> String {
        format!("success={} stdout={:?} stderr={:?}", self.success, self.stdout, self.stderr)
    }

    /// Parses stdout as JSON, failing with the run's description.
    pub fn json(&self) -> anyhow::Result<Value> {
        ensure!(self.success, "the command failed: {}", self.describe());
        serde_json::from_str(&self.stdout).with_context(|| format!("stdout is not JSON: {}", self.describe()))
    }

    /// Returns the lines of stderr that start with `error: `.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|line| line.starts_with("error: ")).collect()
    }
}

/// Checks that `reply` is an error response with `status` in the JSON:API error format: an `errors` array whose
/// objects carry `status` (the HTTP status as a string), `code`, `title` and `detail`.
#[track_caller]
pub fn assert_error_format(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "unexpected status: {}", reply.describe());
    let errors = reply.errors();
    assert!(!errors.is_empty(), "the body should hold a non-empty errors array: {}", reply.describe());
    for error in errors {
        assert_eq!(error["status"].as_str(), Some(status.as_str()), "each error's status should be the HTTP status as a string: {error}");
        assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "each error should have a code: {error}");
        assert!(error["title"].as_str().is_some_and(|t| !t.is_empty()), "each error should have a title: {error}");
        assert!(error["detail"].as_str().is_some_and(|d| !d.is_empty()), "each error should have a detail: {error}");
    }
    let content_type = reply.header("content-type").unwrap_or("");
    assert!(content_type.starts_with("application/vnd.api+json"), "an error should be a JSON:API document, not {content_type:?}");
}

/// Checks [`assert_error_format`] and that the first error's code is `code`.
#[track_caller]
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_error_format(reply, status);
    assert_eq!(reply.error_code(), Some(code), "unexpected error code: {}", reply.describe());
}

/// Checks that `reply` is a 422 in the error format with an error whose `source.pointer` is `pointer` and whose
/// code is `code`.
#[track_caller]
pub fn assert_invalid(reply: &Reply, code: &str, pointer: &str) {
    assert_error_format(reply, StatusCode::UNPROCESSABLE_ENTITY);
    let found = reply.errors().iter().find(|e| e["source"]["pointer"] == pointer);
    assert!(found.is_some(), "an error should point at {pointer}; pointers are {:?}: {}", reply.pointers(), reply.describe());
    let found_code = found.and_then(|e| e["code"].as_str());
    assert_eq!(found_code, Some(code), "the error at {pointer} has an unexpected code: {}", reply.describe());
}

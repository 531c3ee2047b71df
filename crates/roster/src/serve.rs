//! `roster serve`: the HTTP server.

use anyhow::Context;
use clap::{Args, ValueEnum};
use roster_service::{Bootstrap, Clock, JmlSettings, Roster, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::database::DatabaseArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Milliseconds between scheduler passes, which apply due scheduled actions such as grant expiries.
    #[arg(long, env = "ROSTER_SCHEDULER_INTERVAL_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub scheduler_interval_ms: u64,

    /// Largest feed upload of `POST /core/jml/plans`, in MiB; other requests stay limited to 1 MiB.
    #[arg(long, env = "ROSTER_JML_MAX_UPLOAD_MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub jml_max_upload_mib: u64,

    /// Percentage of active users a JML plan may archive before applying it needs `allow_mass_leavers`.
    #[arg(long, env = "ROSTER_JML_MASS_LEAVER_PERCENT", default_value_t = 5.0)]
    pub jml_mass_leaver_percent: f64,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = args.database.open().await?;
    if !(0.0..=100.0).contains(&args.jml_mass_leaver_percent) {
        anyhow::bail!(
            "--jml-mass-leaver-percent is {}; give a percentage from 0 to 100",
            args.jml_mass_leaver_percent
        );
    }
    let settings = JmlSettings { mass_leaver_percent: args.jml_mass_leaver_percent };
    let roster = Roster::new(store.clone(), clock()).with_jml_settings(settings);
    let max_upload_bytes = usize::try_from(args.jml_max_upload_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!("cannot listen on {}; if another process uses it, choose another with --listen or ROSTER_LISTEN", args.listen)
        })?;
    let address = listener.local_addr()?;
    if let Bootstrap::Created(path) = roster.bootstrap(&args.database.data_dir).await? {
        print_first_start(&path, address);
    }
    println!("Roster is listening on http://{address} (database: {})", args.database.location().redacted());
    tracing::info!(address = %address, backend = store.backend().as_str(), "server started");

    let (stop_scheduler, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(run_scheduler(roster.clone(), Duration::from_millis(args.scheduler_interval_ms), stopped));

    let app = roster_http::app_with_upload_limit(roster.clone(), max_upload_bytes);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;

    roster.stop_local_runs().await;
    let _ = stop_scheduler.send(true);
    if let Err(error) = scheduler.await {
        tracing::error!(error = %error, "scheduler task ended abnormally");
    }
    store.close().await;
    tracing::info!("server stopped");
    Ok(())
}

/// Returns the clock: the system's, or in debug builds one shifted by `ROSTER_TEST_CLOCK_OFFSET_SECS`.
fn clock() -> Arc<dyn Clock> {
    #[cfg(debug_assertions)]
    if let Some(seconds) = std::env::var("ROSTER_TEST_CLOCK_OFFSET_SECS").ok().and_then(|v| v.parse::<i64>().ok()) {
        tracing::warn!(seconds, "test clock offset in effect");
        return Arc::new(roster_service::OffsetClock::new(time::Duration::seconds(seconds)));
    }
    Arc::new(SystemClock)
}

/// Applies due scheduled actions every `interval` until `stop` changes. Errors are logged and retried on the next
/// pass.
async fn run_scheduler(roster: Roster, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    tracing::info!(interval_ms = interval.as_millis() as u64, "scheduler started");
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        loop {
            match roster.run_due_actions(SCHEDULER_BATCH).await {
                Ok(pass) if pass.applied + pass.skipped + pass.failed == SCHEDULER_BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(error = %error, "scheduler pass failed; retrying on the next pass");
                    break;
                }
            }
        }
    }
    tracing::info!("scheduler stopped");
}

/// How many actions one scheduler pass applies before checking for shutdown.
const SCHEDULER_BATCH: usize = 100;

fn print_first_start(path: &std::path::Path, listen: SocketAddr) {
    println!("Created the first admin token and wrote it to {} (readable by you only).", path.display());
    println!("Try it:");
    println!("  curl -H \"Authorization: Bearer $(cat {})\" http://{listen}/core/users", path.display());
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

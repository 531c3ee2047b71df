//! `roster serve`: the HTTP server.

use anyhow::Context;
use clap::{Args, ValueEnum};
use roster_service::{Bootstrap, Roster, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;

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

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = args.database.open().await?;
    let roster = Roster::new(store.clone(), Arc::new(SystemClock));

    if let Bootstrap::Created(path) = roster.bootstrap(&args.database.data_dir).await? {
        print_first_start(&path, args.listen);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another process using it?", args.listen))?;
    let address = listener.local_addr()?;
    println!("Roster is listening on http://{address} (database: {})", args.database.location().redacted());
    tracing::info!(address = %address, backend = store.backend().as_str(), "server started");

    axum::serve(listener, roster_http::app(roster)).with_graceful_shutdown(shutdown_signal()).await?;

    store.close().await;
    tracing::info!("server stopped");
    Ok(())
}

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

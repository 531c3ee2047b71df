//! The `roster` binary: the server, its command line, and a client of its HTTP API.

mod cli;
mod client;
mod database;
mod serve;

use clap::Parser;

/// See the `mimalloc` dependency for why the server does not use the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };

    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            match error.downcast_ref::<client::ApiFailure>() {
                // The server's errors print one line each, as the server listed them.
                Some(failure) => failure.lines.iter().for_each(|line| eprintln!("error: {line}")),
                None => eprintln!("error: {error:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

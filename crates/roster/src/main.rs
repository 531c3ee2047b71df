//! The `roster` binary: the server, its command line, and a client of its HTTP API.

mod cli;
mod client;
mod database;
mod serve;

use clap::Parser;

/// See the `mimalloc` dependency for why the server does not use the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its position in `mi_option_e` of mimalloc 3's `mimalloc.h`, which the
/// bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3's default `purge_delay`, in milliseconds.
const MI_DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// The server's `purge_delay`, in milliseconds. With mimalloc 3's second, the memory that one step of a large JML
/// plan freed was still resident while the next step allocated its own, and the server's peak memory was the sum
/// of both. With no delay, every page that a request emptied went back to the system, and the next request faulted
/// it in again. A SCIM page of 100 users spent a third of its time there: the server returned 1,000 pages/s with no
/// delay and 1,480/s with this one.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Makes mimalloc return freed pages to the system soon after they empty. The option is set only while it still
/// has mimalloc 3's default, which also checks that the position names the right option and keeps a
/// `MIMALLOC_PURGE_DELAY` from the environment.
fn purge_freed_memory_soon() {
    // SAFETY: mi_option_get and mi_option_set only read and write mimalloc's option table, and an option's index
    // outside the table is ignored.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
}

/// Threads for blocking work, such as reads on the synchronous SQLite readers. Tokio starts a new thread whenever no
/// idle one is waiting at that instant, and keeps each for 10 s. Under 32 concurrent list requests the server kept
/// 21 of them, each with its own allocator pages, although the store runs at most four such reads at once.
const MAX_BLOCKING_THREADS: usize = 8;

fn main() -> std::process::ExitCode {
    purge_freed_memory_soon();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(MAX_BLOCKING_THREADS).enable_all().build() {
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

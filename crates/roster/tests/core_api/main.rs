//! Integration tests of the `/core` HTTP API. Each test starts the real `roster` binary on an ephemeral loopback
//! port and talks to it over HTTP. Each test written with `api_test!` runs twice, on SQLite and on PostgreSQL, as
//! `common` describes.
//!
//! All modules form one test binary, so the HTTP client and sqlx are linked once.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod archive;
mod audit;
mod concurrency;
mod errors;
mod jml;
mod jml_configs;
mod lists;
mod operations;
mod role_types;
mod roles;
mod scheduled;
mod scopes;
mod tokens;
mod users;

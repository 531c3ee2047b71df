//! Integration tests of the store. Each test written with `store_test!` runs twice, on a fresh SQLite database
//! and on a fresh PostgreSQL schema. `common` describes how those are made and when PostgreSQL is skipped.
//!
//! All modules form one test binary, so the crate and sqlx are linked once.

// Fixture literals are checked by `expect`, which fails the test with its message like a failed assert does.
#![allow(clippy::expect_used)]

#[macro_use]
mod common;

mod audit;
mod jml;
mod concurrency;
mod lists;
mod migrations;
mod roles;
mod scheduled;
mod point_reads;
mod settings;
mod snapshots;
mod tokens;
mod users;

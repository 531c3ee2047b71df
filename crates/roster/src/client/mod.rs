//! The `users`, `roles`, `scheduled`, `jml` and `access` commands: a thin client of the HTTP API. Each command
//! sends one or a few requests and prints what the server returns; the rules live in the server.

mod api;
mod commands;
mod jml;
mod jml_config;
mod output;

pub use api::ApiFailure;
pub use jml::{AccessArgs, run_access};
pub use commands::{JmlArgs, RolesArgs, ScheduledArgs, UsersArgs, run_jml, run_roles, run_scheduled, run_users};

//! Route handlers: each authorises, validates, calls the service and maps the result.

pub mod access_review;
pub mod audit;
pub mod health;
pub mod jml;
pub mod jml_configs;
pub mod role_types;
pub mod roles;
pub mod scheduled_actions;
pub mod tokens;
pub mod users;

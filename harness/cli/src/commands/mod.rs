//! Subcommands of bc-harness, one module each; each `run` returns an exit code.
//! Shared helpers for loading suites live in `load`.

pub mod docker;
pub mod explore;
pub mod list;
pub mod load;
pub mod run;
pub mod schema;
pub mod validate;

//! The bc-harness engine: environments, faults, the observation timeline, checks, the runner and reports.
//! The CLI is a thin shell over this crate; the suite crate feeds it a validated model.
//!
//! # Layers
//! The top-level modules form layers, lowest first: `observe`, `check`, `event`, `report`,
//! `env` (its `docker` runtime included), `fault`, `run`, `explore`, `lab`. A module uses only its
//! own layer and those below (`report` consumes events and verdicts, never the runner or the
//! environment), and adds no inherent methods to another module's types. `tests/pure/architecture.rs`
//! checks this on the sources; its `LAYERS` table is the one definition of the order.

pub mod check;
pub mod env;
pub mod event;
pub mod explore;
pub mod fault;
pub mod lab;
pub mod observe;
pub mod report;
pub mod run;

// The Docker runtime is part of env (it implements env's `Runtime`); kept at `bc_engine::docker`.
pub use env::docker;
// Every command's exit codes, defined beside the event summary; kept at `bc_engine::exit`.
pub use event::exit;

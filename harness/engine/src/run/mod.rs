//! The runner: suites -> plan -> per-scenario environment, desktop, steps and checks, emitting one
//! stream of RunEvents that every report consumes.

pub mod flap;
pub mod load;
pub mod runner;
pub mod scenario;
pub mod translate;

// The event stream lives below the reports that consume it; the runner is its producer.
pub use crate::event::{RunEvent, ScenarioInfo, ScenarioResult, Summary};
pub use load::{load_profile, load_runs, parse_capabilities, LoadError, PlannedRun};
pub use runner::{run, run_and_report, signal_cancel, RunError, RunOptions};
pub use scenario::SLACK_MS;

//! The runner: suites -> plan -> per-scenario environment, desktop, steps and checks, emitting one
//! stream of RunEvents that every report consumes.

pub mod attach;
mod herd_synth;
pub mod identity;
pub mod keep;
pub mod load;
pub mod order;
pub mod partition;
mod phone;
pub mod profile;
mod replay;
pub mod runner;
pub mod scenario;
pub mod session;
mod shape;
mod signal;
pub mod translate;
pub mod worker;

// The event stream lives below the reports that consume it; the runner is its producer.
pub use crate::event::{HarnessTiming, RunEvent, ScenarioInfo, ScenarioResult, Summary};
pub use attach::Attach;
pub use keep::{KeepSlot, KeptEnv, KeptScenario};
pub use load::{load_runs, parse_capabilities, LoadError, PlannedRun};
pub use order::default_jobs;
pub use profile::{load_profile, DeclaredTimers, Profile};
pub use runner::{run, RunError, RunOptions};
pub use scenario::{MAX_LATENESS_MS, STALL_MS};
pub use session::{check_desktop, Session, Settings, Shape};
pub use signal::signal_cancel;

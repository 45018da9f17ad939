//! Chaos exploration (`bc-harness explore`): seeded, state-aware fault schedules run as suites,
//! invariants checked by the runner's checkers, failures shrunk and written as reproducing suites.

mod case;
pub mod emit;
mod found;
pub mod generate;
pub mod model;
mod options;
pub mod resolve;
pub mod schedule;
pub mod shrink;
mod write;

pub use emit::{emit, emit_indexed, SuiteMeta};
pub use generate::{generate, GenConfig};
pub use model::{Model, SiteState, Spec};
pub use resolve::{resolve, Resolved};
pub use schedule::{
    FaultOp, HealVia, Link, LinkKind, Member, Op, Schedule, TimedOp, Trigger, FAULT_KINDS,
};
pub use shrink::{
    shrink, Candidate, Outcome, ShrinkLimits, Shrinker, Shrunk, StopReason, DEFAULT_MIN_BUDGET,
};
pub mod runner;
pub use found::{failure_signature, signatures, ExploreReport, FoundFailure};
pub use options::{ExploreError, ExploreOptions, Progress};
pub use runner::explore;

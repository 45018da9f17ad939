//! Chaos exploration (`bc-harness explore`): seeded, state-aware fault schedules run as suites,
//! invariants checked by the runner's checkers, failures shrunk and written as reproducing suites.

pub mod emit;
pub mod generate;
pub mod model;
pub mod schedule;
pub mod shrink;

pub use emit::{emit, emit_indexed, SuiteMeta};
pub use generate::{generate, GenConfig};
pub use model::{resolve, Model, Resolved, SiteState, Spec};
pub use schedule::{FaultOp, HealVia, Link, LinkKind, Member, Op, Schedule, TimedOp, FAULT_KINDS};
pub use shrink::{shrink, Outcome, ShrinkLimits, Shrinker, Shrunk, StopReason};
pub mod runner;
pub use runner::{
    explore, explore_and_report, failure_signature, signatures, ExploreError, ExploreOptions,
    ExploreReport, FoundFailure,
};

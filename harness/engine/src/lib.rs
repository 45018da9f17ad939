//! The bc-harness engine: environments, faults, the observation timeline, checks, the runner and reports.
//! The CLI is a thin shell over this crate; the suite crate feeds it a validated model.

pub mod check;
pub mod docker;
pub mod env;
pub mod exit;
pub mod explore;
pub mod fault;
pub mod observe;
pub mod report;
pub mod run;

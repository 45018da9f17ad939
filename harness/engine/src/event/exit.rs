//! Process exit codes of `bc-harness run`, shared with the CLI (its exit_codes.rs re-exports these).
//! Harness errors outrank failures: a run whose harness failed says nothing certain about the desktop.

/// Every scenario passed (or was skipped as inapplicable).
pub const SUCCESS: i32 = 0;
/// Some scenario failed a rule or was inconclusive.
pub const FAILED: i32 = 1;
/// A suite file or the command line is wrong.
pub const USAGE: i32 = 2;
/// The harness or environment failed, or the run was interrupted.
pub const HARNESS_ERROR: i32 = 3;

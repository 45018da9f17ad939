//! Process exit codes of bc-harness, shared by every subcommand.
//! Scripts and CI rely on these values; never renumber them.

/// Everything passed (or every suite is valid).
pub const OK: u8 = 0;
/// The run completed and some scenario failed (used by `run`).
#[allow(dead_code)]
pub const SOME_FAILED: u8 = 1;
/// A suite is invalid, or the command line is wrong.
pub const SUITE_OR_USAGE_ERROR: u8 = 2;
/// The harness itself failed (I/O, internal error, environment).
pub const HARNESS_ERROR: u8 = 3;

//! bc-suite's integration tests, one module per area, linked into a single test binary.
//! Run one module with `cargo test -p bc-suite --test suite MODULE::` (e.g. `plan::`).

mod common;

mod coverage;
mod docs;
mod invalid_fixtures;
mod plan;
mod proptests;
mod schema;
mod suites_valid;

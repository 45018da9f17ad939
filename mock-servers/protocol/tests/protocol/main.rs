//! bc-protocol's integration tests, one module per area, linked into a single test binary.
//! Run one module with `cargo test -p bc-protocol --test protocol MODULE::` (e.g. `codec::`).

mod codec;
mod roundtrip;
mod schema;

//! bc-toxiproxy's integration tests, one module per area, linked into a single test binary.
//! Run one module with `cargo test -p bc-toxiproxy --test toxiproxy MODULE::` (e.g. `udp::`).

mod common;

mod api_conformance;
mod behaviour;
mod binary;
mod client_conformance;
mod model_proptest;
mod one_way;
mod udp;

//! bc-mock's integration tests, one module per area, linked into a single test binary.
//! Run one module with `cargo test -p bc-mock --test mock MODULE::` (e.g. `sipp_interop::`).

mod common;
mod sip;

mod calls_and_config;
mod fuzz;
mod ha_and_shutdown;
mod holds;
mod kept_agents;
mod login;
mod pjsua2_phone;
mod sip_fuzz;
mod sip_wire;
mod sipp_interop;

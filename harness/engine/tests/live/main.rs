//! The engine's tests on real processes and sockets (local runtime; the kill matrix's Docker rows too):
//! environment, faults, runs, exploration, gateway, herd, reports in a browser. `--test live MODULE::` runs one.

#[path = "../env_support/mod.rs"]
mod env_support;
#[path = "../html_support/mod.rs"]
mod html_support;
#[path = "../env_support/meddle.rs"]
mod meddle;

mod env_desktop;
mod env_start;
mod explore_desktops;
mod fault_config;
mod fault_flap;
mod fault_link;
mod fault_process;
mod fault_select;
mod gateway;
mod herd;
mod html_browser;
mod junit_schema;
mod kill_matrix;
mod run_e2e;
mod run_lateness;
mod run_triggers;

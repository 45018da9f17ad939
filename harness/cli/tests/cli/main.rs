//! The bc-harness binary's tests, one module per area, in one test binary: commands and exit codes,
//! interrupts on both runtimes, lab mode, hostile desktop output, shards, phones, repeats, `report`.
//! `cargo test -p bc-harness --test cli MODULE::` runs one.

mod support;

mod commands;
mod docker_groups;
mod docker_interrupt;
mod env_lab;
mod hostile_output;
mod local_interrupt;
mod partition;
mod phones;
mod repeat;
mod report_cmd;

//! bc-mock: mock Genesys SIP Server, Configuration Server Proxy and Stat Server for bc-harness.
//! Speaks the open line protocol of `bc-protocol`; observed and driven through an HTTP control API.

pub mod agents;
pub mod capacity;
pub mod config_proxy;
pub mod configdb;
pub mod conn;
pub mod control;
pub mod control_capacity;
pub mod control_holds;
pub mod dispatch;
pub mod holds;
pub mod keepalive;
pub mod observer;
pub mod options;
pub mod server;
pub mod sip;
mod sip_calls;
pub mod sipwire;
pub mod stat;
pub mod state;
pub mod stream;
pub mod sync;
pub mod sync_msg;

pub use options::{Cli, Options};
pub use server::{start, Running, StartError};

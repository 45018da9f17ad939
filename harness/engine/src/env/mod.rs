//! The test environment: topology, runtimes (local processes and Docker containers), the started
//! `Environment` with its fault proxies and observation feed, and the desktop launcher.
//!
//! Typical use (see `examples/env_bench.rs`):
//! ```no_run
//! # async fn demo() -> Result<(), bc_engine::env::EnvError> {
//! use bc_engine::env::{EnvConfig, Environment, RuntimeKind, Topology};
//! let topo = Topology::load("fixtures/config/default.yaml")?;
//! let mut env = Environment::start(EnvConfig::new(topo).with_runtime(RuntimeKind::Local)).await?;
//! let mut events = env.take_events().expect("first take");
//! let config = env.write_connection_file("agent1001")?;
//! // ... spawn the desktop with `DesktopSpec::parse(cmd)?.spawn(&config)?`, inject faults
//! // (`bc_engine::fault::Faults`) ...
//! env.reset().await?;
//! env.shutdown().await?;
//! # drop(events); Ok(()) }
//! ```

pub(crate) mod attached;
pub mod bins;
pub mod capacity;
pub mod clock;
pub mod connection;
pub mod control;
pub mod desktop;
pub mod docker;
pub mod environment;
pub mod error;
mod feed;
pub mod floor;
pub mod gateway;
pub mod holds;
pub mod infra;
mod instance_id;
pub mod limits;
pub mod local;
pub mod process;
pub mod progress;
pub mod remote;
pub mod runtime;
pub(crate) mod shared;
pub mod sip;
mod spawner;
pub mod topology;
pub mod wire;

pub use clock::now_us;
pub use connection::{ConnectionFile, FloorAgent, PairAddrs};
pub use control::{CallDelivery, Health};
pub use desktop::{Desktop, DesktopSpec, CONFIG_ENV, CONFIG_PLACEHOLDER};
pub use environment::Environment;
pub use error::EnvError;
pub use holds::{HoldFired, HoldReleased, HoldSpec};
pub use infra::{Component, InfraEvent, InfraWatch};
pub use local::LocalRuntime;
pub use process::{ExitInfo, LogLine, LogStream, MAX_LINE_BYTES};
pub use progress::{FeedProgress, Mark, Stalled, Watermark};
pub use remote::RemoteRuntime;
pub use runtime::{
    DownCause, EnvConfig, InstanceAddrs, InstanceState, InstanceStatus, KeepAlive, ProxyStatus,
    Runtime, RuntimeKind, SipLink,
};
pub use topology::{Agent, Annex, ConfigDb, InstanceId, NamedObject, Topology};
pub use wire::WireRuntime;

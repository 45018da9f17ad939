//! Docker runtime: the mock servers and the fault proxy as containers on one private network per environment.
//! Images are built locally FROM scratch (no registry); everything created carries owner labels and is removed.

pub mod client;
pub mod commands;
pub mod container;
pub mod error;
pub mod images;
mod instance;
pub mod labels;
mod launch;
pub mod layout;
pub mod runtime;
pub mod sweep;

pub use client::connect;
pub use container::{Container, ContainerSpec, Readiness, RunState, Started};
pub use error::DockerError;
pub use images::{BuildOptions, ImageSet, ProxyKind};
pub use labels::RunOwner;
pub use launch::StartReport;
pub use runtime::DockerRuntime;
pub use sweep::{clean, sweep_stale, CleanOptions, SweepReport};

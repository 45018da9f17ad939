//! bc-toxiproxy: a Toxiproxy 2.x compatible fault-injection TCP proxy (server and client), plus
//! an extension proxy kind for UDP.
//! The server speaks Toxiproxy's HTTP API; the client drives it or a real Toxiproxy.

pub mod api;
pub mod client;
pub mod collection;
mod link;
pub mod model;
pub mod proxy;
pub mod server;
pub mod toxics;
pub mod udp;

pub use client::Client;

//! bc-toxiproxy: a Toxiproxy 2.x compatible fault-injection TCP proxy (server and client).
//! The server speaks Toxiproxy's HTTP API; the client drives it or a real Toxiproxy.

pub mod api;
pub mod client;
pub mod collection;
mod link;
pub mod model;
pub mod proxy;
pub mod server;
pub mod toxics;

pub use client::Client;

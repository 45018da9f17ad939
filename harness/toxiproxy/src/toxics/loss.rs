//! The loss toxic (an extension for udp proxies): each datagram is dropped with `probability`.
//! A byte stream has no datagrams to lose, so the API refuses it on tcp proxies.

use serde::{Deserialize, Serialize};

use super::{Noop, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Loss {
    /// 0 (nothing lost) to 1 (everything lost).
    pub probability: f64,
}

impl Toxic for Loss {
    async fn pipe(&self, stub: &mut Stub) {
        // Never reached on a tcp proxy (refused there); passes data through if it were.
        Noop {}.pipe(stub).await
    }
}

//! The noop toxic: passes everything through unchanged.
//! Also what a toxic runs as on a connection where its toxicity roll failed.

use serde::{Deserialize, Serialize};

use super::{Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Noop {}

impl Toxic for Noop {
    async fn pipe(&self, stub: &mut Stub) {
        while let Some(m) = stub.recv().await {
            let end = !matches!(m, Msg::Data(_));
            stub.send(m);
            if end {
                return;
            }
        }
    }
}

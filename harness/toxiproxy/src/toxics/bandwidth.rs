//! The bandwidth toxic: limits a direction to `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy).
//! Large chunks go out in 100 ms slices; a rate of 0 or less means unlimited.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

use super::{Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bandwidth {
    pub rate: i64,
}

impl Toxic for Bandwidth {
    async fn pipe(&self, stub: &mut Stub) {
        // `cursor` is when the link is free again; it only moves forward, so no drift accumulates.
        let mut cursor = Instant::now();
        while let Some(m) = stub.recv().await {
            let mut c = match m {
                Msg::Data(c) if self.rate > 0 => c,
                Msg::Data(c) => {
                    stub.send(Msg::Data(c));
                    continue;
                }
                end => {
                    stub.send(end);
                    return;
                }
            };
            let slice = (self.rate as u64).saturating_mul(100).max(1) as usize;
            while !c.data.is_empty() {
                let n = c.data.len().min(slice);
                let cost = Duration::from_micros(n as u64 * 1000 / self.rate as u64);
                cursor = cursor.max(Instant::now()) + cost;
                if !stub.sleep_until(cursor).await {
                    cursor -= cost;
                    stub.unrecv(Msg::Data(c));
                    return;
                }
                let piece = c.split_to(n);
                stub.send(Msg::Data(piece));
            }
        }
    }
}

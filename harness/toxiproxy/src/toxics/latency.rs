//! The latency toxic: delays each chunk by `latency` ms ± `jitter` ms.
//! Delays count from when the chunk arrived, so a stream keeps its throughput (pipelined).

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::{ms, Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub latency: i64,
    pub jitter: i64,
}

impl Latency {
    fn delay(&self, stub: &mut Stub) -> Duration {
        let mut d = self.latency;
        if self.jitter > 0 {
            // Same range as Toxiproxy: [-jitter, +jitter).
            d += stub.rng.random_range(0..self.jitter.saturating_mul(2)) - self.jitter;
        }
        ms(d)
    }
}

impl Toxic for Latency {
    async fn pipe(&self, stub: &mut Stub) {
        while let Some(m) = stub.recv().await {
            match m {
                Msg::Data(mut c) => {
                    let due = c.ts + self.delay(stub);
                    if !stub.sleep_until(due).await {
                        stub.unrecv(Msg::Data(c));
                        return;
                    }
                    c.ts = c.ts.max(due);
                    stub.send(Msg::Data(c));
                }
                end => {
                    stub.send(end);
                    return;
                }
            }
        }
    }
}

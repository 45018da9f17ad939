//! The slicer toxic: cuts chunks into slices of about `average_size` ± `size_variation` bytes,
//! waiting `delay` µs between slices.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::{Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Slicer {
    pub average_size: i64,
    pub size_variation: i64,
    pub delay: i64,
}

impl Slicer {
    fn next_size(&self, stub: &mut Stub) -> usize {
        let var = self.size_variation.max(0);
        let mut size = self.average_size;
        if var > 0 {
            size += stub.rng.random_range(-var..=var);
        }
        size.max(1) as usize
    }
}

impl Toxic for Slicer {
    async fn pipe(&self, stub: &mut Stub) {
        let delay = Duration::from_micros(self.delay.max(0) as u64);
        while let Some(m) = stub.recv().await {
            let mut c = match m {
                Msg::Data(c) => c,
                end => {
                    stub.send(end);
                    return;
                }
            };
            loop {
                let n = self.next_size(stub);
                let piece = c.split_to(n);
                stub.send(Msg::Data(piece));
                if c.data.is_empty() {
                    break;
                }
                if !delay.is_zero() {
                    let due = tokio::time::Instant::now() + delay;
                    if !stub.sleep_until(due).await {
                        stub.unrecv(Msg::Data(c));
                        return;
                    }
                }
            }
        }
    }
}

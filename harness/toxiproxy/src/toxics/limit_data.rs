//! The limit_data toxic: lets `bytes` bytes through on this connection, then closes the stream.
//! The count survives updates of the toxic (Toxiproxy's stateful toxic).

use serde::{Deserialize, Serialize};

use super::{Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitData {
    pub bytes: i64,
}

impl Toxic for LimitData {
    async fn pipe(&self, stub: &mut Stub) {
        let limit = self.bytes.max(0) as u64;
        while let Some(m) = stub.recv().await {
            let mut c = match m {
                Msg::Data(c) => c,
                end => {
                    stub.send(end);
                    return;
                }
            };
            let remaining = limit.saturating_sub(stub.transmitted);
            c.truncate(remaining.min(usize::MAX as u64) as usize);
            if !c.data.is_empty() {
                stub.transmitted += c.data.len() as u64;
                stub.send(Msg::Data(c));
            }
            if stub.transmitted >= limit {
                stub.send(Msg::Close(tokio::time::Instant::now()));
                return;
            }
        }
    }
}

//! The reset_peer toxic: `timeout` ms after it started applying, tears the connection down
//! with TCP RST (SO_LINGER 0, then close); data arriving meanwhile is dropped.

use serde::{Deserialize, Serialize};

use super::{ms, Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResetPeer {
    pub timeout: i64,
}

impl Toxic for ResetPeer {
    async fn pipe(&self, stub: &mut Stub) {
        let deadline = stub.started + ms(self.timeout);
        loop {
            tokio::select! {
                m = stub.recv() => match m {
                    None => return,
                    Some(Msg::Reset) => {
                        stub.send(Msg::Reset);
                        return;
                    }
                    // Data is dropped; an early close still ends in a reset at the deadline.
                    Some(_) => {}
                },
                _ = tokio::time::sleep_until(deadline) => {
                    stub.send(Msg::Reset);
                    return;
                }
            }
        }
    }
}

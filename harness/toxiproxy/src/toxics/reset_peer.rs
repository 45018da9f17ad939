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
        let mut closed_at = None;
        loop {
            tokio::select! {
                m = stub.recv() => match m {
                    None => {
                        // Interrupted: a close seen meanwhile must not be lost if we are removed.
                        if let Some(at) = closed_at {
                            stub.unrecv(Msg::Close(at));
                        }
                        return;
                    }
                    Some(Msg::Reset) => {
                        stub.send(Msg::Reset);
                        return;
                    }
                    // An early close still ends in a reset at the deadline.
                    Some(Msg::Close(at)) => closed_at = Some(at),
                    Some(Msg::Data(_)) => {} // dropped
                },
                _ = tokio::time::sleep_until(deadline) => {
                    stub.send(Msg::Reset);
                    return;
                }
            }
        }
    }
}

//! The timeout toxic: drops all data, and closes the stream `timeout` ms after it started
//! applying; 0 never closes (the black hole). Removing it closes the connection (see ToxicKind).
//! A close arriving from the other end is held too, as in Toxiproxy (whose toxic never reads its
//! input): a silent partition must not leak a FIN, or a desktop without keep-alive would notice it.

use serde::{Deserialize, Serialize};

use super::{ms, Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeout {
    pub timeout: i64,
}

impl Toxic for Timeout {
    async fn pipe(&self, stub: &mut Stub) {
        let deadline = (self.timeout > 0).then(|| stub.started + ms(self.timeout));
        let expired = || async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        // Phase 1: swallow data until the stream ends or the deadline passes.
        let end = loop {
            tokio::select! {
                m = stub.recv() => match m {
                    None => return,
                    Some(Msg::Data(_)) => {} // dropped on the ground, as Toxiproxy does
                    Some(end) => break end,
                },
                _ = expired() => {
                    stub.send(Msg::Close(tokio::time::Instant::now()));
                    return;
                }
            }
        };
        // Phase 2: hold the end of stream until the deadline, or until the toxic is removed
        // (then it is put back, and the chain passes it on).
        tokio::select! {
            _ = stub.interrupted() => stub.unrecv(end),
            _ = expired() => stub.send(end),
        }
    }
}

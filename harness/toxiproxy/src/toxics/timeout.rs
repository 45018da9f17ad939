//! The timeout toxic: drops all data, and closes the stream `timeout` ms after it started
//! applying; 0 never closes (the black hole). Removing it closes the connection (see ToxicKind).

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
        loop {
            let expired = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                m = stub.recv() => match m {
                    None => return,
                    Some(Msg::Data(_)) => {} // dropped on the ground, as Toxiproxy does
                    Some(end) => {
                        stub.send(end);
                        return;
                    }
                },
                _ = expired => {
                    stub.send(Msg::Close(tokio::time::Instant::now()));
                    return;
                }
            }
        }
    }
}

//! The slow_close toxic: delays the close of the stream by `delay` ms.
//! Data passes unchanged; only the end of stream waits.

use serde::{Deserialize, Serialize};

use super::{ms, Msg, Stub, Toxic};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowClose {
    pub delay: i64,
}

impl Toxic for SlowClose {
    async fn pipe(&self, stub: &mut Stub) {
        while let Some(m) = stub.recv().await {
            match m {
                Msg::Data(c) => stub.send(Msg::Data(c)),
                Msg::Close(at) => {
                    // Counted from when the close happened, so an interrupt does not restart it.
                    if !stub.sleep_until(at + ms(self.delay)).await {
                        stub.unrecv(Msg::Close(at));
                        return;
                    }
                    stub.send(Msg::Close(at));
                    return;
                }
                Msg::Reset => {
                    stub.send(Msg::Reset);
                    return;
                }
            }
        }
    }
}

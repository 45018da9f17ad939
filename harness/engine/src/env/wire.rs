//! The runtime on the wire: what `env up`'s control endpoint serves (`GET /runtime`, each line of
//! `GET /runtime/watch`) and an attached run reads back into instance states.

use super::runtime::{DownCause, InstanceAddrs, InstanceState, InstanceStatus, Runtime};
use super::topology::InstanceId;
use bc_protocol::{Role, ServerKind};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One instance on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireInstance {
    pub site: String,
    pub server: ServerKind,
    pub role: Role,
    /// The group of four SIP Servers (absent: 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub group: u32,
    /// `running`, `frozen` or `down`.
    pub state: String,
    pub incarnation: u64,
    pub listen: SocketAddr,
    pub control: SocketAddr,
    pub pid: Option<u32>,
    /// Why it is down: `None` when it is not, `Some(None)`-like `requested: true` when asked.
    pub down: Option<WireDown>,
    /// The desktop-visible address of its proxy (what the connection file names).
    pub desktop: Option<SocketAddr>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// [`DownCause`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDown {
    pub requested: bool,
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// The whole runtime on the wire (`GET /runtime`, each line of `GET /runtime/watch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRuntime {
    pub kind: String,
    pub proxy_api_url: String,
    pub proxy_pid: Option<u32>,
    pub proxy_down: Option<WireDown>,
    pub instances: Vec<WireInstance>,
}

fn wire_down(d: DownCause) -> WireDown {
    match d {
        DownCause::Requested => WireDown {
            requested: true,
            code: None,
            signal: None,
        },
        DownCause::Exited { code, signal } => WireDown {
            requested: false,
            code,
            signal,
        },
    }
}

pub(super) fn down_cause(w: WireDown) -> DownCause {
    if w.requested {
        DownCause::Requested
    } else {
        DownCause::Exited {
            code: w.code,
            signal: w.signal,
        }
    }
}

impl WireRuntime {
    /// The runtime as it is now; `desktop` gives each instance's desktop-visible proxy address.
    pub fn of(
        rt: &dyn Runtime,
        desktop: impl Fn(&InstanceId) -> Option<SocketAddr>,
    ) -> WireRuntime {
        let proxy = *rt.proxy_watch().borrow();
        let instances = rt
            .instances()
            .into_iter()
            .filter_map(|id| {
                let s = rt.status(&id).ok()?;
                Some(WireInstance {
                    state: match s.state {
                        InstanceState::Running => "running",
                        InstanceState::Frozen => "frozen",
                        InstanceState::Down => "down",
                    }
                    .into(),
                    incarnation: s.incarnation,
                    listen: s.addrs.listen,
                    control: s.addrs.control,
                    pid: s.pid,
                    down: s.down.map(wire_down),
                    desktop: desktop(&id),
                    site: id.site,
                    server: id.server,
                    role: id.role,
                    group: id.group,
                })
            })
            .collect();
        WireRuntime {
            kind: rt.kind().as_str().into(),
            proxy_api_url: rt.proxy_api_url(),
            proxy_pid: proxy.pid,
            proxy_down: proxy.down.map(wire_down),
            instances,
        }
    }
}

impl WireInstance {
    pub(super) fn id(&self) -> InstanceId {
        InstanceId::new(self.site.clone(), self.server, self.role).in_group(self.group)
    }

    pub(super) fn status(&self) -> InstanceStatus {
        InstanceStatus {
            state: match self.state.as_str() {
                "running" => InstanceState::Running,
                "frozen" => InstanceState::Frozen,
                _ => InstanceState::Down,
            },
            incarnation: self.incarnation,
            addrs: InstanceAddrs {
                listen: self.listen,
                control: self.control,
                sip: None,
            },
            pid: self.pid,
            down: self.down.map(down_cause),
        }
    }
}

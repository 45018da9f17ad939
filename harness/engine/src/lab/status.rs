//! `env status`: every instance (up/killed/frozen, active or standby), every held fault and which
//! agents hold a SIP Server login where, read live from the runtime and the mocks' control APIs.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

use super::held::HeldFault;
use crate::env::{Environment, InstanceState};
use bc_protocol::{Role, ServerKind};

/// One instance as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceView {
    /// `A.sip_server.primary`.
    pub id: String,
    pub site: String,
    pub server: String,
    /// The configured slot.
    pub role: String,
    /// `up`, `killed` or `frozen`.
    pub state: String,
    /// Whether it serves (`None`: its control API did not answer).
    pub active: Option<bool>,
    /// The desktop-visible proxy address of its link.
    pub proxy: String,
    /// Live client connections.
    pub connections: usize,
    /// Its process id (local runtime; the container's main process on Docker), while it runs.
    pub pid: Option<u32>,
    /// Usernames with an agent login on one of its connections.
    pub agents: Vec<String>,
}

/// The whole environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub runtime: String,
    pub proxy_api_url: String,
    /// The fault proxy's process id, while it runs.
    pub proxy_pid: Option<u32>,
    pub instances: Vec<InstanceView>,
    pub faults: Vec<HeldFault>,
}

impl Status {
    /// Reads the environment now.
    pub async fn collect(env: &Environment, faults: Vec<HeldFault>) -> Status {
        let ids = env.instances();
        let views = ids.iter().map(|id| async move {
            let st = env.instance_status(id).ok();
            let state = match st.as_ref().map(|s| s.state) {
                Some(InstanceState::Running) => "up",
                Some(InstanceState::Frozen) => "frozen",
                Some(InstanceState::Down) | None => "killed",
            };
            // A frozen instance cannot answer: do not wait for its timeout.
            let (active, sessions) = if state == "up" {
                let (h, s) = tokio::join!(env.health(id), env.sessions(id));
                (h.ok().map(|h| h.active), s.ok())
            } else {
                (None, None)
            };
            let sessions = sessions
                .as_ref()
                .and_then(|s| s.as_array().cloned())
                .unwrap_or_default();
            let mut agents: Vec<String> = sessions
                .iter()
                .flat_map(|c| c["agents"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a["agent_id"].as_str().map(|x| username(env, x)))
                .collect();
            agents.sort();
            agents.dedup();
            InstanceView {
                id: id.to_string(),
                site: id.site.clone(),
                server: id.server.as_str().into(),
                role: id.role.as_str().into(),
                state: state.into(),
                active,
                proxy: env
                    .proxy_address(id)
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                connections: sessions.len(),
                pid: st.and_then(|s| s.pid),
                agents,
            }
        });
        // The watch's borrow must end before the await below (it is not Send).
        let proxy_pid = env.runtime().proxy_watch().borrow().pid;
        Status {
            runtime: env.runtime().kind().as_str().into(),
            proxy_api_url: env.proxy_api_url(),
            proxy_pid,
            instances: futures::future::join_all(views).await,
            faults,
        }
    }

    /// Where an agent holds a SIP Server login: `(site, role)` per login.
    pub fn logins_of(&self, username: &str) -> Vec<(String, String)> {
        self.instances
            .iter()
            .filter(|i| i.server == ServerKind::SipServer.as_str())
            .filter(|i| i.agents.iter().any(|a| a == username))
            .map(|i| (i.site.clone(), i.role.clone()))
            .collect()
    }

    /// The active member of a pair, if one is up and says so.
    pub fn active_of(&self, site: &str, server: ServerKind) -> Option<&InstanceView> {
        self.instances
            .iter()
            .find(|i| i.site == site && i.server == server.as_str() && i.active == Some(true))
    }

    /// The console form: one line per instance, then the faults and the logins.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "runtime {}   Toxiproxy API {}",
            self.runtime, self.proxy_api_url
        );
        let _ = writeln!(
            s,
            "{:<28} {:<7} {:<8} {:<22} {:>5}  agents",
            "instance", "state", "serving", "proxy", "conns"
        );
        for i in &self.instances {
            let serving = match (i.state.as_str(), i.active) {
                (_, Some(true)) => "active",
                (_, Some(false)) => "standby",
                ("up", None) => "?",
                _ => "-",
            };
            let _ = writeln!(
                s,
                "{:<28} {:<7} {:<8} {:<22} {:>5}  {}",
                i.id,
                i.state,
                serving,
                i.proxy,
                i.connections,
                i.agents.join(",")
            );
        }
        if self.faults.is_empty() {
            let _ = writeln!(s, "faults: none");
        } else {
            let _ = writeln!(s, "faults:");
            for f in &self.faults {
                let _ = writeln!(s, "  #{:<3} {}   ({})", f.id, f.fault, f.step);
            }
        }
        let mut logins: Vec<String> = Vec::new();
        for i in self
            .instances
            .iter()
            .filter(|i| i.server == ServerKind::SipServer.as_str())
        {
            for a in &i.agents {
                logins.push(format!("{a} at {} ({})", i.site, role_word(&i.role)));
            }
        }
        if logins.is_empty() {
            let _ = writeln!(s, "logged in: nobody");
        } else {
            let _ = writeln!(s, "logged in: {}", logins.join("; "));
        }
        s
    }
}

fn role_word(r: &str) -> &str {
    if r == Role::Primary.as_str() {
        "primary"
    } else {
        "backup"
    }
}

/// The username of an AgentID in the configuration database (the id itself when unknown).
fn username(env: &Environment, agent_id: &str) -> String {
    env.topology()
        .config_db()
        .persons
        .iter()
        .find(|p| p.agent_id == agent_id)
        .map(|p| p.username.clone())
        .unwrap_or_else(|| agent_id.to_string())
}

//! Runs against an environment another process owns (`env up`, `run --attach`): the environment
//! reached through its control endpoint, and the check that the previous desktop really stopped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bc_protocol::{Role, ServerKind};

use crate::env::{EnvConfig, Environment, InstanceState, RemoteRuntime};

/// How long a stopped desktop's SIP Server login may take to disappear (its connections close as
/// its process ends; the hook may return a moment before).
const STOP_SETTLE: Duration = Duration::from_secs(3);

/// Where the running environment is.
#[derive(Debug, Clone)]
pub struct Attach {
    /// The owner's control endpoint.
    pub control_url: String,
    /// The configuration database it serves (canonical path).
    pub config: PathBuf,
}

impl Attach {
    /// The environment of the owner, for a scenario whose configuration database is `config`.
    pub async fn environment(&self, cfg: EnvConfig) -> Result<Environment, String> {
        let want = std::fs::canonicalize(cfg.topology.config_db_path())
            .unwrap_or_else(|_| cfg.topology.config_db_path().to_path_buf());
        if want != self.config {
            return Err(format!(
                "the attached environment serves {}, the scenario needs {}",
                self.config.display(),
                want.display()
            ));
        }
        let rt = RemoteRuntime::connect(&self.control_url)
            .await
            .map_err(|e| format!("cannot attach to {}: {e}", self.control_url))?;
        let ours: Vec<String> = cfg
            .topology
            .instances()
            .iter()
            .map(|i| i.to_string())
            .collect();
        let theirs: Vec<String> = crate::env::Runtime::instances(&rt)
            .iter()
            .map(|i| i.to_string())
            .collect();
        if ours != theirs {
            return Err(format!(
                "the attached environment runs {theirs:?}, the scenario needs {ours:?} (topology)"
            ));
        }
        Environment::with_runtime(cfg, Box::new(rt), Instant::now())
            .await
            .map_err(|e| format!("cannot attach to {}: {e}", self.control_url))
    }
}

/// `Err("desktop not stopped: agent1001 still logged in at B")` while the agent holds a SIP Server
/// login anywhere, after giving a just-stopped desktop [`STOP_SETTLE`] to let go.
pub async fn check_no_session(env: &Environment, username: &str) -> Result<(), String> {
    let agent_id = env
        .topology()
        .agent(username)
        .map_err(|e| e.to_string())?
        .agent_id
        .clone();
    let t0 = Instant::now();
    loop {
        let mut at = Vec::new();
        for id in env.instances() {
            if id.server != ServerKind::SipServer
                || env.instance_status(&id).ok().map(|s| s.state) != Some(InstanceState::Running)
            {
                continue;
            }
            let Ok(sessions) = env.sessions(&id).await else {
                continue;
            };
            let held = sessions.as_array().into_iter().flatten().any(|c| {
                c["agents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["agent_id"] == agent_id.as_str())
            });
            if held {
                let slot = if id.role == Role::Primary {
                    ""
                } else {
                    " (backup)"
                };
                at.push(format!("{}{slot}", id.site));
            }
        }
        if at.is_empty() {
            return Ok(());
        }
        if t0.elapsed() >= STOP_SETTLE {
            return Err(format!(
                "desktop not stopped: {username} still logged in at {}",
                at.join(" and ")
            ));
        }
        // The mocks publish no "session closed" wait; a short poll within the settle bound.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! The environment an `env up` process owns, with the faults applied by hand: apply (parsed by the
//! suite's parser, confirmed by the fault layer), heal one or all, status, and the final teardown.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tokio::sync::RwLock;

use super::held::{Held, HeldFault};
use super::status::Status;
use super::words::{self, WordsError};
use crate::env::{Desktop, Environment, InstanceStatus, ProxyStatus, WireRuntime};
use crate::fault::{FaultGuard, Faults, HealReport};
use crate::observe::{format, EntryKind};
use crate::run::translate;

/// Why a request to the lab failed, with the HTTP status it answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabError {
    /// 400: the request is wrong (nothing changed); 404: no such fault; 500: the environment failed.
    pub status: u16,
    /// The text to print (diagnostics rendered).
    pub message: String,
}

impl LabError {
    fn bad(message: String) -> LabError {
        LabError {
            status: 400,
            message,
        }
    }
    fn failed(message: String) -> LabError {
        LabError {
            status: 500,
            message,
        }
    }
}

/// What healing did, per fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healed {
    pub id: u64,
    pub fault: String,
    pub healed_us: i64,
    pub actions: Vec<String>,
}

/// The runtime's watches, streamed to attached runs.
pub struct Watches {
    pub instances: Vec<tokio::sync::watch::Receiver<InstanceStatus>>,
    pub proxy: tokio::sync::watch::Receiver<ProxyStatus>,
}

/// A running environment and its hand-applied faults.
pub struct Lab {
    env: RwLock<Option<Environment>>,
    /// The timeline as it happens: `(ts_us, what)` in the report's words, for `env watch`.
    timeline: tokio::sync::broadcast::Sender<(i64, String)>,
    held: Held,
    config: PathBuf,
    agent: String,
    /// The desktop of a kept failed scenario (`run --keep-env`), stopped at the teardown.
    desktop: tokio::sync::Mutex<Option<Desktop>>,
}

impl Lab {
    /// Owns `env`; its observation feed (if not taken yet) becomes the live timeline.
    pub fn new(mut env: Environment, config: PathBuf, agent: String) -> Lab {
        let events = env.take_events();
        Lab::with_events(env, events, config, agent)
    }

    /// Owns `env` whose feed was taken already (a run's kept environment); `events` becomes the
    /// live timeline.
    pub fn with_events(
        env: Environment,
        events: Option<tokio::sync::mpsc::Receiver<bc_protocol::ObservedEvent>>,
        config: PathBuf,
        agent: String,
    ) -> Lab {
        let (timeline, _) = tokio::sync::broadcast::channel(4096);
        if let Some(mut events) = events {
            // Always read, watched or not: the feed's followers must never block on a full channel.
            let tx = timeline.clone();
            tokio::spawn(async move {
                while let Some(e) = events.recv().await {
                    let kind = EntryKind::Observed { event: e };
                    if !format::is_noise(&kind) {
                        let ts = match &kind {
                            EntryKind::Observed { event } => event.ts_us,
                            _ => 0,
                        };
                        let _ = tx.send((ts, format::describe(&kind)));
                    }
                }
            });
        }
        Lab {
            timeline,
            env: RwLock::new(Some(env)),
            held: Held::default(),
            config,
            agent,
            desktop: tokio::sync::Mutex::new(None),
        }
    }

    /// Holds a fault applied elsewhere (a kept scenario's step) as if applied by hand.
    pub fn hold(&self, step: String, guard: FaultGuard) -> HeldFault {
        self.held.insert(step, guard)
    }

    /// Keeps a running desktop until the teardown.
    pub async fn keep_desktop(&self, desktop: Desktop) {
        *self.desktop.lock().await = Some(desktop);
    }

    /// The runtime's name (`local`, `docker`).
    pub async fn runtime_kind(&self) -> String {
        let guard = self.env.read().await;
        guard
            .as_ref()
            .map(|e| e.runtime().kind().as_str().to_string())
            .unwrap_or_default()
    }

    /// The fault proxy's Toxiproxy API.
    pub async fn proxy_api_url(&self) -> String {
        let guard = self.env.read().await;
        guard
            .as_ref()
            .map(|e| e.proxy_api_url())
            .unwrap_or_default()
    }

    /// Parses the words as a suite step and applies it; nothing changes when they are invalid.
    pub async fn fault(&self, words: &[String]) -> Result<HeldFault, LabError> {
        let guard = self.env.read().await;
        let env = guard
            .as_ref()
            .ok_or_else(|| LabError::failed("the environment is shutting down".into()))?;
        let groups = env.topology().groups();
        let step = words::parse(words, &self.config, &self.agent, groups).map_err(|e| match e {
            WordsError::Suite(_) | WordsError::NotAFault(_) => LabError::bad(e.render()),
        })?;
        let dn = env
            .topology()
            .agent(&self.agent)
            .map(|a| a.dn.clone())
            .map_err(|e| LabError::failed(e.to_string()))?;
        let serving = match translate::serving_pair(&step.action) {
            Some((site, server, group)) => Some(
                env.active_instance_in(site.as_str(), server, group)
                    .await
                    .map_err(|e| LabError::failed(e.to_string()))?
                    .role,
            ),
            None => None,
        };
        let inj = translate::injection(&step.action, &dn, serving)
            .map_err(LabError::bad)?
            .ok_or_else(|| LabError::bad(format!("`{}` is not a fault", words[0])))?;
        let applied = env
            .inject(&inj.fault)
            .await
            .map_err(|e| LabError::failed(e.to_string()))?;
        let text = words::step_text(words).unwrap_or_default();
        let h = self.held.insert(text, applied);
        let _ = self.timeline.send((
            h.applied_us,
            format!("fault #{} applied by hand: {}", h.id, h.fault),
        ));
        Ok(h)
    }

    /// Heals one held fault.
    pub async fn heal(&self, id: u64) -> Result<Healed, LabError> {
        let _env = self.env.read().await;
        let (h, mut guard) = self.held.take(id).ok_or_else(|| LabError {
            status: 404,
            message: format!("no active fault #{id} (see `env status`)"),
        })?;
        let r = guard
            .heal()
            .await
            .map_err(|e| LabError::failed(e.to_string()))?;
        let _ = self.timeline.send((
            r.healed_at_us,
            format!("fault #{} healed by hand: {}", h.id, h.fault),
        ));
        Ok(healed(h, r))
    }

    /// The live timeline from now on.
    pub fn watch(&self) -> tokio::sync::broadcast::Receiver<(i64, String)> {
        self.timeline.subscribe()
    }

    /// Heals every held fault, newest first; tries them all, reports the first failure.
    pub async fn heal_all(&self) -> Result<Vec<Healed>, LabError> {
        let _env = self.env.read().await;
        let mut out = Vec::new();
        let mut first_err = None;
        for (h, mut guard) in self.held.take_all() {
            match guard.heal().await {
                Ok(r) => out.push(healed(h, r)),
                Err(e) => {
                    first_err.get_or_insert(LabError::failed(format!("#{}: {e}", h.id)));
                }
            }
        }
        first_err.map_or(Ok(out), Err)
    }

    /// The live status.
    pub async fn status(&self) -> Result<Status, LabError> {
        let guard = self.env.read().await;
        let env = guard
            .as_ref()
            .ok_or_else(|| LabError::failed("the environment is shutting down".into()))?;
        Ok(Status::collect(env, self.held.list()).await)
    }

    /// The runtime's state on the wire (for runs attached to this environment).
    pub async fn runtime(&self) -> Result<WireRuntime, LabError> {
        let guard = self.env.read().await;
        let env = guard
            .as_ref()
            .ok_or_else(|| LabError::failed("the environment is shutting down".into()))?;
        Ok(WireRuntime::of(env.runtime(), |id| {
            env.proxy_address(id).ok()
        }))
    }

    /// Every watch of the runtime (instances and fault proxy), to stream their changes.
    pub async fn watches(&self) -> Option<Watches> {
        let guard = self.env.read().await;
        let env = guard.as_ref()?;
        let rt = env.runtime();
        let instances = rt
            .instances()
            .iter()
            .filter_map(|id| rt.watch(id).ok())
            .collect();
        Some(Watches {
            instances,
            proxy: rt.proxy_watch(),
        })
    }

    /// An attached run's runtime operation on one instance, done by this process's runtime.
    pub async fn runtime_op(&self, id: &str, op: &str) -> Result<serde_json::Value, LabError> {
        let guard = self.env.read().await;
        let env = guard
            .as_ref()
            .ok_or_else(|| LabError::failed("the environment is shutting down".into()))?;
        let rt = env.runtime();
        let inst = rt
            .instances()
            .into_iter()
            .find(|i| i.to_string() == id)
            .ok_or_else(|| LabError {
                status: 404,
                message: format!("no instance `{id}`"),
            })?;
        let fail = |e: crate::env::EnvError| LabError::failed(e.to_string());
        let mut graceful = None;
        match op {
            "start" => rt.start(&inst).await.map_err(fail)?,
            "kill" => rt.kill(&inst).await.map_err(fail)?,
            "stop" => graceful = Some(rt.stop(&inst).await.map_err(fail)?),
            "freeze" => rt.freeze(&inst).await.map_err(fail)?,
            "thaw" => rt.thaw(&inst).await.map_err(fail)?,
            other => return Err(LabError::bad(format!("unknown operation `{other}`"))),
        }
        let w = WireRuntime::of(rt, |id| env.proxy_address(id).ok());
        let instance = w
            .instances
            .into_iter()
            .find(|i| i.site == inst.site && i.server == inst.server && i.role == inst.role);
        Ok(serde_json::json!({ "instance": instance, "graceful": graceful }))
    }

    /// Heals what is held, then stops every process or container; later calls find nothing.
    pub async fn shutdown(&self) -> Result<(), LabError> {
        if let Some(d) = self.desktop.lock().await.take() {
            let _ = d.terminate().await;
        }
        let healed = self.heal_all().await;
        let env = self.env.write().await.take();
        if let Some(env) = env {
            // Everything the fault layer still registered (e.g. faults of an attached run).
            let _ = env.heal_all().await;
            env.shutdown()
                .await
                .map_err(|e| LabError::failed(e.to_string()))?;
        }
        healed.map(|_| ())
    }
}

fn healed(h: HeldFault, r: HealReport) -> Healed {
    Healed {
        id: h.id,
        fault: h.fault,
        healed_us: r.healed_at_us,
        actions: r.actions,
    }
}

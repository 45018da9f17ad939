//! The environment: a started runtime, its fault proxies, the observation feed and the connection
//! files; reset between scenarios, shut down explicitly or on drop (everything killed, even on panic).

use super::attached::Attached;
use super::clock::now_us;
use super::connection::ConnectionFile;
use super::control::{ControlClient, Health};
use super::error::EnvError;
use super::feed;
use super::infra::{self, Infra, InfraWatch};
use super::local::LocalRuntime;
use super::progress::FeedProgress;
use super::runtime::{EnvConfig, InstanceState, InstanceStatus, Runtime, RuntimeKind};
use super::shared::Shared;
use super::topology::{InstanceId, Topology};
use bc_protocol::{ObservedEvent, Role, ServerKind};
use bc_toxiproxy::client::{Client as ToxiClient, ProxyConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// A running deployment: 2 sites x 3 servers x HA pair (by default) behind one fault proxy.
pub struct Environment {
    pub(crate) shared: Arc<Shared>,
    events: Option<mpsc::Receiver<ObservedEvent>>,
    progress: Arc<FeedProgress>,
    work_dir: tempfile::TempDir,
    started_in: Duration,
}

impl Environment {
    /// Starts every instance and the fault proxy (concurrently), creates one proxy per desktop link,
    /// and starts the observation feed. Ready when it returns.
    pub async fn start(cfg: EnvConfig) -> Result<Environment, EnvError> {
        let t0 = Instant::now();
        // Before any child starts, so that every one inherits it (herds hold thousands of links).
        super::limits::raise_open_file_limit();
        let runtime: Box<dyn Runtime> = match cfg.runtime.resolve().await {
            RuntimeKind::Local => Box::new(LocalRuntime::start(&cfg).await?),
            RuntimeKind::Docker => Box::new(super::docker::DockerRuntime::start(&cfg).await?),
            // `resolve` never returns Auto.
            RuntimeKind::Auto => return Err(EnvError::Unsupported("auto".into())),
        };
        Environment::with_runtime(cfg, runtime, t0).await
    }

    /// Finishes the start on an already started runtime (used by other runtimes too).
    pub async fn with_runtime(
        cfg: EnvConfig,
        runtime: Box<dyn Runtime>,
        t0: Instant,
    ) -> Result<Environment, EnvError> {
        let toxi =
            ToxiClient::with_timeout(&runtime.proxy_api_url(), cfg.call_timeout).map_err(|e| {
                EnvError::Proxy {
                    call: "client".into(),
                    reason: e.to_string(),
                }
            })?;
        let ids = runtime.instances();
        let mut configs = Vec::new();
        for id in &ids {
            configs.push(ProxyConfig::new(
                id.proxy_name(),
                runtime.proxy_listen(id)?,
                runtime.proxy_upstream(id)?,
            ));
        }
        if cfg.sip && runtime.sip_links().is_empty() {
            return Err(EnvError::SipNeedsLocal(runtime.kind().as_str().into()));
        }
        configs.extend(super::sip::configs(runtime.as_ref())?);
        let created = toxi.populate(&configs).await.map_err(|e| EnvError::Proxy {
            call: "POST /populate".into(),
            reason: e.to_string(),
        })?;
        let mut proxies = HashMap::new();
        for id in &ids {
            let p = created
                .iter()
                .find(|p| p.name == id.proxy_name())
                .ok_or_else(|| EnvError::Proxy {
                    call: "POST /populate".into(),
                    reason: format!("proxy {id} missing from the answer"),
                })?;
            if !p.enabled {
                return Err(EnvError::Proxy {
                    call: "POST /populate".into(),
                    reason: format!("proxy {id} is not enabled"),
                });
            }
            proxies.insert(id.clone(), runtime.desktop_address(id, &p.listen)?);
        }
        let work_dir = tempfile::Builder::new()
            .prefix("bc-env-")
            .tempdir()
            .map_err(|source| EnvError::Io {
                what: "cannot create the environment's temp dir".into(),
                source,
            })?;
        let (tx, rx) = mpsc::channel(cfg.event_capacity.max(16));
        let (stop_feeds, stop_rx) = watch::channel(false);
        let stream_http = reqwest::Client::builder()
            .connect_timeout(cfg.call_timeout)
            .no_proxy()
            .build()
            .unwrap_or_default();
        let progress = Arc::new(FeedProgress::new(&ids));
        let mut feeds = Vec::new();
        for id in &ids {
            feeds.push(tokio::spawn(feed::follow(
                id.clone(),
                runtime.watch(id)?,
                tx.clone(),
                stop_rx.clone(),
                stream_http.clone(),
                progress.clone(),
            )));
        }
        let infra = Infra::new();
        feeds.extend(infra::spawn(runtime.as_ref(), &infra, &stop_rx)?);
        let shared = Arc::new(Shared {
            runtime,
            topology: cfg.topology.clone(),
            toxi,
            control: ControlClient::new(cfg.call_timeout),
            proxies,
            faults: Attached::default(),
            infra,
            closed: AtomicBool::new(false),
            stop_feeds,
            feeds: Mutex::new(feeds),
        });
        if cfg.sip {
            let follower = super::sip::follow(shared.clone(), stop_rx.clone());
            shared
                .feeds
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(follower);
        }
        Ok(Environment {
            shared,
            events: Some(rx),
            progress,
            work_dir,
            started_in: t0.elapsed(),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.shared.topology
    }

    pub fn runtime(&self) -> &dyn Runtime {
        self.shared.runtime.as_ref()
    }

    /// How long `start` took (processes, proxies, feed).
    pub fn start_duration(&self) -> Duration {
        self.started_in
    }

    /// Every instance, in topology order.
    pub fn instances(&self) -> Vec<InstanceId> {
        self.shared.runtime.instances()
    }

    /// The observation channel (all instances' events, arrival order). `Some` exactly once.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<ObservedEvent>> {
        self.events.take()
    }

    /// How far each instance's feed has been read (the watermark's sources).
    pub fn progress(&self) -> Arc<FeedProgress> {
        self.progress.clone()
    }

    /// The environment's temp dir (connection files live here; removed at drop).
    pub fn work_dir(&self) -> &Path {
        self.work_dir.path()
    }

    /// The connection file contents for an agent of the configuration database.
    pub fn connection_file(&self, username: &str) -> Result<ConnectionFile, EnvError> {
        let agent = self.shared.topology.agent(username)?;
        ConnectionFile::build(
            &self.shared.topology,
            agent,
            &self.shared.proxies,
            &self.shared.runtime.sip_links(),
        )
    }

    /// Writes `desktop-<username>.json` into the work dir and returns its path.
    pub fn write_connection_file(&self, username: &str) -> Result<PathBuf, EnvError> {
        let file = self.connection_file(username)?;
        let path = self
            .work_dir
            .path()
            .join(format!("desktop-{username}.json"));
        file.write(&path)?;
        Ok(path)
    }

    /// Writes `desktop-<first username>.json` serving every agent of `usernames` (one agent: the
    /// usual file; more: the `agents` list of a multi-agent desktop) and returns its path.
    pub fn write_floor_file(&self, usernames: &[String]) -> Result<PathBuf, EnvError> {
        let first = usernames
            .first()
            .ok_or_else(|| EnvError::UnknownAgent("(none)".into()))?;
        let mut file = self.connection_file(first)?;
        file.source_address =
            super::floor::index(first).map(|i| super::floor::source_address(i).to_string());
        if usernames.len() > 1 {
            for u in usernames {
                let agent = file.floor_agent(self.shared.topology.agent(u)?);
                file.agents.push(agent);
            }
        }
        let path = self.work_dir.path().join(format!("desktop-{first}.json"));
        file.write(&path)?;
        Ok(path)
    }

    /// Each site's SIP address for phones (the fault proxy's UDP links); empty without SIP.
    pub fn sip_links(&self) -> Vec<super::runtime::SipLink> {
        self.shared.runtime.sip_links()
    }

    /// The desktop-visible address of the proxy in front of an instance.
    pub fn proxy_address(&self, id: &InstanceId) -> Result<SocketAddr, EnvError> {
        self.shared
            .proxies
            .get(id)
            .copied()
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }

    /// Base URL of the fault proxy's Toxiproxy API.
    pub fn proxy_api_url(&self) -> String {
        self.shared.runtime.proxy_api_url()
    }

    /// Base URL of an instance's control API.
    pub fn control_url(&self, id: &InstanceId) -> Result<String, EnvError> {
        self.shared.control_url(id)
    }

    pub fn instance_status(&self, id: &InstanceId) -> Result<InstanceStatus, EnvError> {
        self.shared.runtime.status(id)
    }

    /// What happens to the instances and the fault proxy with no step causing it, from the last
    /// reset on (see [`infra`]). The health probes run while a watch exists.
    pub fn infrastructure(&self) -> InfraWatch {
        self.shared.infra.watch()
    }

    /// `GET /health` of one instance.
    pub async fn health(&self, id: &InstanceId) -> Result<Health, EnvError> {
        self.shared.health(id).await
    }

    /// `GET /sessions` of one instance.
    pub async fn sessions(&self, id: &InstanceId) -> Result<serde_json::Value, EnvError> {
        let url = self.shared.control_url(id)?;
        self.shared.control.sessions(&id.to_string(), &url).await
    }

    /// The instance of a pair that is currently active.
    pub async fn active_instance(
        &self,
        site: &str,
        server: ServerKind,
    ) -> Result<InstanceId, EnvError> {
        self.shared.active_instance(site, server).await
    }

    /// The instance of one group's pair that is currently active.
    pub async fn active_instance_in(
        &self,
        site: &str,
        server: ServerKind,
        group: u32,
    ) -> Result<InstanceId, EnvError> {
        self.shared.active_instance_in(site, server, group).await
    }

    /// Back to the start state between scenarios: heals every fault, resets the fault proxy,
    /// restarts dead and thaws frozen instances, `POST /reset` on every mock (start roles, database
    /// reloaded, rejection off), then confirms each primary active and each backup standby.
    pub async fn reset(&self) -> Result<Duration, EnvError> {
        let t0 = Instant::now();
        self.shared.ensure_open()?;
        // Healing may fail for faults the reset repairs anyway (e.g. a dead instance): go on.
        if let Err(e) = self.shared.faults.before_reset(&self.shared).await {
            tracing::debug!(error = %e, "heal before reset reported a problem");
        }
        self.shared
            .toxi
            .reset()
            .await
            .map_err(|e| EnvError::Proxy {
                call: "POST /reset".into(),
                reason: e.to_string(),
            })?;
        let ids = self.instances();
        let revive = ids.iter().map(|id| async move {
            match self.shared.runtime.status(id)?.state {
                InstanceState::Down => self.shared.runtime.start(id).await,
                InstanceState::Frozen => self.shared.runtime.thaw(id).await,
                InstanceState::Running => Ok(()),
            }
        });
        first_err(futures::future::join_all(revive).await)?;
        let resets = ids.iter().map(|id| async move {
            let url = self.shared.control_url(id)?;
            self.shared.control.reset(&id.to_string(), &url).await?;
            let h = self.shared.health(id).await?;
            let want = id.role == Role::Primary;
            if h.active != want {
                // Should not happen (reset restores the start role); fix it rather than fail.
                let h = if want {
                    self.shared.control.promote(&id.to_string(), &url).await?
                } else {
                    self.shared.control.demote(&id.to_string(), &url).await?
                };
                if h.active != want {
                    return Err(EnvError::Control {
                        instance: id.to_string(),
                        call: "POST /reset".into(),
                        status: None,
                        reason: format!("still active={} after reset", h.active),
                    });
                }
            }
            Ok(())
        });
        first_err(futures::future::join_all(resets).await)?;
        // Every CS Proxy reloaded the database file: the faults' configuration overlay is gone.
        self.shared.faults.after_reset();
        // What broke before is repaired: the next scenario watches from here.
        self.shared.infra.mark_baseline();
        Ok(t0.elapsed())
    }

    /// Heals every fault, stops the feed and kills every process; returns how long it took.
    pub async fn shutdown(self) -> Result<Duration, EnvError> {
        let t0 = Instant::now();
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return Ok(t0.elapsed());
        }
        let _ = self.shared.stop_feeds.send(true);
        for h in self
            .shared
            .feeds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            h.abort();
        }
        self.shared.faults.abort();
        let r = self.shared.runtime.shutdown().await;
        r.map(|_| t0.elapsed())
    }

    /// Wall-clock µs since the Unix epoch (the clock of faults and observations).
    pub fn now_us(&self) -> i64 {
        now_us()
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.shared.kill_now();
    }
}

fn first_err(results: Vec<Result<(), EnvError>>) -> Result<(), EnvError> {
    results
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}

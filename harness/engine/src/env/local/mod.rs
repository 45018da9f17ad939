//! The local runtime: one bc-mock process per instance and one bc-toxiproxy, all on 127.0.0.1.
//! Ports are allocated up front so HA sync links and peer URLs are known before anything starts.

mod plan;
mod proxy;
mod slot;

use super::bins::find_binary;
use super::error::EnvError;
use super::process::Supervised;
use super::runtime::{
    DownCause, EnvConfig, InstanceState, InstanceStatus, ProxyStatus, Runtime, RuntimeKind, SipLink,
};
use super::topology::InstanceId;
use futures::future::BoxFuture;
use plan::plan;
use proxy::{start_toxiproxy, LocalProxy};
use slot::Slot;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Lines kept from each instance's stderr (shown when it fails to start).
const LOG_LINES: usize = 200;

/// Processes on loopback: bc-mock instances and one bc-toxiproxy.
pub struct LocalRuntime {
    mock_bin: PathBuf,
    ready_timeout: Duration,
    stop_grace: Duration,
    order: Vec<InstanceId>,
    slots: HashMap<InstanceId, Arc<Slot>>,
    proxy: LocalProxy,
    toxi_url: String,
    /// Where the desktop links listen (`EnvConfig::proxy_host`).
    proxy_host: std::net::IpAddr,
    /// The sites' SIP links (planned; created by the environment). Empty without SIP.
    sip_links: Vec<SipLink>,
    /// Keeps this environment's ports from the other environments of the process (a killed
    /// instance restarts on its own port).
    _ports: plan::PortLease,
}

impl LocalRuntime {
    /// Starts the fault proxy and every instance of the topology concurrently; returns once all are ready.
    /// On any failure everything already started is killed.
    pub async fn start(cfg: &EnvConfig) -> Result<LocalRuntime, EnvError> {
        if let Some(image) = &cfg.proxy_image {
            return Err(EnvError::ProxyImageNeedsDocker(image.clone()));
        }
        // Ports are checked free just before use, yet another program may bind one first: retry
        // with fresh ports when an instance could not bind.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match LocalRuntime::start_once(cfg).await {
                Err(e) if attempt < 3 && is_bind_conflict(&e) => {
                    tracing::debug!(error = %e, "port conflict at start; retrying with fresh ports");
                }
                r => return r,
            }
        }
    }

    async fn start_once(cfg: &EnvConfig) -> Result<LocalRuntime, EnvError> {
        let mock_bin = find_binary(cfg.bin_dir.as_deref(), "bc-mock", "bc-mock")?;
        let toxi_bin = find_binary(cfg.bin_dir.as_deref(), "bc-toxiproxy", "bc-toxiproxy")?;
        let plan = plan(
            &cfg.topology,
            cfg.keepalive,
            cfg.sip.then_some(cfg.proxy_host),
        )?;
        let plans = plan.instances;
        let mut order = Vec::new();
        let mut slots = HashMap::new();
        for (id, args, addrs) in plans {
            let status = watch::Sender::new(InstanceStatus {
                state: InstanceState::Down,
                incarnation: 0,
                addrs,
                pid: None,
                down: None,
            });
            order.push(id.clone());
            slots.insert(
                id.clone(),
                Arc::new(Slot {
                    id,
                    args,
                    addrs,
                    proc: Mutex::new(None),
                    op: tokio::sync::Mutex::new(()),
                    status,
                    requested: Arc::default(),
                }),
            );
        }
        let mut rt = LocalRuntime {
            mock_bin,
            ready_timeout: cfg.ready_timeout,
            stop_grace: cfg.stop_grace,
            order,
            slots,
            proxy: LocalProxy::default(),
            toxi_url: String::new(),
            proxy_host: cfg.proxy_host,
            sip_links: plan.sip_links,
            _ports: plan.lease,
        };
        let toxi = start_toxiproxy(&toxi_bin, cfg.ready_timeout);
        let all = futures::future::join_all(rt.order.iter().map(|id| rt.start_slot(id)));
        let (toxi, results) = tokio::join!(toxi, all);
        // Collect every failure: the first one is reported, the rest are usually consequences.
        let first_err = results.into_iter().find_map(Result::err);
        match (toxi, first_err) {
            (Ok((proc, url)), None) => {
                rt.proxy.adopt(proc);
                rt.toxi_url = url;
                Ok(rt)
            }
            (Ok(_), Some(e)) | (Err(e), _) => {
                rt.kill_all_now();
                Err(e)
            }
        }
    }

    fn slot(&self, id: &InstanceId) -> Result<&Arc<Slot>, EnvError> {
        self.slots
            .get(id)
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        self.kill_all_now();
    }
}

impl Runtime for LocalRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Local
    }

    fn instances(&self) -> Vec<InstanceId> {
        self.order.clone()
    }

    fn status(&self, id: &InstanceId) -> Result<InstanceStatus, EnvError> {
        Ok(self.slot(id)?.status.borrow().clone())
    }

    fn watch(&self, id: &InstanceId) -> Result<watch::Receiver<InstanceStatus>, EnvError> {
        Ok(self.slot(id)?.status.subscribe())
    }

    fn proxy_api_url(&self) -> String {
        self.toxi_url.clone()
    }

    fn proxy_watch(&self) -> watch::Receiver<ProxyStatus> {
        self.proxy.watch()
    }

    fn sip_links(&self) -> Vec<SipLink> {
        self.sip_links.clone()
    }

    fn proxy_upstream(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.slot(id)?.addrs.listen.to_string())
    }

    fn proxy_listen(&self, id: &InstanceId) -> Result<String, EnvError> {
        self.slot(id)?;
        Ok(SocketAddr::new(self.proxy_host, 0).to_string())
    }

    fn desktop_address(&self, _id: &InstanceId, reported: &str) -> Result<SocketAddr, EnvError> {
        reported.parse().map_err(|_| EnvError::Proxy {
            call: "proxy listen address".into(),
            reason: format!("`{reported}` is not a socket address"),
        })
    }

    fn start<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(self.start_slot(id))
    }

    fn kill<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.end_slot(id, None).await.map(|_| ()) })
    }

    fn stop<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<bool, EnvError>> {
        Box::pin(self.end_slot(id, Some((libc::SIGTERM, "SIGTERM"))))
    }

    fn freeze<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(self.pause_slot(id, true))
    }

    fn thaw<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(self.pause_slot(id, false))
    }

    fn log_tail(&self, id: &InstanceId) -> String {
        self.slots
            .get(id)
            .and_then(|s| s.current())
            .map(|p| p.log().tail_text(20))
            .unwrap_or_default()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        Box::pin(async move {
            let kills = self.order.iter().map(|id| self.end_slot(id, None));
            let results = futures::future::join_all(kills).await;
            if let Some(t) = self.proxy.take_to_end() {
                let _ = t.signal(libc::SIGKILL, "SIGKILL");
                let _ = tokio::time::timeout(Duration::from_secs(5), t.wait_exit()).await;
            }
            results
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), Err)
        })
    }

    fn kill_all_now(&self) {
        for slot in self.slots.values() {
            slot.requested.store(true, Ordering::SeqCst);
            if let Some(p) = slot.proc.lock().unwrap_or_else(|e| e.into_inner()).take() {
                p.kill_now();
            }
            slot.status.send_modify(|s| {
                s.state = InstanceState::Down;
                s.pid = None;
                s.down.get_or_insert(DownCause::Requested);
            });
        }
        if let Some(t) = self.proxy.take_to_end() {
            t.kill_now();
        }
    }
}

fn is_bind_conflict(e: &EnvError) -> bool {
    match e {
        EnvError::EarlyExit { detail, .. } | EnvError::NotReady { detail, .. } => {
            detail.contains("in use")
        }
        _ => false,
    }
}

fn stderr_detail(p: &Supervised) -> String {
    let t = p.log().tail_text(10);
    if t.is_empty() {
        String::new()
    } else {
        format!(":\n{t}")
    }
}

//! A runtime owned by another process (`env up`), reached over its control endpoint: the state of
//! every instance streamed live, kill/start/stop/freeze/thaw forwarded; shutting down leaves it up.

use super::error::EnvError;
use super::runtime::{DownCause, InstanceStatus, ProxyStatus, Runtime, RuntimeKind};
use super::topology::InstanceId;
use super::wire::{down_cause, WireInstance, WireRuntime};
use futures::future::BoxFuture;
use futures::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The runtime of an `env up` process, seen from a run attached to it.
pub struct RemoteRuntime {
    base: String,
    http: reqwest::Client,
    kind: RuntimeKind,
    proxy_api_url: String,
    order: Vec<InstanceId>,
    wire: HashMap<InstanceId, WireInstance>,
    /// The proxies as the fault proxy has them: populating with the same listen and upstream
    /// leaves them (and the desktop's connections) as they are.
    proxies: HashMap<String, (String, String)>,
    status: HashMap<InstanceId, watch::Sender<InstanceStatus>>,
    proxy: watch::Sender<ProxyStatus>,
    follow: JoinHandle<()>,
}

fn remote_err(call: &str, reason: impl std::fmt::Display) -> EnvError {
    EnvError::Control {
        instance: "env up".into(),
        call: call.into(),
        status: None,
        reason: reason.to_string(),
    }
}

impl RemoteRuntime {
    /// Reads the runtime of the control endpoint at `base` and follows its changes.
    pub async fn connect(base: &str) -> Result<RemoteRuntime, EnvError> {
        let base = base.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| remote_err("client", e))?;
        let first: WireRuntime = http
            .get(format!("{base}/runtime"))
            .send()
            .await
            .map_err(|e| remote_err("GET /runtime", e))?
            .json()
            .await
            .map_err(|e| remote_err("GET /runtime", e))?;
        let kind = first.kind.parse().unwrap_or(RuntimeKind::Local);
        let toxi = bc_toxiproxy::client::Client::new(&first.proxy_api_url)
            .map_err(|e| remote_err("Toxiproxy client", e))?;
        let proxies = toxi
            .proxies()
            .await
            .map_err(|e| remote_err("GET /proxies", e))?
            .into_values()
            .map(|p| (p.name, (p.listen, p.upstream)))
            .collect();
        let mut status = HashMap::new();
        let mut wire = HashMap::new();
        let mut order = Vec::new();
        for w in &first.instances {
            order.push(w.id());
            status.insert(w.id(), watch::Sender::new(w.status()));
            wire.insert(w.id(), w.clone());
        }
        let proxy = watch::Sender::new(ProxyStatus {
            pid: first.proxy_pid,
            down: first.proxy_down.map(down_cause),
        });
        let follow = tokio::spawn(follow(
            http.clone(),
            format!("{base}/runtime/watch"),
            status.clone(),
            proxy.clone(),
        ));
        Ok(RemoteRuntime {
            base,
            http,
            kind,
            proxy_api_url: first.proxy_api_url,
            order,
            wire,
            proxies,
            status,
            proxy,
            follow,
        })
    }

    fn sender(&self, id: &InstanceId) -> Result<&watch::Sender<InstanceStatus>, EnvError> {
        self.status
            .get(id)
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }

    /// Asks the owner to do `op` on an instance; `Ok(body)` once it is done and confirmed.
    async fn op(&self, id: &InstanceId, op: &str) -> Result<serde_json::Value, EnvError> {
        self.sender(id)?;
        let call = format!("POST /runtime/{id}/{op}");
        let resp = self
            .http
            .post(format!("{}/runtime/{id}/{op}", self.base))
            .send()
            .await
            .map_err(|e| remote_err(&call, e))?;
        let ok = resp.status().is_success();
        let body: serde_json::Value = resp.json().await.map_err(|e| remote_err(&call, e))?;
        if !ok {
            return Err(remote_err(
                &call,
                body["message"].as_str().unwrap_or("failed"),
            ));
        }
        // The answer carries the state after the operation: the watch sees it before we return.
        if let Ok(w) = serde_json::from_value::<WireInstance>(body["instance"].clone()) {
            let _ = self.sender(id)?.send_replace(w.status());
        }
        Ok(body)
    }
}

/// Applies every snapshot of the owner's stream to the watches; when the owner goes away, every
/// instance and the proxy are reported down (exit status unknown).
async fn follow(
    http: reqwest::Client,
    url: String,
    status: HashMap<InstanceId, watch::Sender<InstanceStatus>>,
    proxy: watch::Sender<ProxyStatus>,
) {
    if let Ok(resp) = http.get(&url).send().await {
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let Ok(w) = serde_json::from_slice::<WireRuntime>(&line) else {
                    continue;
                };
                for i in &w.instances {
                    if let Some(tx) = status.get(&i.id()) {
                        let new = i.status();
                        tx.send_if_modified(|cur| {
                            let changed = *cur != new;
                            *cur = new;
                            changed
                        });
                    }
                }
                let p = ProxyStatus {
                    pid: w.proxy_pid,
                    down: w.proxy_down.map(down_cause),
                };
                proxy.send_if_modified(|cur| {
                    let changed = *cur != p;
                    *cur = p;
                    changed
                });
            }
        }
    }
    let gone = DownCause::Exited {
        code: None,
        signal: None,
    };
    for tx in status.values() {
        tx.send_modify(|s| {
            let inc = s.incarnation;
            s.end(inc, gone);
        });
    }
    proxy.send_modify(|p| {
        p.pid = None;
        p.down = Some(gone);
    });
}

impl Drop for RemoteRuntime {
    fn drop(&mut self) {
        self.follow.abort();
    }
}

impl Runtime for RemoteRuntime {
    fn kind(&self) -> RuntimeKind {
        self.kind
    }

    fn instances(&self) -> Vec<InstanceId> {
        self.order.clone()
    }

    fn status(&self, id: &InstanceId) -> Result<InstanceStatus, EnvError> {
        Ok(self.sender(id)?.borrow().clone())
    }

    fn watch(&self, id: &InstanceId) -> Result<watch::Receiver<InstanceStatus>, EnvError> {
        Ok(self.sender(id)?.subscribe())
    }

    fn proxy_api_url(&self) -> String {
        self.proxy_api_url.clone()
    }

    fn proxy_watch(&self) -> watch::Receiver<ProxyStatus> {
        self.proxy.subscribe()
    }

    fn proxy_upstream(&self, id: &InstanceId) -> Result<String, EnvError> {
        self.proxies
            .get(&id.proxy_name())
            .map(|p| p.1.clone())
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }

    fn proxy_listen(&self, id: &InstanceId) -> Result<String, EnvError> {
        self.proxies
            .get(&id.proxy_name())
            .map(|p| p.0.clone())
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }

    /// What the owner's connection file names (a Docker proxy reports its in-container address).
    fn desktop_address(&self, id: &InstanceId, reported: &str) -> Result<SocketAddr, EnvError> {
        match self.wire.get(id).and_then(|w| w.desktop) {
            Some(a) => Ok(a),
            None => reported
                .parse()
                .map_err(|_| remote_err("proxy listen address", format!("`{reported}`"))),
        }
    }

    fn start<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.op(id, "start").await.map(|_| ()) })
    }

    fn kill<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.op(id, "kill").await.map(|_| ()) })
    }

    fn stop<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<bool, EnvError>> {
        Box::pin(async move {
            let b = self.op(id, "stop").await?;
            Ok(b["graceful"].as_bool().unwrap_or(false))
        })
    }

    fn freeze<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.op(id, "freeze").await.map(|_| ()) })
    }

    fn thaw<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.op(id, "thaw").await.map(|_| ()) })
    }

    /// The environment belongs to `env up`: an attached run leaves it running.
    fn shutdown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        self.follow.abort();
        Box::pin(async { Ok(()) })
    }

    fn kill_all_now(&self) {
        self.follow.abort();
    }
}

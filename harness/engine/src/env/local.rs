//! The local runtime: one bc-mock process per instance and one bc-toxiproxy, all on 127.0.0.1.
//! Ports are allocated up front so HA sync links and peer URLs are known before anything starts.

use super::bins::find_binary;
use super::error::EnvError;
use super::process::{Launch, Supervised};
use super::runtime::{
    EnvConfig, InstanceAddrs, InstanceState, InstanceStatus, KeepAlive, Runtime, RuntimeKind,
};
use super::topology::{role_str, InstanceId, Topology};
use bc_protocol::{Role, ServerKind};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Lines kept from each instance's stderr (shown when it fails to start).
const LOG_LINES: usize = 200;

struct Slot {
    id: InstanceId,
    args: Vec<String>,
    addrs: InstanceAddrs,
    proc: Mutex<Option<Arc<Supervised>>>,
    /// Serialises start / kill / stop / freeze / thaw of this instance.
    op: tokio::sync::Mutex<()>,
    status: watch::Sender<InstanceStatus>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Supervised>> {
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Processes on loopback: bc-mock instances and one bc-toxiproxy.
pub struct LocalRuntime {
    mock_bin: PathBuf,
    ready_timeout: Duration,
    stop_grace: Duration,
    order: Vec<InstanceId>,
    slots: HashMap<InstanceId, Arc<Slot>>,
    toxiproxy: Mutex<Option<Supervised>>,
    toxi_url: String,
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
        let plans = plan(&cfg.topology, cfg.keepalive)?;
        let mut order = Vec::new();
        let mut slots = HashMap::new();
        for (id, args, addrs) in plans {
            let status = watch::Sender::new(InstanceStatus {
                state: InstanceState::Down,
                incarnation: 0,
                addrs,
                pid: None,
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
                }),
            );
        }
        let mut rt = LocalRuntime {
            mock_bin,
            ready_timeout: cfg.ready_timeout,
            stop_grace: cfg.stop_grace,
            order,
            slots,
            toxiproxy: Mutex::new(None),
            toxi_url: String::new(),
        };
        let toxi = start_toxiproxy(&toxi_bin, cfg.ready_timeout);
        let all = futures::future::join_all(rt.order.iter().map(|id| rt.start_slot(id)));
        let (toxi, results) = tokio::join!(toxi, all);
        // Collect every failure: the first one is reported, the rest are usually consequences.
        let first_err = results.into_iter().find_map(Result::err);
        match (toxi, first_err) {
            (Ok((proc, url)), None) => {
                *rt.toxiproxy.lock().unwrap_or_else(|e| e.into_inner()) = Some(proc);
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

    /// Spawns the slot's process once and waits for its ready line (killing it on failure).
    async fn spawn_ready(&self, slot: &Slot, label: &str) -> Result<Arc<Supervised>, EnvError> {
        let label = label.to_string();
        let (proc, mut lines) = Supervised::spawn(Launch {
            program: &self.mock_bin,
            args: &slot.args,
            envs: &[],
            label: label.clone(),
            log_capacity: LOG_LINES,
        })?;
        let proc = Arc::new(proc);
        let deadline = tokio::time::sleep(self.ready_timeout);
        tokio::pin!(deadline);
        let ready = loop {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(l) if l.starts_with("bc-mock ready") => break Ok(l),
                    Some(_) => continue,
                    None => {
                        let info = proc.wait_exit().await;
                        break Err(EnvError::EarlyExit {
                            what: label.clone(),
                            status: info.to_string(),
                            detail: stderr_detail(&proc),
                        });
                    }
                },
                _ = &mut deadline => break Err(EnvError::NotReady {
                    what: label.clone(),
                    timeout_ms: self.ready_timeout.as_millis() as u64,
                    detail: stderr_detail(&proc),
                }),
            }
        };
        let line = match ready {
            Ok(l) => l,
            Err(e) => {
                proc.kill_now();
                return Err(e);
            }
        };
        check_ready_line(&line, &slot.addrs).map_err(|reason| {
            proc.kill_now();
            EnvError::NotReady {
                what: label.clone(),
                timeout_ms: 0,
                detail: format!(": unexpected ready line `{line}`: {reason}"),
            }
        })?;
        Ok(proc)
    }

    async fn start_slot(&self, id: &InstanceId) -> Result<(), EnvError> {
        let slot = self.slot(id)?.clone();
        let _op = slot.op.lock().await;
        if let Some(p) = slot.current() {
            if p.exit_info().is_none() {
                return Ok(());
            }
        }
        let label = slot.id.to_string();
        // A restarted instance rebinds its old ports; one may still be held for a moment (a dying
        // process, a connection grabbing it): retry a few times before calling it an error.
        let mut attempt = 0;
        let proc = loop {
            attempt += 1;
            match self.spawn_ready(&slot, &label).await {
                Err(e) if attempt < 5 && is_bind_conflict(&e) => {
                    tracing::debug!(error = %e, attempt, "port still in use at restart; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                r => break r?,
            }
        };
        let pid = proc.pid();
        let mut exit = proc.exit_watch();
        *slot.proc.lock().unwrap_or_else(|e| e.into_inner()) = Some(proc);
        let mut incarnation = 0;
        slot.status.send_modify(|s| {
            s.incarnation += 1;
            incarnation = s.incarnation;
            s.state = InstanceState::Running;
            s.pid = Some(pid);
        });
        // Publish an unexpected exit (crash, POST /shutdown) as Down for this incarnation.
        let status = slot.status.clone();
        tokio::spawn(async move {
            while exit.borrow_and_update().is_none() {
                if exit.changed().await.is_err() {
                    break;
                }
            }
            status.send_if_modified(|s| {
                if s.incarnation == incarnation && s.state != InstanceState::Down {
                    s.state = InstanceState::Down;
                    s.pid = None;
                    true
                } else {
                    false
                }
            });
        });
        Ok(())
    }

    /// Sends `sig`, waits for the exit up to `wait`, then SIGKILLs. Returns whether it exited in time.
    async fn end_slot(
        &self,
        id: &InstanceId,
        sig: Option<(i32, &'static str)>,
    ) -> Result<bool, EnvError> {
        let slot = self.slot(id)?.clone();
        let _op = slot.op.lock().await;
        let Some(proc) = slot.current() else {
            return Ok(true);
        };
        let mut in_time = true;
        if proc.exit_info().is_none() {
            if let Some((sig, name)) = sig {
                let _ = proc.signal(sig, name);
                // A frozen process only handles SIGTERM once it runs again.
                let _ = proc.signal(libc::SIGCONT, "SIGCONT");
                in_time = tokio::time::timeout(self.stop_grace, proc.wait_exit())
                    .await
                    .is_ok();
            }
            if proc.exit_info().is_none() {
                let _ = proc.signal(libc::SIGKILL, "SIGKILL");
                if tokio::time::timeout(Duration::from_secs(5), proc.wait_exit())
                    .await
                    .is_err()
                {
                    return Err(EnvError::Signal {
                        what: slot.id.to_string(),
                        signal: "SIGKILL",
                        reason: "process still alive 5 s after SIGKILL".into(),
                    });
                }
            }
        }
        *slot.proc.lock().unwrap_or_else(|e| e.into_inner()) = None;
        slot.status.send_modify(|s| {
            s.state = InstanceState::Down;
            s.pid = None;
        });
        Ok(in_time)
    }

    async fn pause_slot(&self, id: &InstanceId, freeze: bool) -> Result<(), EnvError> {
        let slot = self.slot(id)?.clone();
        let _op = slot.op.lock().await;
        let proc = slot
            .current()
            .filter(|p| p.exit_info().is_none())
            .ok_or_else(|| EnvError::NotRunning {
                what: slot.id.to_string(),
            })?;
        let (sig, name) = if freeze {
            (libc::SIGSTOP, "SIGSTOP")
        } else {
            (libc::SIGCONT, "SIGCONT")
        };
        proc.signal(sig, name)?;
        // Signal delivery is asynchronous: confirm through the kernel's view of the process.
        let start = Instant::now();
        while proc.is_stopped() != freeze {
            if start.elapsed() > Duration::from_secs(2) {
                return Err(EnvError::Signal {
                    what: slot.id.to_string(),
                    signal: name,
                    reason: "the process state did not change within 2 s".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        slot.status.send_modify(|s| {
            s.state = if freeze {
                InstanceState::Frozen
            } else {
                InstanceState::Running
            }
        });
        Ok(())
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

    fn proxy_upstream(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.slot(id)?.addrs.listen.to_string())
    }

    fn proxy_listen(&self, id: &InstanceId) -> Result<String, EnvError> {
        self.slot(id)?;
        Ok("127.0.0.1:0".into())
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
            let toxi = self
                .toxiproxy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(t) = toxi {
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
            if let Some(p) = slot.proc.lock().unwrap_or_else(|e| e.into_inner()).take() {
                p.kill_now();
            }
            slot.status.send_modify(|s| {
                s.state = InstanceState::Down;
                s.pid = None;
            });
        }
        if let Some(t) = self
            .toxiproxy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
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

/// Checks that the ready line reports the addresses we asked for.
fn check_ready_line(line: &str, addrs: &InstanceAddrs) -> Result<(), String> {
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(str::to_string)
    };
    let listen = field("listen").ok_or("no listen=")?;
    let control = field("control").ok_or("no control=")?;
    if listen != addrs.listen.to_string() || control != addrs.control.to_string() {
        return Err(format!(
            "expected listen={} control={}",
            addrs.listen, addrs.control
        ));
    }
    Ok(())
}

/// Picks `n` distinct free loopback ports below the kernel's ephemeral range, so that no outgoing
/// connection (whose local port comes from that range) can take one between allocation and bind,
/// nor later while an instance is down and about to restart on the same port.
fn free_ports(n: usize) -> Result<Vec<u16>, EnvError> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    const FLOOR: u16 = 10_000;
    let mut held = Vec::new();
    if low > FLOOR + 1000 {
        let span = u32::from(low - FLOOR);
        // Different environments (parallel tests, parallel runs) start at different places.
        let mut x = (std::process::id() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0));
        for _ in 0..n * 50 {
            if held.len() == n {
                break;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let port = FLOOR + (x % u64::from(span)) as u16;
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                held.push(l);
            }
        }
    }
    // Fallback (tiny or unknown range): let the kernel choose.
    while held.len() < n {
        held.push(
            std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| EnvError::Io {
                what: "cannot allocate a loopback port".into(),
                source,
            })?,
        );
    }
    held.iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|source| EnvError::Io {
                    what: "cannot allocate a loopback port".into(),
                    source,
                })
        })
        .collect()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Every instance with its command line and addresses.
fn plan(
    topology: &Topology,
    ka: KeepAlive,
) -> Result<Vec<(InstanceId, Vec<String>, InstanceAddrs)>, EnvError> {
    let ids = topology.instances();
    let sip_backups = ids
        .iter()
        .filter(|i| i.server == ServerKind::SipServer && i.role == Role::Backup)
        .count();
    let mut ports = free_ports(ids.len() * 2 + sip_backups)?.into_iter();
    let mut next = || loopback(ports.next().unwrap_or(0));
    let mut addrs: HashMap<InstanceId, InstanceAddrs> = HashMap::new();
    let mut sync: HashMap<String, SocketAddr> = HashMap::new();
    for id in &ids {
        addrs.insert(
            id.clone(),
            InstanceAddrs {
                listen: next(),
                control: next(),
            },
        );
        if id.server == ServerKind::SipServer && id.role == Role::Backup {
            sync.insert(id.site.clone(), next());
        }
    }
    let config = topology.config_db_path().display().to_string();
    let mut out = Vec::new();
    for id in ids {
        let a = addrs[&id];
        let sub = match id.server {
            ServerKind::SipServer => "sip-server",
            ServerKind::ConfigServer => "config-proxy",
            ServerKind::StatServer => "stat-server",
        };
        let mut args: Vec<String> = vec![
            sub.into(),
            "--site".into(),
            id.site.clone(),
            "--role".into(),
            role_str(id.role).into(),
            "--listen".into(),
            a.listen.to_string(),
            "--control".into(),
            a.control.to_string(),
            "--config".into(),
            config.clone(),
        ];
        if let Some(ms) = ka.ping_interval_ms {
            args.extend(["--ping-interval-ms".into(), ms.to_string()]);
        }
        if let Some(ms) = ka.client_timeout_ms {
            args.extend(["--client-timeout-ms".into(), ms.to_string()]);
        }
        if id.server == ServerKind::SipServer {
            let sync_addr = sync[&id.site];
            match id.role {
                Role::Backup => args.extend(["--sync-listen".into(), sync_addr.to_string()]),
                Role::Primary => args.extend(["--sync-to".into(), sync_addr.to_string()]),
            }
            // Every SIP Server of every other site is a peer (calls are redirected there).
            for (peer, pa) in &addrs {
                if peer.server == ServerKind::SipServer && peer.site != id.site {
                    args.extend(["--peer".into(), pa.control_url()]);
                }
            }
        }
        out.push((id, args, a));
    }
    Ok(out)
}

/// Starts bc-toxiproxy on a free port; returns the process and its API URL.
async fn start_toxiproxy(
    bin: &std::path::Path,
    timeout: Duration,
) -> Result<(Supervised, String), EnvError> {
    let args: Vec<String> = ["--host", "127.0.0.1", "--port", "0", "--seed", "1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (proc, mut lines) = Supervised::spawn(Launch {
        program: bin,
        args: &args,
        envs: &[],
        label: "bc-toxiproxy".into(),
        log_capacity: LOG_LINES,
    })?;
    let wait = async {
        while let Some(l) = lines.recv().await {
            if let Some(addr) = l.strip_prefix("bc-toxiproxy listening on ") {
                return Some(addr.trim().to_string());
            }
        }
        None
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Some(addr)) => Ok((proc, format!("http://{addr}"))),
        Ok(None) => {
            let info = proc.wait_exit().await;
            Err(EnvError::EarlyExit {
                what: "bc-toxiproxy".into(),
                status: info.to_string(),
                detail: stderr_detail(&proc),
            })
        }
        Err(_) => Err(EnvError::NotReady {
            what: "bc-toxiproxy".into(),
            timeout_ms: timeout.as_millis() as u64,
            detail: stderr_detail(&proc),
        }),
    }
}

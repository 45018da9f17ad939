//! The local fault proxy: one bc-toxiproxy process on a free loopback port, started and waited
//! for until it prints the address its API listens on; its exit is published with its cause.

use super::slot::exit_cause;
use super::{stderr_detail, LOG_LINES};
use crate::env::error::EnvError;
use crate::env::process::{Launch, Supervised};
use crate::env::runtime::ProxyStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The running bc-toxiproxy process and its published status.
#[derive(Default)]
pub(super) struct LocalProxy {
    proc: Mutex<Option<Supervised>>,
    status: watch::Sender<ProxyStatus>,
    /// Set before the harness ends the process (shutdown), so its exit is published as requested.
    requested: Arc<AtomicBool>,
}

impl LocalProxy {
    /// Keeps the started process and publishes its exit when it comes.
    pub fn adopt(&self, proc: Supervised) {
        let mut exit = proc.exit_watch();
        self.status.send_modify(|s| s.pid = Some(proc.pid()));
        *self.proc.lock().unwrap_or_else(|e| e.into_inner()) = Some(proc);
        let status = self.status.clone();
        let requested = self.requested.clone();
        tokio::spawn(async move {
            let info = loop {
                if let Some(info) = *exit.borrow_and_update() {
                    break Some(info);
                }
                if exit.changed().await.is_err() {
                    break None;
                }
            };
            let cause = exit_cause(&requested, info);
            status.send_modify(|s| {
                s.pid = None;
                s.down = Some(cause);
            });
        });
    }

    pub fn watch(&self) -> watch::Receiver<ProxyStatus> {
        self.status.subscribe()
    }

    /// The process, to be ended by the harness (its exit is then published as requested).
    pub fn take_to_end(&self) -> Option<Supervised> {
        self.requested.store(true, Ordering::SeqCst);
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Starts bc-toxiproxy on a free port; returns the process and its API URL.
pub(super) async fn start_toxiproxy(
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
        stdin: false,
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

//! One instance slot of the local runtime: its process, its status watch and the operations on it
//! (start and wait for the ready line, kill or stop, freeze or thaw), serialised per instance.

use super::{is_bind_conflict, stderr_detail, LocalRuntime, LOG_LINES};
use crate::env::error::EnvError;
use crate::env::process::{ExitInfo, Launch, Supervised};
use crate::env::runtime::{DownCause, InstanceAddrs, InstanceState, InstanceStatus};
use crate::env::topology::InstanceId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub(super) struct Slot {
    pub(super) id: InstanceId,
    pub(super) args: Vec<String>,
    pub(super) addrs: InstanceAddrs,
    pub(super) proc: Mutex<Option<Arc<Supervised>>>,
    /// Serialises start / kill / stop / freeze / thaw of this instance.
    pub(super) op: tokio::sync::Mutex<()>,
    pub(super) status: watch::Sender<InstanceStatus>,
    /// Set before the harness signals the process to end (kill, stop, shutdown), so that its exit
    /// is published as requested; cleared at each start.
    pub(super) requested: Arc<AtomicBool>,
}

impl Slot {
    pub(super) fn current(&self) -> Option<Arc<Supervised>> {
        self.proc.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl LocalRuntime {
    /// Spawns the slot's process once and waits for its ready line (killing it on failure).
    async fn spawn_ready(&self, slot: &Slot, label: &str) -> Result<Arc<Supervised>, EnvError> {
        let label = label.to_string();
        let (proc, mut lines) = Supervised::spawn(Launch {
            program: &self.mock_bin,
            args: &slot.args,
            envs: &[],
            label: label.clone(),
            log_capacity: LOG_LINES,
            stdin: false,
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

    pub(super) async fn start_slot(&self, id: &InstanceId) -> Result<(), EnvError> {
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
        let exit = proc.exit_watch();
        *slot.proc.lock().unwrap_or_else(|e| e.into_inner()) = Some(proc);
        slot.requested.store(false, Ordering::SeqCst);
        let mut incarnation = 0;
        slot.status.send_modify(|s| {
            s.incarnation += 1;
            incarnation = s.incarnation;
            s.state = InstanceState::Running;
            s.pid = Some(pid);
            s.down = None;
        });
        tokio::spawn(publish_exit(slot.clone(), exit, incarnation));
        Ok(())
    }

    /// Sends `sig`, waits for the exit up to `wait`, then SIGKILLs. Returns whether it exited in time.
    pub(super) async fn end_slot(
        &self,
        id: &InstanceId,
        sig: Option<(i32, &'static str)>,
    ) -> Result<bool, EnvError> {
        let slot = self.slot(id)?.clone();
        let _op = slot.op.lock().await;
        let Some(proc) = slot.current() else {
            return Ok(true);
        };
        // Before any signal: the exit it causes is the harness's doing.
        slot.requested.store(true, Ordering::SeqCst);
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
            // An instance that had already exited by itself keeps that cause.
            s.down.get_or_insert(DownCause::Requested);
        });
        Ok(in_time)
    }

    pub(super) async fn pause_slot(&self, id: &InstanceId, freeze: bool) -> Result<(), EnvError> {
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

/// Publishes the exit of one incarnation as `Down`, with its cause: requested when the harness
/// ended it, else the exit code or signal (a crash, a kill from outside, `POST /shutdown`).
async fn publish_exit(
    slot: Arc<Slot>,
    mut exit: watch::Receiver<Option<ExitInfo>>,
    incarnation: u64,
) {
    let info = loop {
        if let Some(info) = *exit.borrow_and_update() {
            break Some(info);
        }
        if exit.changed().await.is_err() {
            break None;
        }
    };
    let cause = exit_cause(&slot.requested, info);
    slot.status.send_if_modified(|s| s.end(incarnation, cause));
}

/// The cause of an exit: requested when the flag was set before it, else how the process ended.
pub(super) fn exit_cause(requested: &AtomicBool, info: Option<ExitInfo>) -> DownCause {
    if requested.load(Ordering::SeqCst) {
        return DownCause::Requested;
    }
    DownCause::Exited {
        code: info.and_then(|i| i.code),
        signal: info.and_then(|i| i.signal),
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

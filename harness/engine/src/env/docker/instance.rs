//! One mock instance in its container: the status the environment watches (`InstanceStatus`), and the
//! container operations behind the `Runtime` calls, serialised per instance.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::container::{Container, RunState};
use super::error::DockerError;
use super::layout::{MOCK_CONTROL_PORT, MOCK_LISTEN_PORT};
use crate::env::{DownCause, InstanceAddrs, InstanceState, InstanceStatus};

/// A mock container and what the environment knows of it.
pub(super) struct Mock {
    pub container: Container,
    /// The proxy's listen address for this instance inside the proxy container.
    pub proxy_listen: String,
    status: watch::Sender<InstanceStatus>,
    /// Serialises start / kill / stop / pause / unpause of this instance.
    op: tokio::sync::Mutex<()>,
    /// Set before the harness ends the container (kill, stop, removal), so that its exit is
    /// published as requested; cleared at each start.
    requested: Arc<AtomicBool>,
}

impl Mock {
    /// A mock not running yet; `desktop` is where the desktop reaches it (the proxy's published port).
    pub fn new(container: Container, proxy_listen: String, desktop: SocketAddr) -> Mock {
        let status = watch::Sender::new(InstanceStatus {
            state: InstanceState::Down,
            incarnation: 0,
            addrs: InstanceAddrs {
                listen: desktop,
                control: loopback(0),
                sip: None,
            },
            pid: None,
            down: None,
        });
        Mock {
            container,
            proxy_listen,
            status,
            op: tokio::sync::Mutex::new(()),
            requested: Arc::default(),
        }
    }

    pub fn status(&self) -> &watch::Sender<InstanceStatus> {
        &self.status
    }

    /// The proxy's upstream for this instance: its container name on the network (stable across restarts).
    pub fn upstream(&self) -> String {
        format!("{}:{MOCK_LISTEN_PORT}", self.container.name())
    }

    /// Publishes a new running incarnation (with this start's control port and pid) and watches for its
    /// exit, which is published as `Down` for that incarnation only, with its cause: requested, or the
    /// exit status the engine reports (a crash, a kill from outside, `POST /shutdown`).
    pub fn mark_running(&self, exited: oneshot::Receiver<()>) {
        let control = loopback(self.container.host_port(MOCK_CONTROL_PORT).unwrap_or(0));
        let pid = self.container.pid();
        self.requested.store(false, Ordering::SeqCst);
        let mut incarnation = 0;
        // One update: a new incarnation and its (possibly new) control port arrive together.
        self.status.send_modify(|s| {
            s.state = InstanceState::Running;
            s.incarnation += 1;
            incarnation = s.incarnation;
            s.addrs.control = control;
            s.pid = pid;
            s.down = None;
        });
        let status = self.status.clone();
        let container = self.container.clone();
        let requested = self.requested.clone();
        tokio::spawn(async move {
            if exited.await.is_err() {
                return;
            }
            let cause = exit_cause(&container, &requested).await;
            status.send_if_modified(|s| s.end(incarnation, cause));
        });
    }

    /// Marks the coming end of the container as the harness's doing (call before acting).
    pub fn expect_end(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    /// Publishes the instance as down (killed, stopped, removed by the harness).
    pub fn mark_down(&self) {
        self.status.send_modify(|s| {
            s.state = InstanceState::Down;
            s.pid = None;
            // A container that had already exited by itself keeps that cause.
            s.down.get_or_insert(DownCause::Requested);
        });
    }

    fn mark(&self, state: InstanceState) {
        self.status.send_modify(|s| s.state = state);
    }

    /// Starts a stopped container and waits for its ready line; unpauses a paused one; no-op when running.
    pub async fn start(&self) -> Result<(), DockerError> {
        let _op = self.op.lock().await;
        match self.container.state().await? {
            RunState::Running => {}
            RunState::Paused => {
                self.container.unpause().await?;
                self.mark(InstanceState::Running);
            }
            RunState::Stopped => {
                let started = self.container.start().await?;
                self.mark_running(started.exited);
            }
        }
        Ok(())
    }

    /// SIGKILL (the "killed" fault); returns once the container is down.
    pub async fn kill(&self) -> Result<(), DockerError> {
        let _op = self.op.lock().await;
        self.expect_end();
        if self.container.state().await? != RunState::Stopped {
            self.container.kill().await?;
        }
        self.mark_down();
        Ok(())
    }

    /// Graceful stop: SIGTERM, SIGKILL after `grace`. Returns whether it exited on its own with status 0.
    pub async fn stop(&self, grace: Duration) -> Result<bool, DockerError> {
        let _op = self.op.lock().await;
        self.expect_end();
        let graceful = match self.container.state().await? {
            RunState::Stopped => true,
            // A frozen process cannot handle SIGTERM: thaw it first so the stop is graceful.
            RunState::Paused => {
                self.container.unpause().await?;
                self.container.stop(grace).await?
            }
            RunState::Running => self.container.stop(grace).await?,
        };
        self.mark_down();
        Ok(graceful)
    }

    /// Freeze (docker pause): connections stay open, nothing is answered.
    pub async fn pause(&self) -> Result<(), DockerError> {
        let _op = self.op.lock().await;
        self.container.pause().await?;
        self.mark(InstanceState::Frozen);
        Ok(())
    }

    pub async fn unpause(&self) -> Result<(), DockerError> {
        let _op = self.op.lock().await;
        self.container.unpause().await?;
        self.mark(InstanceState::Running);
        Ok(())
    }
}

/// Why a container's incarnation ended: requested when the flag was set before, else its exit status as
/// the engine reports it once it has recorded the exit (bounded wait: the output may end first).
pub(super) async fn exit_cause(container: &Container, requested: &AtomicBool) -> DownCause {
    if requested.load(Ordering::SeqCst) {
        return DownCause::Requested;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while matches!(
        container.state().await,
        Ok(RunState::Running | RunState::Paused)
    ) && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Checked again: the harness may have begun removing it meanwhile.
    if requested.load(Ordering::SeqCst) {
        return DownCause::Requested;
    }
    match container
        .exit_code()
        .await
        .and_then(|c| i32::try_from(c).ok())
    {
        // The engine reports a process ended by signal N as exit code 128 + N.
        Some(c) if (129..=128 + 64).contains(&c) => DownCause::Exited {
            code: None,
            signal: Some(c - 128),
        },
        code => DownCause::Exited { code, signal: None },
    }
}

pub(super) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

//! What the environment shares with its fault guards and background fault tasks: the runtime, the
//! proxy and control clients, the fault attachment, and the feed handles torn down with it.

use super::attached::Attached;
use super::control::{ControlClient, Health};
use super::error::EnvError;
use super::infra::Infra;
use super::runtime::Runtime;
use super::topology::{InstanceId, Topology};
use bc_protocol::{Role, ServerKind};
use bc_toxiproxy::client::Client as ToxiClient;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// State shared by the environment, its fault guards and background fault tasks.
pub(crate) struct Shared {
    pub runtime: Box<dyn Runtime>,
    pub topology: Topology,
    pub toxi: ToxiClient,
    pub control: ControlClient,
    /// Desktop-visible proxy address of every instance's link.
    pub proxies: HashMap<InstanceId, SocketAddr>,
    /// Where the fault layer keeps its registry of unhealed faults (env only settles it).
    pub faults: Attached,
    /// What happened to the infrastructure that no step asked for.
    pub infra: Infra,
    pub closed: AtomicBool,
    pub(super) stop_feeds: watch::Sender<bool>,
    pub(super) feeds: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    pub fn ensure_open(&self) -> Result<(), EnvError> {
        if self.closed.load(Ordering::SeqCst) {
            Err(EnvError::ShutDown)
        } else {
            Ok(())
        }
    }

    pub fn control_url(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.runtime.status(id)?.addrs.control_url())
    }

    pub async fn health(&self, id: &InstanceId) -> Result<Health, EnvError> {
        let url = self.control_url(id)?;
        self.control.health(&id.to_string(), &url).await
    }

    /// The instance of a pair that reports itself active (the primary when both or neither do).
    pub async fn active_instance(
        &self,
        site: &str,
        server: ServerKind,
    ) -> Result<InstanceId, EnvError> {
        self.active_instance_in(site, server, 1).await
    }

    /// [`Self::active_instance`] of one group's pair (SIP Servers; other kinds have group 1 only).
    pub async fn active_instance_in(
        &self,
        site: &str,
        server: ServerKind,
        group: u32,
    ) -> Result<InstanceId, EnvError> {
        let p = InstanceId::new(site, server, Role::Primary).in_group(group);
        self.runtime.status(&p)?;
        let b = p.partner();
        let (hp, hb) = tokio::join!(self.health(&p), self.health(&b));
        match (hp, hb) {
            (Ok(h), _) if h.active => Ok(p),
            (_, Ok(h)) if h.active => Ok(b),
            (Err(e), Err(_)) => Err(e),
            _ => Ok(p),
        }
    }

    /// Synchronous teardown for `Drop`: stops the feeds and kills every process now.
    pub(super) fn kill_now(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.stop_feeds.send(true);
        for h in self
            .feeds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            h.abort();
        }
        self.faults.abort();
        self.runtime.kill_all_now();
    }
}

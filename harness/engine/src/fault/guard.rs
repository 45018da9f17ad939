//! Fault guards and the registry of unhealed faults: each applied fault leaves a heal plan (data)
//! that its guard, `heal_all` or `reset` executes; plans are idempotent so any order is safe.

use super::{FaultError, FlapPhase};
use crate::env::attached::{Attachment, BoxFuture};
use crate::env::shared::Shared;
use crate::env::{now_us, CallDelivery, InstanceId};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What an injection produced besides its effect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FaultOutcome {
    #[default]
    None,
    /// `DeliverCall`: the SIP Server's answer.
    Call(CallDelivery),
}

/// One step of a heal plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HealAction {
    /// Start the instances that are down, thaw frozen ones (a restarted instance whose partner is
    /// active comes back as standby).
    Revive(Vec<InstanceId>),
    /// Thaw the instances that are frozen.
    Thaw(Vec<InstanceId>),
    /// Enable these proxies.
    EnableProxies(Vec<String>),
    /// Remove these (proxy, toxic) pairs.
    RemoveToxics(Vec<(String, String)>),
    /// Lift the overload (every capacity limit) of these instances.
    Overload(Vec<InstanceId>),
    /// Set login rejection on these instances.
    RejectLogins {
        instances: Vec<InstanceId>,
        on: bool,
    },
    /// Set (or remove) the preferred site of an object on every CS Proxy.
    SetPreferred {
        object_type: &'static str,
        dbid: i64,
        value: Option<String>,
    },
}

/// The result of applying a fault, before it is registered.
pub(crate) struct Applied {
    pub at_us: i64,
    pub actions: Vec<String>,
    pub heal: Vec<HealAction>,
    pub outcome: FaultOutcome,
    /// A background task (flapping) stopped on heal.
    pub task: Option<JoinHandle<()>>,
    /// The phase changes the task reports (flapping).
    pub phases: Option<mpsc::UnboundedReceiver<FlapPhase>>,
    /// The harness's own timing of the fault, when it matters to the verdict (`FaultGuard::timing`).
    pub timing: Option<ApplyTiming>,
}

/// How long the harness took to apply a fault whose effect is spread over time (an HA failover:
/// the primary dies first, its backup is promoted later). `late` when that broke a bound the
/// desktop contract promises: the scenario is then the harness's error, not a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyTiming {
    pub note: String,
    pub late: bool,
}

impl Applied {
    pub fn new(at_us: i64, actions: Vec<String>, heal: Vec<HealAction>) -> Applied {
        Applied {
            at_us,
            actions,
            heal,
            outcome: FaultOutcome::None,
            task: None,
            phases: None,
            timing: None,
        }
    }
}

struct Entry {
    fault: String,
    heal: Vec<HealAction>,
    task: Option<JoinHandle<()>>,
}

/// Unhealed faults of one environment, plus the configuration overlay they set. Attached to the
/// environment (`registry`), which heals it before a reset without knowing this type.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<BTreeMap<u64, Entry>>,
    /// (object type, dbid) -> preferred site set by faults (`None` = removed); re-applied to a
    /// restarted CS Proxy, which reloads the database file.
    overlay: Mutex<HashMap<(&'static str, i64), Option<String>>>,
}

/// The fault registry of an environment (created by the first injection).
pub(crate) fn registry(shared: &Shared) -> &Registry {
    shared.faults.get_or_default()
}

impl Attachment for Registry {
    fn before_reset<'a>(&'a self, shared: &'a Shared) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.heal_all(shared).await.map_err(|e| e.to_string()) })
    }

    /// Every CS Proxy reloaded the database file: the faults' configuration overlay is gone.
    fn after_reset(&self) {
        self.clear_overlay();
    }

    fn abort(&self) {
        self.abort_tasks();
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Registry {
    fn insert(&self, id: u64, e: Entry) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, e);
    }

    fn take(&self, id: u64) -> Option<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    }

    /// Number of unhealed faults.
    pub fn pending(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn overlay_get(&self, key: (&'static str, i64)) -> Option<Option<String>> {
        self.overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
    }

    pub fn overlay_set(&self, key: (&'static str, i64), value: Option<String>) {
        self.overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, value);
    }

    pub fn overlay_snapshot(&self) -> Vec<((&'static str, i64), Option<String>)> {
        self.overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Forgets the overlay (after the mocks reloaded their database).
    pub fn clear_overlay(&self) {
        self.overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Stops background fault tasks now (synchronous, for teardown).
    pub fn abort_tasks(&self) {
        for e in self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            if let Some(t) = &e.task {
                t.abort();
            }
        }
    }

    /// Heals every registered fault, newest first; tries all and returns the first failure.
    pub async fn heal_all(&self, shared: &Shared) -> Result<(), FaultError> {
        self.heal_where(shared, |_| true).await
    }

    /// Heals the registered faults whose heal actions `select` picks, newest first; the others
    /// stay registered.
    pub async fn heal_where(
        &self,
        shared: &Shared,
        select: impl Fn(&[HealAction]) -> bool,
    ) -> Result<(), FaultError> {
        let entries: Vec<(u64, Entry)> = {
            let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<u64> = m
                .iter()
                .filter(|(_, e)| select(&e.heal))
                .map(|(k, _)| *k)
                .collect();
            keys.into_iter()
                .rev()
                .filter_map(|k| m.remove(&k).map(|e| (k, e)))
                .collect()
        };
        let mut first = None;
        for (_, e) in entries {
            if let Err(err) = run_heal(shared, e).await {
                first.get_or_insert(err);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

async fn run_heal(shared: &Shared, e: Entry) -> Result<Vec<String>, FaultError> {
    if let Some(t) = &e.task {
        t.abort();
    }
    let mut done = Vec::new();
    for action in &e.heal {
        let mut lines = execute(shared, action)
            .await
            .map_err(|reason| FaultError::Heal {
                fault: e.fault.clone(),
                reason,
            })?;
        done.append(&mut lines);
    }
    Ok(done)
}

async fn execute(shared: &Shared, action: &HealAction) -> Result<Vec<String>, String> {
    match action {
        HealAction::Revive(ids) => super::process::revive(shared, ids).await,
        HealAction::Thaw(ids) => super::process::thaw_frozen(shared, ids).await,
        HealAction::EnableProxies(names) => super::link::set_enabled(shared, names, true).await,
        HealAction::RemoveToxics(list) => super::link::remove_toxics(shared, list).await,
        HealAction::RejectLogins { instances, on } => {
            super::logins::set(shared, instances, *on).await
        }
        HealAction::Overload(ids) => super::overload::set(shared, ids, None).await,
        HealAction::SetPreferred {
            object_type,
            dbid,
            value,
        } => super::config::set_everywhere(shared, object_type, *dbid, value.as_deref())
            .await
            .map(|(lines, _)| lines),
    }
}

/// What a heal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealReport {
    /// When the heal was complete (µs since the Unix epoch).
    pub healed_at_us: i64,
    pub actions: Vec<String>,
}

/// An applied fault: when it took effect, what was done, and how to heal it.
/// Dropping a guard does not heal (healing is async): use `heal`, `Faults::heal_all` or `reset`.
pub struct FaultGuard {
    id: u64,
    fault: super::Fault,
    applied_at_us: i64,
    actions: Vec<String>,
    outcome: FaultOutcome,
    healable: bool,
    shared: Weak<Shared>,
    healed: Option<HealReport>,
    phases: Option<mpsc::UnboundedReceiver<FlapPhase>>,
    timing: Option<ApplyTiming>,
}

impl std::fmt::Debug for FaultGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultGuard")
            .field("id", &self.id)
            .field("fault", &self.fault)
            .field("applied_at_us", &self.applied_at_us)
            .field("actions", &self.actions)
            .field("outcome", &self.outcome)
            .field("healed", &self.healed)
            .finish()
    }
}

impl FaultGuard {
    pub(crate) fn register(shared: &Arc<Shared>, fault: super::Fault, a: Applied) -> FaultGuard {
        let id = shared.faults.next_id();
        let healable = !a.heal.is_empty() || a.task.is_some();
        if healable {
            registry(shared).insert(
                id,
                Entry {
                    fault: fault.to_string(),
                    heal: a.heal,
                    task: a.task,
                },
            );
        }
        FaultGuard {
            id,
            fault,
            applied_at_us: a.at_us,
            actions: a.actions,
            outcome: a.outcome,
            healable,
            shared: Arc::downgrade(shared),
            healed: None,
            phases: a.phases,
            timing: a.timing,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn fault(&self) -> &super::Fault {
        &self.fault
    }

    /// When the fault took effect (µs since the Unix epoch, the mocks' `ts_us` clock).
    pub fn applied_at_us(&self) -> i64 {
        self.applied_at_us
    }

    /// What was done, one line per step (for the timeline and reports).
    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    pub fn outcome(&self) -> &FaultOutcome {
        &self.outcome
    }

    /// The harness's own timing of the fault, when it matters to the verdict.
    pub fn timing(&self) -> Option<&ApplyTiming> {
        self.timing.as_ref()
    }

    /// The phase changes of a flap after its first down (`None` for other faults, or once taken);
    /// the stream ends when the flapping does.
    pub fn take_phases(&mut self) -> Option<mpsc::UnboundedReceiver<FlapPhase>> {
        self.phases.take()
    }

    /// Whether healing does anything (false for restores, thaws, switchovers, calls).
    pub fn is_healable(&self) -> bool {
        self.healable
    }

    /// The report of the heal, once healed through this guard.
    pub fn healed(&self) -> Option<&HealReport> {
        self.healed.as_ref()
    }

    /// Heals the fault (inverse operation, confirmed). Healing again, or after `heal_all` /
    /// `reset` already did, returns an empty report.
    pub async fn heal(&mut self) -> Result<HealReport, FaultError> {
        if let Some(r) = &self.healed {
            return Ok(r.clone());
        }
        let shared = self.shared.upgrade().ok_or(FaultError::ShutDown)?;
        shared.ensure_open().map_err(|_| FaultError::ShutDown)?;
        let actions = match registry(&shared).take(self.id) {
            Some(e) => run_heal(&shared, e).await?,
            None => Vec::new(),
        };
        let r = HealReport {
            healed_at_us: now_us(),
            actions,
        };
        self.healed = Some(r.clone());
        Ok(r)
    }
}

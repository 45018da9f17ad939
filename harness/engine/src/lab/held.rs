//! The faults applied by hand on a lab environment, held by the `env up` process (their guards
//! outlive the CLI call that applied them) until `env heal` or `env down`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::fault::FaultGuard;

/// One applied fault as status reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFault {
    /// Its number, for `env heal ID`.
    pub id: u64,
    /// The step as it was parsed (`{kill_site: A}`).
    pub step: String,
    /// What the environment applied (`kill_site A`).
    pub fault: String,
    /// When it took effect (µs since the Unix epoch, the mocks' clock).
    pub applied_us: i64,
    /// What was done.
    pub actions: Vec<String>,
    /// Whether healing does anything (a call or a restore has nothing to undo).
    pub healable: bool,
}

/// The unhealed faults and their guards, by id.
#[derive(Default)]
pub struct Held {
    faults: Mutex<BTreeMap<u64, (HeldFault, FaultGuard)>>,
}

impl Held {
    /// Keeps a guard; returns what status will show.
    pub fn insert(&self, step: String, guard: FaultGuard) -> HeldFault {
        let h = HeldFault {
            id: guard.id(),
            step,
            fault: guard.fault().to_string(),
            applied_us: guard.applied_at_us(),
            actions: guard.actions().to_vec(),
            healable: guard.is_healable(),
        };
        // Nothing to heal: shown once in the answer, not held.
        if h.healable {
            self.lock().insert(h.id, (h.clone(), guard));
        }
        h
    }

    /// The held faults, oldest first.
    pub fn list(&self) -> Vec<HeldFault> {
        self.lock().values().map(|(h, _)| h.clone()).collect()
    }

    /// Takes one fault's guard out (to heal it).
    pub fn take(&self, id: u64) -> Option<(HeldFault, FaultGuard)> {
        self.lock().remove(&id)
    }

    /// Takes every guard out, newest first (heal order).
    pub fn take_all(&self) -> Vec<(HeldFault, FaultGuard)> {
        let mut all: Vec<_> = std::mem::take(&mut *self.lock()).into_values().collect();
        all.reverse();
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (HeldFault, FaultGuard)>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}

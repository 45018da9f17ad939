//! `run --keep-env=on-failure`: the first failed scenario's environment is kept as it was at its
//! verdict (faults applied, desktop running) and handed over, after the reports, to a lab owner.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bc_protocol::ObservedEvent;
use tokio::sync::mpsc;

use crate::env::{Desktop, Environment};
use crate::fault::FaultGuard;

/// What a failed scenario leaves when it is kept: its desktop and its unhealed faults.
pub struct KeptScenario {
    /// The scenario's desktop, still running.
    pub desktop: Option<Desktop>,
    /// Each fault still applied, with the step that applied it (`step 3: kill_site A`).
    pub faults: Vec<(String, FaultGuard)>,
}

/// The failed scenario's whole environment, ready for `lab::keep`.
pub struct KeptEnv {
    /// The run id of the scenario that failed.
    pub scenario: String,
    /// The agent it logged in.
    pub agent: String,
    /// The configuration database the mocks serve.
    pub config: PathBuf,
    pub env: Environment,
    /// The environment's observation feed (the lab's live timeline reads it).
    pub events: mpsc::Receiver<ObservedEvent>,
    pub kept: KeptScenario,
}

/// Where the runner leaves the kept environment for its caller; empty when nothing failed.
#[derive(Clone, Default)]
pub struct KeepSlot(Arc<Mutex<Option<KeptEnv>>>);

impl KeepSlot {
    /// Leaves `kept` for the caller (the first one wins; there is one job).
    pub fn put(&self, kept: KeptEnv) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(kept);
        }
    }

    /// The kept environment, once.
    pub fn take(&self) -> Option<KeptEnv> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl std::fmt::Debug for KeepSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("KeepSlot").field("full", &full).finish()
    }
}

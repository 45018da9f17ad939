//! The one place where applied faults and heals become timeline entries (marker, fault, heal),
//! for a step's injection, a heal, and every phase of a flap recorded phase by phase.

use bc_suite::PlannedStep;
use tokio::sync::mpsc;

use super::driver::{Driver, Stop};
use crate::fault::{Fault, FaultGuard, FaultOutcome, FlapPhase, HealReport};
use crate::observe::{Effect, EntryKind};
use crate::run::translate::Injection;

/// A fault a step injected, with what its timeline entries need.
pub(super) struct Injected {
    pub guard: FaultGuard,
    /// Phase changes of a flap, until it ends.
    pub phases: Option<mpsc::UnboundedReceiver<FlapPhase>>,
    /// Evaluation waits from here for a flap's change in flight.
    pub changing: Option<i64>,
    /// Timeline id of its fault entry; of the current down phase for a flap recorded phase by
    /// phase (`None` while up).
    pub id: Option<u32>,
    /// Set for a flap recorded phase by phase.
    per_phase: Option<PerPhase>,
}

/// What each down phase of a flap records.
struct PerPhase {
    marker: Option<String>,
    description: String,
    effects: Vec<Effect>,
    /// The agents an aimed flap reaches: each down phase's effects are theirs alone.
    agents: Vec<String>,
}

impl Injected {
    /// A flap recorded phase by phase that has ended while up: healing it records nothing.
    pub fn is_over(&self) -> bool {
        self.per_phase.is_some() && self.phases.is_none() && self.id.is_none()
    }

    pub fn is_per_phase(&self) -> bool {
        self.per_phase.is_some()
    }
}

impl Driver<'_> {
    /// The marker entry of a step that has one.
    pub fn record_marker(&mut self, at: i64, marker: Option<&str>) {
        if let Some(m) = marker {
            self.push(at, EntryKind::Marker { name: m.into() });
        }
    }

    /// The fault entry (after the step's marker, when `marker` is set) of an applied fault or
    /// down phase; returns its timeline id.
    fn record_fault(
        &mut self,
        at: i64,
        marker: Option<&str>,
        entry_marker: Option<String>,
        description: String,
        effects: Vec<Effect>,
        agents: Vec<String>,
    ) -> u32 {
        self.record_marker(at, marker);
        self.next_fault += 1;
        self.last_fault_us = Some(at);
        self.push(
            at,
            EntryKind::Fault {
                id: self.next_fault,
                marker: entry_marker,
                description,
                effects,
                agents,
            },
        );
        self.next_fault
    }

    /// A `deliver_call` the servers refused (no Ready agent to offer it to), as a fault entry whose
    /// effects say so; nothing to heal.
    pub fn record_call_refused(
        &mut self,
        at: i64,
        marker: Option<&str>,
        description: String,
        effects: Vec<Effect>,
    ) {
        self.record_fault(
            at,
            marker,
            marker.map(String::from),
            description,
            effects,
            Vec::new(),
        );
    }

    /// The heal entry of fault `id` (`None`: of every fault).
    pub fn record_heal(&mut self, at: i64, id: Option<u32>, description: String) {
        self.push(
            at,
            EntryKind::Heal {
                fault: id,
                description,
                effects: Vec::new(),
            },
        );
    }

    /// Records a step's applied fault (a call counts from the step: it may be answered before
    /// its delivery is confirmed) and tracks its guard for heals and flap phases.
    pub fn record_injected(
        &mut self,
        step: &PlannedStep,
        step_ts: i64,
        inj: Injection,
        mut guard: FaultGuard,
    ) {
        let outcome = guard.outcome().clone();
        let at = match outcome {
            FaultOutcome::Call(_) => step_ts,
            FaultOutcome::None => guard.applied_at_us().max(step_ts),
        };
        let description = match (&inj.per_phase, outcome) {
            (Some(d), _) => d.clone(),
            (None, FaultOutcome::Call(c)) => format!("{} ({c:?})", guard.fault()),
            (None, FaultOutcome::None) => guard.fault().to_string(),
        };
        let marker = step.marker.clone();
        let agents = match guard.fault() {
            Fault::AimedLink { aim, .. } | Fault::Flap { aim: Some(aim), .. } => aim.agents.clone(),
            // A fault on one group's SIP Servers: the agents of that group (`herd::aims`).
            _ => self
                .aims
                .get(&step.index)
                .map(|v| v.iter().map(|i| crate::env::floor::username(*i)).collect())
                .unwrap_or_default(),
        };
        let id = self.record_fault(
            at,
            marker.as_deref(),
            marker.clone(),
            description,
            inj.effects.clone(),
            agents.clone(),
        );
        let per_phase = inj.per_phase.map(|description| PerPhase {
            marker,
            description,
            effects: inj.effects,
            agents,
        });
        let injected = Injected {
            phases: guard.take_phases(),
            guard,
            changing: None,
            id: Some(id),
            per_phase,
        };
        self.injected.insert(step.index, injected);
    }

    /// Records a heal through a guard: the heal entry of its fault, or of the current down phase
    /// of a flap recorded phase by phase (none while it is up).
    pub fn record_healed(&mut self, i: &Injected, report: &HealReport) {
        let description = match &i.per_phase {
            Some(p) => p.description.clone(),
            None => i.guard.fault().to_string(),
        };
        if i.id.is_some() || i.per_phase.is_none() {
            self.record_heal(report.healed_at_us, i.id, description);
        }
    }

    /// Records one phase change a flap reported (`None`: the flap ended).
    pub fn on_phase(&mut self, step: usize, phase: Option<FlapPhase>) -> Result<(), Stop> {
        let Some(mut i) = self.injected.remove(&step) else {
            return Ok(());
        };
        let r = self.record_phase(&mut i, phase);
        self.injected.insert(step, i);
        self.sync_hold();
        r
    }

    /// Records the phase changes a flap reported so far, without waiting.
    pub fn drain_phases(&mut self, i: &mut Injected) -> Result<(), Stop> {
        while let Some(rx) = &mut i.phases {
            let phase = match rx.try_recv() {
                Ok(p) => Some(p),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            self.record_phase(i, phase)?;
        }
        Ok(())
    }

    fn record_phase(&mut self, i: &mut Injected, phase: Option<FlapPhase>) -> Result<(), Stop> {
        let Some(phase) = phase else {
            i.phases = None;
            i.changing = None;
            return Ok(());
        };
        let from = i.changing.take();
        match (phase, &i.per_phase) {
            (FlapPhase::Changing { from_us }, _) => i.changing = Some(from_us),
            (FlapPhase::Failed { reason }, _) => {
                i.phases = None;
                return Err(self.harness_error(format!("flapping failed: {reason}")));
            }
            // A flap recorded as one entry: its phases add nothing to the timeline.
            (_, None) => {}
            (FlapPhase::Down { at_us }, Some(p)) => {
                let at = from.map_or(at_us, |f| at_us.max(f));
                let (marker, description, effects, agents) = (
                    p.marker.clone(),
                    p.description.clone(),
                    p.effects.clone(),
                    p.agents.clone(),
                );
                i.id = Some(self.record_fault(at, None, marker, description, effects, agents));
            }
            (FlapPhase::Up { at_us }, Some(p)) => {
                if let Some(id) = i.id.take() {
                    self.record_heal(at_us, Some(id), p.description.clone());
                }
            }
        }
        Ok(())
    }
}

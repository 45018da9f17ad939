//! Facts about `on:` triggers shared by validation and planning: what fires them, where, and
//! the concrete form the engine arms in the mock that sees the message.

use std::time::Duration;

use crate::model::{HoldMode, ReleaseMode, Trigger};
use crate::planned::{PlannedTrigger, TriggerKind};
use crate::span::Spanned;
use crate::target::ServerTarget;
use crate::vocab::Site;

impl Trigger {
    /// The keys naming what fires a trigger: exactly one must be present.
    pub const KINDS: [&'static str; 4] = ["desktop_sends", "event", "connects", "disconnects"];

    /// The kinds present, by key, in [`Trigger::KINDS`] order.
    pub fn kinds_present(&self) -> Vec<&'static str> {
        let present = [
            self.desktop_sends.is_some(),
            self.event.is_some(),
            self.connects.is_some(),
            self.disconnects.is_some(),
        ];
        Self::KINDS
            .iter()
            .zip(present)
            .filter_map(|(k, p)| p.then_some(*k))
            .collect()
    }

    /// The server whose mock is armed: `at`, or the target of `connects` / `disconnects`.
    pub fn server(&self) -> Option<&Spanned<ServerTarget>> {
        self.connects
            .as_ref()
            .or(self.disconnects.as_ref())
            .or(self.at.as_ref())
    }

    /// The hold when none is written: the message itself, except on `disconnects` (nothing is
    /// left to hold once a connection has ended).
    pub fn hold_mode(&self) -> HoldMode {
        match (&self.hold, &self.disconnects) {
            (Some(h), _) => h.value,
            (None, Some(_)) => HoldMode::None,
            (None, None) => HoldMode::Message,
        }
    }

    /// The concrete trigger (sites resolved, defaults filled); `None` when validation would
    /// have rejected it.
    pub fn plan(&self, preferred: Site, budget: Duration) -> Option<PlannedTrigger> {
        let kind = if let Some(m) = &self.desktop_sends {
            TriggerKind::DesktopSends(m.value.clone())
        } else if let Some(m) = &self.event {
            TriggerKind::Event(m.value.clone())
        } else if self.connects.is_some() {
            TriggerKind::Connects
        } else {
            TriggerKind::Disconnects
        };
        Some(PlannedTrigger {
            kind,
            at: self.server()?.value.resolve(preferred),
            nth: self.nth.as_ref().map_or(1, |n| n.value),
            timeout: self.timeout.as_ref().map_or(budget, |t| t.value.0),
            after: self.after.as_ref().map_or(Duration::ZERO, |a| a.value.0),
            hold: self.hold_mode(),
            then: self.then.as_ref().map_or(ReleaseMode::Release, |t| t.value),
        })
    }
}

impl PlannedTrigger {
    /// How reports name the trigger: `desktop_sends RequestAgentLogin at B/sip_server (nth 1)`.
    pub fn describe(&self) -> String {
        let at = format!("{}/{}", self.at.site, self.at.server);
        let at = match self.at.role {
            Some(r) => format!("{at}/{}", r.as_str()),
            None => at,
        };
        let what = match &self.kind {
            TriggerKind::DesktopSends(m) => format!("desktop_sends {m} at {at}"),
            TriggerKind::Event(m) => format!("event {m} at {at}"),
            TriggerKind::Connects => format!("connects {at}"),
            TriggerKind::Disconnects => format!("disconnects {at}"),
        };
        format!("{what} (nth {})", self.nth)
    }
}

//! Measurements: named durations from a marker to an observed state, plus the two automatic ones,
//! switchover time (fault -> logged in at the other site) and detection time (fault -> first contact).

use bc_protocol::{EventKind, ServerKind};
use serde::{Deserialize, Serialize};

use crate::observe::{Entry, EntryKind, SessionState};

/// Name of the automatic switchover measurement.
pub const SWITCHOVER: &str = "switchover";
/// Name of the automatic detection measurement.
pub const DETECTION: &str = "detection";

/// The observed state that ends a named measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Until {
    /// Logged in at the site on these servers.
    LoggedIn {
        /// The site; `None`: any site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site: Option<String>,
        /// The servers.
        servers: Vec<ServerKind>,
    },
    /// First connection to any server of the site.
    FirstContact {
        /// The site.
        site: String,
    },
    /// No connection left at the site.
    Disconnected {
        /// The site.
        site: String,
    },
    /// A call to the agent answered.
    CallAnswered,
}

/// A measurement to take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "measure", rename_all = "snake_case")]
pub enum MeasureSpec {
    /// From marker `from` (its first setting) until a state.
    Named {
        /// Report name.
        name: String,
        /// Start marker.
        from: String,
        /// End state.
        until: Until,
    },
    /// From the first site-loss fault until logged in at the other site (default servers).
    Switchover,
    /// From the first site-loss fault until the first connection at the other site.
    Detection,
}

/// A measured duration (`None`: the end state was never observed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Report name.
    pub name: String,
    /// Microseconds, if reached.
    pub micros: Option<i64>,
}

/// Takes one measurement while entries are folded in.
#[derive(Debug, Clone)]
pub struct Measurer {
    spec: MeasureSpec,
    start: Option<i64>,
    other_site: Option<String>,
    value: Option<i64>,
}

impl Measurer {
    /// A measurer for a spec.
    pub fn new(spec: MeasureSpec) -> Measurer {
        Measurer {
            spec,
            start: None,
            other_site: None,
            value: None,
        }
    }

    /// The report name.
    pub fn name(&self) -> String {
        match &self.spec {
            MeasureSpec::Named { name, .. } => name.clone(),
            MeasureSpec::Switchover => SWITCHOVER.into(),
            MeasureSpec::Detection => DETECTION.into(),
        }
    }

    /// The result so far.
    pub fn result(&self) -> Measured {
        Measured {
            name: self.name(),
            micros: self.value,
        }
    }

    /// After `e` was folded into `st`.
    pub fn on_entry(&mut self, e: &Entry, st: &SessionState) {
        if self.value.is_some() {
            return;
        }
        if self.start.is_none() {
            self.arm(e, st);
        }
        let Some(start) = self.start else { return };
        let reached = match &self.spec {
            MeasureSpec::Named { until, .. } => match until {
                Until::LoggedIn { site, servers } => {
                    let sites: Vec<String> = match site {
                        Some(s) => vec![s.clone()],
                        None => st.subject().sites.clone(),
                    };
                    sites
                        .iter()
                        .filter_map(|s| st.logged_in_since(s, servers))
                        .min()
                        .map(|t| t.max(start))
                }
                Until::FirstContact { site } => contact(e, site, start),
                Until::Disconnected { site } => (!st.connected(site)).then_some(e.ts_us),
                Until::CallAnswered => st.answered().iter().copied().find(|t| *t >= start),
            },
            MeasureSpec::Switchover => self
                .other_site
                .as_ref()
                .and_then(|o| st.logged_in_since(o, &st.default_servers()))
                .map(|t| t.max(start)),
            MeasureSpec::Detection => self.other_site.as_ref().and_then(|o| contact(e, o, start)),
        };
        if let Some(t) = reached {
            self.value = Some(t - start);
        }
    }

    fn arm(&mut self, e: &Entry, st: &SessionState) {
        match &self.spec {
            MeasureSpec::Named { from, .. } => self.start = st.marker(from),
            MeasureSpec::Switchover | MeasureSpec::Detection => {
                let EntryKind::Fault { effects, .. } = &e.kind else {
                    return;
                };
                let Some(hit) = effects.iter().find(|x| x.change.is_site_loss()) else {
                    return;
                };
                let from = st
                    .current_site()
                    .map(str::to_string)
                    .unwrap_or_else(|| hit.target.site.clone());
                self.other_site = st.subject().sites.iter().find(|s| **s != from).cloned();
                self.start = Some(e.ts_us);
            }
        }
    }
}

fn contact(e: &Entry, site: &str, start: i64) -> Option<i64> {
    match &e.kind {
        EntryKind::Observed { event: o }
            if o.site == site
                && e.ts_us >= start
                && matches!(o.kind, EventKind::ClientConnected { .. }) =>
        {
            Some(e.ts_us)
        }
        _ => None,
    }
}

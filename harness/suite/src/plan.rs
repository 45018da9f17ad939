//! `plan()`: expands validated scenarios x parameters into concrete runs for the engine.
//! Pure: resolves `preferred`/`other`, budgets, markers and defaults; reads no file.

use std::time::Duration;

use crate::duration::HumanDuration;
use crate::load::LoadedSuite;
use crate::model::*;
use crate::planned::*;
use crate::span::Spanned;
use crate::steps::step_markers;
use crate::validate::config_object_name;
use crate::vocab::{Site, SiteRef};

/// Something a hand-built (unvalidated) suite lacks; validated suites never produce it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `preferred`/`other` used without any preferred site.
    #[error("scenario `{scenario}` uses `preferred`/`other` but has no preferred site")]
    NoPreferredSite {
        /// The scenario id.
        scenario: String,
    },
    /// A reference that validation would have rejected.
    #[error("scenario `{scenario}`: {message}")]
    Invalid {
        /// The scenario id.
        scenario: String,
        /// What is wrong.
        message: String,
    },
}

fn dur(d: &Option<Spanned<HumanDuration>>, default: Duration) -> Duration {
    d.as_ref().map(|d| d.value.0).unwrap_or(default)
}

fn push_unique<T: PartialEq + Clone>(v: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for i in items {
        if !v.contains(&i) {
            v.push(i);
        }
    }
}

fn uses_symbolic(s: &Scenario) -> bool {
    let symbolic = |r: &SiteRef| r.concrete().is_none();
    s.steps
        .iter()
        .any(|st| st.value.site_refs().iter().any(symbolic))
        || s.measurements.iter().any(|m| match &m.value.until.value {
            Observation::LoggedIn(r)
            | Observation::FirstContact(r)
            | Observation::Disconnected(r) => symbolic(r),
            Observation::CallAnswered => false,
        })
}

/// Expands every scenario of a validated suite into concrete runs, in file order.
///
/// A scenario with `for_each_preferred_site: true` yields two runs (preferred A, then B) with
/// ids `SUITE/SCENARIO[preferred=A]` and `...[preferred=B]`; any other scenario yields one run
/// with id `SUITE/SCENARIO`.
#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
pub fn plan(
    loaded: &LoadedSuite,
    options: &PlanOptions,
) -> Result<Vec<PlannedScenario>, PlanError> {
    let suite = &loaded.suite;
    let mut out = Vec::new();
    for sc in &suite.scenarios {
        let s = &sc.value;
        let agent = s.agent.as_ref().unwrap_or(&suite.agent).value.clone();
        let params: Vec<(Option<Site>, bool)> = if s.for_each_preferred_site {
            Site::ALL.iter().map(|p| (Some(*p), true)).collect()
        } else if let Some(p) = &s.preferred_site {
            vec![(Some(p.value), true)]
        } else {
            vec![(loaded.config.preferred_site(&agent), false)]
        };
        for (preferred, pinned) in params {
            if preferred.is_none() && uses_symbolic(s) {
                return Err(PlanError::NoPreferredSite {
                    scenario: s.id.value.clone(),
                });
            }
            let id = if s.for_each_preferred_site {
                format!(
                    "{}/{}[preferred={}]",
                    suite.id.value,
                    s.id.value,
                    preferred.map(|p| p.as_str()).unwrap_or("?")
                )
            } else {
                format!("{}/{}", suite.id.value, s.id.value)
            };
            let budget = options
                .budget
                .unwrap_or_else(|| dur(&s.budget, dur(&suite.budget, DEFAULT_BUDGET)));
            let mut rules: Vec<_> = suite
                .rules
                .iter()
                .chain(&s.rules)
                .map(|r| r.value)
                .collect();
            rules.sort();
            rules.dedup();
            let mut tags = Vec::new();
            push_unique(
                &mut tags,
                suite.tags.iter().chain(&s.tags).map(|t| t.value.clone()),
            );
            let mut requires = Vec::new();
            push_unique(
                &mut requires,
                suite.requires.iter().chain(&s.requires).map(|c| c.value),
            );
            let mut skip_if = Vec::new();
            push_unique(
                &mut skip_if,
                suite.skip_if.iter().chain(&s.skip_if).map(|c| c.value),
            );
            let mut planner = Planner {
                scenario: &s.id.value,
                preferred: preferred.unwrap_or(Site::A),
                budget,
                loaded,
                agent: &agent,
            };
            let (steps, mut measurements) = planner.steps(&s.steps)?;
            let invariants = s
                .invariants
                .iter()
                .map(|i| match &i.value {
                    Invariant::NeverLoggedInAtBothPeers => {
                        PlannedInvariant::NeverLoggedInAtBothPeers
                    }
                    Invariant::NeverSplit { longer_than } => PlannedInvariant::NeverSplit {
                        longer_than: longer_than.value.0,
                    },
                    Invariant::MaxSwitchovers { count, per } => PlannedInvariant::MaxSwitchovers {
                        count: count.value,
                        per: dur(per, budget),
                    },
                    Invariant::MaxReconnects { count, per } => PlannedInvariant::MaxReconnects {
                        count: count.value,
                        per: dur(per, budget),
                    },
                })
                .collect();
            for m in &s.measurements {
                let p = planner.preferred;
                measurements.push(PlannedMeasurement {
                    name: m.value.name.value.clone(),
                    from: m.value.from.value.clone(),
                    until: match &m.value.until.value {
                        Observation::LoggedIn(x) => {
                            PlannedObservation::LoggedIn(Some(x.resolve(p)))
                        }
                        Observation::FirstContact(x) => {
                            PlannedObservation::FirstContact(x.resolve(p))
                        }
                        Observation::Disconnected(x) => {
                            PlannedObservation::Disconnected(x.resolve(p))
                        }
                        Observation::CallAnswered => PlannedObservation::CallAnswered,
                    },
                    step: None,
                });
            }
            out.push(PlannedScenario {
                id,
                suite_id: suite.id.value.clone(),
                scenario_id: s.id.value.clone(),
                file: loaded.path.clone(),
                line: sc.span.line,
                title: s.title.clone().or_else(|| suite.title.clone()),
                description: s.description.clone(),
                rules,
                tags,
                requires,
                skip_if,
                sites: suite.topology.sites.iter().map(|s| s.value).collect(),
                stat_server: suite.topology.stat_server,
                ha: suite.topology.ha,
                server_client_timeout: suite
                    .topology
                    .server_client_timeout
                    .as_ref()
                    .map(|d| d.value.0),
                config_path: loaded.config_path.clone(),
                agent: agent.clone(),
                preferred_site: preferred,
                pin_preferred_site: pinned,
                budget,
                steps,
                invariants,
                measurements,
            });
        }
    }
    Ok(out)
}

struct Planner<'a> {
    scenario: &'a str,
    preferred: Site,
    budget: Duration,
    loaded: &'a LoadedSuite,
    agent: &'a str,
}

impl Planner<'_> {
    fn site(&self, s: &Spanned<SiteRef>) -> Site {
        s.value.resolve(self.preferred)
    }

    fn invalid(&self, message: String) -> PlanError {
        PlanError::Invalid {
            scenario: self.scenario.to_string(),
            message,
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "to be split into one function per step (issue 12's 100-line limit)"
    )]
    fn steps(
        &mut self,
        steps: &[Spanned<Step>],
    ) -> Result<(Vec<PlannedStep>, Vec<PlannedMeasurement>), PlanError> {
        let markers = step_markers(steps);
        let mut out: Vec<PlannedStep> = Vec::new();
        let mut measurements = Vec::new();
        if !steps.iter().any(|s| matches!(s.value, Step::StartDesktop)) {
            out.push(PlannedStep {
                index: 0,
                line: 0,
                marker: Some("start".into()),
                action: Action::StartDesktop,
            });
        }
        let mut latest: Option<String> = out.first().and_then(|s| s.marker.clone());
        let mut latest_call: Option<String> = None;
        for (st, marker) in steps.iter().zip(markers) {
            let index = out.len();
            let from = |f: &Option<Spanned<String>>,
                        latest: &Option<String>|
             -> Result<String, PlanError> {
                f.as_ref()
                    .map(|f| f.value.clone())
                    .or_else(|| latest.clone())
                    .ok_or_else(|| self.invalid("no marker to count from".into()))
            };
            let p = self.preferred;
            let action = match &st.value {
                Step::StartDesktop => Action::StartDesktop,
                Step::KillSite(a) => Action::KillSite(self.site(&a.site)),
                Step::StopSite(a) => Action::StopSite(self.site(&a.site)),
                Step::RestoreSite(a) => Action::RestoreSite(self.site(&a.site)),
                Step::KillServer(a) => Action::KillServer(a.server.value.resolve(p)),
                Step::StopServer(a) => Action::StopServer(a.server.value.resolve(p)),
                Step::FreezeServer(a) => Action::FreezeServer(a.server.value.resolve(p)),
                Step::ThawServer(a) => Action::ThawServer(a.server.value.resolve(p)),
                Step::RestoreServer(a) => Action::RestoreServer(a.server.value.resolve(p)),
                Step::HaFailover(a) => Action::HaFailover {
                    site: a.server.value.site.resolve(p),
                    server: a.server.value.server,
                },
                Step::HaSwitchover(a) => Action::HaSwitchover {
                    site: a.server.value.site.resolve(p),
                    server: a.server.value.server,
                },
                Step::Refuse(a) => Action::Link {
                    link: a.link.value.resolve(p),
                    fault: LinkFault::Refuse,
                },
                Step::BlackHole(a) => Action::Link {
                    link: a.link.value.resolve(p),
                    fault: LinkFault::BlackHole,
                },
                Step::Reset(a) => Action::Link {
                    link: a.link.value.resolve(p),
                    fault: LinkFault::Reset,
                },
                Step::Latency(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::Latency {
                        ms: f.ms.value,
                        jitter_ms: f.jitter_ms.as_ref().map(|j| j.value).unwrap_or(0),
                    },
                },
                Step::Jitter(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::Jitter { ms: f.ms.value },
                },
                Step::Bandwidth(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::Bandwidth {
                        kb_per_s: f.kb_per_s.value,
                    },
                },
                Step::SlowClose(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::SlowClose {
                        delay: f.delay.value.0,
                    },
                },
                Step::LimitData(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::LimitData {
                        bytes: f.bytes.value,
                    },
                },
                Step::Slicer(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::Slicer {
                        average_size: f.average_size.value,
                        size_variation: f.size_variation.as_ref().map(|v| v.value).unwrap_or(0),
                        delay_us: f.delay_us.as_ref().map(|v| v.value).unwrap_or(0),
                    },
                },
                Step::PartitionOneWay(f) => Action::Link {
                    link: f.link.value.resolve(p),
                    fault: LinkFault::OneWay {
                        direction: f.direction.value,
                    },
                },
                Step::Flap(f) => Action::Flap {
                    link: f.link.value.resolve(p),
                    mode: f.mode.as_ref().map(|m| m.value).unwrap_or_default(),
                    period: f.period.value.0,
                    count: f.count.value,
                },
                Step::RejectLogins(a) => Action::RejectLogins(a.server.value.resolve(p)),
                Step::SetPreferredSite(c) => Action::SetPreferredSite {
                    level: c.level.value,
                    name: self.object(c.level.value, c.name.as_ref())?,
                    site: Some(self.site(&c.site)),
                },
                Step::ClearPreferredSite(c) => Action::SetPreferredSite {
                    level: c.level.value,
                    name: self.object(c.level.value, c.name.as_ref())?,
                    site: None,
                },
                Step::DeliverCall(c) => Action::DeliverCall {
                    via: self.site(&c.via),
                },
                Step::Heal(h) if h.value == "all" => Action::Heal(HealTarget::All),
                Step::Heal(h) => {
                    let step = out
                        .iter()
                        .rposition(|s| s.marker.as_deref() == Some(h.value.as_str()))
                        .ok_or_else(|| self.invalid(format!("unknown marker `{}`", h.value)))?;
                    Action::Heal(HealTarget::Marker {
                        marker: h.value.clone(),
                        step,
                    })
                }
                Step::Wait(w) => Action::Wait(w.value.0),
                Step::On(t) => Action::On(
                    t.plan(p, self.budget)
                        .ok_or_else(|| self.invalid("trigger names no server".into()))?,
                ),
                Step::Mark(_) => Action::Mark,
                Step::ExpectLoggedIn(e) => {
                    let from = from(&e.from, &latest)?;
                    let site = e.site.as_ref().map(|s| self.site(s));
                    if let Some(m) = &e.measure {
                        measurements.push(PlannedMeasurement {
                            name: m.value.clone(),
                            from: from.clone(),
                            until: PlannedObservation::LoggedIn(site),
                            step: Some(index),
                        });
                    }
                    Action::ExpectLoggedIn {
                        site,
                        servers: e
                            .servers
                            .as_ref()
                            .map(|v| v.iter().map(|k| k.value).collect()),
                        within: dur(&e.within, self.budget),
                        from,
                        measure: e.measure.as_ref().map(|m| m.value.clone()),
                    }
                }
                Step::ExpectStaysLoggedIn(e) => Action::ExpectStaysLoggedIn {
                    site: self.site(&e.site),
                    duration: e.duration.value.0,
                    servers: e
                        .servers
                        .as_ref()
                        .map(|v| v.iter().map(|k| k.value).collect()),
                    gaps: e.gaps.as_ref().map_or(1, |g| g.value),
                },
                Step::ExpectDisconnected(e) => Action::ExpectDisconnected {
                    site: self.site(&e.site),
                    within: dur(&e.within, self.budget),
                    from: from(&e.from, &latest)?,
                },
                Step::ExpectCallAnswered(e) => {
                    let from = from(&e.from, &latest_call)?;
                    if let Some(m) = &e.measure {
                        measurements.push(PlannedMeasurement {
                            name: m.value.clone(),
                            from: from.clone(),
                            until: PlannedObservation::CallAnswered,
                            step: Some(index),
                        });
                    }
                    Action::ExpectCallAnswered {
                        within: dur(&e.within, self.budget),
                        from,
                        measure: e.measure.as_ref().map(|m| m.value.clone()),
                    }
                }
            };
            if let Some(m) = &marker {
                latest = Some(m.clone());
                if matches!(action, Action::DeliverCall { .. }) {
                    latest_call = Some(m.clone());
                }
            }
            out.push(PlannedStep {
                index,
                line: st.span.line,
                marker,
                action,
            });
        }
        Ok((out, measurements))
    }

    fn object(
        &self,
        level: crate::vocab::Level,
        name: Option<&Spanned<String>>,
    ) -> Result<String, PlanError> {
        config_object_name(
            &self.loaded.config,
            level,
            name.map(|n| n.value.as_str()),
            self.agent,
        )
        .map_err(|_| self.invalid(format!("no {level} to change")))
    }
}

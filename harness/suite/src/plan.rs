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
use crate::vocab::{Capability, Site, SiteRef};

mod actions;

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
pub fn plan(
    loaded: &LoadedSuite,
    options: &PlanOptions,
) -> Result<Vec<PlannedScenario>, PlanError> {
    let suite = &loaded.suite;
    let mut out = Vec::new();
    for sc in &suite.scenarios {
        let s = &sc.value;
        let agent = s.agent.as_ref().unwrap_or(&suite.agent).value.clone();
        for (preferred, pinned) in preferred_sites(loaded, s, &agent) {
            out.push(plan_run(loaded, options, sc, &agent, preferred, pinned)?);
        }
    }
    Ok(out)
}

/// The preferred site of each run of a scenario, and whether the run pins it (written in the
/// suite) rather than reading it from the configuration database (`None`: the agent has none).
fn preferred_sites(loaded: &LoadedSuite, s: &Scenario, agent: &str) -> Vec<(Option<Site>, bool)> {
    if s.for_each_preferred_site {
        Site::ALL.iter().map(|p| (Some(*p), true)).collect()
    } else if let Some(p) = &s.preferred_site {
        vec![(Some(p.value), true)]
    } else {
        vec![(loaded.config.preferred_site(agent), false)]
    }
}

/// The run id: `SUITE/SCENARIO`, with `[preferred=SITE]` when the scenario runs once per site.
fn run_id(suite: &Suite, s: &Scenario, preferred: Option<Site>) -> String {
    if s.for_each_preferred_site {
        format!(
            "{}/{}[preferred={}]",
            suite.id.value,
            s.id.value,
            preferred.map(|p| p.as_str()).unwrap_or("?")
        )
    } else {
        format!("{}/{}", suite.id.value, s.id.value)
    }
}

/// One concrete run of scenario `sc` with the given preferred site: the suite's and the
/// scenario's settings merged, every step planned.
fn plan_run(
    loaded: &LoadedSuite,
    options: &PlanOptions,
    sc: &Spanned<Scenario>,
    agent: &str,
    preferred: Option<Site>,
    pinned: bool,
) -> Result<PlannedScenario, PlanError> {
    let suite = &loaded.suite;
    let s = &sc.value;
    if preferred.is_none() && uses_symbolic(s) {
        return Err(PlanError::NoPreferredSite {
            scenario: s.id.value.clone(),
        });
    }
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
        agent,
    };
    let (steps, mut measurements) = planner.steps(&s.steps)?;
    // A phone that dials needs a phone: the run provides it (`--phone`), or the scenario is skipped.
    if steps
        .iter()
        .any(|st| matches!(st.action, Action::PhoneDials { .. }))
    {
        push_unique(&mut requires, [Capability::Phone]);
    }
    let invariants = s
        .invariants
        .iter()
        .map(|i| invariant(&i.value, budget))
        .collect();
    measurements.extend(
        s.measurements
            .iter()
            .map(|m| measurement(&m.value, planner.preferred)),
    );
    Ok(PlannedScenario {
        id: run_id(suite, s, preferred),
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
        server_ping_interval: suite
            .topology
            .server_ping_interval
            .as_ref()
            .map(|d| d.value.0),
        capacity: suite
            .topology
            .capacity
            .as_ref()
            .map(|c| c.plan())
            .unwrap_or_default(),
        keep_agents_on_disconnect: suite.topology.keep_agents_on_disconnect,
        groups: suite.topology.group_count(),
        config_path: loaded.config_path.clone(),
        agent: agent.to_string(),
        preferred_site: preferred,
        pin_preferred_site: pinned,
        budget,
        steps,
        herd: s.herd.as_ref().map(|h| herd(&h.value, preferred)),
        invariants,
        measurements,
    })
}

/// A herd as the engine runs it: defaults filled in, shares in site order.
fn herd(h: &Herd, preferred: Option<Site>) -> HerdPlan {
    let agents = u32::try_from(h.agents.value).unwrap_or(u32::MAX);
    let mut shares: Vec<(Site, u32)> = h
        .preferred
        .iter()
        .map(|s| {
            let pct = u32::try_from(s.value.percent.value).unwrap_or(u32::MAX);
            (s.value.site.value, pct)
        })
        .collect();
    if shares.is_empty() {
        shares.push((preferred.unwrap_or(Site::A), 100));
    }
    shares.sort();
    HerdPlan {
        agents,
        desktops: h
            .desktops
            .as_ref()
            .map(|d| u32::try_from(d.value).unwrap_or(u32::MAX))
            .unwrap_or_else(|| HerdPlan::default_desktops(agents)),
        preferred: shares,
        max_burst_percent: h
            .max_burst_percent
            .as_ref()
            .map(|p| u32::try_from(p.value).unwrap_or(100))
            .unwrap_or(20),
        max_round_percent: h
            .max_round_percent
            .as_ref()
            .map(|p| u32::try_from(p.value).unwrap_or(100))
            .unwrap_or(60),
        max_attempts_per_minute: h
            .max_attempts_per_minute
            .as_ref()
            .map(|p| u32::try_from(p.value).unwrap_or(u32::MAX))
            .unwrap_or(HerdPlan::DEFAULT_MAX_ATTEMPTS_PER_MINUTE),
        ramp: h.ramp.as_ref().map(|r| r.value.get()).unwrap_or_default(),
    }
}

/// An invariant as the engine checks it; a missing `per` window is the whole run (`budget`).
fn invariant(i: &Invariant, budget: Duration) -> PlannedInvariant {
    match i {
        Invariant::NeverLoggedInAtBothPeers => PlannedInvariant::NeverLoggedInAtBothPeers,
        Invariant::HonoursOverload => PlannedInvariant::HonoursOverload,
        Invariant::NeverSplit { longer_than } => PlannedInvariant::NeverSplit {
            longer_than: longer_than.value.0,
        },
        Invariant::MaxSwitchovers { count, per } => PlannedInvariant::MaxSwitchovers {
            count: count.value,
            per: dur(per, budget),
        },
        Invariant::MaxAttempts { count, per } => PlannedInvariant::MaxAttempts {
            count: count.value,
            per: dur(per, budget),
        },
        Invariant::BacksOff {
            min_mean_pause,
            rounds,
        } => PlannedInvariant::BacksOff {
            min_mean_pause: min_mean_pause.value.0,
            rounds: rounds.value,
        },
        Invariant::MaxReconnects { count, per } => PlannedInvariant::MaxReconnects {
            count: count.value,
            per: dur(per, budget),
        },
    }
}

/// A scenario-level measurement (`measurements:`), its site resolved against `preferred`; it
/// belongs to no step.
fn measurement(m: &Measurement, preferred: Site) -> PlannedMeasurement {
    let p = preferred;
    PlannedMeasurement {
        name: m.name.value.clone(),
        from: m.from.value.clone(),
        until: match &m.until.value {
            Observation::LoggedIn(x) => PlannedObservation::LoggedIn(Some(x.resolve(p))),
            Observation::FirstContact(x) => PlannedObservation::FirstContact(x.resolve(p)),
            Observation::Disconnected(x) => PlannedObservation::Disconnected(x.resolve(p)),
            Observation::CallAnswered => PlannedObservation::CallAnswered,
        },
        step: None,
    }
}

struct Planner<'a> {
    scenario: &'a str,
    preferred: Site,
    budget: Duration,
    loaded: &'a LoadedSuite,
    agent: &'a str,
}

/// The steps planned so far, and the markers the next step counts from by default.
#[derive(Default)]
struct SoFar {
    /// The planned steps, in order.
    steps: Vec<PlannedStep>,
    /// Measurements taken by `measure:` on expectations.
    measurements: Vec<PlannedMeasurement>,
    /// The latest marker set (the default `from` of most expectations).
    latest: Option<String>,
    /// The latest marker set by a `deliver_call` (the default `from` of `expect_call_answered`).
    latest_call: Option<String>,
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

    /// Plans the steps in order (after an implicit `start_desktop` when none is written),
    /// with the measurements their `measure:` keys take.
    fn steps(
        &mut self,
        steps: &[Spanned<Step>],
    ) -> Result<(Vec<PlannedStep>, Vec<PlannedMeasurement>), PlanError> {
        let markers = step_markers(steps);
        let mut so_far = SoFar::default();
        if !steps.iter().any(|s| matches!(s.value, Step::StartDesktop)) {
            so_far.steps.push(PlannedStep {
                index: 0,
                line: 0,
                marker: Some("start".into()),
                action: Action::StartDesktop,
                aim: None,
                among: None,
            });
        }
        so_far.latest = so_far.steps.first().and_then(|s| s.marker.clone());
        for (st, marker) in steps.iter().zip(markers) {
            let index = so_far.steps.len();
            let action = self.action(&st.value, &mut so_far)?;
            if let Some(m) = &marker {
                so_far.latest = Some(m.clone());
                if matches!(action, Action::DeliverCall { .. }) {
                    so_far.latest_call = Some(m.clone());
                }
            }
            so_far.steps.push(PlannedStep {
                index,
                line: st.span.line,
                marker,
                action,
                aim: crate::steps::aim_of(&st.value),
                among: crate::steps::among_of(&st.value),
            });
        }
        Ok((so_far.steps, so_far.measurements))
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

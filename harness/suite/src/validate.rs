//! The semantic pass: references (sites, servers, agents, groups, markers), timings, ids.
//! Reports every problem it finds; never stops at the first.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{resolve_path, ConfigDb};
use crate::diagnostic::Diagnostics;
use crate::duration::HumanDuration;
use crate::model::*;
use crate::span::{Span, Spanned};
use crate::suggest::did_you_mean;
use crate::target::{LinkTarget, ServerTarget};
use crate::vocab::{Level, Role, ServerKind, Site, SiteRef};

mod aim;
mod herd;
mod markers;
mod step_refs;
mod trigger;

/// Longest `wait`, `within` or `for` accepted: longer is surely a typo (`60m` for `60s`).
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

fn help_dym(word: &str, candidates: &[String]) -> Option<String> {
    let s = did_you_mean(word, candidates.iter().map(|s| s.as_str()));
    if s.is_empty() {
        if candidates.is_empty() {
            None
        } else {
            Some(format!(
                "known: {}",
                candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    } else {
        Some(s.trim_start_matches(", ").to_string())
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

struct Ctx<'a> {
    d: &'a mut Diagnostics,
    topo: &'a Topology,
    config: Option<&'a ConfigDb>,
}

impl Ctx<'_> {
    fn duration(&mut self, what: &str, d: &Spanned<HumanDuration>, allow_zero: bool) {
        if !allow_zero && d.value.0.is_zero() {
            self.d.semantic(
                d.span,
                format!("`{what}` must be longer than zero"),
                Some("write a positive duration such as `5s`".into()),
            );
        } else if d.value.0 > MAX_DURATION {
            self.d.semantic(
                d.span,
                format!("`{what}` of {} is longer than the 1h limit", d.value),
                Some("did you mean seconds (`s`) rather than minutes (`m`) or hours (`h`)?".into()),
            );
        }
    }

    fn positive(&mut self, what: &str, v: &Spanned<u64>) {
        if v.value == 0 {
            self.d
                .semantic(v.span, format!("`{what}` must be greater than zero"), None);
        }
    }

    /// Checks a site exists; `param_sites` are the values `preferred` may take.
    fn site(&mut self, s: SiteRef, span: Span, preferred: &[Site]) {
        match s.concrete() {
            Some(site) => {
                if !self.topo.has_site(site) {
                    self.d.semantic(
                        span,
                        format!("unknown site `{site}`: the topology has no such site"),
                        Some("add it to `topology.sites` or use a site listed there".into()),
                    );
                }
            }
            None => {
                if preferred.is_empty() {
                    self.d.semantic(
                        span,
                        format!("`{s}` needs a preferred site, and this scenario has none"),
                        Some("add `for_each_preferred_site: true` or `preferred_site: A` to the scenario, or set the agent's preferred site in the configuration database".into()),
                    );
                    return;
                }
                for p in preferred {
                    let r = s.resolve(*p);
                    if !self.topo.has_site(r) {
                        self.d.semantic(
                            span,
                            format!("`{s}` resolves to site `{r}` (preferred {p}), which the topology lacks"),
                            None,
                        );
                    }
                }
            }
        }
    }

    fn server_kind(&mut self, k: ServerKind, span: Span) {
        if !self.topo.has_server(k) {
            self.d.semantic(
                span,
                format!("unknown server `{k}`: this topology has no Stat Server"),
                Some("set `topology.stat_server: true` or target another server kind".into()),
            );
        }
    }

    fn role(&mut self, r: Option<Role>, span: Span) {
        if r.is_some() && !self.topo.ha {
            self.d.semantic(
                span,
                "a role needs HA pairs, and this topology has `ha: false`",
                Some("remove the role or set `topology.ha: true`".into()),
            );
        }
    }

    fn server(&mut self, t: &Spanned<ServerTarget>, preferred: &[Site]) {
        self.site(t.value.site, t.span, preferred);
        self.server_kind(t.value.server, t.span);
        self.group(t.value.group, Some(t.value.server), t.span);
        self.role(t.value.role, t.span);
    }

    fn link(&mut self, t: &Spanned<LinkTarget>, preferred: &[Site]) {
        self.site(t.value.site, t.span, preferred);
        if let Some(k) = t.value.server {
            self.server_kind(k, t.span);
        }
        self.group(t.value.group, t.value.server, t.span);
        self.role(t.value.role, t.span);
    }

    /// A group (`gN`) names one of the topology's groups of four SIP Servers: only a SIP Server
    /// has groups (CS Proxy and Stat Server serve every group of a site).
    fn group(&mut self, g: Option<u32>, kind: Option<ServerKind>, span: Span) {
        let Some(g) = g else { return };
        if kind != Some(ServerKind::SipServer) {
            self.d.semantic(
                span,
                format!(
                    "only a SIP Server belongs to a group: `g{g}` needs `sip_server` before it"
                ),
                Some(
                    "CS Proxy and Stat Server are one pair per site, shared by every group".into(),
                ),
            );
        } else if g > self.topo.group_count() {
            self.d.semantic(
                span,
                format!(
                    "group `g{g}` does not exist: the topology has {} group(s) of four SIP Servers",
                    self.topo.group_count()
                ),
                Some("declare more with `topology.groups`, or name a group from `g1`".into()),
            );
        }
    }

    fn servers(&mut self, list: &Option<Vec<Spanned<ServerKind>>>, span: Span) {
        if let Some(list) = list {
            if list.is_empty() {
                self.d.semantic(
                    span,
                    "`servers` is empty",
                    Some("omit it for the default, or list server kinds".into()),
                );
            }
            let mut seen = HashSet::new();
            for k in list {
                self.server_kind(k.value, k.span);
                if !seen.insert(k.value) {
                    self.d
                        .semantic(k.span, format!("`{}` is listed twice", k.value), None);
                }
            }
        }
    }
}

/// `topology.groups`: 1 to [`crate::MAX_GROUPS`] groups of four SIP Servers.
fn groups_in_range(d: &mut Diagnostics, topo: &Topology) {
    if let Some(g) = topo
        .groups
        .as_ref()
        .filter(|g| !(1..=crate::MAX_GROUPS).contains(&g.value))
    {
        d.semantic(
            g.span,
            format!(
                "`groups` must be 1 to {}, not {}",
                crate::MAX_GROUPS,
                g.value
            ),
            None,
        );
    }
}

/// Runs the semantic pass; returns the resolved config path and the config database read.
pub(crate) fn validate(
    suite: &Suite,
    dir: &Path,
    d: &mut Diagnostics,
) -> (Option<PathBuf>, ConfigDb) {
    // Identity.
    if !valid_name(&suite.id.value) {
        d.semantic(
            suite.id.span,
            format!("invalid suite id `{}`", suite.id.value),
            Some("use letters, digits, `-`, `_` and `.` only".into()),
        );
    }
    if let Some(b) = &suite.budget {
        budget_check(d, b);
    }
    check_caps(d, &suite.requires, &suite.skip_if);
    check_tags(d, &suite.tags);

    topology(suite, d);

    // Configuration database.
    let (cfg_rel, cfg_span) = match &suite.config {
        Some(c) => (c.value.clone(), c.span),
        None => (DEFAULT_CONFIG.to_string(), suite.agent.span),
    };
    let mut config_path = None;
    let mut config = None;
    match resolve_path(dir, &cfg_rel) {
        None => d.semantic(
            cfg_span,
            format!(
                "configuration database `{cfg_rel}` not found next to the suite or in any parent directory"
            ),
            Some("`config` is relative to the suite file, else to an ancestor directory such as the repository root".into()),
        ),
        Some(p) => match std::fs::read_to_string(&p).map_err(|e| e.to_string()).and_then(|t| ConfigDb::parse(&t)) {
            Ok(c) => {
                config = Some(c);
                config_path = Some(p);
            }
            Err(e) => d.semantic(
                cfg_span,
                format!("cannot read configuration database `{}`: {e}", p.display()),
                None,
            ),
        },
    }
    if let Some(c) = &config {
        check_agent(d, c, &suite.agent);
    }

    // Scenarios.
    if suite.scenarios.is_empty() {
        d.semantic(
            suite.id.span,
            "the suite has no scenario",
            Some("add at least one entry under `scenarios:`".into()),
        );
    }
    let mut ids: HashMap<&str, Span> = HashMap::new();
    for sc in &suite.scenarios {
        if let Some(prev) = ids.insert(&sc.value.id.value, sc.value.id.span) {
            d.semantic(
                sc.value.id.span,
                format!(
                    "duplicate scenario id `{}` (first used at line {})",
                    sc.value.id.value, prev.line
                ),
                Some("scenario ids must be unique within a suite".into()),
            );
        }
        let mut ctx = Ctx {
            d,
            topo: &suite.topology,
            config: config.as_ref(),
        };
        scenario(&mut ctx, suite, sc);
    }
    (config_path, config.unwrap_or_default())
}

/// The topology: sites listed once, keep-alive settings that make sense, declared capacity.
fn topology(suite: &Suite, d: &mut Diagnostics) {
    if suite.topology.sites.is_empty() {
        d.semantic(suite.id.span, "the topology has no site", None);
    }
    let mut seen = HashSet::new();
    for s in &suite.topology.sites {
        if !seen.insert(s.value) {
            d.semantic(s.span, format!("site `{}` is listed twice", s.value), None);
        }
    }

    if let Some(t) = &suite.topology.server_client_timeout {
        if t.value.0.is_zero() {
            d.semantic(
                t.span,
                "`server_client_timeout` must be longer than 0s",
                Some("leave it out to keep the run's setting (2s by default)".into()),
            );
        }
    }

    if let Some(t) = &suite.topology.server_ping_interval {
        let timeout = suite
            .topology
            .server_client_timeout
            .as_ref()
            .map(|c| c.value.0);
        if t.value.0.is_zero() || timeout.is_some_and(|c| t.value.0 >= c) {
            d.semantic(
                t.span,
                "`server_ping_interval` must be longer than 0s and shorter than `server_client_timeout`",
                Some("a server pings several times within its client timeout; leave it out to keep the run's 500ms".into()),
            );
        }
    }

    if let Some(c) = &suite.topology.capacity {
        c.validate(d, suite.topology.stat_server);
    }
    groups_in_range(d, &suite.topology);
}

fn budget_check(d: &mut Diagnostics, b: &Spanned<HumanDuration>) {
    if b.value.0.is_zero() {
        d.semantic(
            b.span,
            "`budget` must be longer than zero",
            Some("the default is `60s`".into()),
        );
    } else if b.value.0 > MAX_DURATION {
        d.semantic(
            b.span,
            format!("`budget` of {} is longer than the 1h limit", b.value),
            Some("did you mean seconds (`s`)?".into()),
        );
    }
}

fn check_caps(
    d: &mut Diagnostics,
    requires: &[Spanned<crate::vocab::Capability>],
    skip_if: &[Spanned<crate::vocab::Capability>],
) {
    for c in skip_if {
        if requires.iter().any(|r| r.value == c.value) {
            d.semantic(
                c.span,
                format!("capability `{}` is both required and in `skip_if`: the scenario could never run", c.value),
                None,
            );
        }
    }
}

fn check_tags(d: &mut Diagnostics, tags: &[Spanned<String>]) {
    for t in tags {
        if !valid_name(&t.value) {
            d.semantic(
                t.span,
                format!("invalid tag `{}`", t.value),
                Some("use letters, digits, `-`, `_` and `.` only".into()),
            );
        }
    }
}

fn check_agent(d: &mut Diagnostics, c: &ConfigDb, agent: &Spanned<String>) {
    if c.person(&agent.value).is_none() {
        let names: Vec<String> = c.persons.iter().map(|p| p.username.clone()).collect();
        d.semantic(
            agent.span,
            format!(
                "unknown agent `{}`: no person with that username in the configuration database",
                agent.value
            ),
            help_dym(&agent.value, &names),
        );
    }
}

/// Checks one scenario: its own settings, then its steps in order, then its invariants and
/// measurements.
fn scenario(ctx: &mut Ctx<'_>, suite: &Suite, sc: &Spanned<Scenario>) {
    let s = &sc.value;
    scenario_settings(ctx, suite, s);
    let agent = s.agent.as_ref().unwrap_or(&suite.agent);
    if let (Some(a), Some(c)) = (&s.agent, ctx.config) {
        check_agent(ctx.d, c, a);
    }
    let preferred = preferred_values(ctx, s, agent);
    if let Some(h) = &s.herd {
        herd::herd(ctx, s, h);
    }
    aim::aims(ctx, s);
    if !has_steps(ctx, s) {
        return;
    }
    let mut walk = markers::walk_steps(ctx, s, &preferred, agent);
    invariants(ctx, s);
    measurements(ctx, s, &mut walk, &preferred);
}

/// The scenario's id, budget, tags, capabilities and rules.
fn scenario_settings(ctx: &mut Ctx<'_>, suite: &Suite, s: &Scenario) {
    if !valid_name(&s.id.value) {
        ctx.d.semantic(
            s.id.span,
            format!("invalid scenario id `{}`", s.id.value),
            Some("use letters, digits, `-`, `_` and `.` only".into()),
        );
    }
    if let Some(b) = &s.budget {
        budget_check(ctx.d, b);
    }
    check_tags(ctx.d, &s.tags);
    // Pairs within the suite's own lists were checked with the suite.
    check_caps(ctx.d, &s.requires, &s.skip_if);
    check_caps(ctx.d, &suite.requires, &s.skip_if);
    check_caps(ctx.d, &s.requires, &suite.skip_if);
    if s.rules.is_empty() && suite.rules.is_empty() {
        ctx.d.semantic(
            s.id.span,
            format!("scenario `{}` names no rule", s.id.value),
            Some("add `rules: [BC-n]` to the scenario or the suite".into()),
        );
    }
}

/// The values `preferred` can take in this scenario: both sites, the pinned one, or the
/// agent's in the configuration database (none if it has none).
fn preferred_values(ctx: &mut Ctx<'_>, s: &Scenario, agent: &Spanned<String>) -> Vec<Site> {
    if s.for_each_preferred_site {
        if let Some(p) = &s.preferred_site {
            ctx.d.semantic(
                p.span,
                "`preferred_site` and `for_each_preferred_site` cannot be combined",
                Some("keep `for_each_preferred_site: true` to run both, or `preferred_site` to pin one".into()),
            );
        }
        Site::ALL.to_vec()
    } else if let Some(p) = &s.preferred_site {
        if !ctx.topo.has_site(p.value) {
            ctx.d.semantic(
                p.span,
                format!("unknown site `{}`: the topology has no such site", p.value),
                None,
            );
        }
        vec![p.value]
    } else {
        ctx.config
            .and_then(|c| c.preferred_site(&agent.value))
            .into_iter()
            .collect()
    }
}

/// Reports a scenario without steps (returning false: there is nothing more to check in it)
/// or that checks nothing (no expectation, no invariant).
fn has_steps(ctx: &mut Ctx<'_>, s: &Scenario) -> bool {
    if s.steps.is_empty() {
        ctx.d.semantic(
            s.id.span,
            format!("scenario `{}` has no step", s.id.value),
            Some("add steps such as `- kill_site: A` and `- expect_logged_in: {site: B}`".into()),
        );
        return false;
    }
    if !s.steps.iter().any(|st| st.value.is_expectation()) && s.invariants.is_empty() {
        ctx.d.semantic(
            s.id.span,
            format!(
                "scenario `{}` checks nothing: it has no `expect_*` step and no invariant",
                s.id.value
            ),
            Some("add an expectation such as `- expect_logged_in: {site: B}`".into()),
        );
    }
    true
}

/// The durations of the scenario's invariants.
fn invariants(ctx: &mut Ctx<'_>, s: &Scenario) {
    for inv in &s.invariants {
        match &inv.value {
            Invariant::NeverLoggedInAtBothPeers | Invariant::HonoursOverload => {}
            Invariant::NeverSplit { longer_than } => ctx.duration("longer_than", longer_than, true),
            Invariant::MaxSwitchovers { count: _, per }
            | Invariant::MaxReconnects { count: _, per }
            | Invariant::MaxAttempts { count: _, per } => {
                if let Some(p) = per {
                    ctx.duration("per", p, false);
                }
            }
            Invariant::BacksOff {
                min_mean_pause,
                rounds,
            } => {
                ctx.duration("min_mean_pause", min_mean_pause, false);
                if rounds.value < 2 {
                    ctx.d.semantic(
                        rounds.span,
                        "`rounds` must be at least 2: a pause lies between two rounds",
                        Some("write `rounds: 5` for the mean of 4 pauses".into()),
                    );
                }
            }
        }
    }
}

/// The scenario's `measurements:`: unique names (also against the steps' `measure:`), markers
/// the steps set, and observations that can happen.
fn measurements(ctx: &mut Ctx<'_>, s: &Scenario, walk: &mut markers::Walk<'_>, preferred: &[Site]) {
    for m in &s.measurements {
        measure_name(ctx.d, &mut walk.measures, &m.value.name);
        if !walk.defined.contains_key(&m.value.from.value) {
            let known: Vec<String> = walk.defined.keys().cloned().collect();
            ctx.d.semantic(
                m.value.from.span,
                format!("unknown marker `{}`", m.value.from.value),
                help_dym(&m.value.from.value, &sorted(known)),
            );
        }
        match &m.value.until.value {
            Observation::LoggedIn(site)
            | Observation::FirstContact(site)
            | Observation::Disconnected(site) => ctx.site(*site, m.value.until.span, preferred),
            Observation::CallAnswered => {
                if walk.call_markers.is_empty() {
                    ctx.d.semantic(
                        m.value.until.span,
                        "`call_answered` measured, but no step delivers a call",
                        None,
                    );
                }
            }
        }
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn measure_name(d: &mut Diagnostics, seen: &mut HashMap<String, Span>, m: &Spanned<String>) {
    if !valid_name(&m.value) {
        d.semantic(
            m.span,
            format!("invalid measurement name `{}`", m.value),
            Some("use letters, digits, `-`, `_` and `.` only".into()),
        );
    }
    if let Some(prev) = seen.insert(m.value.clone(), m.span) {
        d.semantic(
            m.span,
            format!(
                "duplicate measurement `{}` (first defined at line {})",
                m.value, prev.line
            ),
            None,
        );
    }
}

/// Resolves the object a configuration change targets (see [`config_object_name`]) and reports
/// unknown names.
fn config_object(
    ctx: &mut Ctx<'_>,
    level: Level,
    name: Option<&Spanned<String>>,
    level_span: Span,
    agent: &Spanned<String>,
) {
    let Some(cfg) = ctx.config else { return };
    match config_object_name(cfg, level, name.map(|n| n.value.as_str()), &agent.value) {
        Ok(_) => {}
        Err(candidates) => {
            let (span, word) = match name {
                Some(n) => (n.span, n.value.clone()),
                None => (level_span, String::new()),
            };
            let what = match level {
                Level::Tenant => "tenant",
                Level::AgentGroup => "agent group",
                Level::Person => "person",
            };
            if word.is_empty() {
                ctx.d.semantic(
                    span,
                    format!("the agent `{}` has no {what} to change", agent.value),
                    Some("add `name:`".into()),
                );
            } else {
                ctx.d.semantic(
                    span,
                    format!("unknown {what} `{word}` in the configuration database"),
                    help_dym(&word, &candidates),
                );
            }
        }
    }
}

/// The name of the object a `set_preferred_site`/`clear_preferred_site` changes: `name` if it
/// exists at that level, else the agent's own tenant, first group, or the agent itself.
/// On failure returns the names known at that level.
pub fn config_object_name(
    cfg: &ConfigDb,
    level: Level,
    name: Option<&str>,
    agent: &str,
) -> Result<String, Vec<String>> {
    let names: Vec<String> = match level {
        Level::Tenant => cfg.tenants.iter().map(|t| t.name.clone()).collect(),
        Level::AgentGroup => cfg.agent_groups.iter().map(|g| g.name.clone()).collect(),
        Level::Person => cfg.persons.iter().map(|p| p.username.clone()).collect(),
    };
    if let Some(n) = name {
        return if names.iter().any(|x| x == n) {
            Ok(n.to_string())
        } else {
            Err(names)
        };
    }
    let person = cfg.person(agent).ok_or_else(|| names.clone())?;
    match level {
        Level::Person => Ok(person.username.clone()),
        Level::Tenant => cfg.tenant_of(person).map(|t| t.name.clone()).ok_or(names),
        Level::AgentGroup => cfg
            .groups_of(person)
            .next()
            .map(|g| g.name.clone())
            .ok_or(names),
    }
}

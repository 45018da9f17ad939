//! The walk over a scenario's steps, in order: when the desktop starts, which markers each step
//! sets, and whether the markers a step names (`from`, `heal`) are set before it.

use std::collections::{HashMap, HashSet};

use super::step_refs::step_refs;
use super::{help_dym, measure_name, sorted, trigger, valid_name, Ctx};
use crate::model::{Scenario, Step};
use crate::span::{Span, Spanned};
use crate::steps::step_markers;
use crate::vocab::Site;

/// Step index recorded for the marker `start` of the implicit start (before every step).
const IMPLICIT: usize = usize::MAX;

/// What the walk knows after the steps seen so far; what it has at the end is what the
/// scenario's `measurements:` may use.
pub(super) struct Walk<'s> {
    /// The scenario's steps.
    steps: &'s [Spanned<Step>],
    /// The marker each step sets, if any.
    markers: Vec<Option<String>>,
    /// Index of the `start_desktop` step; `None` when the desktop starts before step 1.
    explicit_start: Option<usize>,
    /// Every marker of the scenario, to tell a marker set only later from an unknown one.
    all_markers: Vec<String>,
    /// Markers set so far: the index of the step that sets it ([`IMPLICIT`] for `start`) and
    /// where.
    pub(super) defined: HashMap<String, (usize, Span)>,
    /// Measurement names used so far, and where.
    pub(super) measures: HashMap<String, Span>,
    /// The latest marker set (the default `from` of expectations).
    latest: Option<String>,
    /// The latest marker set by a `deliver_call`.
    latest_call: Option<String>,
    /// Every marker set by a `deliver_call` so far.
    pub(super) call_markers: HashSet<String>,
    /// `start_desktop` steps seen so far.
    starts: usize,
}

/// Checks every step of `s` in order (its own references and values, its place relative to
/// the desktop start, the markers it names and sets); returns what the walk learnt.
pub(super) fn walk_steps<'s>(
    ctx: &mut Ctx<'_>,
    s: &'s Scenario,
    preferred: &[Site],
    agent: &Spanned<String>,
) -> Walk<'s> {
    let mut walk = Walk::new(&s.steps);
    for (i, st) in s.steps.iter().enumerate() {
        let started = walk.explicit_start.is_none_or(|k| i > k);
        walk.start_order(ctx, st, started);
        step_refs(ctx, st, preferred, agent);
        if let Step::On(_) = &st.value {
            if !started {
                ctx.d.semantic(
                    st.span,
                    "`on` before the desktop starts can never fire",
                    Some("move it after `- start_desktop`".into()),
                );
            }
            trigger::check_next(ctx, st.span, s.steps.get(i + 1));
        }
        walk.references(ctx, st, started);
        walk.own_marker(ctx, i, st);
    }
    walk
}

impl<'s> Walk<'s> {
    /// Before the first step: only the implicit start (when no step starts the desktop) has
    /// set a marker.
    fn new(steps: &'s [Spanned<Step>]) -> Self {
        let markers = step_markers(steps);
        let explicit_start = steps
            .iter()
            .position(|st| matches!(st.value, Step::StartDesktop));
        let mut defined: HashMap<String, (usize, Span)> = HashMap::new();
        if explicit_start.is_none() {
            defined.insert("start".into(), (IMPLICIT, Span::default()));
        }
        let mut all_markers: Vec<String> = markers.iter().flatten().cloned().collect();
        if explicit_start.is_none() {
            all_markers.push("start".into());
        }
        Walk {
            steps,
            markers,
            explicit_start,
            all_markers,
            defined,
            measures: HashMap::new(),
            latest: explicit_start.is_none().then(|| "start".to_string()),
            latest_call: None,
            call_markers: HashSet::new(),
            starts: 0,
        }
    }

    /// An expectation before the desktop starts, and a second `start_desktop`.
    fn start_order(&mut self, ctx: &mut Ctx<'_>, st: &Spanned<Step>, started: bool) {
        let step = &st.value;
        if step.is_expectation() && !started {
            ctx.d.semantic(
                st.span,
                format!("`{}` before the desktop starts", step.keyword()),
                Some("move it after `- start_desktop`".into()),
            );
        }
        if let Step::StartDesktop = step {
            self.starts += 1;
            if self.starts > 1 {
                ctx.d.semantic(
                    st.span,
                    "the desktop is started twice",
                    Some("keep one `start_desktop` step".into()),
                );
            }
        }
    }

    /// The markers a step names (`from`, `heal`) and the names of its measurements.
    fn references(&mut self, ctx: &mut Ctx<'_>, st: &Spanned<Step>, started: bool) {
        match &st.value {
            Step::ExpectLoggedIn(e) => {
                self.check_from(ctx, st, &e.from, started);
                if let Some(m) = &e.measure {
                    measure_name(ctx.d, &mut self.measures, m);
                }
            }
            Step::ExpectDisconnected(e) => self.check_from(ctx, st, &e.from, started),
            Step::ExpectCallAnswered(e) => {
                self.check_call_from(ctx, st, &e.from);
                if let Some(m) = &e.measure {
                    measure_name(ctx.d, &mut self.measures, m);
                }
            }
            Step::Heal(h) if h.value != "all" => self.check_heal(ctx, h),
            _ => {}
        }
    }

    /// An expectation's `from`: a marker set before it; without one, some marker must be set
    /// once the desktop has started.
    fn check_from(
        &self,
        ctx: &mut Ctx<'_>,
        st: &Spanned<Step>,
        from: &Option<Spanned<String>>,
        started: bool,
    ) {
        match from {
            Some(f) => {
                if !self.defined.contains_key(&f.value) {
                    let later = self.all_markers.contains(&f.value);
                    let known: Vec<String> = self.defined.keys().cloned().collect();
                    ctx.d.semantic(
                        f.span,
                        if later {
                            format!("marker `{}` is set only after this step", f.value)
                        } else {
                            format!("unknown marker `{}`", f.value)
                        },
                        if later {
                            Some("an expectation counts from a marker set before it".into())
                        } else {
                            help_dym(&f.value, &sorted(known))
                        },
                    );
                }
            }
            None => {
                if self.latest.is_none() && started {
                    ctx.d.semantic(
                        st.span,
                        "no marker before this step to count from",
                        Some("add `from: MARKER`".into()),
                    );
                }
            }
        }
    }

    /// `expect_call_answered`'s `from`: the marker of an earlier `deliver_call`; without one,
    /// some `deliver_call` must come before.
    fn check_call_from(
        &self,
        ctx: &mut Ctx<'_>,
        st: &Spanned<Step>,
        from: &Option<Spanned<String>>,
    ) {
        match from {
            Some(f) => {
                if !self.call_markers.contains(&f.value) {
                    let known: Vec<String> = self.call_markers.iter().cloned().collect();
                    ctx.d.semantic(
                        f.span,
                        format!(
                            "marker `{}` is not set by an earlier `deliver_call`",
                            f.value
                        ),
                        help_dym(&f.value, &sorted(known)),
                    );
                }
            }
            None => {
                if self.latest_call.is_none() {
                    ctx.d.semantic(
                        st.span,
                        "`expect_call_answered` without an earlier `deliver_call`",
                        Some("add `- deliver_call: A` before it".into()),
                    );
                }
            }
        }
    }

    /// `heal: MARKER`: a marker set earlier by a fault that can be healed.
    fn check_heal(&self, ctx: &mut Ctx<'_>, h: &Spanned<String>) {
        let healable = |i: usize| i != IMPLICIT && self.steps[i].value.is_healable();
        match self.defined.get(&h.value) {
            Some((idx, _)) => {
                if !healable(*idx) {
                    ctx.d.semantic(
                        h.span,
                        format!("marker `{}` is not set by a fault that can be healed", h.value),
                        Some("heal names the marker of a kill, stop, freeze, link fault, flap or reject_logins step, or `all`".into()),
                    );
                }
            }
            None => {
                let mut known: Vec<String> = self
                    .defined
                    .iter()
                    .filter(|(_, (i, _))| healable(*i))
                    .map(|(k, _)| k.clone())
                    .collect();
                known.push("all".into());
                ctx.d.semantic(
                    h.span,
                    format!("unknown marker `{}`", h.value),
                    help_dym(&h.value, &sorted(known)),
                );
            }
        }
    }

    /// The marker step `i` sets: a valid name, set once; it becomes the latest (and, for a
    /// `deliver_call`, the latest call) marker.
    fn own_marker(&mut self, ctx: &mut Ctx<'_>, i: usize, st: &Spanned<Step>) {
        let Some(m) = &self.markers[i] else { return };
        let m = m.clone();
        let step = &st.value;
        let span = step
            .marker_spec()
            .flatten()
            .map(|x| x.span)
            .unwrap_or(st.span);
        if !valid_name(&m) {
            ctx.d.semantic(
                span,
                format!("invalid marker name `{m}`"),
                Some("use letters, digits, `-`, `_` and `.` only".into()),
            );
        }
        if let Some((_, prev)) = self.defined.get(&m) {
            ctx.d.semantic(
                span,
                format!(
                    "duplicate marker `{m}`{}",
                    if prev.is_unknown() {
                        " (set by the implicit start)".to_string()
                    } else {
                        format!(" (first set at line {})", prev.line)
                    }
                ),
                Some("give one of the steps another `marker:` name".into()),
            );
        } else {
            self.defined.insert(m.clone(), (i, st.span));
        }
        self.latest = Some(m.clone());
        if matches!(step, Step::DeliverCall(_)) {
            self.latest_call = Some(m.clone());
            self.call_markers.insert(m);
        }
    }
}

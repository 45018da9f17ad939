//! Expectation checkers with deadlines: logged in within D, stays logged in for D, connected to nothing,
//! call answered. Each passes as soon as the state holds and fails as soon as its deadline passes,
//! unless what it is measured from never happened (then it was not exercised).

use bc_protocol::ServerKind;

use super::{Check, Failure, Status};
use crate::observe::{Entry, SessionState};

fn ms(v: u64) -> i64 {
    v as i64 * 1000
}

fn rel(us: i64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// What a "within D of a marker" expectation states; [`Timed`] does the rest (marker, deadline,
/// measurement, end of scenario), which is the same for all of them.
pub trait Expectation: Send {
    /// Whether the current state meets it, counting from the marker's time.
    fn met(&self, marker_us: i64, st: &SessionState) -> Met;
    /// Past the deadline and unmet: why that cannot be told from what was observed, if it cannot
    /// (the check is then unknown rather than failed).
    fn hidden(&self, _st: &SessionState) -> Option<String> {
        None
    }
    /// Past the deadline and unmet: what it waits for that never happened since the marker, if so
    /// (the check is then not exercised rather than failed).
    fn unexercised(&self, _marker_us: i64, _st: &SessionState) -> Option<String> {
        None
    }
    /// Past the deadline and unmet: what was observed; [`Timed`] adds "; sessions: …".
    fn observed(&self, st: &SessionState) -> String;
}

/// How an [`Expectation`] stands against the current state.
pub enum Met {
    /// Not met.
    No,
    /// Met by the current state, which carries no time: a pass even when first seen past the deadline.
    Now,
    /// Met since this instant (µs): a pass only if that is by the deadline; the time from the marker
    /// is what `measure:` records.
    Since(i64),
}

/// An expectation that must be met within D of a marker: passes as soon as it is met, fails (or is
/// unknown) at the first instant past the deadline, and is unknown if the scenario ends before.
pub struct Timed<E> {
    name: String,
    within: i64,
    from: String,
    measure: Option<String>,
    marker: i64,
    /// The marker was not set when the check started: it counts from the step until it is.
    marker_unset: bool,
    measured: Option<i64>,
    rule: E,
}

impl<E: Expectation> Timed<E> {
    fn new(name: String, within_ms: u64, from: String, measure: Option<String>, rule: E) -> Self {
        Timed {
            name,
            within: ms(within_ms),
            from,
            measure,
            marker: 0,
            marker_unset: false,
            measured: None,
            rule,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        if self.marker_unset {
            // Set at the step's own instant, after the step entry.
            if let Some(m) = st.marker(&self.from) {
                self.marker = m;
                self.marker_unset = false;
            }
        }
        let deadline = self.marker + self.within;
        match self.rule.met(self.marker, st) {
            Met::No => {}
            Met::Now => return Status::Pass,
            Met::Since(t) => {
                self.measured = Some((t - self.marker).max(0));
                if t <= deadline {
                    return Status::Pass;
                }
            }
        }
        if now <= deadline {
            return Status::Pending;
        }
        if self.marker_unset {
            return Status::not_exercised(format!(
                "marker `{}` was never set: nothing to measure from",
                self.from
            ));
        }
        if let Some(reason) = self.rule.unexercised(self.marker, st) {
            return Status::not_exercised(reason);
        }
        if let Some(reason) = self.rule.hidden(st) {
            return Status::unknown(reason);
        }
        let observed = format!("{}; sessions: {}", self.rule.observed(st), st.summary());
        Status::Fail(Failure::new(self.name.clone(), now, observed).deadline(deadline))
    }
}

impl<E: Expectation> Check for Timed<E> {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        // A marker not set yet counts from the step itself (see `eval`).
        self.marker = st.marker(&self.from).unwrap_or(at_us);
        self.marker_unset = st.marker(&self.from).is_none();
        self.eval(at_us, st)
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.eval(e.ts_us, st)
    }
    fn on_time(&mut self, now_us: i64, st: &SessionState) -> Status {
        self.eval(now_us, st)
    }
    fn deadline_us(&self) -> Option<i64> {
        Some(self.marker + self.within)
    }
    fn finish(&mut self, _end_us: i64, _st: &SessionState) -> Status {
        Status::unknown(format!(
            "scenario ended before the deadline of `{}`",
            self.name
        ))
    }
    fn measurement(&self) -> Option<(String, Option<i64>)> {
        self.measure.clone().map(|m| (m, self.measured))
    }
}

/// Logged in at a site (any one site when none is named) on some servers within D of a marker.
pub struct LoggedIn {
    site: Option<String>,
    servers: Vec<ServerKind>,
}

impl LoggedIn {
    /// See [`super::CheckSpec::LoggedIn`].
    pub fn new(
        name: String,
        site: Option<String>,
        servers: Vec<ServerKind>,
        within_ms: u64,
        from: String,
        measure: Option<String>,
    ) -> Timed<LoggedIn> {
        Timed::new(name, within_ms, from, measure, LoggedIn { site, servers })
    }
}

impl Expectation for LoggedIn {
    fn met(&self, _marker_us: i64, st: &SessionState) -> Met {
        let sites: Vec<String> = match &self.site {
            Some(s) => vec![s.clone()],
            None => st.subject().sites.clone(),
        };
        sites
            .iter()
            .filter_map(|s| st.logged_in_since(s, &self.servers))
            .min()
            .map_or(Met::No, Met::Since)
    }
    fn observed(&self, _st: &SessionState) -> String {
        format!(
            "not logged in at {}",
            self.site.as_deref().unwrap_or("any site")
        )
    }
}

/// Stays logged in at a site for D: a few short reconnections tolerated (each as long as the
/// desktop's declared timers allow), a login at another site is not.
pub struct StaysLoggedIn {
    name: String,
    site: String,
    servers: Vec<ServerKind>,
    duration: i64,
    grace: i64,
    max_gaps: u32,
    gaps: Vec<i64>,
    end: i64,
    gap_since: Option<i64>,
}

impl StaysLoggedIn {
    /// See [`super::CheckSpec::StaysLoggedIn`].
    pub fn new(
        name: String,
        site: String,
        servers: Vec<ServerKind>,
        duration_ms: u64,
        (grace_ms, max_gaps): (u64, u32),
    ) -> Self {
        StaysLoggedIn {
            name,
            site,
            servers,
            duration: ms(duration_ms),
            grace: ms(grace_ms),
            max_gaps,
            gaps: Vec::new(),
            end: 0,
            gap_since: None,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        let others: Vec<&String> = st
            .subject()
            .sites
            .iter()
            .filter(|s| **s != self.site && st.live_visible(s, ServerKind::SipServer))
            .collect();
        if let Some(other) = others.first() {
            return Status::Fail(Failure::new(
                self.name.clone(),
                now,
                format!(
                    "agent logged in on sip_server at {other} (a switchover); sessions: {}",
                    st.summary()
                ),
            ));
        }
        if now <= self.end || self.gap_since.is_some() {
            if st.logged_in(&self.site, &self.servers) {
                self.gap_since = None;
            } else if now <= self.end && self.gap_since.is_none() {
                self.gap_since = Some(now);
                self.gaps.push(now);
                if self.gaps.len() > self.max_gaps as usize {
                    let window_start = self.end - self.duration;
                    let at: Vec<String> =
                        self.gaps.iter().map(|g| rel(*g - window_start)).collect();
                    return Status::Fail(Failure::new(
                        self.name.clone(),
                        now,
                        format!(
                            "logged out at {} {} time(s) in the window (at most {} tolerated; gaps began {} into the window); sessions: {}",
                            self.site,
                            self.gaps.len(),
                            self.max_gaps,
                            at.join(", "),
                            st.summary()
                        ),
                    ));
                }
            }
        }
        if let Some(g) = self.gap_since {
            if now - g > self.grace {
                return Status::Fail(
                    Failure::new(
                        self.name.clone(),
                        now,
                        format!(
                            "logged out at {} for more than {} (a reconnection takes less); sessions: {}",
                            self.site,
                            rel(self.grace),
                            st.summary()
                        ),
                    )
                    .deadline(g + self.grace),
                );
            }
        }
        if now >= self.end && self.gap_since.is_none() {
            return Status::Pass;
        }
        Status::Pending
    }
}

impl Check for StaysLoggedIn {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.end = at_us + self.duration;
        self.eval(at_us, st)
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.eval(e.ts_us, st)
    }
    fn on_time(&mut self, now_us: i64, st: &SessionState) -> Status {
        self.eval(now_us, st)
    }
    fn deadline_us(&self) -> Option<i64> {
        // An open gap fails at its grace's end, before or after the window's end.
        match self.gap_since {
            Some(g) => Some(g + self.grace),
            None => Some(self.end),
        }
    }
    fn finish(&mut self, _end_us: i64, _st: &SessionState) -> Status {
        Status::unknown(format!(
            "scenario ended before the window of `{}` closed",
            self.name
        ))
    }
}

/// Connected to nothing at a site within D of a marker.
pub struct Disconnected {
    site: String,
}

impl Disconnected {
    /// See [`super::CheckSpec::Disconnected`].
    pub fn new(name: String, site: String, within_ms: u64, from: String) -> Timed<Disconnected> {
        Timed::new(name, within_ms, from, None, Disconnected { site })
    }
}

impl Expectation for Disconnected {
    fn met(&self, _marker_us: i64, st: &SessionState) -> Met {
        if st.connected(&self.site) {
            Met::No
        } else {
            Met::Now
        }
    }
    fn hidden(&self, st: &SessionState) -> Option<String> {
        (!st.connected_visible(&self.site)).then(|| {
            format!(
                "only connections behind an injected partition remain at {}: their end cannot be seen",
                self.site
            )
        })
    }
    fn observed(&self, _st: &SessionState) -> String {
        format!("still connected at {}", self.site)
    }
}

/// A call to the agent's DN answered within D of the deliver_call marker.
pub struct CallAnswered;

impl CallAnswered {
    /// See [`super::CheckSpec::CallAnswered`].
    pub fn new(
        name: String,
        within_ms: u64,
        from: String,
        measure: Option<String>,
    ) -> Timed<CallAnswered> {
        Timed::new(name, within_ms, from, measure, CallAnswered)
    }
}

impl Expectation for CallAnswered {
    fn met(&self, marker_us: i64, st: &SessionState) -> Met {
        st.answered()
            .iter()
            .copied()
            .find(|t| *t >= marker_us)
            .map_or(Met::No, Met::Since)
    }
    fn unexercised(&self, marker_us: i64, st: &SessionState) -> Option<String> {
        // A refused call was offered: the servers had no Ready agent to give it to.
        let offered = |t: &i64| *t >= marker_us;
        (!st.delivered().iter().any(offered) && !st.refused_calls().iter().any(offered))
            .then(|| "no call was delivered since its marker: nothing to answer".to_string())
    }
    fn observed(&self, st: &SessionState) -> String {
        let dn = &st.subject().dn;
        if st.delivered().is_empty() && !st.refused_calls().is_empty() {
            format!("no call to DN {dn} answered: the servers refused it, no Ready agent on the DN at the site or its peers")
        } else {
            format!("no call to DN {dn} answered")
        }
    }
}

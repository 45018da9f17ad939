//! Expectation checkers with deadlines: logged in within D, stays logged in for D, connected to nothing,
//! call answered. Each passes as soon as the state holds and fails as soon as its deadline passes.

use bc_protocol::ServerKind;

use super::{Check, Failure, Status};
use crate::observe::{Entry, SessionState};

fn ms(v: u64) -> i64 {
    v as i64 * 1000
}

fn rel(us: i64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// The marker's time, else the activation time (a marker never set counts from the step itself).
fn marker_or(st: &SessionState, from: &str, at_us: i64) -> i64 {
    st.marker(from).unwrap_or(at_us)
}

/// Logged in at a site on some servers within D of a marker.
pub struct LoggedIn {
    name: String,
    site: Option<String>,
    servers: Vec<ServerKind>,
    within: i64,
    from: String,
    measure: Option<String>,
    marker: i64,
    measured: Option<i64>,
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
    ) -> Self {
        LoggedIn {
            name,
            site,
            servers,
            within: ms(within_ms),
            from,
            measure,
            marker: 0,
            measured: None,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        let deadline = self.marker + self.within;
        let sites: Vec<String> = match &self.site {
            Some(s) => vec![s.clone()],
            None => st.subject().sites.clone(),
        };
        let since = sites
            .iter()
            .filter_map(|s| st.logged_in_since(s, &self.servers))
            .min();
        if let Some(since) = since {
            let elapsed = (since - self.marker).max(0);
            self.measured = Some(elapsed);
            if since <= deadline {
                return Status::Pass;
            }
        }
        if now > deadline {
            let f = Failure::new(
                self.name.clone(),
                now,
                format!(
                    "not logged in at {} after {}; sessions: {}",
                    self.site.as_deref().unwrap_or("any site"),
                    rel(self.within),
                    st.summary()
                ),
            )
            .deadline(deadline);
            return Status::Fail(f);
        }
        Status::Pending
    }
}

impl Check for LoggedIn {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.marker = marker_or(st, &self.from, at_us);
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

/// Stays logged in at a site for D: short reconnections tolerated, a login at another site is not.
pub struct StaysLoggedIn {
    name: String,
    site: String,
    servers: Vec<ServerKind>,
    duration: i64,
    grace: i64,
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
        grace_ms: u64,
    ) -> Self {
        StaysLoggedIn {
            name,
            site,
            servers,
            duration: ms(duration_ms),
            grace: ms(grace_ms),
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
            } else if now <= self.end {
                self.gap_since.get_or_insert(now);
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
        match self.gap_since {
            Some(g) => Some((g + self.grace).max(self.end)),
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
    name: String,
    site: String,
    within: i64,
    from: String,
    marker: i64,
}

impl Disconnected {
    /// See [`super::CheckSpec::Disconnected`].
    pub fn new(name: String, site: String, within_ms: u64, from: String) -> Self {
        Disconnected {
            name,
            site,
            within: ms(within_ms),
            from,
            marker: 0,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        if !st.connected(&self.site) {
            return Status::Pass;
        }
        let deadline = self.marker + self.within;
        if now > deadline {
            if !st.connected_visible(&self.site) {
                return Status::unknown(format!(
                    "only connections behind an injected partition remain at {}: their end cannot be seen",
                    self.site
                ));
            }
            return Status::Fail(
                Failure::new(
                    self.name.clone(),
                    now,
                    format!(
                        "still connected at {} after {}; sessions: {}",
                        self.site,
                        rel(self.within),
                        st.summary()
                    ),
                )
                .deadline(deadline),
            );
        }
        Status::Pending
    }
}

impl Check for Disconnected {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.marker = marker_or(st, &self.from, at_us);
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
}

/// A call to the agent's DN answered within D of the deliver_call marker.
pub struct CallAnswered {
    name: String,
    within: i64,
    from: String,
    measure: Option<String>,
    marker: i64,
    measured: Option<i64>,
}

impl CallAnswered {
    /// See [`super::CheckSpec::CallAnswered`].
    pub fn new(name: String, within_ms: u64, from: String, measure: Option<String>) -> Self {
        CallAnswered {
            name,
            within: ms(within_ms),
            from,
            measure,
            marker: 0,
            measured: None,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        let deadline = self.marker + self.within;
        if let Some(t) = st.answered().iter().copied().find(|t| *t >= self.marker) {
            self.measured = Some(t - self.marker);
            if t <= deadline {
                return Status::Pass;
            }
        }
        if now > deadline {
            return Status::Fail(
                Failure::new(
                    self.name.clone(),
                    now,
                    format!(
                        "no call to DN {} answered after {}; sessions: {}",
                        st.subject().dn,
                        rel(self.within),
                        st.summary()
                    ),
                )
                .deadline(deadline),
            );
        }
        Status::Pending
    }
}

impl Check for CallAnswered {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.marker = marker_or(st, &self.from, at_us);
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

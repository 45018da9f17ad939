//! PH-1: the agent's phone holds a registration at every SIP Server peer, within a window of the
//! phone's start and of each peer's return; PH-2: a delivered call rings it; PH-3: its outbound
//! INVITE reaches the expected peer. Pure over the mocks' SIP observations and the faults.

use bc_protocol::{EventKind, ServerKind};

use super::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// The window a step opens: from its activation, `within_us` long.
struct Window {
    from_us: i64,
    within_us: i64,
}

impl Window {
    fn new(within_ms: u64) -> Self {
        Window {
            from_us: 0,
            within_us: within_ms as i64 * 1000,
        }
    }

    /// The deadline, once the window is open.
    fn deadline_us(&self) -> Option<i64> {
        (self.from_us > 0).then_some(self.from_us + self.within_us)
    }

    /// The deadline when `now_us` is past it.
    fn closed(&self, now_us: i64) -> Option<i64> {
        self.deadline_us().filter(|d| now_us >= *d)
    }

    fn secs(&self) -> f64 {
        self.within_us as f64 / 1e6
    }
}

/// One site the phone must be registered at by `deadline_us`.
struct Owed {
    site: String,
    since_us: i64,
    deadline_us: i64,
    window_us: i64,
    why: String,
}

/// PH-1 over one scenario: registered at each site within `within_us` of the start, and again
/// within it of that site's SIP Server coming back active (a fault at the site first cancels it).
pub struct PhoneRegistered {
    name: String,
    within_us: i64,
    return_within_us: i64,
    owed: Vec<Owed>,
    seen: Vec<(String, i64)>,
    met: usize,
    start_us: i64,
    sites: Vec<String>,
}

impl PhoneRegistered {
    /// New checker with the registration windows (after the start, after a return) in ms.
    pub fn new(name: String, within_ms: u64, return_within_ms: u64) -> Self {
        PhoneRegistered {
            name,
            within_us: within_ms as i64 * 1000,
            return_within_us: return_within_ms as i64 * 1000,
            owed: Vec::new(),
            seen: Vec::new(),
            met: 0,
            start_us: 0,
            sites: Vec::new(),
        }
    }

    /// Owes every site from the clock's first instant (activation may come before its first tick).
    fn arm(&mut self, at_us: i64) {
        if self.start_us != 0 || at_us <= 0 {
            return;
        }
        self.start_us = at_us;
        for s in std::mem::take(&mut self.sites) {
            self.owe(&s, at_us, self.within_us, "the phone's start".into());
        }
    }

    fn owe(&mut self, site: &str, at_us: i64, window_us: i64, why: String) {
        self.owed.retain(|o| o.site != site);
        self.owed.push(Owed {
            site: site.to_string(),
            since_us: at_us,
            deadline_us: at_us + window_us,
            window_us,
            why,
        });
    }

    fn rel(&self, us: i64) -> String {
        format!("{:.3}s", (us - self.start_us) as f64 / 1e6)
    }

    fn seen_text(&self) -> String {
        if self.seen.is_empty() {
            return "none".into();
        }
        let v: Vec<String> = self
            .seen
            .iter()
            .map(|(s, t)| format!("{s} at {}", self.rel(*t)))
            .collect();
        v.join(", ")
    }
}

impl Check for PhoneRegistered {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.sites = st.subject().sites.clone();
        self.arm(at_us);
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.arm(e.ts_us);
        match &e.kind {
            EntryKind::Observed { event } => {
                let dn = &st.subject().dn;
                let bound = match &event.kind {
                    EventKind::SipRegistered { aor, .. } => aor == dn,
                    EventKind::SipBindingMirrored { aor, present, .. } => aor == dn && *present,
                    EventKind::Started { active: true, .. }
                        if event.server == ServerKind::SipServer =>
                    {
                        let why = format!(
                            "sip_server at {} coming back at {}",
                            event.site,
                            self.rel(e.ts_us)
                        );
                        let w = self.return_within_us;
                        self.owe(&event.site.clone(), e.ts_us, w, why);
                        false
                    }
                    _ => false,
                };
                if bound {
                    self.seen.push((event.site.clone(), e.ts_us));
                    let before = self.owed.len();
                    self.owed
                        .retain(|o| !(o.site == event.site && o.since_us <= e.ts_us));
                    self.met += before - self.owed.len();
                }
            }
            // While a fault cuts a site, nothing can be demanded there; its return re-arms it.
            EntryKind::Fault { effects, .. } => {
                self.owed
                    .retain(|o| !effects.iter().any(|f| f.target.site == o.site));
            }
            _ => {}
        }
        Status::Pending
    }

    fn on_time(&mut self, now_us: i64, _st: &SessionState) -> Status {
        self.arm(now_us);
        let Some(o) = self.owed.iter().find(|o| o.deadline_us <= now_us) else {
            return Status::Pending;
        };
        let window = format!("{:.1}s", o.window_us as f64 / 1e6);
        Status::Fail(Failure::new(
            self.name.clone(),
            o.deadline_us,
            format!(
                "PH-1: the phone was not registered at {} within {window} of {} (deadline {}); registrations seen: {}",
                o.site,
                o.why,
                self.rel(o.deadline_us),
                self.seen_text()
            ),
        ))
    }

    fn deadline_us(&self) -> Option<i64> {
        // Not armed yet: due at the clock's first tick, which arms it (see `arm`).
        let unarmed = (self.start_us == 0).then_some(1);
        unarmed.or_else(|| self.owed.iter().map(|o| o.deadline_us).min())
    }

    fn finish(&mut self, end_us: i64, st: &SessionState) -> Status {
        let s = self.on_time(end_us, st);
        if !matches!(s, Status::Pending) {
            return s;
        }
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        // Still owed at the end: neither made nor missed, so no pass (it would be unearned).
        if let Some(o) = self.owed.first() {
            return Status::unknown(format!(
                "scenario ended before PH-1's deadline at {} ({:.1}s after {})",
                o.site,
                o.window_us as f64 / 1e6,
                o.why
            ));
        }
        if self.met == 0 {
            return Status::not_exercised("no registration was owed and met");
        }
        Status::Pass
    }
}

/// PH-2 for one `deliver_call`: the phone answers the call within the window of the step (the
/// mock rings the phone registered at the peer where the agent is logged in, after any 302).
pub struct PhoneRang {
    name: String,
    w: Window,
    seen: Vec<String>,
}

impl PhoneRang {
    /// New checker with the window in ms.
    pub fn new(name: String, within_ms: u64) -> Self {
        PhoneRang {
            name,
            w: Window::new(within_ms),
            seen: Vec::new(),
        }
    }

    /// Fails at `at_us`: `by` says when the verdict became certain (deadline, refusal, end).
    fn fail(&self, at_us: i64, by: &str) -> Status {
        let seen = if self.seen.is_empty() {
            "no SIP for the DN".to_string()
        } else {
            self.seen.join(", ")
        };
        Status::Fail(Failure::new(
            self.name.clone(),
            at_us,
            format!("PH-2: the phone did not answer the delivered call {by}; seen: {seen}"),
        ))
    }
}

impl Check for PhoneRang {
    fn start(&mut self, at_us: i64, _st: &SessionState) -> Status {
        self.w.from_us = at_us;
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        let EntryKind::Observed { event } = &e.kind else {
            return Status::Pending;
        };
        if e.ts_us < self.w.from_us {
            return Status::Pending;
        }
        let dn = &st.subject().dn;
        let at = format!("{:.3}s", (e.ts_us - self.w.from_us) as f64 / 1e6);
        match &event.kind {
            EventKind::SipAnswered { dn: d, .. } if d == dn => return Status::Pass,
            EventKind::SipRedirected { dn: d, .. } if d == dn => {
                self.seen.push(format!("302 at {} (+{at})", event.site));
            }
            EventKind::SipInviteSent { dn: d, .. } if d == dn => {
                self.seen
                    .push(format!("phone rung by {} (+{at})", event.site));
            }
            EventKind::SipRejected {
                dn: d,
                code,
                reason,
                ..
            } if d == dn => {
                // A final refusal to the gateway: this call will not ring the phone.
                self.seen
                    .push(format!("{code} {reason} at {} (+{at})", event.site));
                return self.fail(e.ts_us, &format!("(the call was refused at +{at})"));
            }
            _ => {}
        }
        Status::Pending
    }

    fn on_time(&mut self, now_us: i64, _st: &SessionState) -> Status {
        match self.w.closed(now_us) {
            Some(d) => self.fail(d, &format!("within {:.1}s", self.w.secs())),
            None => Status::Pending,
        }
    }

    fn deadline_us(&self) -> Option<i64> {
        self.w.deadline_us()
    }

    fn finish(&mut self, end_us: i64, st: &SessionState) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        let by = format!(
            "by the scenario's end (+{:.3}s, before the {:.1}s window closed)",
            (end_us - self.w.from_us) as f64 / 1e6,
            self.w.secs()
        );
        self.fail(end_us, &by)
    }
}

/// PH-3 for one `phone_dials` step: the phone's INVITE for `number` reaches `site`'s SIP Server
/// peer (the preferred one while it is up, the other while it is down) within the window.
pub struct PhoneDialed {
    name: String,
    number: String,
    site: String,
    w: Window,
}

impl PhoneDialed {
    /// New checker.
    pub fn new(name: String, number: String, site: String, within_ms: u64) -> Self {
        PhoneDialed {
            name,
            number,
            site,
            w: Window::new(within_ms),
        }
    }
}

impl Check for PhoneDialed {
    fn start(&mut self, at_us: i64, _st: &SessionState) -> Status {
        self.w.from_us = at_us;
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        let EntryKind::Observed { event } = &e.kind else {
            return Status::Pending;
        };
        if e.ts_us < self.w.from_us || event.server != ServerKind::SipServer {
            return Status::Pending;
        }
        let dialed = match &event.kind {
            EventKind::SipRejected { dn, .. }
            | EventKind::SipRedirected { dn, .. }
            | EventKind::SipInviteSent { dn, .. }
            | EventKind::SipAnswered { dn, .. } => *dn == self.number,
            _ => false,
        };
        if !dialed {
            return Status::Pending;
        }
        if event.site == self.site {
            return Status::Pass;
        }
        Status::Fail(Failure::new(
            self.name.clone(),
            e.ts_us,
            format!(
                "PH-3: the phone's INVITE to {} reached {} (+{:.3}s), not {}",
                self.number,
                event.site,
                (e.ts_us - self.w.from_us) as f64 / 1e6,
                self.site
            ),
        ))
    }

    fn on_time(&mut self, now_us: i64, _st: &SessionState) -> Status {
        let Some(d) = self.w.closed(now_us) else {
            return Status::Pending;
        };
        Status::Fail(Failure::new(
            self.name.clone(),
            d,
            format!(
                "PH-3: no INVITE from the phone to {} reached any SIP Server peer within {:.1}s",
                self.number,
                self.w.secs()
            ),
        ))
    }

    fn deadline_us(&self) -> Option<i64> {
        self.w.deadline_us()
    }

    fn finish(&mut self, end_us: i64, st: &SessionState) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        Status::Fail(Failure::new(
            self.name.clone(),
            end_us,
            format!(
                "PH-3: no INVITE from the phone to {} reached any SIP Server peer by the scenario's end",
                self.number
            ),
        ))
    }
}

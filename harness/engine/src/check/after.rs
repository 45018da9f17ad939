//! What happened after a failure's deadline (or an invariant's breach), read from the whole timeline
//! (a herd agent's: from its own entries as they come): a late login is told apart from none at all.

use bc_protocol::ServerKind;

use super::{CheckSpec, Failure};
use crate::observe::{DesktopEvent, Entry, EntryKind, SessionState, Timeline};

/// What ends the look after a failure: the state it waits for, or what it reports at the end.
enum Look {
    /// The first instant the state holds: `(holds, what it is, what it is not)`.
    Until(Holds, String, String),
    /// Nothing to wait for: how many more of a counted thing (switchovers, reconnections) came
    /// after the failure, and the sessions at the end.
    Count(fn(&SessionState) -> usize, &'static str),
}

type Holds = Box<dyn Fn(&SessionState) -> bool + Send>;

fn until(holds: Holds, yes: String, no: String) -> Option<Look> {
    Some(Look::Until(holds, yes, no))
}

fn look(spec: &CheckSpec, from: i64) -> Option<Look> {
    match spec {
        CheckSpec::LoggedIn { site, servers, .. } => {
            let at = site.clone().unwrap_or_else(|| "one site".into());
            let (site, servers) = (site.clone(), servers.clone());
            until(
                Box::new(move |st| match &site {
                    Some(s) => st.logged_in(s, &servers),
                    None => st.subject().sites.iter().any(|s| st.logged_in(s, &servers)),
                }),
                format!("logged in at {at}"),
                format!("not logged in at {at}"),
            )
        }
        CheckSpec::StaysLoggedIn { site, servers, .. } => {
            let (yes, no) = (
                format!("logged in at {site} alone again"),
                format!("not back to a login at {site} alone"),
            );
            let (site, servers) = (site.clone(), servers.clone());
            until(
                Box::new(move |st| st.logged_in(&site, &servers) && sip_sites(st) <= 1),
                yes,
                no,
            )
        }
        CheckSpec::Disconnected { site, .. } => {
            let (yes, no) = (
                format!("no connection left at {site}"),
                format!("still connected at {site}"),
            );
            let site = site.clone();
            until(Box::new(move |st| !st.connected(&site)), yes, no)
        }
        CheckSpec::CallAnswered { .. } => until(
            Box::new(move |st| st.answered().last().is_some_and(|t| *t > from)),
            "a call answered".into(),
            "no call answered".into(),
        ),
        CheckSpec::NeverLoggedInAtBothPeers => until(
            Box::new(|st| sip_sites(st) <= 1),
            "logged in on sip_server at one site again".into(),
            "still logged in on sip_server at two sites".into(),
        ),
        CheckSpec::NeverSplit { .. } => until(
            Box::new(|st| st.visible_session_sites().len() <= 1),
            "sessions at one site again".into(),
            "sessions still at two sites".into(),
        ),
        CheckSpec::MaxSwitchovers { .. } | CheckSpec::NoSwitchoverOnHaFailover => {
            Some(Look::Count(|st| st.switchovers().len(), "switchover"))
        }
        CheckSpec::MaxReconnects { .. } => {
            Some(Look::Count(|st| st.reconnects().len(), "reconnection"))
        }
        CheckSpec::DesktopAlive
        | CheckSpec::PhoneRegistered { .. }
        | CheckSpec::PhoneRang { .. }
        | CheckSpec::PhoneDialed { .. }
        | CheckSpec::HerdBurst { .. }
        | CheckSpec::HerdLoggedIn { .. }
        | CheckSpec::HerdAttempts { .. }
        | CheckSpec::HerdWaited { .. }
        | CheckSpec::HerdReturn { .. }
        | CheckSpec::HerdRounds { .. }
        | CheckSpec::HonoursOverload
        | CheckSpec::MaxAttempts { .. }
        | CheckSpec::BacksOff { .. } => None,
    }
}

fn sip_sites(st: &SessionState) -> usize {
    st.subject()
        .sites
        .iter()
        .filter(|s| st.live_visible(s, ServerKind::SipServer))
        .count()
}

fn secs(us: i64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// A failure's look past it, fed one entry at a time (each before and after it is folded into the
/// state): from the whole timeline by [`complete`], or live by a herd agent's lane, its own entries.
pub struct After {
    look: Look,
    /// The deadline (or the failure's instant): the look starts after it.
    from: i64,
    since: &'static str,
    /// The last instant looked at.
    end: i64,
    /// The counted thing before the current entry.
    last: usize,
    counted: usize,
    /// When the state it waits for first held.
    held_at: Option<i64>,
    /// When the desktop stopped, and the sessions then: what follows is the harness's teardown.
    stopped: Option<(i64, String)>,
}

impl After {
    /// The look past failure `f` of `spec` (`None`: the check has nothing to look for), starting
    /// from the state `st` at the failure.
    pub fn new(spec: &CheckSpec, f: &Failure, st: &SessionState) -> Option<After> {
        let from = f.deadline_us.map_or(f.at_us, |d| d.min(f.at_us));
        let look = look(spec, from)?;
        let last = match &look {
            Look::Count(count, _) => count(st),
            Look::Until(..) => 0,
        };
        Some(After {
            look,
            from,
            since: if f.deadline_us.is_some() {
                "the deadline"
            } else {
                "the failure"
            },
            end: from,
            last,
            counted: 0,
            held_at: None,
            stopped: None,
        })
    }

    /// Whether the look is over: what it waits for held, or the desktop stopped.
    pub fn is_over(&self) -> bool {
        self.held_at.is_some() || self.stopped.is_some()
    }

    /// Before `e` is folded into `st`: the desktop's exit past the failure ends the look.
    pub fn before(&mut self, e: &Entry, st: &SessionState) {
        if self.is_over() {
            return;
        }
        if let Look::Count(count, _) = &self.look {
            self.last = count(st);
        }
        if e.ts_us > self.from && matches!(e.kind, EntryKind::Desktop(DesktopEvent::Exited { .. }))
        {
            self.stopped = Some((e.ts_us, st.summary()));
        }
    }

    /// After `e` was folded into `st`: what it waits for, or one more of what it counts.
    pub fn after(&mut self, e: &Entry, st: &SessionState) {
        if self.is_over() {
            return;
        }
        self.end = self.end.max(e.ts_us);
        if e.ts_us <= self.from {
            return;
        }
        match &self.look {
            Look::Until(holds, ..) if holds(st) => self.held_at = Some(e.ts_us),
            Look::Count(count, _) if count(st) > self.last => self.counted += 1,
            _ => {}
        }
    }

    /// Fills in `f.after`, times relative to `start_us`; `st` is the state at the end of the
    /// scenario (unless the desktop stopped before).
    pub fn fill(&self, f: &mut Failure, start_us: i64, st: &SessionState) {
        let since = self.since;
        if let (Look::Until(_, yes, _), Some(t)) = (&self.look, self.held_at) {
            f.after = Some(format!(
                "{yes} at +{}, {} after {since}",
                secs(t - start_us),
                secs(t - self.from)
            ));
            return;
        }
        let (end, sessions) = match &self.stopped {
            Some((t, s)) => (*t, s.clone()),
            None => (self.end, st.summary()),
        };
        let at_end = format!(
            "by the end of the scenario (+{}); sessions then: {sessions}",
            secs(end - start_us)
        );
        f.after = Some(match &self.look {
            Look::Until(_, _, no) => format!("{no} {at_end}"),
            Look::Count(_, what) if self.counted == 0 => format!("no further {what} {at_end}"),
            Look::Count(_, what) => format!("{} further {what}(s) {at_end}", self.counted),
        });
    }
}

/// Fills in `f.after` from the whole timeline: the state it waited for and when, or how things
/// stood when the desktop was stopped (the look ends there: what follows is the harness's teardown).
pub fn complete(spec: &CheckSpec, f: &mut Failure, timeline: &Timeline) {
    let mut st = SessionState::new(timeline.subject.clone());
    let Some(mut look) = After::new(spec, f, &st) else {
        return;
    };
    for e in timeline.sorted() {
        look.before(e, &st);
        if look.is_over() {
            break;
        }
        st.apply(e);
        look.after(e, &st);
    }
    look.fill(f, timeline.start_us().unwrap_or(0), &st);
}

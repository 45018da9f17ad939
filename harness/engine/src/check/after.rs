//! What happened after a failure's deadline (or an invariant's breach), read from the whole
//! timeline once the evaluation finishes: a late login is told apart from none at all.

use bc_protocol::ServerKind;

use super::{CheckSpec, Failure};
use crate::observe::{DesktopEvent, EntryKind, SessionState, Timeline};

/// What ends the look after a failure: the state it waits for, or what it reports at the end.
enum Look<'a> {
    /// The first instant the state holds: `(holds, what it is, what it is not)`.
    Until(Holds<'a>, String, String),
    /// Nothing to wait for: how many more of a counted thing (switchovers, reconnections) came
    /// after the failure, and the sessions at the end.
    Count(fn(&SessionState) -> usize, &'static str),
}

type Holds<'a> = Box<dyn Fn(&SessionState) -> bool + 'a>;

fn until(holds: Holds<'_>, yes: String, no: String) -> Option<Look<'_>> {
    Some(Look::Until(holds, yes, no))
}

fn look(spec: &CheckSpec, from: i64) -> Option<Look<'_>> {
    match spec {
        CheckSpec::LoggedIn { site, servers, .. } => {
            let at = site.clone().unwrap_or_else(|| "one site".into());
            until(
                Box::new(move |st| match site {
                    Some(s) => st.logged_in(s, servers),
                    None => st.subject().sites.iter().any(|s| st.logged_in(s, servers)),
                }),
                format!("logged in at {at}"),
                format!("not logged in at {at}"),
            )
        }
        CheckSpec::StaysLoggedIn { site, servers, .. } => until(
            Box::new(move |st| st.logged_in(site, servers) && sip_sites(st) <= 1),
            format!("logged in at {site} alone again"),
            format!("not back to a login at {site} alone"),
        ),
        CheckSpec::Disconnected { site, .. } => until(
            Box::new(move |st| !st.connected(site)),
            format!("no connection left at {site}"),
            format!("still connected at {site}"),
        ),
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
        | CheckSpec::HonoursOverload
        | CheckSpec::MaxAttempts { .. } => None,
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

/// Fills in `f.after` from the timeline: the state it waited for and when, or how things stood
/// when the desktop was stopped (the look ends there: what follows is the harness's teardown).
pub fn complete(spec: &CheckSpec, f: &mut Failure, timeline: &Timeline) {
    let from = f.deadline_us.map_or(f.at_us, |d| d.min(f.at_us));
    let Some(look) = look(spec, from) else {
        return;
    };
    let start = timeline.start_us().unwrap_or(0);
    let since = if f.deadline_us.is_some() {
        "the deadline"
    } else {
        "the failure"
    };
    let mut st = SessionState::new(timeline.subject.clone());
    let mut end = from;
    let mut counted = 0;
    for e in timeline.sorted() {
        let stops = matches!(e.kind, EntryKind::Desktop(DesktopEvent::Exited { .. }));
        if e.ts_us > from && stops {
            end = e.ts_us;
            break;
        }
        let before = match &look {
            Look::Count(count, _) => count(&st),
            Look::Until(..) => 0,
        };
        st.apply(e);
        end = end.max(e.ts_us);
        if e.ts_us <= from {
            continue;
        }
        match &look {
            Look::Until(holds, yes, _) if holds(&st) => {
                f.after = Some(format!(
                    "{yes} at +{}, {} after {since}",
                    secs(e.ts_us - start),
                    secs(e.ts_us - from)
                ));
                return;
            }
            Look::Count(count, _) if count(&st) > before => counted += 1,
            _ => {}
        }
    }
    let at_end = format!(
        "by the end of the scenario (+{}); sessions then: {}",
        secs(end - start),
        st.summary()
    );
    f.after = Some(match &look {
        Look::Until(_, _, no) => format!("{no} {at_end}"),
        Look::Count(_, what) if counted == 0 => format!("no further {what} {at_end}"),
        Look::Count(_, what) => format!("{counted} further {what}(s) {at_end}"),
    });
}

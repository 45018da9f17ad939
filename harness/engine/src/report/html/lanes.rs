//! What the swim-lane picture shows, derived from one timeline: a lane per server instance that was
//! seen (plus the desktop), connection and login bars on them, fault bands, markers, notable events.

use std::collections::{BTreeMap, BTreeSet};

use bc_protocol::{EventKind, ServerKind};

use super::lane_key;
pub use super::lane_key::LaneKey;
use crate::observe::{format, Change, DesktopEvent, Entry, EntryKind, Timeline};

/// A bar on a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Connected (thin) or holding a login session (thick).
    pub login: bool,
    /// Start, µs.
    pub from_us: i64,
    /// End, µs.
    pub to_us: i64,
    /// Tooltip.
    pub label: String,
}

/// One lane and what is drawn on it.
#[derive(Debug, Clone, Default)]
pub struct Lane {
    /// Bars in start order.
    pub bars: Vec<Bar>,
    /// Keep-alives and requests not drawn (aggregated into the lane's tooltip).
    pub noise: usize,
}

/// A fault from its effect to its heal (or the end), over the lanes it hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Index of the fault entry.
    pub entry: usize,
    /// The fault id.
    pub id: u32,
    /// Label: the marker, else the description.
    pub label: String,
    /// The description.
    pub description: String,
    /// Whether it made the desktop lose a site (automatic measurements count from the first).
    pub site_loss: bool,
    /// The change of its first effect (its colour); `None` without effects.
    pub change: Option<Change>,
    /// Start and end, µs.
    pub from_us: i64,
    /// End, µs.
    pub to_us: i64,
    /// Lanes hit (all server lanes of the affected targets).
    pub lanes: Vec<LaneKey>,
}

/// Everything drawn for one timeline.
#[derive(Debug, Clone, Default)]
pub struct Picture {
    /// First and last entry, µs.
    pub start_us: i64,
    /// Last entry, µs.
    pub end_us: i64,
    /// Lanes in order: sites, then server kinds, then groups, then roles; the desktop last.
    pub lanes: BTreeMap<LaneKey, Lane>,
    /// Fault bands.
    pub bands: Vec<Band>,
    /// Markers: entry index, time, name.
    pub markers: Vec<(usize, i64, String)>,
    /// Steps: entry index, time, description (an expectation met at once is decided by its step).
    pub steps: Vec<(usize, i64, String)>,
    /// Notable entries (noise left out): entry index, lane, time, text.
    pub events: Vec<(usize, LaneKey, i64, String)>,
}

/// Open bars of one lane, by connection: (connected since, logged in since).
type Open = BTreeMap<u64, (i64, Option<i64>)>;

/// Builds the picture; entries are taken in timestamp order, as the checkers see them.
pub fn picture(t: &Timeline) -> Picture {
    let mut b = Builder {
        t,
        p: Picture {
            start_us: t.start_us().unwrap_or(0),
            end_us: t.end_us().unwrap_or(0),
            ..Picture::default()
        },
        open: BTreeMap::new(),
        healed: BTreeMap::new(),
        sip_groups: sip_groups(t),
    };
    let mut order: Vec<usize> = (0..t.entries.len()).collect();
    order.sort_by_key(|i| (t.entries[*i].ts_us, *i));
    for i in order {
        b.entry(i, &t.entries[i]);
    }
    b.finish()
}

struct Builder<'a> {
    t: &'a Timeline,
    p: Picture,
    open: BTreeMap<LaneKey, Open>,
    healed: BTreeMap<u32, i64>,
    /// SIP Server groups seen anywhere in the timeline (1 always), for faults on every group.
    sip_groups: BTreeSet<u32>,
}

/// Group 1 always, so a timeline of one group bands exactly the lanes it did before groups.
fn sip_groups(t: &Timeline) -> BTreeSet<u32> {
    let seen = t.entries.iter().filter_map(|e| match &e.kind {
        EntryKind::Observed { event: o } if o.server == ServerKind::SipServer => o.group,
        _ => None,
    });
    seen.chain([1]).collect()
}

impl Builder<'_> {
    fn entry(&mut self, i: usize, e: &Entry) {
        match &e.kind {
            EntryKind::Observed { event: o } => {
                let sites = &self.t.subject.sites;
                let group = o.group.unwrap_or(1);
                let key = LaneKey::instance(sites, &o.site, o.server, o.role, group);
                let lane = self.p.lanes.entry(key.clone()).or_default();
                if format::is_noise(&e.kind) {
                    lane.noise += 1;
                    return;
                }
                if let Some(c) = o.conn {
                    self.conn_event(&key, c, e.ts_us, &o.kind);
                }
                self.note(i, key, e);
            }
            EntryKind::Fault { .. } => self.fault(i, e),
            EntryKind::Heal { fault, .. } => {
                // A heal ends its band; a heal-all ends every band still open.
                let ids: Vec<u32> = match fault {
                    Some(f) => vec![*f],
                    None => self.p.bands.iter().map(|b| b.id).collect(),
                };
                for id in ids {
                    self.healed.entry(id).or_insert(e.ts_us);
                }
            }
            EntryKind::Marker { name } => self.p.markers.push((i, e.ts_us, name.clone())),
            EntryKind::Desktop(d) => self.desktop_event(i, e, d),
            EntryKind::Step { index, description } => {
                self.p
                    .steps
                    .push((i, e.ts_us, format!("STEP {index}: {description}")));
            }
            // Drawn like a step: a labelled hairline across the lanes, in the timeline's words.
            EntryKind::Infra { .. } => {
                let text = format::line(e, self.p.start_us);
                self.p.steps.push((i, e.ts_us, text));
            }
            EntryKind::Note { .. } => {}
        }
    }

    fn note(&mut self, i: usize, key: LaneKey, e: &Entry) {
        let text = format::line(e, self.p.start_us);
        self.p.events.push((i, key, e.ts_us, text));
    }

    fn conn_event(&mut self, key: &LaneKey, conn: u64, ts: i64, kind: &EventKind) {
        let user = &self.t.subject.username;
        let open = self.open.entry(key.clone()).or_default();
        match kind {
            EventKind::ClientConnected { .. } => {
                open.insert(conn, (ts, None));
            }
            EventKind::ClientDisconnected { .. } => {
                if let Some(o) = open.remove(&conn) {
                    self.close(key, conn, o, ts);
                }
            }
            EventKind::AgentLogin { .. }
            | EventKind::DnRegistered {
                agent_id: Some(_), ..
            }
            | EventKind::StatisticOpened { .. } => login(open, conn, ts),
            EventKind::ClientRegistered { user_name, .. } if user_name.as_ref() == Some(user) => {
                login(open, conn, ts);
            }
            EventKind::AgentLogout { .. } => {
                if let Some((_, Some(since))) = open.get(&conn).copied() {
                    open.insert(conn, (open[&conn].0, None));
                    self.bar(key, true, since, ts, format!("conn {conn} logged in"));
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, key: &LaneKey, conn: u64, (since, login): (i64, Option<i64>), ts: i64) {
        self.bar(key, false, since, ts, format!("conn {conn} connected"));
        if let Some(l) = login {
            self.bar(key, true, l, ts, format!("conn {conn} logged in"));
        }
    }

    fn bar(&mut self, key: &LaneKey, login: bool, from: i64, to: i64, what: String) {
        let start = self.p.start_us;
        let label = format!(
            "{} {what} +{:.3}s .. +{:.3}s",
            key.label(),
            (from - start) as f64 / 1e6,
            (to - start) as f64 / 1e6
        );
        let lane = self.p.lanes.entry(key.clone()).or_default();
        lane.bars.push(Bar {
            login,
            from_us: from,
            to_us: to,
            label,
        });
    }

    fn fault(&mut self, i: usize, e: &Entry) {
        let EntryKind::Fault {
            id,
            marker,
            description,
            effects,
            agents,
        } = &e.kind
        else {
            return;
        };
        let description = format::fault_line(description, agents);
        let mut lanes = Vec::new();
        for eff in effects {
            for key in lane_key::hit(&self.t.subject.sites, &eff.target, &self.sip_groups) {
                // A killed or stopped process cannot report its clients' disconnects.
                if matches!(eff.change, Change::Killed | Change::Stopped) {
                    self.close_all(&key, e.ts_us);
                }
                if !lanes.contains(&key) {
                    lanes.push(key);
                }
            }
        }
        if !effects.is_empty() && effects.iter().all(|x| x.change == Change::Restored) {
            // A restore (thaw, restart) ends the faults it undoes rather than being one.
            for b in &self.p.bands {
                if !self.healed.contains_key(&b.id) && b.lanes.iter().any(|k| lanes.contains(k)) {
                    self.healed.insert(b.id, e.ts_us);
                }
            }
            if let Some(k) = lanes.first().cloned() {
                self.note(i, k, e);
            }
            return;
        }
        self.p.bands.push(Band {
            entry: i,
            id: *id,
            label: marker.clone().unwrap_or_else(|| description.clone()),
            description,
            site_loss: effects.iter().any(|x| x.change.is_site_loss()),
            change: effects.first().map(|x| x.change),
            from_us: e.ts_us,
            to_us: e.ts_us,
            lanes,
        });
    }

    fn close_all(&mut self, key: &LaneKey, ts: i64) {
        let open = self.open.remove(key).unwrap_or_default();
        for (conn, o) in open {
            self.close(key, conn, o, ts);
        }
    }

    fn desktop_event(&mut self, i: usize, e: &Entry, d: &DesktopEvent) {
        let key = LaneKey::desktop();
        match d {
            DesktopEvent::Log { .. } => self.p.lanes.entry(key).or_default().noise += 1,
            DesktopEvent::Started { .. } => {
                // A ramped herd starts its processes one by one: the lane opens at the first.
                self.open
                    .entry(key.clone())
                    .or_default()
                    .entry(0)
                    .or_insert((e.ts_us, None));
                self.note(i, key, e);
            }
            DesktopEvent::Exited { .. } => {
                self.close_all(&key, e.ts_us);
                self.note(i, key, e);
            }
        }
    }

    fn finish(mut self) -> Picture {
        let end = self.p.end_us;
        for key in self.open.keys().cloned().collect::<Vec<_>>() {
            self.close_all(&key, end);
        }
        for b in &mut self.p.bands {
            b.to_us = self
                .healed
                .get(&b.id)
                .copied()
                .unwrap_or(end)
                .max(b.from_us);
        }
        for lane in self.p.lanes.values_mut() {
            lane.bars.sort_by_key(|b| (b.from_us, b.login));
        }
        // Bands name only lanes that exist, so a fault on an idle instance still shows.
        for b in &self.p.bands {
            for k in &b.lanes {
                self.p.lanes.entry(k.clone()).or_default();
            }
        }
        self.p
    }
}

/// Bars of one kind (`login` or connection) merged where less than `gap_us` apart: a reconnect
/// loop becomes one bar saying how many it stands for, which keeps a flapping scenario's SVG small.
pub fn thin(bars: &[Bar], login: bool, gap_us: i64, start_us: i64) -> Vec<Bar> {
    let mut out: Vec<(Bar, usize)> = Vec::new();
    for b in bars.iter().filter(|b| b.login == login) {
        match out.last_mut() {
            Some((last, n)) if b.from_us <= last.to_us + gap_us => {
                last.to_us = last.to_us.max(b.to_us);
                *n += 1;
            }
            _ => out.push((b.clone(), 1)),
        }
    }
    let rel = |us: i64| format!("+{:.3}s", (us - start_us) as f64 / 1e6);
    out.into_iter()
        .map(|(mut b, n)| {
            if n > 1 {
                let what = if login {
                    "login sessions"
                } else {
                    "connections"
                };
                b.label = format!(
                    "{n} {what} close together, {} .. {}",
                    rel(b.from_us),
                    rel(b.to_us)
                );
            }
            b
        })
        .collect()
}

fn login(open: &mut Open, conn: u64, ts: i64) {
    if let Some(o) = open.get_mut(&conn) {
        o.1.get_or_insert(ts);
    }
}

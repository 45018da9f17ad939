//! The swim-lane timeline of one scenario as inline SVG: time axis, a lane per instance and the
//! desktop, connection and login bars, fault bands, marker hairlines and notable events.

use super::lanes::{self, Band, LaneKey, Picture};
use super::overlay::{self, Overlay};
use super::svg::{num, Attr, El, Tag};
use super::trace::{Decided, Traced};
use crate::event::ScenarioResult;
use crate::observe::Change;
use std::collections::BTreeMap;

/// Width of the lane labels.
pub const LABEL_W: f64 = 200.0;
/// Width of the time axis.
pub const PLOT_W: f64 = 880.0;
/// Height of one lane.
pub const LANE_H: f64 = 16.0;
/// Height of the axis and marker labels above the lanes.
const TOP: f64 = 32.0;
/// Notable events drawn per scenario; the rest are counted in the desktop lane's tooltip (size bound).
const MAX_EVENTS: usize = 250;

/// Maps time to x and knows where the lanes are.
pub struct Frame {
    /// Time at x = LABEL_W, µs.
    pub start_us: i64,
    /// Time span of the plot, µs.
    pub span_us: i64,
    /// y of the first lane.
    pub top: f64,
    /// y below the last lane.
    pub lanes_bottom: f64,
}

impl Frame {
    /// x of an instant.
    pub fn x(&self, t: i64) -> f64 {
        LABEL_W + (t - self.start_us) as f64 / self.span_us as f64 * PLOT_W
    }
    /// `+1.234s`.
    pub fn rel(&self, t: i64) -> String {
        format!("+{:.3}s", (t - self.start_us) as f64 / 1e6)
    }
}

/// The CSS class of a fault kind's colour.
pub fn change_class(c: Option<Change>) -> &'static str {
    match c {
        Some(Change::Killed | Change::Stopped) => "f-kill",
        Some(Change::Frozen | Change::BlackHoled | Change::CutToServer | Change::CutToDesktop) => {
            "f-partition"
        }
        Some(Change::Refused | Change::Reset | Change::RejectingLogins) => "f-refuse",
        Some(Change::Degraded) => "f-degrade",
        Some(Change::HaFailover) => "f-ha",
        Some(Change::ConfigChanged | Change::CallDelivered | Change::CallRefused) => "f-change",
        Some(Change::Restored) | None => "f-other",
    }
}

/// The SVG of scenario number `n` (ids are `s{n}-e{entry}` per event, `s{n}-c{check}` per check).
pub fn svg(n: usize, r: &ScenarioResult, pic: &Picture, traced: &[Traced]) -> String {
    let lanes: Vec<&LaneKey> = pic.lanes.keys().collect();
    // Deadlines past the last entry (a scenario cut short) still fit on the axis.
    let end = traced
        .iter()
        .map(|t| t.deadline_us)
        .chain(r.failures.iter().filter_map(|f| f.deadline_us))
        .fold(pic.end_us, i64::max);
    let f = Frame {
        start_us: pic.start_us,
        span_us: (end - pic.start_us).max(1_000),
        top: TOP,
        lanes_bottom: TOP + lanes.len() as f64 * LANE_H,
    };
    let ov = Overlay {
        n,
        result: r,
        pic,
        traced,
    };
    let height = f.lanes_bottom + overlay::height(&ov) + 6.0;
    let width = LABEL_W + PLOT_W + 20.0;
    let mut root = El::new(Tag::Svg)
        .attr(Attr::ViewBox, format!("0 0 {} {}", num(width), num(height)))
        .at(Attr::Width, width)
        .at(Attr::Height, height)
        .attr(Attr::Role, "img")
        .attr(Attr::AriaLabel, format!("timeline of {}", r.info.id))
        .attr(Attr::Class, "swim");
    root.push(axis(&f, height));
    root.push(lane_rows(&f, pic, &lanes));
    root.push(bands(n, &f, &pic.bands, &lanes));
    root.push(markers(n, &f, pic, height));
    let keep: Vec<usize> = traced
        .iter()
        .filter_map(|t| match t.decided {
            Decided::Entry(i, _) => Some(i),
            _ => None,
        })
        .collect();
    root.push(events(n, &f, pic, &lanes, &keep));
    overlay::draw(&ov, &f, &mut root);
    root.render()
}

fn lane_y(f: &Frame, lanes: &[&LaneKey], k: &LaneKey) -> Option<f64> {
    lanes
        .iter()
        .position(|l| *l == k)
        .map(|i| f.top + i as f64 * LANE_H)
}

fn axis(f: &Frame, height: f64) -> El {
    let span_s = f.span_us as f64 / 1e6;
    let step = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    ]
    .into_iter()
    .find(|s| span_s / s <= 12.0)
    .unwrap_or(600.0);
    let mut g = El::new(Tag::G).attr(Attr::Class, "axis");
    let mut t = 0.0;
    while t <= span_s + 1e-9 {
        let x = f.x(f.start_us + (t * 1e6) as i64);
        g.push(
            El::new(Tag::Line)
                .at(Attr::X1, x)
                .at(Attr::Y1, 12.0)
                .at(Attr::X2, x)
                .at(Attr::Y2, height),
        );
        g.push(
            El::new(Tag::Text)
                .at(Attr::X, x)
                .at(Attr::Y, 10.0)
                .text(&format!("+{}s", num(t))),
        );
        t += step;
    }
    g
}

fn lane_rows(f: &Frame, pic: &Picture, lanes: &[&LaneKey]) -> El {
    let mut g = El::new(Tag::G).attr(Attr::Class, "lanes");
    for (i, k) in lanes.iter().enumerate() {
        let y = f.top + i as f64 * LANE_H;
        let lane = &pic.lanes[*k];
        let class = if i % 2 == 0 { "lane" } else { "lane odd" };
        let mut tip = k.label();
        if lane.noise > 0 {
            tip.push_str(&format!(
                ": {} keep-alive, request and log entries not drawn",
                lane.noise
            ));
        }
        g.push(
            El::new(Tag::Rect)
                .attr(Attr::Class, class)
                .at(Attr::X, 0.0)
                .at(Attr::Y, y)
                .at(Attr::Width, LABEL_W + PLOT_W)
                .at(Attr::Height, LANE_H)
                .title(&tip),
        );
        g.push(
            El::new(Tag::Text)
                .attr(Attr::Class, "lanelabel")
                .at(Attr::X, 4.0)
                .at(Attr::Y, y + 12.0)
                .text(&k.label()),
        );
        // Bars closer than 2 px merge; connections first so logins draw on top.
        let gap = f.span_us * 2 / PLOT_W as i64;
        let thinned = [false, true].map(|login| lanes::thin(&lane.bars, login, gap, f.start_us));
        for b in thinned.iter().flatten() {
            let (class, dy, h) = if b.login {
                ("login", 4.0, 8.0)
            } else {
                ("conn", 1.5, 13.0)
            };
            let x = f.x(b.from_us);
            g.push(
                El::new(Tag::Rect)
                    .attr(Attr::Class, class)
                    .at(Attr::X, x)
                    .at(Attr::Y, y + dy)
                    .at(Attr::Width, (f.x(b.to_us) - x).max(1.0))
                    .at(Attr::Height, h)
                    .title(&b.label),
            );
        }
    }
    g
}

fn bands(n: usize, f: &Frame, bands: &[Band], lanes: &[&LaneKey]) -> El {
    let mut g = El::new(Tag::G).attr(Attr::Class, "bands");
    for b in bands {
        let x = f.x(b.from_us);
        let w = (f.x(b.to_us) - x).max(2.0);
        let tip = format!(
            "FAULT #{} {} ({} .. {})",
            b.id,
            b.description,
            f.rel(b.from_us),
            f.rel(b.to_us)
        );
        let mut band = El::new(Tag::G)
            .attr(Attr::Class, format!("band {}", change_class(b.change)))
            .attr(Attr::Id, format!("s{n}-e{}", b.entry))
            .title(&tip);
        let mut first = None;
        for k in &b.lanes {
            if let Some(y) = lane_y(f, lanes, k) {
                first = Some(first.map_or(y, |f: f64| f.min(y)));
                band.push(
                    El::new(Tag::Rect)
                        .at(Attr::X, x)
                        .at(Attr::Y, y)
                        .at(Attr::Width, w)
                        .at(Attr::Height, LANE_H),
                );
            }
        }
        let y = first.unwrap_or(f.top) + LANE_H - 4.0;
        band.push(
            El::new(Tag::Text)
                .attr(Attr::Class, "bandlabel")
                .at(Attr::X, x + 2.0)
                .at(Attr::Y, y)
                .text(&b.label),
        );
        g.push(band);
    }
    g
}

fn markers(n: usize, f: &Frame, pic: &Picture, height: f64) -> El {
    let mut g = El::new(Tag::G).attr(Attr::Class, "markers");
    for (k, (i, ts, name)) in pic.markers.iter().enumerate() {
        let x = f.x(*ts);
        // Two label rows, alternating, so markers close in time stay readable.
        let ty = if k % 2 == 0 { 20.0 } else { 28.0 };
        g.push(
            El::new(Tag::G)
                .attr(Attr::Id, format!("s{n}-e{i}"))
                .title(&format!("MARKER {name} {}", f.rel(*ts)))
                .child(
                    El::new(Tag::Line)
                        .at(Attr::X1, x)
                        .at(Attr::Y1, 16.0)
                        .at(Attr::X2, x)
                        .at(Attr::Y2, height),
                )
                .child(
                    El::new(Tag::Text)
                        .at(Attr::X, x + 2.0)
                        .at(Attr::Y, ty)
                        .text(name),
                ),
        );
    }
    for (i, ts, text) in &pic.steps {
        let x = f.x(*ts);
        g.push(
            El::new(Tag::Path)
                .attr(Attr::Class, "step")
                .attr(Attr::Id, format!("s{n}-e{i}"))
                .attr(Attr::D, format!("M{} 12l3 5h-6z", num(x)))
                .title(&format!("{text} {}", f.rel(*ts))),
        );
    }
    g
}

/// A tick per notable event; events of a lane within the same 3 px become one tick that counts
/// them (a flapping link's thousand reconnects), and at most `MAX_EVENTS` ticks are drawn, except
/// the entries in `keep` (deciding events, which decisions link to) which are always drawn.
fn events(n: usize, f: &Frame, pic: &Picture, lanes: &[&LaneKey], keep: &[usize]) -> El {
    let mut g = El::new(Tag::G).attr(Attr::Class, "events");
    // (position in pic.events, lane y, events it stands for)
    let mut ticks: Vec<(usize, f64, usize)> = Vec::new();
    let mut last: BTreeMap<usize, (i64, usize)> = BTreeMap::new();
    for (pos, (i, k, ts, _)) in pic.events.iter().enumerate() {
        let Some(lane) = lanes.iter().position(|l| *l == k) else {
            continue;
        };
        let col = (f.x(*ts) / 3.0) as i64;
        match last.get(&lane) {
            Some(&(c, t)) if c == col && !keep.contains(i) => ticks[t].2 += 1,
            _ => {
                ticks.push((pos, f.top + lane as f64 * LANE_H, 1));
                last.insert(lane, (col, ticks.len() - 1));
            }
        }
    }
    let window_ms = f.span_us as f64 * 3.0 / PLOT_W / 1000.0;
    let mut left_out = 0;
    for (shown, (pos, y, count)) in ticks.into_iter().enumerate() {
        let (i, _, ts, text) = &pic.events[pos];
        if shown >= MAX_EVENTS && !keep.contains(i) {
            left_out += count;
            continue;
        }
        let title = match count {
            1 => text.clone(),
            c => format!("{text} (and {} more within {window_ms:.0} ms)", c - 1),
        };
        g.push(
            El::new(Tag::Rect)
                .attr(Attr::Id, format!("s{n}-e{i}"))
                .at(Attr::X, f.x(*ts) - 0.75)
                .at(Attr::Y, y + 2.0)
                .at(Attr::Width, 1.5)
                .at(Attr::Height, LANE_H - 4.0)
                .title(&title),
        );
    }
    if left_out > 0 {
        g = g.title(&format!(
            "{left_out} more notable events not drawn (the embedded journal has them)"
        ));
    }
    g
}

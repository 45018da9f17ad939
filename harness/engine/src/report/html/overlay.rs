//! The rows under the lanes: each timed expectation (its window, its deadline line across the
//! lanes, the deciding event or a cross at the deadline), measured brackets, invariant violations.

use super::lanes::Picture;
use super::svg::{Attr, El, Tag};
use super::swimlane::Frame;
use super::trace::{is_timed, Decided, Traced};
use crate::check::{measure, CheckSpec, Status};
use crate::event::ScenarioResult;
use crate::observe::format;

const ROW_H: f64 = 14.0;
const GAP: f64 = 6.0;

/// What the rows are drawn from.
pub struct Overlay<'a> {
    /// Scenario number (ids).
    pub n: usize,
    /// The result.
    pub result: &'a ScenarioResult,
    /// The lanes' picture (markers, fault bands).
    pub pic: &'a Picture,
    /// The timed checks' course.
    pub traced: &'a [Traced],
}

/// A measured bracket: name, from, to (µs).
struct Bracket(String, i64, i64);

fn brackets(ov: &Overlay<'_>) -> Vec<Bracket> {
    let marker = |name: &str| ov.pic.markers.iter().find(|m| m.2 == name).map(|m| m.1);
    let first_loss = ov.pic.bands.iter().find(|b| b.site_loss).map(|b| b.from_us);
    let mut out = Vec::new();
    for m in &ov.result.measurements {
        let Some(us) = m.micros else { continue };
        // Named measurements count from their expectation's marker, automatic ones from the first site loss.
        let from = ov.result.checks.iter().find_map(|c| match &c.spec {
            CheckSpec::LoggedIn {
                measure: Some(n),
                from,
                ..
            }
            | CheckSpec::CallAnswered {
                measure: Some(n),
                from,
                ..
            } if *n == m.name => marker(from),
            _ => None,
        });
        let from = from.or(match m.name.as_str() {
            measure::SWITCHOVER | measure::DETECTION => first_loss,
            _ => None,
        });
        if let Some(from) = from {
            out.push(Bracket(m.name.clone(), from, from + us));
        }
    }
    out
}

fn violations<'a>(ov: &Overlay<'a>) -> Vec<(usize, &'a crate::check::Failure)> {
    ov.result
        .checks
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match &c.status {
            Status::Fail(f) if !is_timed(&c.spec) => Some((i, f)),
            _ => None,
        })
        .collect()
}

/// Height of the rows.
pub fn height(ov: &Overlay<'_>) -> f64 {
    let v = if violations(ov).is_empty() { 0 } else { 1 };
    GAP + (ov.traced.len() + brackets(ov).len() + v) as f64 * ROW_H
}

/// Draws the rows below the lanes.
pub fn draw(ov: &Overlay<'_>, f: &Frame, root: &mut El) {
    let mut y = f.lanes_bottom + GAP;
    for t in ov.traced {
        root.push(check_row(ov, f, t, y));
        y += ROW_H;
    }
    for b in brackets(ov) {
        let (x1, x2) = (f.x(b.1), f.x(b.2));
        let d = format!(
            "M{} {}v4H{}v-4",
            super::svg::num(x1),
            super::svg::num(y + 3.0),
            super::svg::num(x2)
        );
        let label = format!("{} {:.3}s", b.0, (b.2 - b.1) as f64 / 1e6);
        root.push(
            El::new(Tag::G)
                .attr(Attr::Class, "measure")
                .title(&label)
                .child(El::new(Tag::Path).attr(Attr::D, d))
                .child(
                    El::new(Tag::Text)
                        .at(Attr::X, x2 + 3.0)
                        .at(Attr::Y, y + 10.0)
                        .text(&label),
                ),
        );
        y += ROW_H;
    }
    let v = violations(ov);
    if !v.is_empty() {
        let mut g = El::new(Tag::G).attr(Attr::Class, "violations").child(
            El::new(Tag::Text)
                .at(Attr::X, 4.0)
                .at(Attr::Y, y + 10.0)
                .text("invariant violated"),
        );
        for (i, fl) in v {
            let from = match &ov.result.checks[i].spec {
                CheckSpec::NeverSplit { longer_than_ms } => {
                    fl.at_us - (*longer_than_ms as i64) * 1000
                }
                _ => fl.at_us,
            };
            let x = f.x(from);
            g.push(
                El::new(Tag::Rect)
                    .attr(Attr::Id, format!("s{}-c{i}", ov.n))
                    .at(Attr::X, x)
                    .at(Attr::Y, y + 2.0)
                    .at(Attr::Width, (f.x(fl.at_us) - x).max(3.0))
                    .at(Attr::Height, ROW_H - 4.0)
                    .title(&format!(
                        "{} at {}: {}",
                        fl.check,
                        f.rel(fl.at_us),
                        fl.observed
                    )),
            );
        }
        root.push(g);
    }
}

fn check_row(ov: &Overlay<'_>, f: &Frame, t: &Traced, y: f64) -> El {
    let c = &ov.result.checks[t.check];
    let name = c.spec.describe();
    let (class, mark) = match &c.status {
        Status::Pass => ("check pass", "pass"),
        Status::Fail(_) => ("check fail", "FAIL"),
        Status::Unknown { .. } => ("check unknown", "inconclusive"),
        Status::Error { .. } => ("check error", "error"),
        Status::Pending => ("check pending", "pending"),
        Status::NotExercised { .. } => ("check unknown", "not exercised"),
    };
    let deadline = match &c.status {
        Status::Fail(fl) => fl.deadline_us.unwrap_or(t.deadline_us),
        _ => t.deadline_us,
    };
    let (x0, xd) = (f.x(t.from_us), f.x(deadline));
    let mut g = El::new(Tag::G)
        .attr(Attr::Class, class)
        .attr(Attr::Id, format!("s{}-c{}", ov.n, t.check))
        .child(
            El::new(Tag::Text)
                .attr(Attr::Class, "rowlabel")
                .at(Attr::X, 4.0)
                .at(Attr::Y, y + 10.0)
                .text(&format!("{mark}: {}", short(&name)))
                .title(&name),
        )
        .child(
            El::new(Tag::Line)
                .attr(Attr::Class, "window")
                .at(Attr::X1, x0)
                .at(Attr::Y1, y + 7.0)
                .at(Attr::X2, xd)
                .at(Attr::Y2, y + 7.0),
        )
        .child(
            El::new(Tag::Line)
                .attr(Attr::Class, "deadline")
                .at(Attr::X1, xd)
                .at(Attr::Y1, f.top)
                .at(Attr::X2, xd)
                .at(Attr::Y2, y + ROW_H)
                .title(&format!("deadline of {name}: {}", f.rel(deadline))),
        );
    if let Status::Fail(fl) = &c.status {
        let d = format!(
            "M{0} {1}l8 8m0 -8l-8 8",
            super::svg::num(xd - 4.0),
            super::svg::num(y + 3.0)
        );
        g.push(
            El::new(Tag::Path)
                .attr(Attr::Class, "missed")
                .attr(Attr::D, d)
                .title(&format!(
                    "missed at the deadline {}: {}",
                    f.rel(deadline),
                    fl.observed
                )),
        );
    } else if let Some((i, ts)) = match t.decided {
        Decided::Entry(i, ts) => Some((Some(i), ts)),
        Decided::Time(ts) => Some((None, ts)),
        Decided::Never => None,
    } {
        let dot = El::new(Tag::Circle)
            .attr(Attr::Class, "decided")
            .at(Attr::Cx, f.x(ts))
            .at(Attr::Cy, y + 7.0)
            .at(Attr::R, 3.5)
            .title(&format!("decided at {} by {}", f.rel(ts), deciding(ov, i)));
        g.push(match i {
            Some(i) => El::new(Tag::A)
                .attr(Attr::Href, format!("#s{}-e{i}", ov.n))
                .child(dot),
            None => dot,
        });
    }
    g
}

/// The row label: the check's words, cut to fit the label column (the tooltip has them all).
fn short(name: &str) -> String {
    const MAX: usize = 34;
    if name.chars().count() <= MAX {
        return name.to_string();
    }
    let cut: String = name.chars().take(MAX - 1).collect();
    format!("{cut}\u{2026}")
}

/// What decided a check: the entry in timeline words, or time passing.
fn deciding(ov: &Overlay<'_>, entry: Option<usize>) -> String {
    let t = ov.result.timeline.as_ref();
    match (entry, t) {
        (Some(i), Some(t)) => format::describe(&t.entries[i].kind),
        _ => "time passing (the window ended)".into(),
    }
}

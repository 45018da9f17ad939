//! Schedule -> suite YAML text: the exact file each explored case runs as, and the reproduction
//! written for a failure. Checkpoints become `wait` + `expect_logged_in`; invariants carry the rules.

use std::fmt::Write as _;

use bc_suite::Site;

use super::model::Spec;
use super::resolve::{Resolved, ResolvedOp};
use super::schedule::{FaultOp, HealVia, LinkKind, Op};

/// Rules every explored scenario checks (docs/rules.md): BC-3/4/9 through checkpoints, BC-5, BC-6,
/// BC-7 and BC-11 through invariants.
pub const RULES: &str = "[BC-3, BC-4, BC-5, BC-6, BC-7, BC-9, BC-11]";

/// What the suite file says besides the steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteMeta {
    /// Suite id.
    pub suite_id: String,
    /// Scenario id.
    pub scenario_id: String,
    /// The agent's username.
    pub agent: String,
    /// The `config:` value (path text).
    pub config: String,
    /// Comment lines at the top (without `# `).
    pub header: Vec<String>,
}

/// A duration as suite text: `5s` or `1500ms`.
pub fn dur(ms: u64) -> String {
    if ms > 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A double-quoted YAML string.
pub fn quoted(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn fault_step(f: &FaultOp, marker: &str) -> String {
    match f {
        FaultOp::KillSite(s) | FaultOp::StopSite(s) => {
            format!("{}: {{site: {s}, marker: {marker}}}", f.keyword())
        }
        FaultOp::KillServer(m) | FaultOp::StopServer(m) | FaultOp::FreezeServer(m) => {
            format!("{}: {{server: {m}, marker: {marker}}}", f.keyword())
        }
        FaultOp::HaFailover(s, k)
        | FaultOp::HaSwitchover(s, k)
        | FaultOp::RejectLogins(s, k)
        | FaultOp::Overload(s, k) => {
            format!("{}: {{server: {s}/{k}, marker: {marker}}}", f.keyword())
        }
        FaultOp::Link(l, k) => {
            let params = match k {
                LinkKind::Refuse | LinkKind::BlackHole | LinkKind::Reset => String::new(),
                LinkKind::Latency { ms, jitter_ms } => format!(", ms: {ms}, jitter_ms: {jitter_ms}"),
                LinkKind::Jitter { ms } => format!(", ms: {ms}"),
                LinkKind::Bandwidth { kb_per_s } => format!(", kb_per_s: {kb_per_s}"),
                LinkKind::SlowClose { delay_ms } => format!(", delay: {}", dur(*delay_ms)),
                LinkKind::LimitData { bytes } => format!(", bytes: {bytes}"),
                LinkKind::PartitionOneWay { to_desktop } => format!(
                    ", direction: {}",
                    if *to_desktop { "to_desktop" } else { "to_server" }
                ),
                LinkKind::Slicer {
                    average_size,
                    size_variation,
                    delay_us,
                } => format!(
                    ", average_size: {average_size}, size_variation: {size_variation}, delay_us: {delay_us}"
                ),
            };
            format!("{}: {{link: {l}{params}, marker: {marker}}}", k.keyword())
        }
        FaultOp::Flap {
            link,
            period_ms,
            count,
        } => format!(
            "flap: {{link: {link}, period: {}, count: {count}, marker: {marker}}}",
            dur(*period_ms)
        ),
        FaultOp::PreferredSite(level, Some(site)) => format!(
            "set_preferred_site: {{level: {}, site: {site}, marker: {marker}}}",
            level.as_str()
        ),
        FaultOp::PreferredSite(level, None) => format!(
            "clear_preferred_site: {{level: {}, marker: {marker}}}",
            level.as_str()
        ),
        FaultOp::DeliverCall(s) => format!("deliver_call: {{via: {s}, marker: {marker}}}"),
    }
}

fn expect(site: Option<Site>, from: &str) -> String {
    match site {
        Some(s) => format!("expect_logged_in: {{site: {s}, from: {from}}}"),
        None => format!("expect_logged_in: {{from: {from}}}"),
    }
}

/// The suite text of a resolved schedule.
pub fn emit(res: &Resolved, spec: &Spec, meta: &SuiteMeta) -> String {
    emit_indexed(res, spec, meta).0
}

/// The suite text, and for each operation the index of its first step (its pause, if any) among
/// the YAML steps
/// (the planned scenario inserts the implicit `start_desktop` before them: add 1).
pub fn emit_indexed(res: &Resolved, spec: &Spec, meta: &SuiteMeta) -> (String, Vec<usize>) {
    let mut y = preamble(spec, meta);
    let count = std::cell::Cell::new(0usize);
    let step = |y: &mut String, s: String| {
        let _ = writeln!(y, "      - {s}");
        count.set(count.get() + 1);
    };
    let mut index = Vec::with_capacity(res.ops.len());
    step(
        &mut y,
        format!("expect_logged_in: {{site: {}}}", spec.preferred),
    );
    let mut latest = "start".to_string();
    let mut heals = 0;
    let mut restores = 0;
    let mut triggers = 0;
    for r in &res.ops {
        index.push(count.get());
        let t = &r.op;
        let pause = match t.op {
            Op::Checkpoint => t.wait_ms + spec.budget_ms,
            _ => t.wait_ms,
        };
        if let Some(on) = t.on {
            // The pause becomes the trigger's `after`; a trigger that never fires within one
            // budget makes the case inconclusive, never a pass.
            triggers += 1;
            let after = match t.wait_ms {
                0 => String::new(),
                ms => format!(", after: {}", dur(ms)),
            };
            step(
                &mut y,
                format!(
                    "on: {{{on}, timeout: {}{after}, marker: on{triggers}}}",
                    dur(spec.budget_ms)
                ),
            );
        } else if pause > 0 {
            step(&mut y, format!("wait: {}", dur(pause)));
        }
        match t.op {
            Op::Fault { id, fault } => {
                latest = format!("f{id}");
                step(&mut y, fault_step(&fault, &latest));
            }
            Op::Heal { id, via } => match (via, r.healed.as_ref().map(|h| h.fault)) {
                (HealVia::Restore, Some(f)) => {
                    restores += 1;
                    latest = format!("r{restores}");
                    step(&mut y, restore_step(r, &f, &latest));
                }
                _ => {
                    heals += 1;
                    latest = if heals == 1 {
                        "heal".into()
                    } else {
                        format!("heal_{heals}")
                    };
                    step(&mut y, format!("heal: f{id}"));
                }
            },
            Op::Checkpoint => step(&mut y, expect(r.expect_site, &latest)),
        }
    }
    // Always end healed, then settle: logged in at one site, and staying there.
    step(&mut y, "mark: final".into());
    step(&mut y, "heal: all".into());
    step(&mut y, format!("wait: {}", dur(spec.budget_ms)));
    step(&mut y, expect(None, "final"));
    if spec.settle_ms > 0 {
        step(&mut y, format!("wait: {}", dur(spec.settle_ms)));
        step(&mut y, expect(None, "final"));
    }
    invariants(&mut y, spec, res);
    (y, index)
}

/// The restore step that heals fault `f` (`restore_site`, `thaw_server`, `restore_server`).
fn restore_step(r: &ResolvedOp, f: &FaultOp, latest: &str) -> String {
    match f {
        FaultOp::KillSite(s) | FaultOp::StopSite(s) => {
            format!("restore_site: {{site: {s}, marker: {latest}}}")
        }
        FaultOp::FreezeServer(m) => {
            format!("thaw_server: {{server: {m}, marker: {latest}}}")
        }
        _ => {
            let m = r
                .healed
                .as_ref()
                .and_then(|h| h.members.first())
                .map(|m| m.to_string())
                .unwrap_or_default();
            format!("restore_server: {{server: {m}, marker: {latest}}}")
        }
    }
}

/// The comment header and the suite's fields up to its steps.
fn preamble(spec: &Spec, meta: &SuiteMeta) -> String {
    let mut y = String::new();
    for h in &meta.header {
        for l in h.lines() {
            let _ = writeln!(y, "{}", format!("# {l}").trim_end());
        }
    }
    let _ = writeln!(y, "version: 1");
    let _ = writeln!(y, "id: {}", meta.suite_id);
    let _ = writeln!(y, "title: Chaos schedule found by bc-harness explore");
    let _ = writeln!(y, "config: {}", quoted(&meta.config));
    let _ = writeln!(y, "agent: {}", meta.agent);
    let _ = writeln!(y, "budget: {}", dur(spec.budget_ms));
    let _ = writeln!(y, "scenarios:");
    let _ = writeln!(y, "  - id: {}", meta.scenario_id);
    let _ = writeln!(y, "    rules: {RULES}");
    let _ = writeln!(y, "    steps:");
    y
}

/// The scenario's invariants: no double login, no split longer than the budget, and the
/// switchover bound of the resolved schedule.
fn invariants(y: &mut String, spec: &Spec, res: &Resolved) {
    let _ = writeln!(y, "    invariants:");
    let _ = writeln!(y, "      - never_logged_in_at_both_peers");
    let _ = writeln!(
        y,
        "      - never_split: {{longer_than: {}}}",
        dur(spec.budget_ms)
    );
    let _ = writeln!(
        y,
        "      - max_switchovers: {{count: {}, per: 1h}}",
        res.max_switchovers
    );
}

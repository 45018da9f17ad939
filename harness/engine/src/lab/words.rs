//! A fault typed on the command line (`kill_site A`, `black_hole A/sip_server --marker cut`) read by
//! the suite's own parser and validator, so hand and suite faults share one grammar and diagnostics.

use std::path::Path;
use std::sync::Arc;

use bc_suite::{Action, Diagnostics, PlanOptions, PlannedStep};

/// The name diagnostics give the command line (in place of a file name).
pub const SOURCE_NAME: &str = "command line";

/// Why the words are not a fault: the suite's diagnostics (rendered by the caller) or a plain reason.
#[derive(Debug)]
pub enum WordsError {
    /// The step does not parse or validate; located in [`step_text`]'s text.
    Suite(Diagnostics),
    /// A valid step that is not a fault (`wait`, `expect_*`, ...), or nothing given.
    NotAFault(String),
}

impl WordsError {
    /// Plain text, every diagnostic with its location, snippet and help.
    pub fn render(&self) -> String {
        match self {
            WordsError::Suite(d) => bc_suite::render_plain(&d.errors),
            WordsError::NotAFault(m) => format!("error: {m}\n"),
        }
    }
}

/// A command-line value as a YAML scalar: kept bare when YAML reads it as the same word (so
/// `200` stays an integer), quoted when it holds flow punctuation.
fn scalar(v: &str) -> String {
    let special = v.is_empty()
        || v.contains([
            ':', '{', '}', '[', ']', ',', '#', '"', '\'', '&', '*', '!', '|', '>',
        ])
        || v.starts_with(['-', '?', '%', '@', '`', ' '])
        || v.ends_with(' ');
    if special {
        serde_json::to_string(v).unwrap_or_default()
    } else {
        v.to_string()
    }
}

/// The words as one flow-style suite step: `STEP`, `{STEP: VALUE}` or `{STEP: {key: value, ...}}`.
/// Positional words after the step are joined with `/` (`ha_failover A sip_server` is
/// `ha_failover: A/sip_server`), `--key value` become keys.
pub fn step_text(words: &[String]) -> Result<String, WordsError> {
    let Some((step, rest)) = words.split_first() else {
        return Err(WordsError::NotAFault(
            "no fault given (example: `kill_site A`; see docs/suite-format.md, Steps)".into(),
        ));
    };
    let mut positional = Vec::new();
    let mut keys = Vec::new();
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        if let Some(key) = w.strip_prefix("--") {
            let (k, v) = match key.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => match it.next() {
                    Some(v) => (key.to_string(), v.clone()),
                    None => {
                        return Err(WordsError::NotAFault(format!(
                            "`--{key}` needs a value (`--{key} VALUE`)"
                        )))
                    }
                },
            };
            keys.push((k.replace('-', "_"), v));
        } else {
            positional.push(w.as_str());
        }
    }
    let short = (!positional.is_empty()).then(|| scalar(&positional.join("/")));
    Ok(match (short, keys.is_empty()) {
        (None, true) => step.clone(),
        (Some(v), true) => format!("{{{step}: {v}}}"),
        (short, false) => {
            // The short value is the step's first key; its name depends on the step, so the
            // positional form is only allowed alone.
            if let Some(v) = short {
                return Err(WordsError::NotAFault(format!(
                    "`{v}` together with `--` keys: write every value as `--key value` (e.g. `--link {v}`)"
                )));
            }
            let body: Vec<String> = keys
                .iter()
                .map(|(k, v)| format!("{k}: {}", scalar(v)))
                .collect();
            format!("{{{step}: {{{}}}}}", body.join(", "))
        }
    })
}

/// The one-scenario suite the step is checked in: the environment's configuration database,
/// agent and groups of four SIP Servers, the step after the desktop's start (so `preferred`/`other`
/// and names resolve as in a run, and a SIP Server fault must name its group where there are several).
fn wrap(step: &str, config: &Path, agent: &str, groups: u32) -> (String, usize) {
    let topology = if groups > 1 {
        format!("topology:\n  groups: {groups}\n")
    } else {
        String::new()
    };
    let head = format!(
        "version: 1\nid: env-fault\nagent: {}\nconfig: {}\n{topology}rules: [BC-4]\nscenarios:\n  - id: fault\n    invariants: [never_logged_in_at_both_peers]\n    steps:\n      - start_desktop\n      - ",
        scalar(agent),
        scalar(&config.display().to_string()),
    );
    let offset = head.len();
    (format!("{head}{step}\n"), offset)
}

/// Moves the diagnostics of the wrapped suite onto the step's own text (the user typed only that).
fn relocate(d: Diagnostics, step: &str, offset: usize) -> Diagnostics {
    let mut out = Diagnostics::new(SOURCE_NAME, Arc::new(step.to_string()));
    for e in d.errors {
        let mut span = e.span;
        if !span.is_unknown() && span.offset >= offset {
            span.offset -= offset;
            span.line = 1;
            span.column = step[..span.offset.min(step.len())].chars().count() as u32 + 1;
            span.len = span.len.min(step.len().saturating_sub(span.offset));
        } else {
            // Outside the step: the environment's own settings; no place to point at.
            span = bc_suite::Span::default();
        }
        out.push(e.phase, span, e.message, e.label, e.help);
    }
    out
}

/// Parses, validates and plans the words as a suite step for `agent` of the database `config`, in
/// a topology of `groups` groups of four SIP Servers. The action returned is a fault-like one
/// (never `start_desktop`, `wait`, `heal`, `expect_*`).
pub fn parse(
    words: &[String],
    config: &Path,
    agent: &str,
    groups: u32,
) -> Result<PlannedStep, WordsError> {
    let step = step_text(words)?;
    let (suite, offset) = wrap(&step, config, agent, groups);
    // The step's own line in the wrapped suite (after the head's lines).
    let line = suite[..offset].matches('\n').count() + 1;
    let dir = config.parent().unwrap_or(Path::new("."));
    let loaded = bc_suite::load_str(SOURCE_NAME, &suite, dir)
        .map_err(|d| WordsError::Suite(relocate(d, &step, offset)))?;
    let planned = bc_suite::plan(&loaded, &PlanOptions::default())
        .map_err(|e| WordsError::NotAFault(e.to_string()))?;
    let step = planned
        .into_iter()
        .next()
        .and_then(|sc| sc.steps.into_iter().find(|s| s.line as usize == line))
        .ok_or_else(|| WordsError::NotAFault("the step did not plan".into()))?;
    if matches!(
        step.action,
        Action::StartDesktop | Action::Wait(_) | Action::Mark | Action::Heal(_)
    ) || step.action.is_expectation()
    {
        return Err(WordsError::NotAFault(format!(
            "`{}` is not a fault: `env fault` takes a fault step (kill_site, black_hole, ha_failover, set_preferred_site, deliver_call, ...); heal with `env heal`",
            words[0]
        )));
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn words_become_one_flow_step() {
        assert_eq!(step_text(&w("kill_site A")).unwrap(), "{kill_site: A}");
        assert_eq!(
            step_text(&w("ha_failover A sip_server")).unwrap(),
            "{ha_failover: A/sip_server}"
        );
        assert_eq!(
            step_text(&w("latency --link A/sip_server --ms 200")).unwrap(),
            "{latency: {link: A/sip_server, ms: 200}}"
        );
        assert_eq!(
            step_text(&w("set_preferred_site --level=person --site B")).unwrap(),
            "{set_preferred_site: {level: person, site: B}}"
        );
        assert_eq!(step_text(&w("start_desktop")).unwrap(), "start_desktop");
        assert!(step_text(&w("latency A --ms 3")).is_err());
        assert!(step_text(&w("latency --ms")).is_err());
        assert_eq!(scalar("a:b"), "\"a:b\"");
    }

    fn config() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/config/default.yaml")
    }

    #[test]
    fn the_suite_parser_reads_and_locates() {
        let step = parse(&w("ha_failover A sip_server"), &config(), "agent1001", 1).unwrap();
        assert!(matches!(step.action, Action::HaFailover { .. }), "{step:?}");
        let step = parse(&w("kill_site preferred"), &config(), "agent1001", 1).unwrap();
        assert_eq!(step.action, Action::KillSite(bc_suite::Site::B));
        let e = parse(&w("kill_sit B"), &config(), "agent1001", 1)
            .unwrap_err()
            .render();
        assert!(e.contains("command line:1:2"), "{e}");
        assert!(e.contains("did you mean `kill_site`?"), "{e}");
        let e = parse(
            &w("set_preferred_site --level person --name nobody --site A"),
            &config(),
            "agent1001",
            1,
        )
        .unwrap_err()
        .render();
        assert!(e.contains("nobody"), "{e}");
        let e = parse(&w("wait 2s"), &config(), "agent1001", 1)
            .unwrap_err()
            .render();
        assert!(e.contains("not a fault"), "{e}");
    }

    #[test]
    fn with_groups_a_sip_server_fault_names_its_group() {
        let step = parse(
            &w("kill_server A/sip_server/g2/primary"),
            &config(),
            "agent1001",
            2,
        )
        .unwrap();
        assert_eq!(step.action.group(), Some(2), "{step:?}");
        let e = parse(
            &w("kill_server A/sip_server/g2/primary"),
            &config(),
            "agent1001",
            1,
        )
        .unwrap_err()
        .render();
        assert!(e.contains("g2"), "one group: no g2 ({e})");
        let e = parse(&w("kill_server A/sip_server"), &config(), "agent1001", 2)
            .unwrap_err()
            .render();
        assert!(e.contains("group"), "two groups: which one? ({e})");
    }
}

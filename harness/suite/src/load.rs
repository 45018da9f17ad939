//! The front end: read a file, then syntax -> version -> structure -> semantics, like a compiler.
//! Each pass stops the pipeline only when the next one could not make sense of its input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::MessageFormatter as _;

use crate::config::ConfigDb;
use crate::diagnostic::{Diagnostics, Phase};
use crate::model::{Suite, FORMAT_VERSION};
use crate::span::{Span, Spanned};
use crate::suggest::closest;

/// A suite that passed every check, with what planning needs.
#[derive(Debug, Clone)]
pub struct LoadedSuite {
    /// The file as given.
    pub path: PathBuf,
    /// Its text.
    pub text: Arc<String>,
    /// The model.
    pub suite: Suite,
    /// Resolved configuration database path.
    pub config_path: PathBuf,
    /// The configuration database (lenient read).
    pub config: ConfigDb,
}

/// Reads, parses and validates a suite file; on failure returns every error found.
pub fn load_file(path: &Path) -> Result<LoadedSuite, Diagnostics> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let mut d = Diagnostics::new(&name, Arc::new(String::new()));
            d.push(
                Phase::Io,
                Span::default(),
                format!("cannot read suite file: {e}"),
                "",
                None,
            );
            return Err(d);
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    load_str(&name, &text, dir).map(|mut l| {
        l.path = path.to_path_buf();
        l
    })
}

/// Parses and validates suite text named `name`; `dir` is where relative paths start.
pub fn load_str(name: &str, text: &str, dir: &Path) -> Result<LoadedSuite, Diagnostics> {
    let (suite, mut diags) = parse_str(name, text);
    let Some(suite) = suite else {
        return Err(diags);
    };
    let (config_path, config) = crate::validate::validate(&suite, dir, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(LoadedSuite {
        path: PathBuf::from(name),
        text: Arc::new(text.to_string()),
        suite,
        config_path: config_path.unwrap_or_default(),
        config,
    })
}

#[derive(Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<Spanned<serde_json::Value>>,
}

/// Syntax, version and structure passes only (no files read): the model, or the errors.
/// The returned [`Diagnostics`] is empty when the model is `Some`.
#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
pub fn parse_str(name: &str, text: &str) -> (Option<Suite>, Diagnostics) {
    let shared = Arc::new(text.to_string());
    let mut d = Diagnostics::new(name, shared);
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        d.push(
            Phase::Structure,
            Span::default(),
            "the suite file is empty",
            "",
            Some("start with `version: 1`, then `id:`, `agent:` and `scenarios:`".into()),
        );
        return (None, d);
    }
    // Syntax and version: a permissive read of the whole document.
    match serde_saphyr::from_str::<VersionProbe>(text) {
        Err(e) => {
            let (phase, help) = match e.without_snippet() {
                serde_saphyr::Error::SerdeInvalidType { .. } => (
                    Phase::Structure,
                    Some("a suite file is a mapping: `version: 1`, `id: ...`, `scenarios: ...`".into()),
                ),
                other
                    if serde_saphyr::DefaultMessageFormatter
                        .format_message(other)
                        .contains("expected mapping") =>
                {
                    (
                        Phase::Structure,
                        Some("a suite file is a mapping: `version: 1`, `id: ...`, `scenarios: ...`".into()),
                    )
                }
                _ => (
                    Phase::Syntax,
                    Some("check indentation (spaces only, children indented under their key), quotes and brackets".into()),
                ),
            };
            push_saphyr(&mut d, phase, &e, help);
            return (None, d);
        }
        Ok(probe) => match probe.version {
            None => {
                d.push(
                    Phase::Version,
                    Span {
                        line: 1,
                        column: 1,
                        offset: 0,
                        len: 0,
                    },
                    "missing `version`",
                    "expected `version: 1` at the top",
                    Some(format!("add `version: {FORMAT_VERSION}` as the first line")),
                );
                return (None, d);
            }
            Some(v) => {
                let n = v.value.as_u64();
                match n {
                    Some(n) if n == FORMAT_VERSION as u64 => {}
                    Some(n) if n > FORMAT_VERSION as u64 => {
                        d.push(
                            Phase::Version,
                            v.span,
                            format!("suite format version {n} is newer than this bc-harness understands (it reads version {FORMAT_VERSION})"),
                            "unsupported version",
                            Some("upgrade bc-harness, or write the suite for `version: 1`".into()),
                        );
                        return (None, d);
                    }
                    _ => {
                        d.push(
                            Phase::Version,
                            v.span,
                            format!("invalid version {}: the only suite format version is {FORMAT_VERSION}", v.value),
                            "unsupported version",
                            Some(format!("write `version: {FORMAT_VERSION}`")),
                        );
                        return (None, d);
                    }
                }
            }
        },
    }
    // Structure, with error recovery so one run reports every mistake it can.
    match serde_saphyr::from_str::<Suite>(text) {
        Ok(s) => (Some(s), d),
        Err(e) => {
            push_saphyr(&mut d, Phase::Structure, &e, None);
            let original = text.to_string();
            let mut text = text.to_string();
            for _ in 0..MAX_RECOVERIES {
                let Some(next) = crate::recover::recover(&text, &e_last(&d)) else {
                    break;
                };
                text = next;
                match serde_saphyr::from_str::<Suite>(&text) {
                    Ok(_) => break,
                    Err(e) => {
                        let before = d.errors.len();
                        let mut e_span = e
                            .location()
                            .map(|l| Span::from_location(&l))
                            .unwrap_or_default();
                        // Offsets refer to the patched text; lines and columns still match
                        // the original, so recompute the offset from them.
                        e_span.offset =
                            crate::diagnostic::offset_of(&original, e_span.line, e_span.column);
                        push_saphyr_at(&mut d, Phase::Structure, &e, None, Some(e_span));
                        let new = &d.errors[before];
                        let dup = d.errors[..before]
                            .iter()
                            .any(|o| o.span.line == new.span.line && o.message == new.message);
                        if dup {
                            d.errors.pop();
                            break;
                        }
                    }
                }
            }
            (None, d)
        }
    }
}

/// Most follow-up structure errors reported after the first one.
const MAX_RECOVERIES: usize = 30;

fn e_last(d: &Diagnostics) -> crate::recover::Found {
    let e = d.errors.last().expect("an error was just pushed");
    crate::recover::Found {
        line: e.span.line,
        column: e.span.column,
        fix: e
            .help
            .as_deref()
            .and_then(|h| h.strip_prefix("did you mean `"))
            .and_then(|h| h.strip_suffix("`?"))
            .map(|s| s.to_string()),
        unknown_key: e.message.starts_with("unknown key"),
    }
}

fn list(expected: &[&str]) -> String {
    expected
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Converts a serde-saphyr error into a located diagnostic with a useful help line.
fn push_saphyr(d: &mut Diagnostics, phase: Phase, e: &serde_saphyr::Error, help: Option<String>) {
    push_saphyr_at(d, phase, e, help, None)
}

#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
fn push_saphyr_at(
    d: &mut Diagnostics,
    phase: Phase,
    e: &serde_saphyr::Error,
    help: Option<String>,
    at: Option<Span>,
) {
    use serde_saphyr::Error as E;
    let inner = e.without_snippet();
    let span = at.unwrap_or_else(|| {
        e.location()
            .map(|l| Span::from_location(&l))
            .unwrap_or_default()
    });
    let (message, label, help) = match inner {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = match closest(field, expected.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("expected one of {}", list(expected)),
            };
            (
                format!("unknown key `{field}`"),
                "unknown key".to_string(),
                Some(help),
            )
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let help = match closest(variant, expected.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("expected one of {}", list(expected)),
            };
            let what = variant_kind(expected);
            (
                format!("unknown {what} `{variant}`"),
                format!("unknown {what}"),
                Some(help),
            )
        }
        E::InvalidScalar { ty, .. } => {
            let want = match *ty {
                t if t.starts_with('u') || t.starts_with('i') => "a whole number",
                t if t.starts_with('f') => "a number",
                "bool" => "`true` or `false`",
                t => t,
            };
            (format!("expected {want} here"), format!("not {want}"), help)
        }
        E::SerdeMissingField { field, .. } => (
            format!("missing key `{field}`"),
            format!("the mapping around here needs `{field}`"),
            help.or_else(|| Some(format!("add `{field}:` to this mapping"))),
        ),
        E::DuplicateMappingKey { .. } => {
            let msg = serde_saphyr::DefaultMessageFormatter
                .format_message(inner)
                .into_owned();
            let key = msg
                .strip_prefix("duplicate mapping key: ")
                .and_then(|k| k.split(',').next())
                .unwrap_or("?")
                .to_string();
            (
                format!("duplicate key `{key}`"),
                "written twice in this mapping".to_string(),
                Some("keep one of the two entries".into()),
            )
        }
        E::ExpectedMappingEndAfterEnumVariantValue { .. } => (
            "a step has exactly one keyword".to_string(),
            "second keyword in the same step".to_string(),
            Some("start each step with its own `- ` list item".into()),
        ),
        other => {
            let mut msg = serde_saphyr::DefaultMessageFormatter
                .format_message(other)
                .into_owned();
            let mut span = span;
            if let Some((m, at)) = msg.split_once(crate::short_form::LOC_TAG) {
                if let Some((l, c)) = at.split_once(':') {
                    span = Span {
                        line: l.trim().parse().unwrap_or(span.line),
                        column: c.trim().parse().unwrap_or(span.column),
                        offset: 0,
                        len: 0,
                    };
                }
                msg = m.to_string();
            }
            if msg.starts_with("expected sequence start") {
                return d.push(
                    phase,
                    span,
                    "expected a list here",
                    "not a list",
                    Some("write a list: `[a, b]`, or one `- item` per line".into()),
                );
            }
            if msg.starts_with("expected mapping start") {
                return d.push(
                    phase,
                    span,
                    "expected a mapping here",
                    "not a mapping",
                    help.or_else(|| Some("write `key: value` pairs, or `{key: value}`".into())),
                );
            }
            // Our own parse errors carry their suggestion after "; did you mean".
            let suggestion = msg
                .split_once("; did you mean ")
                .map(|(m, h)| (m, format!("did you mean {h}")))
                .or_else(|| {
                    msg.split_once("; expected ")
                        .map(|(m, h)| (m, format!("expected {h}")))
                });
            match suggestion {
                Some((m, h)) => (m.to_string(), "here".to_string(), Some(h)),
                None => {
                    let help = help.or_else(|| help_for_message(&msg));
                    (msg, "here".to_string(), help)
                }
            }
        }
    };
    d.push(phase, span, message, label, help);
}

/// Names what kind of word an enum expected, from its list of variants.
fn variant_kind(expected: &[&str]) -> &'static str {
    let has = |w: &str| expected.contains(&w);
    if has("kill_site") {
        "step"
    } else if has("preferred") {
        "site"
    } else if has("BC-1") {
        "rule"
    } else if has("failback") {
        "capability"
    } else if has("sip_server") {
        "server kind"
    } else if has("agent_group") {
        "level"
    } else if has("never_split") {
        "invariant"
    } else if has("first_contact") {
        "observation"
    } else if has("black_hole") && has("refuse") {
        "flap mode"
    } else if has("to_server") {
        "direction"
    } else if has("A") {
        "site"
    } else {
        "name"
    }
}

fn help_for_message(msg: &str) -> Option<String> {
    if msg.contains("invalid type") && msg.contains("map") && msg.contains("enum") {
        return Some("a step is a single-key mapping such as `- kill_site: A`".into());
    }
    None
}

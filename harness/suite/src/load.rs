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

mod saphyr;

use saphyr::{push_saphyr, push_saphyr_at};

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
pub fn parse_str(name: &str, text: &str) -> (Option<Suite>, Diagnostics) {
    let shared = Arc::new(text.to_string());
    let mut d = Diagnostics::new(name, shared);
    if is_blank_document(text) {
        d.push(
            Phase::Structure,
            Span::default(),
            "the suite file is empty",
            "",
            Some("start with `version: 1`, then `id:`, `agent:` and `scenarios:`".into()),
        );
        return (None, d);
    }
    if !syntax_and_version(&mut d, text) {
        return (None, d);
    }
    let suite = structure(&mut d, text);
    (suite, d)
}

/// True when the text holds nothing but blank lines, comments and `---` document markers.
fn is_blank_document(text: &str) -> bool {
    text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
}

/// Syntax and version passes: a permissive read of the whole document that only looks at
/// `version`. Reports the first problem and returns false when the structure pass cannot run.
fn syntax_and_version(d: &mut Diagnostics, text: &str) -> bool {
    match serde_saphyr::from_str::<VersionProbe>(text) {
        Err(e) => {
            syntax_error(d, &e);
            false
        }
        Ok(probe) => check_version(d, probe.version),
    }
}

/// Reports a document that is not YAML (syntax), or YAML that is not a mapping (structure).
fn syntax_error(d: &mut Diagnostics, e: &serde_saphyr::Error) {
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
    push_saphyr(d, phase, e, help);
}

/// Checks `version` is present and is the format this crate reads; reports it and returns
/// false otherwise.
fn check_version(d: &mut Diagnostics, version: Option<Spanned<serde_json::Value>>) -> bool {
    let Some(v) = version else {
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
        return false;
    };
    match v.value.as_u64() {
        Some(n) if n == FORMAT_VERSION as u64 => true,
        Some(n) if n > FORMAT_VERSION as u64 => {
            d.push(
                Phase::Version,
                v.span,
                format!("suite format version {n} is newer than this bc-harness understands (it reads version {FORMAT_VERSION})"),
                "unsupported version",
                Some("upgrade bc-harness, or write the suite for `version: 1`".into()),
            );
            false
        }
        _ => {
            d.push(
                Phase::Version,
                v.span,
                format!(
                    "invalid version {}: the only suite format version is {FORMAT_VERSION}",
                    v.value
                ),
                "unsupported version",
                Some(format!("write `version: {FORMAT_VERSION}`")),
            );
            false
        }
    }
}

/// Structure pass: the typed model, or `None` after reporting the first structure error and
/// the ones error recovery finds after it.
fn structure(d: &mut Diagnostics, text: &str) -> Option<Suite> {
    match serde_saphyr::from_str::<Suite>(text) {
        Ok(s) => Some(s),
        Err(e) => {
            push_saphyr(d, Phase::Structure, &e, None);
            recover_further_errors(d, text);
            None
        }
    }
}

/// Error recovery, so one run reports every mistake it can: patches the text at the last
/// error and parses again, reporting each new error, until the text parses, cannot be patched,
/// an error repeats, or [`MAX_RECOVERIES`] errors were added.
fn recover_further_errors(d: &mut Diagnostics, original: &str) {
    let mut text = original.to_string();
    for _ in 0..MAX_RECOVERIES {
        let Some(next) = crate::recover::recover(&text, &e_last(d)) else {
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
                e_span.offset = crate::diagnostic::offset_of(original, e_span.line, e_span.column);
                push_saphyr_at(d, Phase::Structure, &e, None, Some(e_span));
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

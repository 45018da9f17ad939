//! serde-saphyr errors as located diagnostics: one message, label and help line per error kind,
//! with suggestions for near misses (`did you mean ...?`).

use serde_saphyr::MessageFormatter as _;

use crate::diagnostic::{Diagnostics, Phase};
use crate::span::Span;
use crate::suggest::closest;

/// What a diagnostic says: its message, the label under the snippet, and the help line.
type Wording = (String, String, Option<String>);

/// The known words, each in backquotes, comma-separated.
fn list(expected: &[&str]) -> String {
    expected
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Converts a serde-saphyr error into a located diagnostic with a useful help line.
pub(super) fn push_saphyr(
    d: &mut Diagnostics,
    phase: Phase,
    e: &serde_saphyr::Error,
    help: Option<String>,
) {
    push_saphyr_at(d, phase, e, help, None)
}

/// [`push_saphyr`] at `at` when given (error recovery recomputes the span against the original
/// text), else at the error's own location.
pub(super) fn push_saphyr_at(
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
        } => unknown_key(field, expected),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => unknown_variant(variant, expected),
        E::InvalidScalar { ty, .. } => invalid_scalar(ty, help),
        E::SerdeMissingField { field, .. } => (
            format!("missing key `{field}`"),
            format!("the mapping around here needs `{field}`"),
            help.or_else(|| Some(format!("add `{field}:` to this mapping"))),
        ),
        E::DuplicateMappingKey { .. } => duplicate_key(inner),
        E::ExpectedMappingEndAfterEnumVariantValue { .. } => (
            "a step has exactly one keyword".to_string(),
            "second keyword in the same step".to_string(),
            Some("start each step with its own `- ` list item".into()),
        ),
        other => return push_other(d, phase, span, other, help),
    };
    d.push(phase, span, message, label, help);
}

/// An unknown mapping key: suggests the closest known key, else lists them all.
fn unknown_key(field: &str, expected: &[&str]) -> Wording {
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

/// An unknown enum word, named after what the enum holds (step, site, rule...): suggests the
/// closest known word, else lists them all.
fn unknown_variant(variant: &str, expected: &[&str]) -> Wording {
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

/// A scalar of the wrong type, with the Rust type (`u64`, `bool`) put in words.
fn invalid_scalar(ty: &str, help: Option<String>) -> Wording {
    let want = match ty {
        t if t.starts_with('u') || t.starts_with('i') => "a whole number",
        t if t.starts_with('f') => "a number",
        "bool" => "`true` or `false`",
        t => t,
    };
    (format!("expected {want} here"), format!("not {want}"), help)
}

/// A key written twice in one mapping; the key is read back from serde-saphyr's message.
fn duplicate_key(inner: &serde_saphyr::Error) -> Wording {
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

/// Any other error, worded from its message: a missing list or mapping, or one of our own
/// parse errors (which carry their suggestion after `; did you mean` or `; expected`).
///
/// A location written into the message by our short-form parsers (after
/// [`crate::short_form::LOC_TAG`]) is used only for the "expected a list/mapping" diagnostics;
/// the others stay at the error's own `span`.
fn push_other(
    d: &mut Diagnostics,
    phase: Phase,
    span: Span,
    other: &serde_saphyr::Error,
    help: Option<String>,
) {
    let mut msg = serde_saphyr::DefaultMessageFormatter
        .format_message(other)
        .into_owned();
    let mut tagged = span;
    if let Some((m, at)) = msg.split_once(crate::short_form::LOC_TAG) {
        if let Some((l, c)) = at.split_once(':') {
            tagged = Span {
                line: l.trim().parse().unwrap_or(tagged.line),
                column: c.trim().parse().unwrap_or(tagged.column),
                offset: 0,
                len: 0,
            };
        }
        msg = m.to_string();
    }
    if msg.starts_with("expected sequence start") {
        return d.push(
            phase,
            tagged,
            "expected a list here",
            "not a list",
            Some("write a list: `[a, b]`, or one `- item` per line".into()),
        );
    }
    if msg.starts_with("expected mapping start") {
        return d.push(
            phase,
            tagged,
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
    let (message, label, help) = match suggestion {
        Some((m, h)) => (m.to_string(), "here".to_string(), Some(h)),
        None => {
            let help = help.or_else(|| help_for_message(&msg));
            (msg, "here".to_string(), help)
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

/// Help for serde messages that say too little on their own.
fn help_for_message(msg: &str) -> Option<String> {
    if msg.contains("invalid type") && msg.contains("map") && msg.contains("enum") {
        return Some("a step is a single-key mapping such as `- kill_site: A`".into());
    }
    None
}

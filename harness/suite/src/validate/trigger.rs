//! Validation of `on:` triggers: one kind, a known message sent the right way, a server to arm,
//! sane counts and durations, and a following step that acts.

use bc_vocab::{sent_by_desktop, sent_by_server, MESSAGE_NAMES};

use super::{help_dym, Ctx};
use crate::model::{HoldMode, Step, Trigger};
use crate::span::{Span, Spanned};
use crate::vocab::Site;

/// Checks the trigger's own fields (`span`: the step).
pub(super) fn check(ctx: &mut Ctx<'_>, t: &Trigger, span: Span, preferred: &[Site]) {
    let kinds = t.kinds_present();
    match kinds.len() {
        0 => ctx.d.semantic(
            span,
            "`on` names nothing to wait for",
            Some("add one of `desktop_sends: MESSAGE`, `event: MESSAGE`, `connects: SITE/KIND`, `disconnects: SITE/KIND`".into()),
        ),
        1 => {}
        _ => ctx.d.semantic(
            span,
            format!("`on` names {} things to wait for: {}", kinds.len(), kinds.join(", ")),
            Some("a trigger waits for exactly one; split it into two `on` steps".into()),
        ),
    }
    if let Some(m) = &t.desktop_sends {
        message(
            ctx,
            m,
            "desktop_sends",
            sent_by_desktop,
            "the desktop never sends events; use `event:`",
        );
    }
    if let Some(m) = &t.event {
        message(
            ctx,
            m,
            "event",
            sent_by_server,
            "servers never send requests; use `desktop_sends:`",
        );
    }
    let by_message = t.desktop_sends.is_some() || t.event.is_some();
    match (&t.at, by_message) {
        (None, true) if kinds.len() == 1 => ctx.d.semantic(
            span,
            "`on` needs `at:` the server that sees the message",
            Some("add `at: SITE/KIND`, e.g. `at: B/sip_server`".into()),
        ),
        (Some(at), false) if !kinds.is_empty() => ctx.d.semantic(
            at.span,
            format!(
                "`at` is only for `desktop_sends` and `event`; `{}` names its server itself",
                kinds[0]
            ),
            Some("remove `at:`".into()),
        ),
        _ => {}
    }
    if let Some(s) = t.server() {
        ctx.server(s, preferred);
        if let Some(g) = s.value.group {
            ctx.d.semantic(
                s.span,
                format!("a trigger cannot watch one group (`g{g}`) yet"),
                Some("name the server without a group".into()),
            );
        }
    }
    if let Some(n) = &t.nth {
        if n.value == 0 {
            ctx.d.semantic(
                n.span,
                "`nth` counts from 1",
                Some("write `nth: 1` for the first occurrence".into()),
            );
        }
    }
    if let Some(d) = &t.timeout {
        ctx.duration("timeout", d, false);
    }
    if let Some(d) = &t.after {
        ctx.duration("after", d, true);
    }
    if let Some(h) = &t.hold {
        if h.value == HoldMode::Reply && t.desktop_sends.is_none() && t.disconnects.is_none() {
            ctx.d.semantic(
                h.span,
                "`hold: reply` holds the answer to a request, and this trigger waits for no request",
                Some("use `hold: message` or `hold: none`, or trigger on `desktop_sends:`".into()),
            );
        }
        if h.value != HoldMode::None && t.disconnects.is_some() {
            ctx.d.semantic(
                h.span,
                "nothing can be held once a connection has ended",
                Some("remove `hold:` (a `disconnects` trigger holds nothing)".into()),
            );
        }
    }
    if let (Some(r), HoldMode::None) = (&t.then, t.hold_mode()) {
        ctx.d.semantic(
            r.span,
            "`then` says what becomes of a held message, and this trigger holds none",
            Some("remove `then:` or hold the message (`hold: message`)".into()),
        );
    }
}

fn message(
    ctx: &mut Ctx<'_>,
    m: &Spanned<String>,
    key: &str,
    sent: fn(&str) -> bool,
    wrong_way: &str,
) {
    if !MESSAGE_NAMES.contains(&m.value.as_str()) {
        let names: Vec<String> = MESSAGE_NAMES
            .iter()
            .filter(|n| sent(n))
            .map(|n| n.to_string())
            .collect();
        ctx.d.semantic(
            m.span,
            format!("unknown message `{}` in `{key}`", m.value),
            help_dym(&m.value, &names),
        );
    } else if !sent(&m.value) {
        ctx.d.semantic(
            m.span,
            format!("`{key}: {}` can never fire", m.value),
            Some(wrong_way.into()),
        );
    }
}

/// Checks that the step after a trigger (`next`) acts on the environment.
pub(super) fn check_next(ctx: &mut Ctx<'_>, on: Span, next: Option<&Spanned<Step>>) {
    let Some(next) = next else {
        ctx.d.semantic(
            on,
            "`on` is the last step: nothing acts when it fires",
            Some("follow it with the fault to apply, e.g. `- kill_site: B`".into()),
        );
        return;
    };
    let step = &next.value;
    let passive = step.is_expectation()
        || matches!(
            step,
            Step::On(_) | Step::Wait(_) | Step::Mark(_) | Step::StartDesktop
        );
    if passive {
        ctx.d.semantic(
            next.span,
            format!(
                "`{}` cannot follow `on`: the step after a trigger must act",
                step.keyword()
            ),
            Some(
                "put the fault to apply right after `on`; delay it with `after:` in the trigger"
                    .into(),
            ),
        );
    }
}

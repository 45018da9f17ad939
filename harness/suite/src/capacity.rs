//! Declared server capacity (`topology.capacity`): how many logins a server admits, as written,
//! validated, and planned for the engine.
//! Why in the topology: a real SIP Server or CS Proxy has a ceiling, and a herd must be able to fail
//! against it; the limits hold for the whole run, restarts included (docs/suite-format.md "Capacity").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostics;
use crate::duration::HumanDuration;
use crate::model::OverloadAnswer;
use crate::span::Spanned;
use crate::vocab::ServerKind;

/// Capacity per server kind; a kind left out is infinitely fast and never overloaded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacities {
    /// Every CS Proxy instance of every site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_server: Option<Spanned<Capacity>>,
    /// Every SIP Server instance of every site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_server: Option<Spanned<Capacity>>,
    /// Every Stat Server instance of every site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_server: Option<Spanned<Capacity>>,
}

/// One server's limits, each optional, and what a client past them gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// At most this many registered clients at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clients: Option<Spanned<u64>>,
    /// Logins (client registrations) admitted per second, on average (a token bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_rate: Option<Spanned<f64>>,
    /// Logins the bucket admits at once (default: one second's worth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_burst: Option<Spanned<f64>>,
    /// The delay the overload answer asks for (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Spanned<HumanDuration>>,
    /// How a client past the limits is turned away (default `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Spanned<OverloadAnswer>>,
}

/// One server kind's limits as the engine applies them (every field as the mock takes it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPlan {
    pub server: ServerKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_clients: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_burst: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    pub answer: OverloadAnswer,
}

impl Capacities {
    fn each(&self) -> impl Iterator<Item = (ServerKind, &Spanned<Capacity>)> {
        [
            (ServerKind::ConfigServer, &self.config_server),
            (ServerKind::SipServer, &self.sip_server),
            (ServerKind::StatServer, &self.stat_server),
        ]
        .into_iter()
        .filter_map(|(k, c)| c.as_ref().map(|c| (k, c)))
    }

    /// Reports values no server could have, and limits on a server kind the topology lacks.
    pub fn validate(&self, d: &mut Diagnostics, stat_server: bool) {
        // In the order they are written, as every other diagnostic of a file.
        let mut entries: Vec<_> = self.each().collect();
        entries.sort_by_key(|(_, e)| e.span.offset);
        for (kind, entry) in entries {
            let kind = kind.as_str();
            if kind == ServerKind::StatServer.as_str() && !stat_server {
                d.semantic(
                    entry.span,
                    "capacity for `stat_server`, but the topology has none",
                    Some("remove it, or leave `stat_server` on".into()),
                );
            }
            let c = &entry.value;
            if c.max_clients.is_none() && c.login_rate.is_none() {
                d.semantic(
                    entry.span,
                    format!("capacity for `{kind}` sets no limit"),
                    Some("declare `login_rate` (per second) or `max_clients`".into()),
                );
            }
            if let Some(m) = c.max_clients.as_ref().filter(|m| m.value == 0) {
                d.semantic(
                    m.span,
                    "`max_clients: 0` admits nobody",
                    Some("a server that turns everyone away is the `overload` step; declare at least 1".into()),
                );
            }
            if let Some(r) = &c.login_rate {
                if !(r.value.is_finite() && r.value > 0.0) {
                    d.semantic(
                        r.span,
                        format!("`login_rate` must be a positive number, got {}", r.value),
                        Some("logins per second, e.g. `500`".into()),
                    );
                }
            }
            if let Some(b) = &c.login_burst {
                if !(b.value.is_finite() && b.value >= 1.0) {
                    d.semantic(
                        b.span,
                        format!("`login_burst` must be at least 1, got {}", b.value),
                        Some("leave it out for one second's worth of `login_rate`".into()),
                    );
                }
                if c.login_rate.is_none() {
                    d.semantic(
                        b.span,
                        "`login_burst` without `login_rate`",
                        Some("the burst is the size of the login rate's bucket".into()),
                    );
                }
            }
        }
    }

    /// The limits as the engine applies them, in server-kind order.
    pub fn plan(&self) -> Vec<CapacityPlan> {
        self.each()
            .map(|(server, c)| {
                let c = &c.value;
                CapacityPlan {
                    server,
                    max_clients: c.max_clients.as_ref().map(|m| m.value),
                    login_rate: c.login_rate.as_ref().map(|r| r.value),
                    login_burst: c.login_burst.as_ref().map(|b| b.value),
                    retry_after_ms: c
                        .retry_after
                        .as_ref()
                        .map(|r| u64::try_from(r.value.0.as_millis()).unwrap_or(u64::MAX)),
                    answer: c.answer.as_ref().map(|a| a.value).unwrap_or_default(),
                }
            })
            .collect()
    }
}

//! Durations and server kinds in the words of reports (`10s`, `250ms`, `config_server +
//! sip_server`), shared by every check's description.

use bc_protocol::ServerKind;

/// Server kinds joined with ` + `.
pub(super) fn kinds(servers: &[ServerKind]) -> String {
    servers
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Whole seconds as `10s`, anything else in ms.
pub(super) fn dur(ms: u64) -> String {
    if (ms / 1000) * 1000 == ms {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

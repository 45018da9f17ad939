//! The JSON shapes of the Toxiproxy 2.x HTTP API as this server writes them.
//! Field order follows what Toxiproxy 2.12 sends (see the API transcript).

use serde::{Deserialize, Serialize, Serializer};

use crate::toxics::ToxicKind;

/// Direction of a toxic: upstream (client to server) or downstream (server to client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Upstream,
    Downstream,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }

    pub fn parse(s: &str) -> Option<Stream> {
        match s {
            "upstream" => Some(Stream::Upstream),
            "downstream" => Some(Stream::Downstream),
            _ => None,
        }
    }
}

/// Which transport a proxy relays: `tcp` (the only kind real Toxiproxy has) or `udp` (an
/// extension of this server: a per-flow datagram relay, see docs/toxiproxy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    /// True for tcp: the API then leaves the field out, so tcp proxies look as in Toxiproxy.
    pub fn is_tcp(&self) -> bool {
        *self == Protocol::Tcp
    }
}

/// Writes a float the way Go does for float32: `1` rather than `1.0`.
pub fn go_float<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f32(*v)
    }
}

/// A toxic as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ToxicJson {
    pub attributes: ToxicKind,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub stream: Stream,
    #[serde(serialize_with = "go_float")]
    pub toxicity: f32,
    /// Extension: the client addresses the toxic applies to (absent: every client, as Toxiproxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<std::net::IpAddr>>,
}

/// A proxy as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyJson {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    pub toxics: Vec<ToxicJson>,
    /// Extension: present (`"udp"`) only on udp proxies.
    #[serde(skip_serializing_if = "Protocol::is_tcp")]
    pub protocol: Protocol,
}

/// Body of every error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub status: u16,
}

/// Body of POST /populate answers (success and error).
#[derive(Debug, Serialize)]
pub struct PopulateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub proxies: Option<Vec<ProxyJson>>,
}

/// A proxy definition as accepted by POST /proxies, /populate and the --config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProxyInput {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: Option<bool>,
    /// Extension: `"udp"` makes a udp proxy; absent or `"tcp"` a Toxiproxy tcp proxy.
    pub protocol: Protocol,
}

/// Body of POST/PATCH /proxies/{name}: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProxyPatch {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

/// Body of POST /proxies/{name}/toxics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ToxicInput {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub stream: String,
    pub toxicity: Option<f32>,
    pub attributes: Option<serde_json::Value>,
    /// Extension: only connections from these client addresses get the toxic.
    pub clients: Option<Vec<String>>,
}

/// Body of POST/PATCH /proxies/{name}/toxics/{toxic}.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ToxicPatch {
    pub toxicity: Option<f32>,
    pub attributes: Option<serde_json::Value>,
    /// Extension: replaces the client addresses (an empty list: every client again).
    pub clients: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        #[derive(Serialize)]
        struct T(#[serde(serialize_with = "go_float")] f32);
        assert_eq!(serde_json::to_string(&T(1.0)).unwrap(), "1");
        assert_eq!(serde_json::to_string(&T(0.0)).unwrap(), "0");
        assert_eq!(serde_json::to_string(&T(0.5)).unwrap(), "0.5");
        assert_eq!(serde_json::to_string(&T(0.1)).unwrap(), "0.1");
    }
}

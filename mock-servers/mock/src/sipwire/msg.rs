//! One SIP message off the wire, parsed with `ezk-sip-types`, and the responses the mock builds.
//! Headers a response must echo (From, To, Call-ID, CSeq, Via) are copied as received (RFC 3261 §8.2.6).

use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID, Contact, ContentLength, Expires, FromTo, Via};
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::print::AppendCtx;
use ezk_sip_types::uri::SipUriUserPart;
use ezk_sip_types::{Headers, Method, Name};
use std::net::SocketAddr;

/// The largest message accepted (UDP datagram or TCP message); larger ones are dropped.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A parsed message.
pub struct SipMsg {
    pub line: MessageLine,
    pub headers: Headers,
    pub body: Bytes,
    /// The datagram ended before Content-Length bytes of body: a request gets 400 (RFC 3261 §18.3).
    pub short_body: bool,
}

/// A REGISTER Contact: its URI and its `expires` parameter.
pub type ContactParam = (String, Option<u32>);

/// Why a message was not accepted (the reason goes into a `sip_malformed` event).
#[derive(Debug)]
pub struct Malformed {
    pub reason: String,
}

fn bad(reason: impl Into<String>) -> Malformed {
    Malformed {
        reason: reason.into(),
    }
}

/// Where the head of a message ends, or None while it is incomplete (a stream needs more bytes).
pub fn head_len(buf: &[u8]) -> Option<usize> {
    let mut p = PullParser::new(buf, 0);
    for l in p.by_ref() {
        l.ok()?;
    }
    Some(p.head_end())
}

/// Parses one whole message (a datagram, or a framed stream message).
pub fn parse(buf: Bytes) -> Result<SipMsg, Malformed> {
    if buf.len() > MAX_MESSAGE {
        return Err(bad("message too large"));
    }
    let mut p = PullParser::new(&buf, 0);
    let first = match p.next() {
        Some(Ok(l)) => l,
        _ => return Err(bad("no start line")),
    };
    let first = std::str::from_utf8(first).map_err(|_| bad("start line is not UTF-8"))?;
    let (rest, line) = MessageLine::parse(&buf)(first).map_err(|_| bad("bad start line"))?;
    if !rest.trim().is_empty() {
        return Err(bad("bad start line"));
    }
    let mut headers = Headers::new();
    for l in p.by_ref() {
        let l = l.map_err(|_| bad("incomplete head"))?;
        let s = std::str::from_utf8(l).map_err(|_| bad("header is not UTF-8"))?;
        let (_, h) = Line::parse(&buf, s).map_err(|_| bad("bad header line"))?;
        headers.insert(h.name, h.value);
    }
    let head = p.head_end();
    let rest = buf.slice(head.min(buf.len())..);
    let (body, short_body) = match headers.try_get_named::<ContentLength>() {
        Some(Ok(ContentLength(n))) if n <= rest.len() => (rest.slice(..n), false),
        Some(Ok(_)) => (rest, true),
        Some(Err(_)) => return Err(bad("bad Content-Length")),
        None => (rest, false),
    };
    Ok(SipMsg {
        line,
        headers,
        body,
        short_body,
    })
}

impl SipMsg {
    pub fn method(&self) -> Option<&Method> {
        self.line.request_method()
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.line {
            MessageLine::Response(s) => Some(s.code.into_u16()),
            MessageLine::Request(_) => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<String> {
        match &self.line {
            MessageLine::Response(s) => s.reason.as_ref().map(|r| r.to_string()),
            MessageLine::Request(_) => None,
        }
    }

    /// The user part of the Request-URI (the DN an INVITE is for, the AOR of a REGISTER's To).
    pub fn ruri_user(&self) -> Option<String> {
        match &self.line {
            MessageLine::Request(r) => user_of(&r.uri.user_part),
            MessageLine::Response(_) => None,
        }
    }

    /// Checks the headers every request needs (RFC 3261 §8.1.1) and that CSeq names the method.
    pub fn check_request(&self) -> Result<(), Malformed> {
        if self.short_body {
            return Err(bad("Content-Length larger than the body"));
        }
        for n in [Name::VIA, Name::FROM, Name::TO, Name::CALL_ID, Name::CSEQ] {
            if !self.headers.contains(&n) {
                return Err(bad(format!("missing {}", n.as_print_str())));
            }
        }
        let cseq = self.cseq().ok_or_else(|| bad("bad CSeq"))?;
        if Some(&cseq.method) != self.method() {
            return Err(bad("CSeq method differs from the request method"));
        }
        self.top_via().ok_or_else(|| bad("bad Via"))?;
        self.headers
            .get::<FromTo>(Name::TO)
            .map_err(|_| bad("bad To"))?;
        self.headers
            .get::<FromTo>(Name::FROM)
            .map_err(|_| bad("bad From"))?;
        Ok(())
    }

    pub fn cseq(&self) -> Option<CSeq> {
        self.headers.get_named::<CSeq>().ok()
    }

    pub fn call_id(&self) -> String {
        self.headers
            .get_named::<CallID>()
            .map(|c| c.0.to_string())
            .unwrap_or_default()
    }

    pub fn top_via(&self) -> Option<Via> {
        self.headers
            .get_named::<Vec<Via>>()
            .ok()
            .and_then(|v| v.into_iter().next())
    }

    /// The transaction key: the top Via's branch plus the method (ACK and CANCEL match the INVITE's
    /// transaction through the branch; the method tells their own transactions apart).
    pub fn branch(&self) -> String {
        self.top_via()
            .and_then(|v| v.params.get_val("branch").map(|b| b.to_string()))
            .unwrap_or_default()
    }

    pub fn to_tag(&self) -> Option<String> {
        self.headers
            .get::<FromTo>(Name::TO)
            .ok()
            .and_then(|t| t.tag.map(|t| t.to_string()))
    }

    pub fn from_user(&self) -> Option<String> {
        let f = self.headers.get::<FromTo>(Name::FROM).ok()?;
        user_of(&f.uri.uri.user_part)
    }

    pub fn to_user(&self) -> Option<String> {
        let t = self.headers.get::<FromTo>(Name::TO).ok()?;
        user_of(&t.uri.uri.user_part)
    }

    /// The Contacts of a REGISTER: `None` for `Contact: *`, URI and `expires` parameter each.
    pub fn contacts(&self) -> Result<Option<Vec<ContactParam>>, Malformed> {
        let raw: Vec<String> = self
            .headers
            .get_raw(&Name::CONTACT)
            .map(|v| v.to_string())
            .collect();
        if raw.iter().any(|v| v.trim() == "*") {
            return Ok(None);
        }
        if raw.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let cs = self
            .headers
            .get_named::<Vec<Contact>>()
            .map_err(|_| bad("bad Contact"))?;
        Ok(Some(
            cs.iter()
                .map(|c| {
                    let exp = c
                        .params
                        .get_val("expires")
                        .and_then(|e| e.trim().parse::<u32>().ok());
                    (c.uri.uri.default_print_ctx().to_string(), exp)
                })
                .collect(),
        ))
    }

    pub fn expires(&self) -> Option<u32> {
        self.headers.get_named::<Expires>().ok().map(|e| e.0)
    }

    /// The first raw value of a header.
    pub fn raw(&self, name: &Name) -> Option<String> {
        self.headers.get_raw(name).next().map(|v| v.to_string())
    }

    /// All raw values of a header, in order.
    pub fn raw_all(&self, name: &Name) -> Vec<String> {
        self.headers.get_raw(name).map(|v| v.to_string()).collect()
    }
}

fn user_of(u: &SipUriUserPart) -> Option<String> {
    match u {
        SipUriUserPart::User(u) => Some(u.to_string()),
        SipUriUserPart::UserPw(p) => Some(p.user.to_string()),
        SipUriUserPart::Empty => None,
    }
}

/// The top Via with `received` and, when the client asked for it, `rport` filled in (RFC 3581),
/// so that answers find their way back over the flow the request came in on.
pub fn stamped_via(req: &SipMsg, source: SocketAddr) -> Option<String> {
    let mut via = req.top_via()?;
    via.params
        .push_or_edit("received", source.ip().to_string().as_str());
    if via.params.get("rport").is_some() {
        via.params
            .push_or_edit("rport", source.port().to_string().as_str());
    }
    Some(via.default_print_ctx().to_string())
}

/// A response to `req`: echoes Via (top one stamped), From, To (adding `to_tag` when it has none),
/// Call-ID and CSeq; `extra` headers and `body` follow.
pub fn response(
    req: &SipMsg,
    source: SocketAddr,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, String)],
    body: &[u8],
) -> Bytes {
    use std::fmt::Write;
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    let vias = req.raw_all(&Name::VIA);
    for (i, v) in vias.iter().enumerate() {
        let v = if i == 0 {
            stamped_via(req, source).unwrap_or_else(|| v.clone())
        } else {
            v.clone()
        };
        let _ = write!(s, "Via: {v}\r\n");
    }
    let _ = write!(s, "From: {}\r\n", req.raw(&Name::FROM).unwrap_or_default());
    let to = req.raw(&Name::TO).unwrap_or_default();
    match (req.to_tag(), to_tag) {
        (None, Some(t)) if code > 100 => {
            let _ = write!(s, "To: {to};tag={t}\r\n");
        }
        _ => {
            let _ = write!(s, "To: {to}\r\n");
        }
    }
    let _ = write!(
        s,
        "Call-ID: {}\r\n",
        req.raw(&Name::CALL_ID).unwrap_or_default()
    );
    let _ = write!(s, "CSeq: {}\r\n", req.raw(&Name::CSEQ).unwrap_or_default());
    for (k, v) in extra {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    let _ = write!(
        s,
        "Server: bc-mock\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut out = s.into_bytes();
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// The length of the first whole message in a stream buffer: Ok(None) while incomplete, Err when
/// the head cannot be framed (the stream must then be closed). A missing Content-Length counts as 0.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, Malformed> {
    let Some(head) = head_len(buf) else {
        return if buf.len() > MAX_MESSAGE {
            Err(bad("head too large"))
        } else {
            Ok(None)
        };
    };
    let src = Bytes::copy_from_slice(&buf[..head]);
    let mut p = PullParser::new(&src, 0);
    let mut len = 0usize;
    for l in p.by_ref() {
        let l = l.map_err(|_| bad("incomplete head"))?;
        let Ok(s) = std::str::from_utf8(l) else {
            continue;
        };
        if let Ok((_, h)) = Line::parse(&src, s) {
            if h.name == Name::CONTENT_LENGTH {
                len = h
                    .value
                    .trim()
                    .parse()
                    .map_err(|_| bad("bad Content-Length"))?;
            }
        }
    }
    if head + len > MAX_MESSAGE {
        return Err(bad("message too large"));
    }
    Ok((buf.len() >= head + len).then_some(head + len))
}

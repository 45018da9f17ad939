//! Line framing: encode a message as one JSON line, decode one line into a message.
//! Decoding never panics; every failure says which `EventError` code the peer should get.

use crate::error_code;
use crate::message::Message;

/// Longest accepted line in bytes, not counting the `\n`.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Why a line could not be decoded, with what an `EventError` answer needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// The `ReferenceID` of the offending request when it could be read.
    pub reference_id: Option<i64>,
    /// One of [`crate::error_code`].
    pub code: i64,
    /// A human-readable reason, lowercase.
    pub message: String,
}

/// Serialises a message as a JSON line ending in `\n`.
pub fn encode_line(msg: &Message) -> String {
    // Serialising our own types cannot fail: every field is a plain JSON value.
    let mut s = serde_json::to_string(msg).expect("message serialises");
    s.push('\n');
    s
}

/// Decodes one line (with or without its trailing `\n` / `\r\n`).
pub fn decode_line(line: &str) -> Result<Message, DecodeError> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.len() > MAX_LINE_BYTES {
        return Err(DecodeError {
            reference_id: None,
            code: error_code::LINE_TOO_LONG,
            message: format!("line of {} bytes exceeds {MAX_LINE_BYTES}", line.len()),
        });
    }
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| DecodeError {
        reference_id: None,
        code: error_code::MALFORMED,
        message: format!("malformed json: {e}"),
    })?;
    let obj = value.as_object().ok_or_else(|| DecodeError {
        reference_id: None,
        code: error_code::MALFORMED,
        message: "a message must be a json object".into(),
    })?;
    let reference_id = obj.get("ReferenceID").and_then(|v| v.as_i64());
    let name = match obj.get("message") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(DecodeError {
                reference_id,
                code: error_code::INVALID_ATTRIBUTE,
                message: "attribute `message` must be a string".into(),
            })
        }
        None => {
            return Err(DecodeError {
                reference_id,
                code: error_code::INVALID_ATTRIBUTE,
                message: "missing attribute `message`".into(),
            })
        }
    };
    if !Message::NAMES.contains(&name.as_str()) {
        return Err(DecodeError {
            reference_id,
            code: error_code::UNKNOWN_MESSAGE,
            message: format!("unknown message `{name}`"),
        });
    }
    serde_json::from_value(value).map_err(|e| DecodeError {
        reference_id,
        code: error_code::INVALID_ATTRIBUTE,
        message: format!("invalid {name}: {e}"),
    })
}

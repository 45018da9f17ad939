//! The open desktop protocol spoken by the bc-harness mock servers.
//! One JSON object per line; message names mirror Genesys T-Library, ConfigLib and StatLib.

pub mod codec;
pub mod error_code;
pub mod message;
pub mod observe;
pub mod schema;

pub use codec::{decode_line, encode_line, DecodeError, MAX_LINE_BYTES};
pub use message::*;
pub use observe::*;

/// The protocol version this crate speaks (`ProtocolVersion` in RequestRegisterClient).
pub const PROTOCOL_VERSION: u32 = 1;

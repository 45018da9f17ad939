//! Numeric `ErrorCode` values carried by `EventError`.
//! HTTP-like on purpose, so a person reading a transcript guesses their meaning.

/// The line is not a JSON object.
pub const MALFORMED: i64 = 400;
/// Wrong credentials in RequestRegisterClient (CS Proxy), or a request before registering.
pub const UNAUTHORIZED: i64 = 401;
/// The server is in login-rejection mode (harness fault for BC-3).
pub const LOGIN_REJECTED: i64 = 403;
/// The `message` name is unknown, or the request does not belong to this server kind.
pub const UNKNOWN_MESSAGE: i64 = 404;
/// A conflicting state, e.g. the DN is logged in by another agent.
pub const CONFLICT: i64 = 409;
/// A request needs a prior step (DN not registered, agent not logged in, unknown ConnID/StatisticID).
pub const PRECONDITION_FAILED: i64 = 412;
/// The line is longer than 64 KiB; the server closes the connection after this error.
pub const LINE_TOO_LONG: i64 = 413;
/// An attribute is missing or has the wrong type, or a value is out of range.
pub const INVALID_ATTRIBUTE: i64 = 422;
/// The `ProtocolVersion` is not supported.
pub const UNSUPPORTED_VERSION: i64 = 426;
/// The server is past a declared capacity limit; the message says `retry after N ms`.
pub const OVERLOADED: i64 = 429;
/// The server is a backup that has not been promoted.
pub const NOT_PRIMARY: i64 = 503;

//! Codec basics: known lines decode, bad lines map to the documented error codes.

use bc_protocol::*;

#[test]
fn login_round_trips_with_wire_names() {
    let m = Message::RequestAgentLogin {
        reference_id: 7,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    };
    let line = encode_line(&m);
    assert_eq!(
        line,
        "{\"message\":\"RequestAgentLogin\",\"ReferenceID\":7,\"ThisDN\":\"7001\",\"AgentID\":\"1001\"}\n"
    );
    assert_eq!(decode_line(&line).unwrap(), m);
    assert_eq!(m.name(), "RequestAgentLogin");
    assert_eq!(m.reference_id(), Some(7));
}

#[test]
fn bad_lines_get_the_documented_codes() {
    assert_eq!(
        decode_line("not json").unwrap_err().code,
        error_code::MALFORMED
    );
    assert_eq!(decode_line("[1]").unwrap_err().code, error_code::MALFORMED);
    let e = decode_line(r#"{"message":"RequestNope","ReferenceID":3}"#).unwrap_err();
    assert_eq!(
        (e.code, e.reference_id),
        (error_code::UNKNOWN_MESSAGE, Some(3))
    );
    let e = decode_line(r#"{"message":"RequestAgentLogin","ReferenceID":4,"ThisDN":"7001"}"#)
        .unwrap_err();
    assert_eq!(
        (e.code, e.reference_id),
        (error_code::INVALID_ATTRIBUTE, Some(4))
    );
    let long = format!(
        "{{\"message\":\"Ping\",\"Seq\":1,\"x\":\"{}\"}}",
        "a".repeat(MAX_LINE_BYTES)
    );
    assert_eq!(
        decode_line(&long).unwrap_err().code,
        error_code::LINE_TOO_LONG
    );
}

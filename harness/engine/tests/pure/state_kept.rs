//! The derived state of a login a SIP Server keeps past its connection (`agent_kept`, servers run
//! with `--keep-agents-on-disconnect`): still a login at that site after the close, with no lapse
//! between the two events, until a logout, a new connection registering the DN, or the instance
//! going standby.

use bc_engine::observe::{Entry, SessionState, Subject};
use bc_protocol::ServerKind;

fn entry(json: &str) -> Entry {
    serde_json::from_str(json).expect("an entry")
}

fn sip(ts: i64, seq: u64, conn: u64, kind: &str) -> Entry {
    entry(&format!(
        r#"{{"ts_us":{ts},"entry":"observed","event":{{"seq":{seq},"ts_us":{ts},"server":"sip_server","site":"A","role":"primary","conn":{conn},{kind}}}}}"#
    ))
}

fn state() -> SessionState {
    let subject: Subject =
        serde_json::from_str(r#"{"username":"agent1001","agent_id":"1001","dn":"7001"}"#)
            .expect("a subject");
    SessionState::new(subject)
}

/// Agent 1001 logged in on DN 7001 through connection `conn` at A's SIP Server.
fn logged_in(st: &mut SessionState, conn: u64, seq: u64) -> u64 {
    st.apply(&sip(
        1_000,
        seq,
        conn,
        r#""kind":"client_connected","peer":"x""#,
    ));
    st.apply(&sip(
        1_100,
        seq + 1,
        conn,
        r#""kind":"dn_registered","dn":"7001""#,
    ));
    st.apply(&sip(
        1_200,
        seq + 2,
        conn,
        r#""kind":"agent_login","dn":"7001","agent_id":"1001","state":"NotReady""#,
    ));
    assert!(st.live("A", ServerKind::SipServer));
    seq + 3
}

fn closed_but_kept(st: &mut SessionState, conn: u64, seq: u64) -> u64 {
    st.apply(&sip(
        2_000,
        seq,
        conn,
        r#""kind":"agent_kept","dn":"7001","agent_id":"1001""#,
    ));
    st.apply(&sip(
        2_000,
        seq + 1,
        conn,
        r#""kind":"client_disconnected","how":"fin""#,
    ));
    seq + 2
}

#[test]
fn a_kept_login_outlives_its_connection_without_a_lapse_until_a_logout() {
    let mut st = state();
    let seq = logged_in(&mut st, 1, 0);
    let seq = closed_but_kept(&mut st, 1, seq);
    assert!(
        st.live("A", ServerKind::SipServer),
        "the server still has the agent logged in: {}",
        st.summary()
    );
    assert!(
        st.reconnects().is_empty(),
        "no lapse, so no reconnection: {:?}",
        st.reconnects()
    );
    // A new connection logs the agent out there: the kept login is over.
    st.apply(&sip(
        3_000,
        seq,
        2,
        r#""kind":"client_connected","peer":"y""#,
    ));
    st.apply(&sip(
        3_100,
        seq + 1,
        2,
        r#""kind":"agent_logout","dn":"7001","agent_id":"1001","reason":"request""#,
    ));
    assert!(!st.live("A", ServerKind::SipServer), "{}", st.summary());
}

#[test]
fn a_kept_login_is_taken_over_by_a_new_connection_and_ends_with_a_demotion() {
    let mut st = state();
    let seq = logged_in(&mut st, 1, 0);
    let seq = closed_but_kept(&mut st, 1, seq);
    st.apply(&sip(
        3_000,
        seq,
        2,
        r#""kind":"client_connected","peer":"y""#,
    ));
    st.apply(&sip(
        3_100,
        seq + 1,
        2,
        r#""kind":"dn_registered","dn":"7001","agent_id":"1001","agent_state":"Ready""#,
    ));
    assert!(st.live("A", ServerKind::SipServer));
    st.apply(&sip(
        4_000,
        seq + 2,
        2,
        r#""kind":"client_disconnected","how":"rst""#,
    ));
    assert!(
        !st.live("A", ServerKind::SipServer),
        "the new connection took the login over; its close without agent_kept ends it: {}",
        st.summary()
    );
}

#[test]
fn without_agent_kept_the_close_ends_the_login() {
    let mut st = state();
    let seq = logged_in(&mut st, 1, 0);
    st.apply(&sip(
        2_000,
        seq,
        1,
        r#""kind":"client_disconnected","how":"fin""#,
    ));
    assert!(!st.live("A", ServerKind::SipServer), "{}", st.summary());
}

//! The derived state around a SIGKILL: a kill is stamped when its signals go out, so a dying
//! server's last events come after it; they must not bring back the connection the kill ended
//! (seen on Docker: a Ping 0.2 s after `kill_site B` left B "connected" for good). A restarted
//! instance (`started`) is heard again.

use bc_engine::observe::{Entry, SessionState, Subject};

fn entry(json: &str) -> Entry {
    serde_json::from_str(json).expect("an entry")
}

fn observed(ts: i64, seq: u64, kind: &str) -> Entry {
    entry(&format!(
        r#"{{"ts_us":{ts},"entry":"observed","event":{{"seq":{seq},"ts_us":{ts},"server":"config_server","site":"B","role":"primary","conn":132,{kind}}}}}"#
    ))
}

#[test]
fn a_killed_servers_last_ping_does_not_reconnect_it_and_its_restart_is_heard() {
    let subject: Subject =
        serde_json::from_str(r#"{"username":"agent1001","agent_id":"1001","dn":"7001"}"#)
            .expect("a subject");
    let mut st = SessionState::new(subject);
    st.apply(&observed(
        1_000,
        0,
        r#""kind":"client_connected","peer":"x""#,
    ));
    assert!(st.connected("B"));
    st.apply(&entry(
        r#"{"ts_us":2000,"entry":"fault","id":1,"description":"kill_site B","effects":[{"target":{"site":"B"},"change":"killed"}]}"#,
    ));
    assert!(!st.connected("B"));
    st.apply(&observed(
        3_000,
        1,
        r#""kind":"ping","ping_seq":4,"inbound":false"#,
    ));
    assert!(
        !st.connected("B"),
        "a Ping stamped after the kill is the dying process's, not a connection: {}",
        st.summary()
    );
    st.apply(&observed(
        4_000,
        0,
        r#""kind":"started","listen":"0.0.0.0:7000","active":true"#,
    ));
    st.apply(&observed(
        5_000,
        1,
        r#""kind":"client_connected","peer":"y""#,
    ));
    assert!(st.connected("B"), "the restarted instance is heard again");
}

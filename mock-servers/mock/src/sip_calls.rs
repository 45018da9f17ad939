//! SIP Server call requests from a client: answering, releasing and making calls on its DNs.
//! Split out of `sip`, which dispatches the requests and keeps DN registration and agent state.

use crate::sip::{bad, new_conn_id};
use crate::state::{Call, Instance, State};
use bc_protocol::{error_code, EventKind, Message};
use std::sync::Arc;

/// RequestAnswerCall: marks a call offered on the DN established and answers EventEstablished.
pub(crate) fn answer_call(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
    conn_id: String,
) -> Vec<Message> {
    let Some(call) = st.calls.get_mut(&conn_id).filter(|c| c.dn == this_dn) else {
        return no_call(rid, &conn_id, &this_dn);
    };
    call.established = true;
    let other_dn = call.other_dn.clone();
    inst.emit(
        Some(conn),
        EventKind::CallAnswered {
            dn: this_dn.clone(),
            conn_id: conn_id.clone(),
        },
    );
    vec![Message::EventEstablished {
        reference_id: Some(rid),
        this_dn,
        conn_id,
        other_dn: Some(other_dn),
    }]
}

/// RequestReleaseCall: ends a call on the DN and answers EventReleased.
pub(crate) fn release_call(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
    conn_id: String,
) -> Vec<Message> {
    if st.calls.get(&conn_id).is_none_or(|c| c.dn != this_dn) {
        return no_call(rid, &conn_id, &this_dn);
    }
    st.calls.remove(&conn_id);
    inst.emit(
        Some(conn),
        EventKind::CallReleased {
            dn: this_dn.clone(),
            conn_id: conn_id.clone(),
        },
    );
    vec![Message::EventReleased {
        reference_id: Some(rid),
        this_dn,
        conn_id,
    }]
}

/// RequestMakeCall: an outbound call from a DN this connection registered, established at once
/// (EventDialing, then EventEstablished).
pub(crate) fn make_call(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
    other_dn: String,
) -> Vec<Message> {
    if other_dn.is_empty() {
        return bad(rid, "OtherDN");
    }
    let registered = st
        .conns
        .get(&conn)
        .is_some_and(|c| c.dns.contains(&this_dn));
    if !registered {
        return vec![Message::error(
            rid,
            error_code::PRECONDITION_FAILED,
            format!("dn {this_dn} is not registered on this connection"),
        )];
    }
    let conn_id = new_conn_id(inst, st);
    st.calls.insert(
        conn_id.clone(),
        Call {
            dn: this_dn.clone(),
            other_dn: other_dn.clone(),
            established: true,
        },
    );
    vec![
        Message::EventDialing {
            reference_id: rid,
            this_dn: this_dn.clone(),
            conn_id: conn_id.clone(),
            other_dn: other_dn.clone(),
        },
        Message::EventEstablished {
            reference_id: None,
            this_dn,
            conn_id,
            other_dn: Some(other_dn),
        },
    ]
}

/// EventError for a ConnID that is not a call on the DN.
fn no_call(rid: i64, conn_id: &str, dn: &str) -> Vec<Message> {
    vec![Message::error(
        rid,
        error_code::PRECONDITION_FAILED,
        format!("no call {conn_id} on dn {dn}"),
    )]
}

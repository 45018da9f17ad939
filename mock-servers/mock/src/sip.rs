//! SIP Server requests: DN registration, agent login / state / logout, answering, releasing and
//! making calls, plus call delivery from the control API (local or through the peer site).

use crate::sip_calls;
use crate::state::{mirror, AgentSlot, Call, Instance, Outbound, State};
use crate::sync_msg::SyncMsg;
use bc_protocol::{error_code, AgentState, EventKind, Message};
use std::sync::Arc;

/// EventError for a required attribute left empty.
pub(crate) fn bad(rid: i64, what: &str) -> Vec<Message> {
    vec![Message::error(
        rid,
        error_code::INVALID_ATTRIBUTE,
        format!("{what} must not be empty"),
    )]
}

/// The answer to any login while the instance rejects logins (`POST /reject-logins`).
pub(crate) fn login_rejected(rid: i64) -> Vec<Message> {
    vec![Message::error(
        rid,
        error_code::LOGIN_REJECTED,
        "login rejected",
    )]
}

/// The refusal of a DN on another group's switch: a SIP Server of group `g` (`--group`) serves
/// only the DNs the configuration database puts on group `g`, so a desktop that logs in to the
/// wrong group of four is told so instead of being served by a switch that does not own its DN.
fn other_group(inst: &Arc<Instance>, st: &State, rid: i64, dn: &str) -> Option<Vec<Message>> {
    let mine = inst.opts.group?;
    let theirs = st.db.dn_group(dn)?;
    (theirs != mine).then(|| {
        vec![Message::error(
            rid,
            error_code::CONFLICT,
            format!("DN {dn} belongs to the switch of SIP Server group {theirs}, not {mine}"),
        )]
    })
}

/// Handles a SIP request from a registered client of an active instance.
pub fn handle(inst: &Arc<Instance>, st: &mut State, conn: u64, msg: Message) -> Vec<Message> {
    use Message::*;
    match msg {
        RequestRegisterAddress {
            reference_id: rid,
            this_dn,
        } => register_address(inst, st, conn, rid, this_dn),
        RequestUnregisterAddress {
            reference_id: rid,
            this_dn,
        } => unregister_address(inst, st, conn, rid, this_dn),
        RequestAgentLogin {
            reference_id: rid,
            this_dn,
            agent_id,
        } => agent_login(inst, st, conn, rid, this_dn, agent_id),
        RequestAgentReady {
            reference_id: rid,
            this_dn,
            agent_id,
        } => set_state(inst, st, conn, rid, this_dn, agent_id, AgentState::Ready),
        RequestAgentNotReady {
            reference_id: rid,
            this_dn,
            agent_id,
        } => set_state(inst, st, conn, rid, this_dn, agent_id, AgentState::NotReady),
        RequestAgentLogout {
            reference_id: rid,
            this_dn,
            agent_id,
        } => agent_logout(inst, st, conn, rid, this_dn, agent_id),
        RequestAnswerCall {
            reference_id: rid,
            this_dn,
            conn_id,
        } => sip_calls::answer_call(inst, st, conn, rid, this_dn, conn_id),
        RequestReleaseCall {
            reference_id: rid,
            this_dn,
            conn_id,
        } => sip_calls::release_call(inst, st, conn, rid, this_dn, conn_id),
        RequestMakeCall {
            reference_id: rid,
            this_dn,
            other_dn,
        } => sip_calls::make_call(inst, st, conn, rid, this_dn, other_dn),
        other => vec![Message::error(
            other.reference_id().unwrap_or(0),
            error_code::UNKNOWN_MESSAGE,
            format!("{} is not served by a sip_server", other.name()),
        )],
    }
}

/// RequestRegisterAddress: records the DN on the connection and answers EventRegistered with the
/// agent logged in on it, if any (refused while logins are rejected).
fn register_address(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
) -> Vec<Message> {
    if st.reject_logins {
        return login_rejected(rid);
    }
    if this_dn.is_empty() {
        return bad(rid, "ThisDN");
    }
    if let Some(refused) = other_group(inst, st, rid, &this_dn) {
        return refused;
    }
    if let Some(c) = st.conns.get_mut(&conn) {
        c.dns.insert(this_dn.clone());
    }
    // A mirrored (ownerless) agent is adopted by the first connection registering its DN,
    // so that this connection closing logs it out like any other.
    let mut adopted = false;
    let agent = st.agents.get_mut(&this_dn).map(|a| {
        if a.owner.is_none() {
            a.owner = Some(conn);
            adopted = true;
        }
        (a.agent_id.clone(), a.state)
    });
    if adopted {
        if let Some(c) = st.conns.get_mut(&conn) {
            c.owned.insert(this_dn.clone());
        }
    }
    inst.emit(
        Some(conn),
        EventKind::DnRegistered {
            dn: this_dn.clone(),
            agent_id: agent.as_ref().map(|a| a.0.clone()),
            agent_state: agent.as_ref().map(|a| a.1),
        },
    );
    vec![Message::EventRegistered {
        reference_id: rid,
        this_dn,
        agent_id: agent.as_ref().map(|a| a.0.clone()),
        agent_state: agent.map(|a| a.1),
    }]
}

/// RequestUnregisterAddress: forgets a DN this connection registered (an error if it did not).
fn unregister_address(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
) -> Vec<Message> {
    let removed = st
        .conns
        .get_mut(&conn)
        .map(|c| c.dns.remove(&this_dn))
        .unwrap_or(false);
    if !removed {
        return vec![Message::error(
            rid,
            error_code::PRECONDITION_FAILED,
            format!("dn {this_dn} is not registered on this connection"),
        )];
    }
    inst.emit(
        Some(conn),
        EventKind::DnUnregistered {
            dn: this_dn.clone(),
        },
    );
    vec![Message::EventUnregistered {
        reference_id: rid,
        this_dn,
    }]
}

/// RequestAgentLogin: logs the agent in on the DN (NotReady) and mirrors it to the peer; refused
/// while logins are rejected, when an agent (this one too) is logged in on the DN, or this agent
/// on another DN.
fn agent_login(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
    agent_id: String,
) -> Vec<Message> {
    if st.reject_logins {
        return login_rejected(rid);
    }
    if this_dn.is_empty() {
        return bad(rid, "ThisDN");
    }
    if agent_id.is_empty() {
        return bad(rid, "AgentID");
    }
    if let Some(a) = st.agents.get(&this_dn) {
        // A second login of an agent already logged in is refused, as a SIP Server refuses it:
        // after an HA failover the backup reports the agent on the DN (EventRegistered) and a
        // desktop must resume that login, not log in again.
        let who = if a.agent_id == agent_id {
            format!("agent {agent_id} is already logged in on dn {this_dn}")
        } else {
            format!("agent {} is logged in on dn {this_dn}", a.agent_id)
        };
        return vec![Message::error(rid, error_code::CONFLICT, who)];
    } else if let Some(dn) = st.agents.dn_of(&agent_id) {
        return vec![Message::error(
            rid,
            error_code::CONFLICT,
            format!("agent {agent_id} is logged in on dn {dn}"),
        )];
    }
    let state = AgentState::NotReady;
    st.agents.insert(
        this_dn.clone(),
        AgentSlot {
            agent_id: agent_id.clone(),
            state,
            owner: Some(conn),
        },
    );
    if let Some(c) = st.conns.get_mut(&conn) {
        c.owned.insert(this_dn.clone());
    }
    inst.emit(
        Some(conn),
        EventKind::AgentLogin {
            dn: this_dn.clone(),
            agent_id: agent_id.clone(),
            state,
        },
    );
    mirror(
        st,
        SyncMsg::Upsert {
            dn: this_dn.clone(),
            agent_id: agent_id.clone(),
            state,
        },
    );
    vec![Message::EventAgentLogin {
        reference_id: rid,
        this_dn,
        agent_id,
        agent_state: state,
    }]
}

/// RequestAgentLogout: logs the agent out of the DN and mirrors the removal to the peer.
fn agent_logout(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
    agent_id: String,
) -> Vec<Message> {
    if let Err(e) = check_agent(st, rid, &this_dn, &agent_id) {
        return e;
    }
    st.agents.remove(&this_dn);
    inst.emit(
        Some(conn),
        EventKind::AgentLogout {
            dn: this_dn.clone(),
            agent_id: agent_id.clone(),
            reason: "request".into(),
        },
    );
    mirror(
        st,
        SyncMsg::Remove {
            dn: this_dn.clone(),
        },
    );
    vec![Message::EventAgentLogout {
        reference_id: Some(rid),
        this_dn,
        agent_id,
    }]
}

fn check_agent(st: &State, rid: i64, dn: &str, agent_id: &str) -> Result<(), Vec<Message>> {
    match st.agents.get(dn) {
        Some(a) if a.agent_id == agent_id => Ok(()),
        _ => Err(vec![Message::error(
            rid,
            error_code::PRECONDITION_FAILED,
            format!("agent {agent_id} is not logged in on dn {dn}"),
        )]),
    }
}

fn set_state(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    this_dn: String,
    agent_id: String,
    state: AgentState,
) -> Vec<Message> {
    if let Err(e) = check_agent(st, rid, &this_dn, &agent_id) {
        return e;
    }
    if let Some(a) = st.agents.get_mut(&this_dn) {
        a.state = state;
    }
    inst.emit(
        Some(conn),
        EventKind::AgentStateChanged {
            dn: this_dn.clone(),
            agent_id: agent_id.clone(),
            state,
        },
    );
    mirror(
        st,
        SyncMsg::Upsert {
            dn: this_dn.clone(),
            agent_id: agent_id.clone(),
            state,
        },
    );
    if state == AgentState::Ready {
        vec![Message::EventAgentReady {
            reference_id: rid,
            this_dn,
            agent_id,
        }]
    } else {
        vec![Message::EventAgentNotReady {
            reference_id: rid,
            this_dn,
            agent_id,
        }]
    }
}

/// A new ConnID, unique across the instances of a run (site, slot, sequence).
pub(crate) fn new_conn_id(inst: &Instance, st: &mut State) -> String {
    let n = st.next_call;
    st.next_call += 1;
    // Unique across instances of a run: site, slot, sequence.
    let slot = match inst.opts.role {
        bc_protocol::Role::Primary => 'P',
        bc_protocol::Role::Backup => 'B',
    };
    format!("{}{}{:014}", inst.opts.site, slot, n)
}

/// Offers a call on a DN if an agent is logged in on it here, Ready (and this instance is active):
/// EventRinging goes to every connection that registered the DN. Returns the ConnID. Only a Ready
/// agent, because the calls delivered are routed calls, and routing offers a call to an agent
/// only when it is Ready: a desktop that logs in and never makes its agent Ready takes no call.
pub fn deliver_local(
    inst: &Arc<Instance>,
    dn: &str,
    other_dn: &str,
    call_type: &str,
) -> Option<String> {
    let mut st = inst.lock();
    if !st.active || st.agents.get(dn).map(|a| a.state) != Some(AgentState::Ready) {
        return None;
    }
    let conn_id = new_conn_id(inst, &mut st);
    st.calls.insert(
        conn_id.clone(),
        Call {
            dn: dn.to_string(),
            other_dn: other_dn.to_string(),
            established: false,
        },
    );
    inst.emit(
        None,
        EventKind::CallRinging {
            dn: dn.to_string(),
            conn_id: conn_id.clone(),
            other_dn: other_dn.to_string(),
            call_type: call_type.to_string(),
        },
    );
    for c in st.conns.values().filter(|c| c.dns.contains(dn)) {
        let _ = c.tx.send(Outbound::Msg(Box::new(Message::EventRinging {
            this_dn: dn.to_string(),
            conn_id: conn_id.clone(),
            other_dn: other_dn.to_string(),
            call_type: call_type.to_string(),
        })));
    }
    Some(conn_id)
}

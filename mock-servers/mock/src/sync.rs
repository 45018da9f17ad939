//! Hot-standby sync link between the two SIP Servers of an HA pair: the active one connects to the
//! partner's --sync-listen and streams JSON lines (a snapshot, then deltas); the standby applies them.

use crate::state::{AgentSlot, Instance};
use crate::sync_msg::{MirroredAgent, SyncMsg};
use bc_protocol::{AgentState, EventKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Active side: keeps a link to the partner's sync listener while running; reconnects every 200 ms.
pub async fn run_sender(inst: Arc<Instance>, addr: String) {
    loop {
        if inst.stopping.is_cancelled() {
            return;
        }
        let stream = tokio::select! {
            _ = inst.stopping.cancelled() => return,
            r = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(&addr)) => r,
        };
        if let Ok(Ok(stream)) = stream {
            let _ = stream.set_nodelay(true);
            serve_link(&inst, stream).await;
            inst.lock().sync_tx = None;
        }
        tokio::select! {
            _ = inst.stopping.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

async fn serve_link(inst: &Arc<Instance>, stream: TcpStream) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Snapshot and installing the delta channel happen under one lock, so no delta is lost or doubled.
    let snapshot = {
        let mut st = inst.lock();
        st.sync_tx = Some(tx);
        let mut agents: Vec<MirroredAgent> = st
            .agents
            .iter()
            .map(|(dn, a)| MirroredAgent {
                dn: dn.clone(),
                agent_id: a.agent_id.clone(),
                state: a.state,
            })
            .collect();
        agents.sort_by(|a, b| a.dn.cmp(&b.dn));
        let bindings = st.sip_bindings.mirrored(std::time::Instant::now());
        if st.active {
            Some(SyncMsg::Snapshot { agents, bindings })
        } else {
            None
        }
    };
    let mut out = Vec::new();
    if let Some(s) = snapshot {
        line(&mut out, &s);
    }
    let mut scratch = [0u8; 256];
    loop {
        if !out.is_empty() {
            if wr.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => {
                    line(&mut out, &m);
                    while let Ok(m) = rx.try_recv() {
                        line(&mut out, &m);
                    }
                }
                None => return,
            },
            // The partner never writes; a read ending means the link is gone.
            r = rd.read(&mut scratch) => if matches!(r, Ok(0) | Err(_)) { return },
            _ = inst.finished.cancelled() => {
                // Flush what the shutdown logged out before leaving.
                while let Ok(m) = rx.try_recv() {
                    line(&mut out, &m);
                }
                let _ = wr.write_all(&out).await;
                return;
            }
        }
    }
}

fn line(out: &mut Vec<u8>, m: &SyncMsg) {
    if serde_json::to_writer(&mut *out, m).is_ok() {
        out.push(b'\n');
    }
}

/// Standby side: accepts sync links and applies what arrives while this instance is not active.
pub async fn run_listener(inst: Arc<Instance>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = inst.stopping.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let inst = inst.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            tracing::info!(%peer, "sync link up");
            while let Ok(Some(l)) = lines.next_line().await {
                match serde_json::from_str::<SyncMsg>(&l) {
                    Ok(m) => apply(&inst, m),
                    Err(e) => tracing::warn!(error = %e, "bad sync line"),
                }
            }
            tracing::info!(%peer, "sync link down");
        });
    }
}

/// Applies one sync message to the mirror (ignored while active: the active side owns the truth).
pub fn apply(inst: &Instance, m: SyncMsg) {
    let mut st = inst.lock();
    if st.active {
        return;
    }
    let mut changed: Vec<(String, Option<(String, AgentState)>)> = Vec::new();
    match m {
        SyncMsg::Snapshot { agents, bindings } => {
            let now = std::time::Instant::now();
            st.sip_bindings.clear();
            for b in bindings {
                inst.emit(None, mirrored_event(&b.aor, &b.contact, true));
                st.sip_bindings.apply(b, now);
            }
            let keep: std::collections::HashSet<&str> =
                agents.iter().map(|a| a.dn.as_str()).collect();
            for dn in st.agents.keys() {
                if !keep.contains(dn.as_str()) {
                    changed.push((dn.clone(), None));
                }
            }
            st.agents.clear();
            for a in agents {
                changed.push((a.dn.clone(), Some((a.agent_id.clone(), a.state))));
                st.agents.insert(
                    a.dn,
                    AgentSlot {
                        agent_id: a.agent_id,
                        state: a.state,
                        owner: None,
                    },
                );
            }
        }
        SyncMsg::Upsert {
            dn,
            agent_id,
            state,
        } => {
            st.agents.insert(
                dn.clone(),
                AgentSlot {
                    agent_id: agent_id.clone(),
                    state,
                    owner: None,
                },
            );
            changed.push((dn, Some((agent_id, state))));
        }
        SyncMsg::Remove { dn } => {
            if st.agents.remove(&dn).is_some() {
                changed.push((dn, None));
            }
        }
        SyncMsg::BindingUpsert(b) => {
            inst.emit(None, mirrored_event(&b.aor, &b.contact, true));
            st.sip_bindings.apply(b, std::time::Instant::now());
        }
        SyncMsg::BindingRemove { aor, contact } => {
            st.sip_bindings.remove(&aor, Some(&contact));
            inst.emit(None, mirrored_event(&aor, &contact, false));
        }
    }
    for (dn, a) in changed {
        let (agent_id, state) = match a {
            Some((id, s)) => (Some(id), Some(s)),
            None => (None, None),
        };
        inst.emit(
            None,
            EventKind::AgentMirrored {
                dn,
                agent_id,
                state,
            },
        );
    }
}

fn mirrored_event(aor: &str, contact: &str, present: bool) -> EventKind {
    EventKind::SipBindingMirrored {
        aor: aor.to_string(),
        contact: contact.to_string(),
        present,
    }
}

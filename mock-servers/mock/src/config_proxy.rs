//! Configuration Server Proxy requests (object reads in batches) and the pushed object updates
//! the control API triggers.

use crate::configdb::DbError;
use crate::state::{Instance, Outbound, State};
use bc_protocol::{error_code, CfgObject, EventKind, Message, ObjectType};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Objects per EventObjectsRead.
pub const BATCH: usize = 100;

/// Handles a CS Proxy request from a registered client of an active instance.
pub fn handle(inst: &Arc<Instance>, st: &mut State, conn: u64, msg: Message) -> Vec<Message> {
    match msg {
        Message::RequestReadObjects {
            reference_id,
            object_type,
            filter,
        } => {
            let objects = st.db.read(object_type, &filter);
            inst.emit(
                Some(conn),
                EventKind::ObjectsRead {
                    object_type,
                    count: objects.len(),
                },
            );
            let mut out: Vec<Message> = objects
                .chunks(BATCH)
                .map(|c| Message::EventObjectsRead {
                    reference_id,
                    object_type,
                    objects: c.to_vec(),
                })
                .collect();
            if out.is_empty() {
                // Always at least one EventObjectsRead, so a client has one code path.
                out.push(Message::EventObjectsRead {
                    reference_id,
                    object_type,
                    objects: vec![],
                });
            }
            out.push(Message::EventObjectsSent { reference_id });
            out
        }
        other => vec![Message::error(
            other.reference_id().unwrap_or(0),
            error_code::UNKNOWN_MESSAGE,
            format!("{} is not served by a config_server", other.name()),
        )],
    }
}

/// Merges an annex patch into an object and pushes EventObjectUpdated to every registered client.
pub fn update_object(
    inst: &Arc<Instance>,
    object_type: ObjectType,
    dbid: i64,
    annex: &BTreeMap<String, BTreeMap<String, Option<String>>>,
) -> Result<CfgObject, DbError> {
    let mut st = inst.lock();
    let obj = st.db.update_annex(object_type, dbid, annex)?;
    inst.emit(None, EventKind::ConfigUpdated { object_type, dbid });
    for c in st.conns.values().filter(|c| c.registered) {
        let _ =
            c.tx.send(Outbound::Msg(Box::new(Message::EventObjectUpdated {
                object_type,
                object: obj.clone(),
            })));
    }
    Ok(obj)
}

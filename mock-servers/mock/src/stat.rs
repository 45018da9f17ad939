//! Stat Server requests: open a statistic (answered, then reported periodically or on change)
//! and close it. Periodic reports run in a small task per statistic that stops when it is closed.

use crate::state::{Instance, Outbound, State};
use bc_protocol::{error_code, EventKind, Message, NotificationMode};
use std::sync::Arc;
use std::time::Duration;

/// Handles a Stat Server request from a registered client of an active instance.
pub fn handle(inst: &Arc<Instance>, st: &mut State, conn: u64, msg: Message) -> Vec<Message> {
    match msg {
        Message::RequestOpenStatistic {
            reference_id: rid,
            statistic_id,
            object: _,
            statistic_type,
            notification,
        } => {
            let period = match (notification.mode, notification.frequency) {
                (NotificationMode::Periodical, Some(f)) if f > 0 => {
                    Some(Duration::from_secs(f.into()))
                }
                (NotificationMode::Periodical, _) => {
                    return vec![Message::error(
                        rid,
                        error_code::INVALID_ATTRIBUTE,
                        "Periodical notification needs Frequency >= 1 (seconds)",
                    )]
                }
                (NotificationMode::Changes, _) => None,
            };
            let generation = st.next_stat_gen;
            st.next_stat_gen += 1;
            let Some(c) = st.conns.get_mut(&conn) else {
                return vec![];
            };
            if c.stats.contains_key(&statistic_id) {
                return vec![Message::error(
                    rid,
                    error_code::CONFLICT,
                    format!("statistic {statistic_id} is already open"),
                )];
            }
            c.stats.insert(statistic_id, generation);
            inst.emit(
                Some(conn),
                EventKind::StatisticOpened {
                    statistic_id,
                    statistic_type,
                },
            );
            if let Some(period) = period {
                tokio::spawn(report(inst.clone(), conn, statistic_id, generation, period));
            }
            vec![
                Message::EventStatisticOpened {
                    reference_id: rid,
                    statistic_id,
                },
                Message::EventInfo {
                    statistic_id,
                    value: serde_json::json!(0),
                },
            ]
        }
        Message::RequestCloseStatistic {
            reference_id: rid,
            statistic_id,
        } => {
            let removed = st
                .conns
                .get_mut(&conn)
                .and_then(|c| c.stats.remove(&statistic_id));
            if removed.is_none() {
                return vec![Message::error(
                    rid,
                    error_code::PRECONDITION_FAILED,
                    format!("statistic {statistic_id} is not open"),
                )];
            }
            inst.emit(Some(conn), EventKind::StatisticClosed { statistic_id });
            vec![Message::EventStatisticClosed {
                reference_id: rid,
                statistic_id,
            }]
        }
        other => vec![Message::error(
            other.reference_id().unwrap_or(0),
            error_code::UNKNOWN_MESSAGE,
            format!("{} is not served by a stat_server", other.name()),
        )],
    }
}

/// Sends EventInfo every `period` while the statistic (this generation) is open on the connection.
async fn report(inst: Arc<Instance>, conn: u64, id: i64, generation: u64, period: Duration) {
    let mut n: u64 = 0;
    loop {
        tokio::time::sleep(period).await;
        n += 1;
        let st = inst.lock();
        let Some(c) = st.conns.get(&conn) else { return };
        if c.stats.get(&id) != Some(&generation) {
            return;
        }
        if c.tx
            .send(Outbound::Msg(Box::new(Message::EventInfo {
                statistic_id: id,
                value: serde_json::json!(n),
            })))
            .is_err()
        {
            return;
        }
    }
}

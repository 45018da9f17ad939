//! One client connection: line framing (64 KiB limit), decoding, dispatch, pushes from other tasks,
//! server keep-alive (Ping, client timeout), holds (`crate::holds`) and the close sequences. One
//! tokio task per connection.

use crate::dispatch;
use crate::holds::{Keep, Point};
use crate::state::{Instance, Outbound};
use bc_protocol::{decode_line, error_code, DisconnectHow, EventKind, Message, MAX_LINE_BYTES};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

enum End {
    /// Closed by the client or an I/O error; agents are logged out.
    Client(DisconnectHow),
    /// Closed by the server after protocol trouble; agents are logged out.
    Server,
    /// Closed by demotion or reset; its agents were already logged out (demotion) or cleared (reset).
    Quiet,
    /// Graceful shutdown done (agents already logged out).
    Shutdown,
    /// Keep-alive gave up.
    Timeout,
}

fn how_of(e: &std::io::Error) -> DisconnectHow {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | BrokenPipe | ConnectionAborted => DisconnectHow::Rst,
        _ => DisconnectHow::Rst,
    }
}

/// Appends a message as a line to the write buffer, recording errors sent.
fn push(inst: &Instance, conn: u64, out: &mut Vec<u8>, m: &Message) {
    if let Message::EventError {
        reference_id,
        error_code,
        error_message,
    } = m
    {
        inst.emit(
            Some(conn),
            EventKind::ErrorSent {
                code: *error_code,
                message: error_message.clone(),
                reference_id: Some(*reference_id).filter(|&r| r != 0),
            },
        );
    }
    if let Message::Ping { seq } = m {
        inst.emit(
            Some(conn),
            EventKind::Ping {
                seq: *seq,
                inbound: false,
            },
        );
    }
    // Serialising our own message types cannot fail.
    if serde_json::to_writer(&mut *out, m).is_ok() {
        out.push(b'\n');
    }
}

/// Serves one accepted connection until it ends.
pub async fn serve(inst: Arc<Instance>, stream: TcpStream) {
    let Some((id, mut rx)) = admit(&inst, &stream).await else {
        return;
    };
    let (mut rd, mut wr) = stream.into_split();
    let mut pending: Vec<Message> = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut out: Vec<u8> = Vec::with_capacity(256);
    let ping_every = inst.opts.ping_interval;
    let timeout = inst.opts.client_timeout;
    let far = Instant::now() + std::time::Duration::from_secs(86_400 * 365);
    let mut next_ping = ping_every.map(|d| Instant::now() + d).unwrap_or(far);
    let mut deadline = timeout.map(|d| Instant::now() + d).unwrap_or(far);
    let mut ping_seq: i64 = 0;
    let write_limit = timeout.unwrap_or(std::time::Duration::from_secs(10));

    let end = 'conn: loop {
        out.clear();
        tokio::select! {
            biased;
            cmd = rx.recv() => match cmd {
                Some(Outbound::Msg(m)) => pending.push(*m),
                Some(Outbound::Close) | None => break 'conn End::Quiet,
                Some(Outbound::Shutdown) => {
                    say_goodbye(&inst, id, &mut out, &mut wr, write_limit).await;
                    break 'conn End::Shutdown;
                }
            },
            r = rd.read_buf(&mut buf) => {
                match r {
                    Ok(0) => break 'conn End::Client(DisconnectHow::Fin),
                    Err(e) => break 'conn End::Client(how_of(&e)),
                    Ok(_) => {}
                }
                let input = on_input(&inst, id, &mut buf, &mut pending, &mut out, &mut wr, write_limit);
                match input.await {
                    Err(e) => break 'conn e,
                    Ok(true) => {
                        if let Some(d) = timeout {
                            deadline = Instant::now() + d;
                        }
                    }
                    Ok(false) => {}
                }
            },
            _ = tokio::time::sleep_until(next_ping), if ping_every.is_some() => {
                ping_seq += 1;
                pending.push(Message::Ping { seq: ping_seq });
                next_ping = Instant::now() + ping_every.unwrap_or_default();
            },
            _ = tokio::time::sleep_until(deadline), if timeout.is_some() => break 'conn End::Timeout,
        }
        if let Err(e) = flush(&inst, id, &mut pending, &mut out, &mut wr, write_limit).await {
            break 'conn e;
        }
    };
    close(&inst, id, end, &mut rd, &mut wr).await;
    // Nothing can be kept once the connection has ended: such holds only report.
    let _ = inst.holds.check(Point::Disconnect, None, id);
}

/// Registers an accepted connection and decides whether it is served at all: one refused for
/// capacity, or dropped by a hold at connect, is closed before a word is exchanged (`None`).
/// Returns its id and the receiver of what other tasks push to it.
async fn admit(
    inst: &Arc<Instance>,
    stream: &TcpStream,
) -> Option<(u64, mpsc::UnboundedReceiver<Outbound>)> {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let (tx, rx) = mpsc::unbounded_channel();
    let id = inst.add_conn(peer, tx);
    if inst.lock().shutting_down {
        // Accepted during shutdown: say goodbye at once.
        let _ = tx_self(inst, id);
    }
    let refused = {
        let st = inst.lock();
        crate::capacity::turn_away(inst, &st, id, crate::capacity::OverloadAnswer::Refuse, None)
    };
    if refused.is_some() {
        // Refused for capacity: closed before a word is exchanged.
        inst.remove_conn(id, DisconnectHow::ServerClosed, true);
        return None;
    }
    if let Some(g) = inst.holds.check(Point::Connect, None, id) {
        if inst.holds.wait_gate(g).await {
            // Dropped: the connection closes without ever being served.
            inst.remove_conn(id, DisconnectHow::ServerClosed, true);
            return None;
        }
    }
    Some((id, rx))
}

/// Graceful shutdown of the connection: its agents' logouts and EventLinkDisconnected are written
/// (bounded by the write limit; the connection closes whatever happens).
async fn say_goodbye(
    inst: &Instance,
    id: u64,
    out: &mut Vec<u8>,
    wr: &mut OwnedWriteHalf,
    write_limit: std::time::Duration,
) {
    for m in inst.shutdown_conn_agents(id) {
        push(inst, id, out, &m);
    }
    push(
        inst,
        id,
        out,
        &Message::EventLinkDisconnected {
            reason: Some("server shutting down".into()),
        },
    );
    let _ = tokio::time::timeout(write_limit, wr.write_all(out)).await;
}

/// Handles what a read added to `buf`: each complete line is decoded and dispatched (a held one
/// waits for its release, what came before it written first) and the consumed bytes are dropped.
/// `Ok(true)` when a whole line arrived (the client is alive); `Err` ends the connection: a line
/// over the limit (its EventError written first) or a failed write.
async fn on_input(
    inst: &Arc<Instance>,
    id: u64,
    buf: &mut Vec<u8>,
    pending: &mut Vec<Message>,
    out: &mut Vec<u8>,
    wr: &mut OwnedWriteHalf,
    write_limit: std::time::Duration,
) -> Result<bool, End> {
    let mut start = 0;
    let mut got_line = false;
    while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
        let line = &buf[start..start + pos];
        start += pos + 1;
        got_line = true;
        if line.len() > MAX_LINE_BYTES {
            push(inst, id, out, &too_long(line.len()));
            let _ = tokio::time::timeout(write_limit, wr.write_all(out)).await;
            return Err(End::Server);
        }
        let m = match decode(line) {
            Ok(m) => m,
            Err(reply) => {
                pending.extend(reply);
                continue;
            }
        };
        let gate = inst.holds.check(Point::FromClient, Some(m.name()), id);
        let Some(g) = gate else {
            pending.extend(dispatch::handle(inst, id, m));
            continue;
        };
        // Held: what came before goes out first, then this waits for the release.
        let replies = (g.keep == Keep::Reply).then(|| dispatch::handle(inst, id, m.clone()));
        flush(inst, id, pending, out, wr, write_limit).await?;
        let dropped = inst.holds.wait_gate(g).await;
        match (replies, dropped) {
            (_, true) => {}
            (Some(r), false) => pending.extend(r),
            (None, false) => pending.extend(dispatch::handle(inst, id, m)),
        }
    }
    buf.drain(..start);
    if buf.len() > MAX_LINE_BYTES {
        push(inst, id, out, &too_long(buf.len()));
        let _ = tokio::time::timeout(write_limit, wr.write_all(out)).await;
        return Err(End::Server);
    }
    if buf.capacity() > 4096 && buf.len() < 512 {
        // A big line has passed: give its memory back.
        buf.shrink_to(512);
    }
    Ok(got_line)
}

/// Writes the pending messages; a message a hold keeps waits (everything before it written first)
/// until released, or is dropped.
async fn flush(
    inst: &Instance,
    id: u64,
    pending: &mut Vec<Message>,
    out: &mut Vec<u8>,
    wr: &mut OwnedWriteHalf,
    limit: std::time::Duration,
) -> Result<(), End> {
    for m in std::mem::take(pending) {
        if let Some(g) = inst.holds.check(Point::ToClient, Some(m.name()), id) {
            write(out, wr, limit).await?;
            if inst.holds.wait_gate(g).await {
                continue;
            }
        }
        push(inst, id, out, &m);
    }
    write(out, wr, limit).await
}

/// Writes and clears `out`. A client that stops reading must not pin the task forever (commands
/// and the keep-alive would never run): give up on it after the write limit.
async fn write(
    out: &mut Vec<u8>,
    wr: &mut OwnedWriteHalf,
    limit: std::time::Duration,
) -> Result<(), End> {
    if out.is_empty() {
        return Ok(());
    }
    let r = match tokio::time::timeout(limit, wr.write_all(out)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Client(DisconnectHow::Rst)),
        Err(_) => Err(End::Timeout),
    };
    out.clear();
    r
}

/// The close sequence of each way a connection ends.
async fn close(
    inst: &Instance,
    id: u64,
    end: End,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
) {
    match end {
        End::Client(how) => inst.remove_conn(id, how, true),
        End::Server => {
            let _ = wr.shutdown().await;
            inst.remove_conn(id, DisconnectHow::ServerClosed, true);
            // Read away what the client is still sending (bounded) so that closing does not turn
            // into a RST that could destroy the EventError before the client reads it.
            let drain = async {
                let mut scratch = vec![0u8; 16 * 1024];
                let mut left: usize = 4 * 1024 * 1024;
                while left > 0 {
                    match rd.read(&mut scratch).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), drain).await;
        }
        End::Timeout => {
            let _ = wr.shutdown().await;
            inst.remove_conn(id, DisconnectHow::Timeout, true)
        }
        End::Quiet => {
            let _ = wr.shutdown().await;
            inst.remove_conn(id, DisconnectHow::ServerClosed, true)
        }
        End::Shutdown => {
            let _ = wr.shutdown().await;
            inst.remove_conn(id, DisconnectHow::ServerClosed, true)
        }
    }
}

fn tx_self(inst: &Instance, id: u64) -> Option<()> {
    let st = inst.lock();
    st.conns.get(&id)?.tx.send(Outbound::Shutdown).ok()
}

fn too_long(n: usize) -> Message {
    Message::error(
        0,
        error_code::LINE_TOO_LONG,
        format!("line of {n} bytes exceeds {MAX_LINE_BYTES} bytes; closing the connection"),
    )
}

/// Decodes one line (without its `\n`); bad lines get an EventError (`Err`) and the link stays up.
fn decode(line: &[u8]) -> Result<Message, Vec<Message>> {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            return Err(vec![Message::error(
                0,
                error_code::MALFORMED,
                format!("line is not valid utf-8: {e}"),
            )])
        }
    };
    if text.trim().is_empty() {
        // Blank lines (e.g. a stray Enter in nc) are ignored.
        return Err(vec![]);
    }
    decode_line(text).map_err(|e| {
        vec![Message::error(
            e.reference_id.unwrap_or(0),
            e.code,
            e.message,
        )]
    })
}

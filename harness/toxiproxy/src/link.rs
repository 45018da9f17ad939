//! One direction of one proxied connection: a reader, the toxic chain, a writer, in one task.
//! The chain follows the proxy's toxic list live; API changes never wait for this task.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use futures::stream::{FuturesUnordered, StreamExt};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collection::{ToxicCollection, ToxicEntry};
use crate::model::Stream;
use crate::toxics::{Chunk, Credit, Msg, Noop, Stub, Toxic, CREDIT_BYTES};

const READ_SIZE: usize = 256 * 1024;

/// What both directions of a connection share.
pub struct ConnShared {
    /// Kills the connection at once (proxy disabled or deleted, or a reset).
    pub kill: CancellationToken,
    /// Set when one direction has closed its destination: the other stops reading.
    pub closing: CancellationToken,
    /// Set before `kill` when the connection is reset: no FIN may precede the RST.
    pub reset: AtomicBool,
}

enum Outcome {
    Closed,
    Reset,
}

/// Runs one direction until it closes, resets, or the connection is killed.
pub async fn run_direction(
    src: OwnedReadHalf,
    mut dst: OwnedWriteHalf,
    stream: Stream,
    toxics: Arc<ToxicCollection>,
    conn: Arc<ConnShared>,
    seed: u64,
    client: Option<IpAddr>,
) {
    let credit = Arc::new(Semaphore::new(CREDIT_BYTES));
    let (head_tx, head_rx) = mpsc::unbounded_channel();
    let (tail_tx, tail_rx) = mpsc::unbounded_channel();
    let reader = read_loop(&src, head_tx, credit, &conn.closing);
    let chain = chain_loop(head_rx, tail_tx, stream, toxics, seed, client);
    let writer = write_loop(&mut dst, tail_rx);
    let outcome = tokio::select! {
        biased;
        _ = conn.kill.cancelled() => {
            if conn.reset.load(Ordering::SeqCst) {
                // Dropping a write half sends FIN; forgetting it leaves the close to the RST.
                dst.forget();
            }
            return;
        }
        o = writer => o,
        _ = async { tokio::join!(reader, chain) } => Outcome::Closed,
    };
    match outcome {
        Outcome::Closed => {
            let _ = dst.shutdown().await;
            conn.closing.cancel();
        }
        Outcome::Reset => {
            set_zero_linger(src.as_ref());
            set_zero_linger(dst.as_ref());
            conn.reset.store(true, Ordering::SeqCst);
            conn.kill.cancel();
            dst.forget();
        }
    }
}

fn set_zero_linger(s: &tokio::net::TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(std::time::Duration::ZERO));
}

async fn read_loop(
    src: &OwnedReadHalf,
    out: mpsc::UnboundedSender<Msg>,
    credit: Arc<Semaphore>,
    closing: &CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    loop {
        buf.reserve(READ_SIZE);
        let read = tokio::select! {
            biased;
            _ = closing.cancelled() => Ok(0),
            r = read_some(src, &mut buf) => r,
        };
        let n = match read {
            Ok(n) if n > 0 => n,
            _ => {
                let _ = out.send(Msg::Close(Instant::now()));
                return;
            }
        };
        let ts = Instant::now();
        let permits = tokio::select! {
            biased;
            _ = closing.cancelled() => None,
            p = credit.clone().acquire_many_owned(n.min(CREDIT_BYTES) as u32) => p.ok(),
        };
        let Some(permits) = permits else {
            let _ = out.send(Msg::Close(Instant::now()));
            return;
        };
        permits.forget();
        // A small read is copied out so the chunk does not pin a whole read buffer (credit
        // counts bytes, not capacity); a large one is handed over without a copy.
        let data = if n < READ_SIZE / 4 {
            let d = bytes::Bytes::copy_from_slice(&buf[..n]);
            buf.clear();
            d
        } else {
            buf.split().freeze()
        };
        let chunk = Chunk::new(data, ts, Credit::new(credit.clone(), n.min(CREDIT_BYTES)));
        if out.send(Msg::Data(chunk)).is_err() {
            return;
        }
    }
}

async fn read_some(src: &OwnedReadHalf, buf: &mut BytesMut) -> std::io::Result<usize> {
    loop {
        src.readable().await?;
        match src.try_read_buf(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn write_loop(dst: &mut OwnedWriteHalf, mut input: mpsc::UnboundedReceiver<Msg>) -> Outcome {
    while let Some(m) = input.recv().await {
        match m {
            Msg::Data(c) => {
                if dst.write_all(&c.data).await.is_err() {
                    return Outcome::Closed;
                }
            }
            Msg::Close(_) => return Outcome::Closed,
            Msg::Reset => return Outcome::Reset,
        }
    }
    Outcome::Closed
}

/// A toxic applied to this connection.
struct Stage {
    entry: Option<Arc<ToxicEntry>>, // None for the head noop
    active: bool,
    input_tx: mpsc::UnboundedSender<Msg>,
    stub: Option<Stub>,
    done: bool,
}

type StageFuture = Pin<Box<dyn Future<Output = (usize, Stub)> + Send>>;

fn run_stage(
    i: usize,
    entry: Option<Arc<ToxicEntry>>,
    active: bool,
    mut stub: Stub,
) -> StageFuture {
    Box::pin(async move {
        match (&entry, active) {
            (Some(e), true) => e.kind.pipe(&mut stub).await,
            _ => Noop {}.pipe(&mut stub).await,
        }
        (i, stub)
    })
}

fn roll(rng: &mut ChaCha8Rng, toxicity: f32) -> bool {
    rng.random::<f32>() < toxicity
}

/// Keeps the stages of this direction in step with the toxic list, forever.
async fn chain_loop(
    head_rx: mpsc::UnboundedReceiver<Msg>,
    tail_tx: mpsc::UnboundedSender<Msg>,
    stream: Stream,
    toxics: Arc<ToxicCollection>,
    seed: u64,
    client: Option<IpAddr>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut version = toxics.subscribe();
    // A permanent noop at the head gives the reader one fixed queue to write into.
    let head_stub = Stub::new(head_rx, tail_tx.clone(), ChaCha8Rng::seed_from_u64(0));
    let (dummy_tx, _) = mpsc::unbounded_channel();
    let mut stages = vec![Stage {
        entry: None,
        active: false,
        input_tx: dummy_tx,
        stub: Some(head_stub),
        done: false,
    }];
    loop {
        version.borrow_and_update();
        rebuild(
            &mut stages,
            toxics.chain(stream, client),
            &tail_tx,
            &mut rng,
        );
        let token = CancellationToken::new();
        let mut running: FuturesUnordered<StageFuture> = FuturesUnordered::new();
        for (i, st) in stages.iter_mut().enumerate() {
            if st.done {
                continue;
            }
            if let Some(mut stub) = st.stub.take() {
                stub.interrupt = token.clone();
                running.push(run_stage(i, st.entry.clone(), st.active, stub));
            }
        }
        loop {
            tokio::select! {
                r = version.changed() => {
                    if r.is_err() {
                        // The proxy is gone; its connections are being killed.
                        std::future::pending::<()>().await;
                    }
                    break;
                }
                Some((i, stub)) = running.next() => {
                    // Finished without an interrupt: the toxic closed the stream.
                    stages[i].done = true;
                    stages[i].stub = Some(stub);
                }
            }
        }
        token.cancel();
        while let Some((i, stub)) = running.next().await {
            stages[i].done = stub.is_closed();
            stages[i].stub = Some(stub);
        }
    }
}

/// Rewires parked stages to follow `chain`: removed toxics hand their queued messages to the
/// next stage, updated ones restart, new ones join at the end (Toxiproxy's chain semantics).
fn rebuild(
    stages: &mut Vec<Stage>,
    chain: Vec<Arc<ToxicEntry>>,
    tail_tx: &mpsc::UnboundedSender<Msg>,
    rng: &mut ChaCha8Rng,
) {
    let wanted: HashMap<u64, &Arc<ToxicEntry>> = chain.iter().map(|e| (e.id, e)).collect();
    // Right to left, so that messages move to the next surviving stage in stream order.
    let mut next_tx = tail_tx.clone();
    let mut kept_rev: Vec<Stage> = Vec::new();
    while stages.len() > 1 {
        let mut st = stages.pop().expect("len > 1");
        let id = st.entry.as_ref().map(|e| e.id).unwrap_or(0);
        if let Some(new) = wanted.get(&id) {
            let old = st.entry.as_ref().expect("non-head stage has an entry");
            if new.generation != old.generation {
                st.active = roll(rng, new.toxicity);
                if let Some(stub) = st.stub.as_mut() {
                    stub.started = Instant::now();
                }
                st.entry = Some((*new).clone());
            }
            next_tx = st.input_tx.clone();
            kept_rev.push(st);
            continue;
        }
        let Some(mut stub) = st.stub.take() else {
            continue;
        };
        let queued = stub.drain();
        let closes = st.active
            && !st.done
            && st
                .entry
                .as_ref()
                .is_some_and(|e| e.kind.closes_on_removal());
        if st.done {
            continue;
        }
        if closes {
            let _ = next_tx.send(Msg::Close(Instant::now()));
        } else {
            for m in queued {
                let _ = next_tx.send(m);
            }
        }
    }
    kept_rev.reverse();
    stages.extend(kept_rev);
    let known: std::collections::HashSet<u64> = stages
        .iter()
        .filter_map(|s| s.entry.as_ref().map(|e| e.id))
        .collect();
    for e in chain.iter().filter(|e| !known.contains(&e.id)) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stub = Stub::new(rx, tail_tx.clone(), ChaCha8Rng::seed_from_u64(rng.random()));
        stages.push(Stage {
            entry: Some(e.clone()),
            active: roll(rng, e.toxicity),
            input_tx: tx,
            stub: Some(stub),
            done: false,
        });
    }
    // Each stage writes into the next one's queue, the last into the writer's.
    for i in 0..stages.len() {
        let out = match stages.get(i + 1) {
            Some(next) => next.input_tx.clone(),
            None => tail_tx.clone(),
        };
        if let Some(stub) = stages[i].stub.as_mut() {
            stub.output = out;
        }
    }
}

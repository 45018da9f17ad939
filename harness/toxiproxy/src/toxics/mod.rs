//! The toxics: per-connection stream transformers, one small file each, Toxiproxy style.
//! A toxic implements [`Toxic::pipe`], reading messages from its [`Stub`] and writing them on.

mod bandwidth;
mod latency;
mod limit_data;
mod loss;
mod noop;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

pub use bandwidth::Bandwidth;
pub use latency::Latency;
pub use limit_data::LimitData;
pub use loss::Loss;
pub use noop::Noop;
pub use reset_peer::ResetPeer;
pub use slicer::Slicer;
pub use slow_close::SlowClose;
pub use timeout::Timeout;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bytes a direction may hold in flight inside the proxy before it stops reading (backpressure).
pub(crate) const CREDIT_BYTES: usize = 4 * 1024 * 1024;

/// Returns `n` bytes of credit to the reader of a direction when dropped.
#[derive(Debug)]
pub struct Credit {
    sem: Option<Arc<Semaphore>>,
    n: usize,
}

impl Credit {
    pub(crate) fn new(sem: Arc<Semaphore>, n: usize) -> Self {
        Credit { sem: Some(sem), n }
    }

    /// Credit without a semaphore (tests).
    pub fn none() -> Self {
        Credit { sem: None, n: 0 }
    }

    /// Moves `k` bytes of this credit into a new one (used when a chunk is split).
    fn split_off(&mut self, k: usize) -> Credit {
        let k = k.min(self.n);
        self.n -= k;
        Credit {
            sem: self.sem.clone(),
            n: k,
        }
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            if self.n > 0 {
                sem.add_permits(self.n);
            }
        }
    }
}

/// Bytes read from one side, with the instant they became available at this point of the chain.
#[derive(Debug)]
pub struct Chunk {
    pub data: Bytes,
    pub ts: Instant,
    credit: Credit,
}

impl Chunk {
    pub fn new(data: Bytes, ts: Instant, credit: Credit) -> Self {
        Chunk { data, ts, credit }
    }

    /// Splits off the first `at` bytes as a new chunk (same timestamp).
    pub fn split_to(&mut self, at: usize) -> Chunk {
        let at = at.min(self.data.len());
        let data = self.data.split_to(at);
        let credit = self.credit.split_off(at);
        Chunk {
            data,
            ts: self.ts,
            credit,
        }
    }

    /// Drops everything after the first `len` bytes (and returns their credit).
    pub fn truncate(&mut self, len: usize) {
        if len < self.data.len() {
            let cut = self.data.len() - len;
            self.data.truncate(len);
            drop(self.credit.split_off(cut));
        }
    }
}

/// What flows along a toxic chain.
#[derive(Debug)]
pub enum Msg {
    Data(Chunk),
    /// End of stream (the source closed, or a toxic closed it), with the instant it happened.
    Close(Instant),
    /// Tear the connection down with TCP RST.
    Reset,
}

/// The per-connection, per-toxic context a toxic pipes through (Toxiproxy's ToxicStub).
pub struct Stub {
    pub(crate) input: mpsc::UnboundedReceiver<Msg>,
    pub(crate) output: mpsc::UnboundedSender<Msg>,
    pub(crate) interrupt: CancellationToken,
    held: Option<Msg>,
    closed: bool,
    /// Randomness for this toxic on this connection (seeded from the server seed).
    pub rng: ChaCha8Rng,
    /// When the toxic started applying to this connection (reset on update).
    pub started: Instant,
    /// Bytes passed so far (state kept across interrupts, used by limit_data).
    pub transmitted: u64,
}

impl Stub {
    pub(crate) fn new(
        input: mpsc::UnboundedReceiver<Msg>,
        output: mpsc::UnboundedSender<Msg>,
        rng: ChaCha8Rng,
    ) -> Self {
        Stub {
            input,
            output,
            interrupt: CancellationToken::new(),
            held: None,
            closed: false,
            rng,
            started: Instant::now(),
            transmitted: 0,
        }
    }

    /// Next message, or `None` when the toxic is interrupted (it must then return promptly).
    pub async fn recv(&mut self) -> Option<Msg> {
        if self.interrupt.is_cancelled() {
            return None;
        }
        if let Some(m) = self.held.take() {
            return Some(m);
        }
        tokio::select! {
            biased;
            _ = self.interrupt.cancelled() => None,
            m = self.input.recv() => m,
        }
    }

    /// Puts a message back so that it is the next one received after a restart.
    /// Toxics call this when interrupted while holding a message, so no data is lost or reordered.
    pub fn unrecv(&mut self, m: Msg) {
        debug_assert!(self.held.is_none());
        self.held = Some(m);
    }

    /// Passes a message on; `Close` and `Reset` mark this stub closed.
    pub fn send(&mut self, m: Msg) {
        if matches!(m, Msg::Close(_) | Msg::Reset) {
            self.closed = true;
        }
        let _ = self.output.send(m);
    }

    /// Sleeps until `t`; false when interrupted first.
    pub async fn sleep_until(&self, t: Instant) -> bool {
        if t <= Instant::now() {
            return !self.interrupt.is_cancelled();
        }
        tokio::select! {
            biased;
            _ = self.interrupt.cancelled() => false,
            _ = tokio::time::sleep_until(t) => true,
        }
    }

    /// Resolves when interrupted.
    pub async fn interrupted(&self) {
        self.interrupt.cancelled().await
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes every queued message (held one first), leaving the input empty.
    pub(crate) fn drain(&mut self) -> Vec<Msg> {
        let mut out: Vec<Msg> = self.held.take().into_iter().collect();
        while let Ok(m) = self.input.try_recv() {
            out.push(m);
        }
        out
    }
}

/// A toxic: one method that moves messages from the stub's input to its output until the
/// stream closes or the toxic is interrupted (then it returns, putting back what it holds).
pub trait Toxic {
    fn pipe(&self, stub: &mut Stub) -> impl Future<Output = ()> + Send;
}

/// Milliseconds (negative counts as zero, as Toxiproxy's sleeps do).
pub(crate) fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

/// Every toxic type this server knows, with its attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum ToxicKind {
    Noop(Noop),
    Latency(Latency),
    Bandwidth(Bandwidth),
    SlowClose(SlowClose),
    Timeout(Timeout),
    ResetPeer(ResetPeer),
    Slicer(Slicer),
    LimitData(LimitData),
    /// udp proxies only (an extension): datagrams dropped with a probability.
    Loss(Loss),
}

/// Why attributes could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    #[error("invalid toxic type")]
    UnknownType,
    #[error("{0}")]
    BadAttributes(String),
}

fn parse<T: DeserializeOwned + Default + Serialize>(
    base: T,
    attrs: Option<&serde_json::Value>,
) -> Result<T, KindError> {
    let Some(attrs) = attrs else { return Ok(base) };
    if attrs.is_null() {
        return Ok(base);
    }
    let patch = attrs
        .as_object()
        .ok_or_else(|| KindError::BadAttributes("attributes must be a JSON object".into()))?;
    let mut v = serde_json::to_value(&base).map_err(|e| KindError::BadAttributes(e.to_string()))?;
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in patch {
            if obj.contains_key(k) {
                obj.insert(k.clone(), val.clone());
            }
        }
    }
    serde_json::from_value(v).map_err(|e| KindError::BadAttributes(format!("attributes: {e}")))
}

impl ToxicKind {
    /// Builds a toxic of `type_name` from defaults overlaid with `attrs`.
    pub fn new(type_name: &str, attrs: Option<&serde_json::Value>) -> Result<Self, KindError> {
        Ok(match type_name {
            "noop" => ToxicKind::Noop(parse(Noop::default(), attrs)?),
            "latency" => ToxicKind::Latency(parse(Latency::default(), attrs)?),
            "bandwidth" => ToxicKind::Bandwidth(parse(Bandwidth::default(), attrs)?),
            "slow_close" => ToxicKind::SlowClose(parse(SlowClose::default(), attrs)?),
            "timeout" => ToxicKind::Timeout(parse(Timeout::default(), attrs)?),
            "reset_peer" => ToxicKind::ResetPeer(parse(ResetPeer::default(), attrs)?),
            "slicer" => ToxicKind::Slicer(parse(Slicer::default(), attrs)?),
            "limit_data" => ToxicKind::LimitData(parse(LimitData::default(), attrs)?),
            "loss" => ToxicKind::Loss(parse(Loss::default(), attrs)?),
            _ => return Err(KindError::UnknownType),
        })
    }

    /// This toxic with `attrs` overlaid on its current attributes (Toxiproxy's PATCH merge).
    pub fn merged(&self, attrs: Option<&serde_json::Value>) -> Result<Self, KindError> {
        Ok(match self {
            ToxicKind::Noop(t) => ToxicKind::Noop(parse(t.clone(), attrs)?),
            ToxicKind::Latency(t) => ToxicKind::Latency(parse(t.clone(), attrs)?),
            ToxicKind::Bandwidth(t) => ToxicKind::Bandwidth(parse(t.clone(), attrs)?),
            ToxicKind::SlowClose(t) => ToxicKind::SlowClose(parse(t.clone(), attrs)?),
            ToxicKind::Timeout(t) => ToxicKind::Timeout(parse(t.clone(), attrs)?),
            ToxicKind::ResetPeer(t) => ToxicKind::ResetPeer(parse(t.clone(), attrs)?),
            ToxicKind::Slicer(t) => ToxicKind::Slicer(parse(t.clone(), attrs)?),
            ToxicKind::LimitData(t) => ToxicKind::LimitData(parse(t.clone(), attrs)?),
            ToxicKind::Loss(t) => ToxicKind::Loss(parse(t.clone(), attrs)?),
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Noop(_) => "noop",
            ToxicKind::Latency(_) => "latency",
            ToxicKind::Bandwidth(_) => "bandwidth",
            ToxicKind::SlowClose(_) => "slow_close",
            ToxicKind::Timeout(_) => "timeout",
            ToxicKind::ResetPeer(_) => "reset_peer",
            ToxicKind::Slicer(_) => "slicer",
            ToxicKind::LimitData(_) => "limit_data",
            ToxicKind::Loss(_) => "loss",
        }
    }

    /// Whether removing this toxic from a live connection closes it (Toxiproxy's CleanupToxic:
    /// the timeout toxic dropped data, so the stream cannot be resumed).
    pub fn closes_on_removal(&self) -> bool {
        matches!(self, ToxicKind::Timeout(_))
    }

    pub(crate) async fn pipe(&self, stub: &mut Stub) {
        match self {
            ToxicKind::Noop(t) => t.pipe(stub).await,
            ToxicKind::Latency(t) => t.pipe(stub).await,
            ToxicKind::Bandwidth(t) => t.pipe(stub).await,
            ToxicKind::SlowClose(t) => t.pipe(stub).await,
            ToxicKind::Timeout(t) => t.pipe(stub).await,
            ToxicKind::ResetPeer(t) => t.pipe(stub).await,
            ToxicKind::Slicer(t) => t.pipe(stub).await,
            ToxicKind::LimitData(t) => t.pipe(stub).await,
            ToxicKind::Loss(t) => t.pipe(stub).await,
        }
    }
}

impl Serialize for ToxicKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToxicKind::Noop(t) => t.serialize(s),
            ToxicKind::Latency(t) => t.serialize(s),
            ToxicKind::Bandwidth(t) => t.serialize(s),
            ToxicKind::SlowClose(t) => t.serialize(s),
            ToxicKind::Timeout(t) => t.serialize(s),
            ToxicKind::ResetPeer(t) => t.serialize(s),
            ToxicKind::Slicer(t) => t.serialize(s),
            ToxicKind::LimitData(t) => t.serialize(s),
            ToxicKind::Loss(t) => t.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_default_merge_and_reject_bad_types() {
        let k = ToxicKind::new("latency", Some(&json!({"latency": 5, "unknown": 1}))).unwrap();
        assert_eq!(
            serde_json::to_value(&k).unwrap(),
            json!({"latency": 5, "jitter": 0})
        );
        let m = k.merged(Some(&json!({"jitter": 2}))).unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"latency": 5, "jitter": 2})
        );
        assert!(matches!(
            ToxicKind::new("nope", None),
            Err(KindError::UnknownType)
        ));
        assert!(ToxicKind::new("latency", Some(&json!({"latency": "x"}))).is_err());
        assert!(ToxicKind::new("latency", Some(&json!([1]))).is_err());
        assert!(ToxicKind::new("slicer", None).is_ok());
    }

    #[test]
    fn credit_follows_split_and_truncate() {
        let sem = Arc::new(Semaphore::new(0));
        let mut c = Chunk::new(
            Bytes::from_static(b"0123456789"),
            Instant::now(),
            Credit::new(sem.clone(), 10),
        );
        let head = c.split_to(3);
        assert_eq!(&head.data[..], b"012");
        c.truncate(4);
        assert_eq!(&c.data[..], b"3456");
        assert_eq!(
            sem.available_permits(),
            3,
            "truncated bytes come back at once"
        );
        drop(head);
        drop(c);
        assert_eq!(sem.available_permits(), 10);
    }
}

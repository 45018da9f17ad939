//! State a higher layer keeps per environment (the fault registry), settled by reset and teardown
//! through the `Attachment` trait, so env knows when to call it but not what it is.

use super::shared::Shared;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A future borrowed from the attachment and the environment.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What reset and teardown ask of the state attached to an environment.
pub(crate) trait Attachment: Any + Send + Sync {
    /// Before a reset: undo what it did (heal every fault). A failure is logged, not returned:
    /// the reset repairs what it can anyway (e.g. a dead instance).
    fn before_reset<'a>(&'a self, shared: &'a Shared) -> BoxFuture<'a, Result<(), String>>;
    /// After a reset: every mock reloaded its start state.
    fn after_reset(&self);
    /// Teardown: stop background tasks now (synchronous, also from `Drop`).
    fn abort(&self);
    /// For `Attached::get_or_default` (trait upcasting needs a newer Rust than the crate's).
    fn as_any(&self) -> &dyn Any;
}

/// The environment's id counter and its one attachment, created by the first layer that asks.
#[derive(Default)]
pub(crate) struct Attached {
    next: AtomicU64,
    slot: OnceLock<Box<dyn Attachment>>,
}

impl Attached {
    /// A fresh id, unique within the environment (fault guards, toxic names).
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The attachment, created on first use. One type per environment: only faults attach.
    pub fn get_or_default<T: Attachment + Default>(&self) -> &T {
        self.slot
            .get_or_init(|| Box::new(T::default()))
            .as_any()
            .downcast_ref()
            .expect("an environment has one attachment type")
    }

    pub(super) async fn before_reset(&self, shared: &Shared) -> Result<(), String> {
        match self.slot.get() {
            Some(a) => a.before_reset(shared).await,
            None => Ok(()),
        }
    }

    pub(super) fn after_reset(&self) {
        if let Some(a) = self.slot.get() {
            a.after_reset();
        }
    }

    pub(super) fn abort(&self) {
        if let Some(a) = self.slot.get() {
            a.abort();
        }
    }
}

//! Observation: one append-only timeline per scenario (faults, heals, markers, desktop, mock events)
//! and the agent's session state derived from it.

pub mod entry;
pub mod format;
pub mod state;
pub mod timeline;

pub use entry::{Change, DesktopEvent, Effect, Entry, EntryKind, InfraCause, Target};
pub use state::{Reconnect, SessionState, Switchover};
pub use timeline::{Subject, Timeline, TimelineError};

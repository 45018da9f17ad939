//! The two partial states of a herd's evaluation: an agent's (its own connections, no sequence
//! check) and the fleet's (every instance's sequence, no connections).

use super::SessionState;

impl SessionState {
    /// The state of one agent of a herd: its own connections' events only, so no sequence check.
    pub fn herd_agent(mut self) -> SessionState {
        self.track_seq = false;
        self
    }

    /// The state of a herd's fleet lane: every event's sequence checked, no connection folded.
    pub fn herd_fleet(mut self) -> SessionState {
        self.track_conns = false;
        self
    }

    /// Observations found lost elsewhere (a herd's fleet lane): they count here too.
    pub fn add_gaps(&mut self, gaps: &[String]) {
        self.gaps.extend_from_slice(gaps);
    }
}

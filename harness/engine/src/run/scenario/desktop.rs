//! The end of the desktop in a scenario: its output and exit recorded once (early exit or stop),
//! and the teardown that stops it and heals every fault.

use super::driver::Driver;
use crate::env::{now_us, ExitInfo, LogStream};
use crate::fault::Faults;
use crate::observe::{DesktopEvent, EntryKind};

/// Desktop output lines kept in a result.
const LOG_TAIL_LINES: usize = 40;

impl Driver<'_> {
    /// Records the desktop's output and exit once (early exit or stop).
    pub fn record_exit(&mut self, info: ExitInfo, expected: bool) {
        if self.logs_pushed {
            return;
        }
        self.logs_pushed = true;
        self.desktop_exited = true;
        let lines = self
            .desktop
            .as_ref()
            .map(|d| d.log_tail())
            .unwrap_or_default();
        for l in &lines {
            let stderr = l.stream == LogStream::Stderr;
            self.push(
                l.ts_us,
                EntryKind::Desktop(DesktopEvent::Log {
                    line: l.line.clone(),
                    stderr,
                }),
            );
        }
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        self.log_tail = lines.iter().skip(skip).map(|l| l.line.clone()).collect();
        let ts = info.ts_us.max(self.start_us);
        self.push(
            ts,
            EntryKind::Desktop(DesktopEvent::Exited {
                code: info.code,
                expected,
            }),
        );
    }

    /// Stops the desktop (an expected exit unless it already exited) and heals every fault.
    pub async fn teardown(&mut self) {
        // Flap phases are no longer recorded; `heal_all` below heals a link left down.
        for i in self.injected.values_mut() {
            i.phases = None;
            i.changing = None;
        }
        self.sync_hold();
        if let Some(desk) = self.desktop.take() {
            let info = desk.terminate().await;
            self.desktop = Some(desk);
            match info {
                Ok(i) => {
                    let expected = !self.desktop_exited;
                    self.record_exit(i, expected);
                }
                Err(e) => self.errors.push(format!("cannot stop the desktop: {e}")),
            }
        }
        self.desktop = None;
        self.stop_phone().await;
        if let Err(e) = self.env.heal_all().await {
            self.note(format!("heal at scenario end reported: {e}"));
        }
        self.record_heal(now_us(), None, "heal all (scenario end)".into());
    }
}

impl Driver<'_> {
    /// Stops the phone and records its last output lines as notes (`phone: ...`), with its exit
    /// when it ended before the harness stopped it.
    async fn stop_phone(&mut self) {
        let Some(phone) = self.phone.take() else {
            return;
        };
        let exited_early = phone.exit_info().is_some();
        let info = phone.terminate().await;
        let lines = phone.log_tail();
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        for l in lines.iter().skip(skip) {
            self.note(format!("phone: {}", l.line));
        }
        match info {
            Ok(i) if exited_early => self.note(format!("phone: exited before the end ({i})")),
            Ok(_) => {}
            Err(e) => self.errors.push(format!("cannot stop the phone: {e}")),
        }
    }

    /// Hands the desktop (still running) and every unhealed fault over, instead of the teardown:
    /// `--keep-env=on-failure` keeps the environment as the verdict saw it.
    pub fn keep(&mut self, sc: &bc_suite::PlannedScenario) -> crate::run::keep::KeptScenario {
        self.sync_hold();
        if let Some(desk) = &self.desktop {
            let lines = desk.log_tail();
            let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
            self.log_tail = lines.iter().skip(skip).map(|l| l.line.clone()).collect();
        }
        let mut steps: Vec<usize> = self.injected.keys().copied().collect();
        steps.sort_unstable();
        let faults = steps
            .into_iter()
            .filter_map(|i| self.injected.remove(&i).map(|inj| (i, inj)))
            .map(|(i, inj)| (format!("{} step {i}", sc.id), inj.guard))
            .collect();
        crate::run::keep::KeptScenario {
            desktop: self.desktop.take(),
            faults,
        }
    }
}

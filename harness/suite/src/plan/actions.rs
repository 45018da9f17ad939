//! The action of one planned step: sites resolved against the run's preferred site, defaults
//! filled in, `from` and `heal` markers looked up, `measure:` turned into measurements.

use super::{dur, PlanError, Planner, SoFar};
use crate::model::*;
use crate::planned::*;
use crate::span::Spanned;
use crate::target::LinkTarget;
use crate::vocab::{ServerKind, Site};

impl Planner<'_> {
    /// The action of `step`, the next one after `so_far` (whose measurements it may extend).
    pub(super) fn action(&self, step: &Step, so_far: &mut SoFar) -> Result<Action, PlanError> {
        let p = self.preferred;
        Ok(match step {
            Step::StartDesktop => Action::StartDesktop,
            Step::KillSite(a) => Action::KillSite(self.site(&a.site)),
            Step::StopSite(a) => Action::StopSite(self.site(&a.site)),
            Step::RestoreSite(a) => Action::RestoreSite(self.site(&a.site)),
            Step::KillServer(a) => Action::KillServer(a.server.value.resolve(p)),
            Step::StopServer(a) => Action::StopServer(a.server.value.resolve(p)),
            Step::FreezeServer(a) => Action::FreezeServer(a.server.value.resolve(p)),
            Step::ThawServer(a) => Action::ThawServer(a.server.value.resolve(p)),
            Step::RestoreServer(a) => Action::RestoreServer(a.server.value.resolve(p)),
            Step::HaFailover(a) => {
                let (site, server) = self.pair(a);
                let group = a.server.value.group;
                Action::HaFailover {
                    site,
                    server,
                    group,
                }
            }
            Step::HaSwitchover(a) => {
                let (site, server) = self.pair(a);
                let group = a.server.value.group;
                Action::HaSwitchover {
                    site,
                    server,
                    group,
                }
            }
            Step::Refuse(a) => self.link(&a.link, LinkFault::Refuse),
            Step::BlackHole(a) => self.link(&a.link, LinkFault::BlackHole),
            Step::Reset(a) => self.link(&a.link, LinkFault::Reset),
            Step::Latency(f) => self.latency(f),
            Step::Jitter(f) => self.link(&f.link, LinkFault::Jitter { ms: f.ms.value }),
            Step::Bandwidth(f) => self.bandwidth(f),
            Step::SlowClose(f) => self.slow_close(f),
            Step::LimitData(f) => self.limit_data(f),
            Step::Slicer(f) => self.slicer(f),
            Step::PartitionOneWay(f) => self.one_way(f),
            Step::Flap(f) => self.flap(f),
            Step::RejectLogins(a) => Action::RejectLogins(a.server.value.resolve(p)),
            Step::Overload(a) => Action::Overload(
                a.server.value.resolve(p),
                a.answer.as_ref().map(|x| x.value).unwrap_or_default(),
            ),
            Step::SetPreferredSite(c) => {
                self.preferred_site(c.level.value, c.name.as_ref(), Some(self.site(&c.site)))?
            }
            Step::ClearPreferredSite(c) => {
                self.preferred_site(c.level.value, c.name.as_ref(), None)?
            }
            Step::DeliverCall(c) => Action::DeliverCall {
                via: self.site(&c.via),
            },
            Step::PhoneDials(c) => Action::PhoneDials {
                via: self.site(&c.via),
                number: c
                    .number
                    .as_ref()
                    .map_or_else(|| "5000".to_string(), |n| n.value.clone()),
                within: c
                    .within
                    .as_ref()
                    .map_or(std::time::Duration::from_secs(5), |w| w.value.0),
            },
            Step::Heal(h) => self.heal(h, &so_far.steps)?,
            Step::Wait(w) => Action::Wait(w.value.0),
            Step::On(t) => Action::On(
                t.plan(p, self.budget)
                    .ok_or_else(|| self.invalid("trigger names no server".into()))?,
            ),
            Step::Mark(_) => Action::Mark,
            Step::ExpectLoggedIn(e) => self.expect_logged_in(e, so_far)?,
            Step::ExpectStaysLoggedIn(e) => self.expect_stays_logged_in(e),
            Step::ExpectDisconnected(e) => Action::ExpectDisconnected {
                site: self.site(&e.site),
                within: dur(&e.within, self.budget),
                from: self.from(&e.from, &so_far.latest)?,
            },
            Step::ExpectCallAnswered(e) => self.expect_call_answered(e, so_far)?,
        })
    }

    /// The marker an expectation counts from: its `from`, else the `latest` one set.
    fn from(
        &self,
        from: &Option<Spanned<String>>,
        latest: &Option<String>,
    ) -> Result<String, PlanError> {
        from.as_ref()
            .map(|f| f.value.clone())
            .or_else(|| latest.clone())
            .ok_or_else(|| self.invalid("no marker to count from".into()))
    }

    /// The concrete site and kind of the HA pair a failover or switchover acts on.
    fn pair(&self, a: &ServerAction) -> (Site, ServerKind) {
        (
            a.server.value.site.resolve(self.preferred),
            a.server.value.server,
        )
    }

    /// A fault on the links `link` (resolved), which stays until healed.
    fn link(&self, link: &Spanned<LinkTarget>, fault: LinkFault) -> Action {
        Action::Link {
            link: link.value.resolve(self.preferred),
            fault,
        }
    }

    /// `latency`: added delay, with no jitter unless `jitter_ms` is given.
    fn latency(&self, f: &LatencyFault) -> Action {
        self.link(
            &f.link,
            LinkFault::Latency {
                ms: f.ms.value,
                jitter_ms: f.jitter_ms.as_ref().map(|j| j.value).unwrap_or(0),
            },
        )
    }

    /// `bandwidth`: a rate limit on the links.
    fn bandwidth(&self, f: &BandwidthFault) -> Action {
        self.link(
            &f.link,
            LinkFault::Bandwidth {
                kb_per_s: f.kb_per_s.value,
            },
        )
    }

    /// `slow_close`: closes passed on after a delay.
    fn slow_close(&self, f: &SlowCloseFault) -> Action {
        self.link(
            &f.link,
            LinkFault::SlowClose {
                delay: f.delay.value.0,
            },
        )
    }

    /// `limit_data`: connections closed after some bytes.
    fn limit_data(&self, f: &LimitDataFault) -> Action {
        self.link(
            &f.link,
            LinkFault::LimitData {
                bytes: f.bytes.value,
            },
        )
    }

    /// `slicer`: data sliced into small packets; no variation and no delay unless given.
    fn slicer(&self, f: &SlicerFault) -> Action {
        self.link(
            &f.link,
            LinkFault::Slicer {
                average_size: f.average_size.value,
                size_variation: f.size_variation.as_ref().map(|v| v.value).unwrap_or(0),
                delay_us: f.delay_us.as_ref().map(|v| v.value).unwrap_or(0),
            },
        )
    }

    /// `partition_one_way`: one direction of the links cut.
    fn one_way(&self, f: &OneWayFault) -> Action {
        self.link(
            &f.link,
            LinkFault::OneWay {
                direction: f.direction.value,
            },
        )
    }

    /// `flap`: the links down and up `count` times (mode `refuse` unless given).
    fn flap(&self, f: &FlapFault) -> Action {
        Action::Flap {
            link: f.link.value.resolve(self.preferred),
            mode: f.mode.as_ref().map(|m| m.value).unwrap_or_default(),
            period: f.period.value.0,
            count: f.count.value,
        }
    }

    /// `set_preferred_site` (`site` given) or `clear_preferred_site` (`None`) on the object
    /// the step names, or on the agent's own one at that level.
    fn preferred_site(
        &self,
        level: crate::vocab::Level,
        name: Option<&Spanned<String>>,
        site: Option<Site>,
    ) -> Result<Action, PlanError> {
        Ok(Action::SetPreferredSite {
            level,
            name: self.object(level, name)?,
            site,
        })
    }

    /// `heal`: every fault (`all`), or the fault set by the latest planned step with that marker.
    fn heal(&self, h: &Spanned<String>, planned: &[PlannedStep]) -> Result<Action, PlanError> {
        if h.value == "all" {
            return Ok(Action::Heal(HealTarget::All));
        }
        let step = planned
            .iter()
            .rposition(|s| s.marker.as_deref() == Some(h.value.as_str()))
            .ok_or_else(|| self.invalid(format!("unknown marker `{}`", h.value)))?;
        Ok(Action::Heal(HealTarget::Marker {
            marker: h.value.clone(),
            step,
        }))
    }

    /// `expect_logged_in`, counting from `from` or the latest marker; its `measure:` becomes a
    /// measurement ending at this step.
    fn expect_logged_in(
        &self,
        e: &ExpectLoggedIn,
        so_far: &mut SoFar,
    ) -> Result<Action, PlanError> {
        let from = self.from(&e.from, &so_far.latest)?;
        let site = e.site.as_ref().map(|s| self.site(s));
        if let Some(m) = &e.measure {
            so_far.measurements.push(PlannedMeasurement {
                name: m.value.clone(),
                from: from.clone(),
                until: PlannedObservation::LoggedIn(site),
                step: Some(so_far.steps.len()),
            });
        }
        Ok(Action::ExpectLoggedIn {
            site,
            servers: e
                .servers
                .as_ref()
                .map(|v| v.iter().map(|k| k.value).collect()),
            within: dur(&e.within, self.budget),
            from,
            measure: e.measure.as_ref().map(|m| m.value.clone()),
        })
    }

    /// `expect_stays_logged_in`, tolerating one gap unless `gaps` is given.
    fn expect_stays_logged_in(&self, e: &ExpectStaysLoggedIn) -> Action {
        Action::ExpectStaysLoggedIn {
            site: self.site(&e.site),
            duration: e.duration.value.0,
            servers: e
                .servers
                .as_ref()
                .map(|v| v.iter().map(|k| k.value).collect()),
            gaps: e.gaps.as_ref().map_or(1, |g| g.value),
        }
    }

    /// `expect_call_answered`, counting from `from` or the latest `deliver_call`; its
    /// `measure:` becomes a measurement ending at this step.
    fn expect_call_answered(
        &self,
        e: &ExpectCallAnswered,
        so_far: &mut SoFar,
    ) -> Result<Action, PlanError> {
        let from = self.from(&e.from, &so_far.latest_call)?;
        if let Some(m) = &e.measure {
            so_far.measurements.push(PlannedMeasurement {
                name: m.value.clone(),
                from: from.clone(),
                until: PlannedObservation::CallAnswered,
                step: Some(so_far.steps.len()),
            });
        }
        Ok(Action::ExpectCallAnswered {
            within: dur(&e.within, self.budget),
            from,
            measure: e.measure.as_ref().map(|m| m.value.clone()),
        })
    }
}

//! The state-aware schedule generator: a seeded ChaCha stream drives choices that the model
//! accepts, so every schedule only heals what is broken and every checkpoint is meaningful.
//! Same seed and config, same schedule (no clock, no global state).

use bc_suite::{Level, Role, ServerKind, Site};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::model::{Model, Spec};
use super::schedule::{
    FaultOp, HealVia, Link, LinkKind, Member, Op, Schedule, TimedOp, Trigger, FAULT_KINDS,
};

/// How schedules are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Fewest operations (before the final heal and settling).
    pub min_ops: usize,
    /// Most operations.
    pub max_ops: usize,
    /// Fault keywords drawn (empty: every kind of the suite language).
    pub focus: Vec<String>,
    /// Longest pause before an operation, ms.
    pub max_wait_ms: u64,
    /// Probability that a fault targets the site where the desktop should be.
    pub target_current: f64,
    /// Probability that a fault or heal right after the desktop was made to move is placed on a
    /// trigger at the site it moves to (its connection or its login there) instead of at a time:
    /// the races a time cannot hit (`--triggers`; 0: never).
    pub triggers: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            min_ops: 5,
            max_ops: 30,
            focus: Vec::new(),
            max_wait_ms: 1500,
            target_current: 0.75,
            triggers: 0.5,
        }
    }
}

impl GenConfig {
    /// Checks the focus names and the bounds; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for f in &self.focus {
            if !FAULT_KINDS.contains(&f.as_str()) {
                return Err(format!(
                    "unknown fault kind `{f}` (known: {})",
                    FAULT_KINDS.join(", ")
                ));
            }
        }
        if self.min_ops == 0 || self.min_ops > self.max_ops {
            return Err(format!(
                "invalid operation count range {}..{} (need 1 <= min <= max)",
                self.min_ops, self.max_ops
            ));
        }
        if !(0.0..=1.0).contains(&self.target_current) {
            return Err("target_current must be within 0..1".into());
        }
        if !(0.0..=1.0).contains(&self.triggers) {
            return Err(format!(
                "--triggers must be a probability within 0..1, not {}",
                self.triggers
            ));
        }
        Ok(())
    }

    fn kinds(&self) -> Vec<&'static str> {
        if self.focus.is_empty() {
            FAULT_KINDS.to_vec()
        } else {
            FAULT_KINDS
                .iter()
                .copied()
                .filter(|k| self.focus.iter().any(|f| f == k))
                .collect()
        }
    }
}

struct Gen<'a> {
    rng: ChaCha8Rng,
    /// Trigger choices draw from their own stream: they do not shift the draws of operations,
    /// so `--triggers 0` gives a seed's operations as before triggers existed.
    trigger_rng: ChaCha8Rng,
    cfg: &'a GenConfig,
    spec: &'a Spec,
}

impl Gen<'_> {
    fn site(&mut self, m: &Model) -> Site {
        if self.rng.random_bool(self.cfg.target_current) {
            m.current
        } else {
            m.current.other()
        }
    }

    fn kind(&mut self) -> ServerKind {
        let r = self.rng.random_range(0..100);
        if r < 40 {
            ServerKind::ConfigServer
        } else if r < 85 || !self.spec.stat_server {
            ServerKind::SipServer
        } else {
            ServerKind::StatServer
        }
    }

    fn role(&mut self, m: &Model, site: Site, kind: ServerKind) -> Role {
        let active = m.active_role(site, kind).unwrap_or(Role::Primary);
        if self.rng.random_bool(0.75) {
            active
        } else if active == Role::Primary {
            Role::Backup
        } else {
            Role::Primary
        }
    }

    fn member(&mut self, m: &Model) -> Member {
        let site = self.site(m);
        let kind = self.kind();
        let role = self.role(m, site, kind);
        Member { site, kind, role }
    }

    fn link(&mut self, m: &Model) -> Link {
        let site = self.site(m);
        let r = self.rng.random_range(0..100);
        if r < 20 {
            Link {
                site,
                kind: None,
                role: None,
            }
        } else {
            let kind = self.kind();
            let role = (r >= 80).then(|| self.role(m, site, kind));
            Link {
                site,
                kind: Some(kind),
                role,
            }
        }
    }

    fn fault(&mut self, m: &Model, kw: &str) -> FaultOp {
        let r = &mut self.rng;
        let level = [Level::Tenant, Level::AgentGroup, Level::Person][r.random_range(0..3)];
        let any_site = Site::ALL[r.random_range(0..2)];
        match kw {
            "kill_site" => FaultOp::KillSite(self.site(m)),
            "stop_site" => FaultOp::StopSite(self.site(m)),
            "kill_server" => FaultOp::KillServer(self.member(m)),
            "stop_server" => FaultOp::StopServer(self.member(m)),
            "freeze_server" => FaultOp::FreezeServer(self.member(m)),
            "ha_failover" => {
                let s = self.site(m);
                FaultOp::HaFailover(s, self.kind())
            }
            "ha_switchover" => {
                let s = self.site(m);
                FaultOp::HaSwitchover(s, self.kind())
            }
            "reject_logins" => {
                let s = self.site(m);
                FaultOp::RejectLogins(s, self.kind())
            }
            "overload" => {
                let s = self.site(m);
                FaultOp::Overload(s, self.kind())
            }
            "flap" => {
                let period_ms = self.rng.random_range(2..=8) * 500;
                let count = self.rng.random_range(1..=3);
                FaultOp::Flap {
                    link: self.link(m),
                    period_ms,
                    count,
                }
            }
            "set_preferred_site" => FaultOp::PreferredSite(level, Some(any_site)),
            "clear_preferred_site" => FaultOp::PreferredSite(level, None),
            "deliver_call" => FaultOp::DeliverCall(self.site(m)),
            link_kw => {
                // Degradations stay mild: a conformant desktop keeps working through them.
                let k = match link_kw {
                    "refuse" => LinkKind::Refuse,
                    "black_hole" => LinkKind::BlackHole,
                    "reset" => LinkKind::Reset,
                    "partition_one_way" => LinkKind::PartitionOneWay {
                        to_desktop: self.rng.random_bool(0.5),
                    },
                    "latency" => LinkKind::Latency {
                        ms: self.rng.random_range(2..=20) * 10,
                        jitter_ms: self.rng.random_range(0..=5) * 10,
                    },
                    "jitter" => LinkKind::Jitter {
                        ms: self.rng.random_range(1..=15) * 10,
                    },
                    "bandwidth" => LinkKind::Bandwidth {
                        kb_per_s: self.rng.random_range(16..=256),
                    },
                    "slow_close" => LinkKind::SlowClose {
                        delay_ms: self.rng.random_range(1..=15) * 100,
                    },
                    "limit_data" => LinkKind::LimitData {
                        bytes: self.rng.random_range(1..=4) * 1_000_000,
                    },
                    _ => {
                        let average_size = self.rng.random_range(32..=256);
                        LinkKind::Slicer {
                            average_size,
                            size_variation: self.rng.random_range(0..average_size / 2),
                            delay_us: self.rng.random_range(0..=5) * 100,
                        }
                    }
                };
                FaultOp::Link(self.link(m), k)
            }
        }
    }

    /// A trigger for `op` at the site the last operation moved the desktop to, when drawn and
    /// valid right after that operation (no pause: the trigger is armed as the move begins).
    fn trigger(&mut self, m: &Model, op: &Op) -> Option<Trigger> {
        let site = m.moved_to?;
        if !matches!(op, Op::Fault { .. } | Op::Heal { .. })
            || !self.trigger_rng.random_bool(self.cfg.triggers)
        {
            return None;
        }
        let t = match self.trigger_rng.random_range(0..3) {
            0 => Trigger::Connects(site, ServerKind::ConfigServer),
            1 => Trigger::Connects(site, ServerKind::SipServer),
            _ => Trigger::Login(site),
        };
        (m.can(op) && m.can_trigger(&t, op)).then_some(t)
    }

    fn wait(&mut self) -> u64 {
        if self.rng.random_bool(0.3) {
            0
        } else {
            self.rng
                .random_range(2..=(self.cfg.max_wait_ms / 50).max(2))
                * 50
        }
    }
}

/// Mixed into the seed of the trigger stream ("trigger" in ASCII).
const TRIGGER_STREAM: u64 = 0x74_7269_6767_6572;

/// Draws a schedule for a seed. Pure: the same seed, spec and config give the same schedule.
pub fn generate(seed: u64, spec: &Spec, cfg: &GenConfig) -> Schedule {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        trigger_rng: ChaCha8Rng::seed_from_u64(seed ^ TRIGGER_STREAM),
        cfg,
        spec,
    };
    let kinds = cfg.kinds();
    let n = g
        .rng
        .random_range(cfg.min_ops..=cfg.max_ops.max(cfg.min_ops));
    let mut m = Model::new(spec);
    let mut ops = Vec::new();
    let mut next_id = 1u32;
    let mut attempts = 0;
    while ops.len() < n && attempts < n * 60 {
        attempts += 1;
        // Choices are made after the pause (a pause can end a flap).
        let wait_ms = g.wait();
        let mut probe = m.clone();
        probe.advance(wait_ms);
        let active: Vec<u32> = probe.active().keys().copied().collect();
        let w_heal = if active.is_empty() {
            0
        } else {
            2 + 2 * active.len() as u32
        };
        // A checkpoint is most telling when one site is broken and the other clean: the
        // desktop must have moved (BC-3/4/9).
        let w_check = match probe.checkpoint_site() {
            _ if !probe.can(&Op::Checkpoint) => 0,
            Some(Some(_)) => 10,
            _ => 2,
        };
        let w_fault = if kinds.is_empty() {
            0
        } else if active.len() >= 3 {
            2
        } else {
            6
        };
        let total = w_heal + w_check + w_fault;
        if total == 0 {
            break;
        }
        let pick = g.rng.random_range(0..total);
        let op = if pick < w_heal {
            let id = active[g.rng.random_range(0..active.len())];
            let via = if g.rng.random_bool(0.4) && probe.can_heal(id, HealVia::Restore) {
                HealVia::Restore
            } else if probe.can_heal(id, HealVia::Marker) {
                HealVia::Marker
            } else {
                HealVia::Restore
            };
            Op::Heal { id, via }
        } else if pick < w_heal + w_check {
            Op::Checkpoint
        } else {
            let kw = kinds[g.rng.random_range(0..kinds.len())];
            Op::Fault {
                id: next_id,
                fault: g.fault(&probe, kw),
            }
        };
        if !probe.can(&op) {
            continue;
        }
        let t = match g.trigger(&m, &op) {
            Some(on) => TimedOp {
                wait_ms: 0,
                op,
                on: Some(on),
            },
            None => TimedOp::at(wait_ms, op),
        };
        if let Op::Fault { .. } = op {
            next_id += 1;
        }
        m.apply(&t);
        ops.push(t);
    }
    let s = Schedule { seed, ops };
    // Waits can end flaps early; resolving keeps exactly what is valid in order.
    super::resolve::resolve(&s, spec).schedule(seed)
}

//! Faults the harness injects into an environment, independent of the suite crate: what to break
//! (`Fault`), how it is applied and confirmed (`Faults::inject`), and how it is healed (`FaultGuard`).
//!
//! Every injection is confirmed by reading the state back (process state, health, proxy config) or
//! fails with a reason; the guard records when it took effect (µs, the mocks' clock) and what it did.
//! Heals are idempotent: healing twice, or after `Environment::reset`, is harmless.

mod aimed;
mod call;
mod config;
mod flap;
mod guard;
mod ha;
mod link;
mod logins;
mod overload;
pub use overload::OVERLOAD_RETRY_MS;
mod process;
mod select;

pub use aimed::AimedAt;
pub use flap::FlapPhase;
pub use guard::{ApplyTiming, FaultGuard, FaultOutcome, HealReport};
pub use ha::PROMOTION_BOUND_MS;
pub use link::{link_toxics, BLACK_HOLE_TOXIC};
pub use select::{resolve_links, resolve_servers};

use crate::env::{EnvError, Environment};
use bc_protocol::{Role, ServerKind};
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// The calling number used for `DeliverCall`.
pub const CALLER_DN: &str = "5001";

/// Server instances of one site: one kind, one slot or both (`role: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSelector {
    pub site: String,
    pub server: ServerKind,
    /// `None` = primary and backup.
    pub role: Option<Role>,
    /// One group of four SIP Servers, or `None` for every group.
    pub group: Option<u32>,
}

/// Desktop links (one fault proxy each) of one site: all servers or one kind, both slots or one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSelector {
    pub site: String,
    /// `None` = every server kind of the site.
    pub server: Option<ServerKind>,
    /// `None` = primary and backup.
    pub role: Option<Role>,
    /// One group of four SIP Servers, or `None` for every group.
    pub group: Option<u32>,
}

/// What happens on a selected link: the suite's word, mapped onto toxics in `link.rs`.
pub use bc_suite::{Direction, LinkFault};

/// Where a preferred-site value is set: the suite's word (`object` names the tenant, the agent
/// group or the person's username).
pub use bc_suite::Level as ConfigLevel;

/// Every fault a suite can inject (the steps of docs/suite-format.md).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// SIGKILL every instance of the site. Heal: restart them.
    KillSite { site: String },
    /// SIGTERM (graceful: forced logout, then close) every instance of the site. Heal: restart.
    StopSite { site: String },
    /// Restart every dead and thaw every frozen instance of the site. Heal: nothing.
    RestoreSite { site: String },
    /// SIGKILL. Heal: restart.
    KillServer(ServerSelector),
    /// SIGSTOP (open but mute). Heal: SIGCONT.
    FreezeServer(ServerSelector),
    /// SIGCONT. Heal: nothing.
    ThawServer(ServerSelector),
    /// SIGTERM (graceful). Heal: restart.
    StopServer(ServerSelector),
    /// Restart if dead, thaw if frozen. Heal: nothing.
    RestoreServer(ServerSelector),
    /// The Management Layer's failover: kill the active instance, promote its partner.
    /// Heal: restart the killed instance as standby (the promoted one stays active).
    HaFailover {
        site: String,
        server: ServerKind,
        /// One group's SIP Server pair (`None`: group 1's, the only one of most deployments).
        group: Option<u32>,
    },
    /// Graceful switchover: promote the standby, then demote the active one (its clients are closed).
    /// Heal: nothing (the pair is redundant again already).
    HaSwitchover {
        site: String,
        server: ServerKind,
        /// One group's SIP Server pair (`None`: group 1's).
        group: Option<u32>,
    },
    /// A fault on desktop links. Heal: remove it.
    Link {
        links: LinkSelector,
        fault: LinkFault,
    },
    /// A fault on the links of some agents of a herd only (those `aim` names). Heal: remove it.
    AimedLink {
        links: LinkSelector,
        fault: LinkFault,
        aim: AimedAt,
    },
    /// `count` cycles of: `fault` on the links for `period / 2` (down), then none for `period / 2`
    /// (up), in the background after the first down; each phase reports on the guard's
    /// [`FaultGuard::take_phases`]. With `aim`, only those agents' links flap. Heal: stop
    /// flapping, links up.
    Flap {
        links: LinkSelector,
        fault: LinkFault,
        period: Duration,
        count: u32,
        aim: Option<AimedAt>,
    },
    /// Both instances of the pair answer logins with EventError 403 (`on`), or stop doing so.
    /// Heal of `on: true`: rejection off.
    RejectLogins {
        site: String,
        server: ServerKind,
        on: bool,
    },
    /// Both instances of the pair turn new clients away as overloaded: EventError 429, retry
    /// after [`OVERLOAD_RETRY_MS`], or (`refuse`) the connection closed at once with no answer.
    /// Heal: limits lifted.
    Overload {
        site: String,
        server: ServerKind,
        refuse: bool,
    },
    /// Sets (`Some`) or removes (`None`) `business-continuity/preferred-site` on an object, on every
    /// CS Proxy instance. Heal: the previous value.
    SetPreferredSite {
        level: ConfigLevel,
        object: String,
        site: Option<String>,
    },
    /// A call from [`CALLER_DN`] to `dn` through the site's active SIP Server. Heal: nothing.
    DeliverCall { site: String, dn: String },
}

fn role_part(r: Option<Role>) -> &'static str {
    r.map(Role::as_str).unwrap_or("*")
}

impl fmt::Display for ServerSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}{}",
            self.site,
            self.server.as_str(),
            group_part(self.group),
            role_part(self.role)
        )
    }
}

/// A group as the instance names spell it (`g2.`); none (every group) writes nothing.
fn group_part(g: Option<u32>) -> String {
    g.map(|g| format!("g{g}.")).unwrap_or_default()
}

impl fmt::Display for LinkSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = self.server.map(ServerKind::as_str).unwrap_or("*");
        let group = group_part(self.group);
        write!(f, "{}.{server}.{group}{}", self.site, role_part(self.role))
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::KillSite { site } => write!(f, "kill_site {site}"),
            Fault::StopSite { site } => write!(f, "stop_site {site}"),
            Fault::RestoreSite { site } => write!(f, "restore_site {site}"),
            Fault::KillServer(s) => write!(f, "kill_server {s}"),
            Fault::FreezeServer(s) => write!(f, "freeze_server {s}"),
            Fault::ThawServer(s) => write!(f, "thaw_server {s}"),
            Fault::StopServer(s) => write!(f, "stop_server {s}"),
            Fault::RestoreServer(s) => write!(f, "restore_server {s}"),
            Fault::HaFailover {
                site,
                server,
                group,
            } => write!(
                f,
                "ha_failover {site}.{}{}",
                server.as_str(),
                group.map(|g| format!(".g{g}")).unwrap_or_default()
            ),
            Fault::HaSwitchover {
                site,
                server,
                group,
            } => write!(
                f,
                "ha_switchover {site}.{}{}",
                server.as_str(),
                group.map(|g| format!(".g{g}")).unwrap_or_default()
            ),
            Fault::Link { links, fault } => write!(f, "{} {links}", link::describe(fault)),
            Fault::AimedLink { links, fault, aim } => {
                write!(f, "{} {links} {aim}", link::describe(fault))
            }
            Fault::Flap {
                links,
                fault,
                period,
                count,
                aim,
            } => {
                // Refusing is the original flap mode: its name stays as it was in timelines.
                if *fault != LinkFault::Refuse {
                    write!(f, "flap {} ", link::describe(fault))?;
                } else {
                    write!(f, "flap ")?;
                }
                write!(f, "{links} every {}ms x{count}", period.as_millis())?;
                match aim {
                    Some(aim) => write!(f, " {aim}"),
                    None => Ok(()),
                }
            }
            Fault::Overload {
                site,
                server,
                refuse,
            } => {
                let how = if *refuse { " (refusing)" } else { "" };
                write!(f, "overload {site}.{}{how}", server.as_str())
            }
            Fault::RejectLogins { site, server, on } => {
                write!(
                    f,
                    "reject_logins {site}.{} {}",
                    server.as_str(),
                    if *on { "on" } else { "off" }
                )
            }
            Fault::SetPreferredSite {
                level,
                object,
                site,
            } => write!(
                f,
                "set_preferred_site {} `{object}` = {}",
                level.as_str(),
                site.as_deref().unwrap_or("(none)")
            ),
            Fault::DeliverCall { site, dn } => write!(f, "deliver_call {dn} via {site}"),
        }
    }
}

/// Why a fault could not be applied, confirmed or healed.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The fault does not fit the environment (unknown site, no Stat Server, bad parameter).
    #[error("invalid fault `{fault}`: {reason}")]
    Invalid { fault: String, reason: String },
    /// An operation failed while applying it.
    #[error("cannot apply `{fault}`: {source}")]
    Apply {
        fault: String,
        #[source]
        source: EnvError,
    },
    /// It was applied but reading the state back did not show the expected effect.
    #[error("`{fault}` not confirmed: {reason}")]
    NotConfirmed { fault: String, reason: String },
    /// A call the servers refused: no Ready agent on the DN at the site or its peers. Not the
    /// harness's failure: the desktop's agent was not there to take it.
    #[error("`{fault}` refused: {reason}")]
    CallRefused { fault: String, reason: String },
    /// Healing failed.
    #[error("cannot heal `{fault}`: {reason}")]
    Heal { fault: String, reason: String },
    #[error("the environment is shut down")]
    ShutDown,
}

/// Injecting and healing faults in an environment, a trait of this layer so that env does not
/// depend on it (`use bc_engine::fault::Faults` to call `env.inject(..)`).
pub trait Faults {
    /// Applies a fault, confirms it took effect, and returns its guard (which can heal it).
    /// Every guard is also registered for [`Faults::heal_all`] and `Environment::reset`.
    fn inject(&self, fault: &Fault) -> impl Future<Output = Result<FaultGuard, FaultError>> + Send;

    /// Heals every fault still registered (newest first). Always safe to call; tries every heal
    /// and reports the first failure.
    fn heal_all(&self) -> impl Future<Output = Result<(), FaultError>> + Send;

    /// Heals every fault except configuration changes, which a suite's `heal: all` leaves in place
    /// (docs/suite-format.md): a changed preferred site is state, not a fault to undo.
    fn heal_faults(&self) -> impl Future<Output = Result<(), FaultError>> + Send;

    /// How many injected faults are not healed yet.
    fn pending_faults(&self) -> usize;
}

impl Faults for Environment {
    async fn inject(&self, fault: &Fault) -> Result<guard::FaultGuard, FaultError> {
        if self.shared.ensure_open().is_err() {
            return Err(FaultError::ShutDown);
        }
        let applied = match fault {
            Fault::KillSite { .. }
            | Fault::StopSite { .. }
            | Fault::RestoreSite { .. }
            | Fault::KillServer(_)
            | Fault::FreezeServer(_)
            | Fault::ThawServer(_)
            | Fault::StopServer(_)
            | Fault::RestoreServer(_) => process::apply(&self.shared, fault).await?,
            Fault::HaFailover {
                site,
                server,
                group,
            } => ha::failover(&self.shared, fault, site, *server, *group).await?,
            Fault::HaSwitchover {
                site,
                server,
                group,
            } => ha::switchover(&self.shared, fault, site, *server, *group).await?,
            Fault::Link { links, fault: lf } => link::apply(&self.shared, fault, links, lf).await?,
            Fault::AimedLink {
                links,
                fault: lf,
                aim,
            } => aimed::apply(&self.shared, fault, links, lf, &aim.clients).await?,
            Fault::Flap {
                links,
                fault: lf,
                period,
                count,
                aim,
            } => {
                let clients = aim.as_ref().map(|a| a.clients.as_slice());
                flap::apply(&self.shared, fault, links, lf, *period, *count, clients).await?
            }
            Fault::Overload {
                site,
                server,
                refuse,
            } => overload::apply(&self.shared, fault, site, *server, *refuse).await?,
            Fault::RejectLogins { site, server, on } => {
                logins::apply(&self.shared, fault, site, *server, *on).await?
            }
            Fault::SetPreferredSite {
                level,
                object,
                site,
            } => config::apply(&self.shared, fault, *level, object, site.as_deref()).await?,
            Fault::DeliverCall { site, dn } => call::apply(&self.shared, fault, site, dn).await?,
        };
        Ok(guard::FaultGuard::register(
            &self.shared,
            fault.clone(),
            applied,
        ))
    }

    async fn heal_all(&self) -> Result<(), FaultError> {
        guard::registry(&self.shared).heal_all(&self.shared).await
    }

    async fn heal_faults(&self) -> Result<(), FaultError> {
        guard::registry(&self.shared)
            // Only configuration changes register a SetPreferred heal action.
            .heal_where(&self.shared, |heal| {
                !heal
                    .iter()
                    .any(|a| matches!(a, guard::HealAction::SetPreferred { .. }))
            })
            .await
    }

    fn pending_faults(&self) -> usize {
        guard::registry(&self.shared).pending()
    }
}

//! bc-suite: the YAML suite language of bc-harness, parsed into a validated, typed model.
//! Pure (no async, no Docker): load -> validate -> [`plan()`] into concrete scenarios for the engine.
//!
//! # Use
//!
//! ```
//! use bc_suite::{load_str, plan, Action, PlanOptions, Site};
//!
//! let text = "version: 1
//! id: demo
//! config: fixtures/suites/config.yaml
//! agent: agent1001
//! rules: [BC-4]
//! scenarios:
//!   - id: kill-preferred
//!     for_each_preferred_site: true
//!     steps:
//!       - kill_site: preferred
//!       - expect_logged_in: {site: other, measure: switchover}
//! ";
//! // Relative paths (the configuration database) are looked up from this directory upwards.
//! let loaded = match load_str("demo.yaml", text, std::path::Path::new(".")) {
//!     Ok(l) => l,
//!     Err(diags) => panic!("{}", bc_suite::render_plain(&diags.errors)),
//! };
//! let runs = plan(&loaded, &PlanOptions::default()).unwrap();
//! assert_eq!(runs.len(), 2); // preferred A, then preferred B
//! assert_eq!(runs[1].id, "demo/kill-preferred[preferred=B]");
//! assert_eq!(runs[1].steps[0].action, Action::StartDesktop); // implicit start, marker `start`
//! assert_eq!(runs[1].steps[1].action, Action::KillSite(Site::B));
//! ```
//!
//! Modules: [`model`] (the YAML model as written), [`planned`] (what the engine runs),
//! [`load`] and [`validate`] (the passes), [`diagnostic`] (miette rendering), [`plan`].

pub mod aim;
pub mod capacity;
pub mod config;
pub mod coverage;
pub mod diagnostic;
pub mod discover;
pub mod duration;
pub mod load;
pub mod model;
pub mod plan;
pub mod planned;
pub(crate) mod recover;
pub mod schema;
pub mod set;
pub(crate) mod short_form;
pub(crate) mod snippet;
pub mod span;
pub mod steps;
pub mod suggest;
pub mod target;
pub mod trigger;
pub mod validate;
pub mod vocab;

pub use aim::{herd_group, herd_index, herd_username, AgentGroup, Aim, Percent};
pub use capacity::{Capacities, Capacity, CapacityPlan};
pub use diagnostic::{render_plain, Diagnostics, Phase, SuiteError};
pub use discover::discover;
pub use duration::HumanDuration;
pub use load::{load_file, load_str, parse_str, LoadedSuite};
pub use model::*;
pub use plan::{plan, PlanError};
pub use planned::*;
pub use schema::schema_json;
pub use set::{load_set, SetError, SuiteSet};
pub use span::{Span, Spanned};
pub use target::{LinkTarget, ServerTarget};
pub use vocab::{Capability, Level, Role, RuleId, ServerKind, Site, SiteRef};

//! bc-suite: the YAML suite language of bc-harness, parsed into a validated, typed model.
//! Pure (no async, no Docker): load -> validate -> [`plan()`] into concrete scenarios for the engine.

pub mod duration;
pub mod model;
pub(crate) mod short_form;
pub mod span;
pub mod suggest;
pub mod target;
pub mod vocab;

pub use duration::HumanDuration;
pub use model::*;
pub use span::{Span, Spanned};
pub use target::{LinkTarget, ServerTarget};
pub use vocab::{Capability, Level, Role, RuleId, ServerKind, Site, SiteRef};
pub mod planned;
pub use planned::*;
pub mod config;
pub mod diagnostic;
pub mod load;
pub mod steps;
pub mod validate;

pub use diagnostic::{render_plain, Diagnostics, Phase, SuiteError};
pub use load::{load_file, load_str, parse_str, LoadedSuite};
pub mod plan;
pub(crate) mod recover;
pub use plan::{plan, PlanError};
pub mod discover;
pub mod schema;
pub use discover::discover;
pub use schema::schema_json;

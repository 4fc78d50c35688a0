//! The vocabulary every Tollgate gate speaks.
//!
//! **Architecture invariant:** this crate holds only shared types (findings, rules, gate
//! reports, artifacts and digests), the generic `tollgate.toml` loader, store URLs and the
//! renderers that turn gate reports into text. It knows nothing about any particular gate
//! (each capability crate owns its configuration section and rule table) and never prints.

pub mod artifact;
pub mod config;
pub mod finding;
pub mod fs;
pub mod render;
pub mod report;
pub mod rule;
pub mod store_url;
pub mod time_source;

pub use artifact::{Artifact, Digest, DigestAlgorithm};
pub use config::{ConfigError, ConfigFile};
pub use finding::{Finding, Location, Severity};
pub use render::ReportFormat;
pub use report::{GateInput, GateReport, Verdict};
pub use rule::{GateRules, Rule};

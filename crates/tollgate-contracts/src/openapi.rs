//! OpenAPI 3.0 / 3.1 compatibility: load a spec (JSON or YAML, `$ref`s across relative files)
//! and list the changes between two versions under stable rule ids ([`RULES`]).
//!
//! Request schemas are compared in the *writer* direction (everything a client could send before
//! must still be accepted), response schemas in the *reader* direction (everything the server may
//! send now must have been expected before). Paths match by template shape, so renaming
//! `/users/{id}` to `/users/{userId}` is not a change.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12: its keywords are judged by
//! [`crate::keywords`], shared with the JSON Schema check, and every applicator's sub-schemas
//! are walked (`not` with the directions swapped). Webhooks are compared from the receiver's
//! side (the API writes their requests). Non-JSON bodies (XML, form data) compare types as
//! text. `x-stability-level` below `stable` lowers breaking changes to info and may only
//! increase; `deprecated` + `x-sunset` decide when an operation may go ([`Policy`]).

mod diff;
mod load;
mod rules;
mod schema;

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

pub use crate::error::ContractError;
pub use rules::RULES;

use crate::change::Change;
use crate::confine::{self, RefRoot};

/// A loaded OpenAPI document with every file its `$ref`s reach, all references checked.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `docs[0]` is the root document.
    docs: Vec<Doc>,
    /// Document name -> index in `docs`.
    index: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
struct Doc {
    name: String,
    value: Value,
}

impl Spec {
    /// The root document's name (the path or name it was loaded under).
    pub fn name(&self) -> &str {
        &self.docs[0].name
    }

    /// The root document as JSON.
    pub fn root(&self) -> &Value {
        &self.docs[0].value
    }
}

/// Loads a spec from disk; `$ref`s are read only from regular files inside the spec's own
/// directory ([`crate::confine`]): anything else is a [`ContractError::BrokenRef`].
pub fn load(path: &Path) -> Result<Spec, ContractError> {
    load_within(path, path.parent().unwrap_or(Path::new("")))
}

/// Loads a spec from disk; `$ref`s are read only from regular files inside `root`
/// ([`crate::confine`]): anything else is a [`ContractError::BrokenRef`] naming the `$ref`.
pub fn load_within(path: &Path, root: &Path) -> Result<Spec, ContractError> {
    let root = RefRoot::new(root)?;
    let name = path.to_string_lossy().replace('\\', "/");
    let text = confine::read_limited(path)
        .map_err(|cause| ContractError::Io { file: path.to_path_buf(), cause })?;
    load_str(&name, &text, |other| root.read(Path::new(other)))
}

/// Loads a spec from text named `name`; `resolver` returns the text of another document given
/// its name (relative references are joined to the referring document's name, `/`-separated),
/// or why it may not or cannot be read, so a baseline can be read from git objects.
pub fn load_str(
    name: &str,
    text: &str,
    resolver: impl Fn(&str) -> Result<String, String>,
) -> Result<Spec, ContractError> {
    load::load(name, text, &resolver)
}

/// The spec's `info.version`, for the semver-major check.
pub fn version(spec: &Spec) -> Option<&str> {
    spec.root().get("info")?.get("version")?.as_str()
}

/// Every change from `base` to `revision` under the default [`Policy`], sorted by rule,
/// subject and location.
pub fn diff(base: &Spec, revision: &Spec) -> Vec<Change> {
    diff_with(base, revision, &Policy::default())
}

/// Every change from `base` to `revision` under `policy`, sorted by rule, subject and location.
pub fn diff_with(base: &Spec, revision: &Spec, policy: &Policy) -> Vec<Change> {
    let mut changes = diff::diff(base, revision, policy);
    changes.sort();
    changes.dedup();
    changes
}

/// An operation's `x-stability-level`, lowest first; operations without one are `stable`.
/// Below `stable` breaking changes are allowed; the level may only increase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stability {
    /// `draft`.
    Draft,
    /// `alpha`.
    Alpha,
    /// `beta`.
    Beta,
    /// `stable` (the default).
    Stable,
}

impl Stability {
    /// The extension's value (`draft`, `alpha`, `beta`, `stable`), in any case.
    pub fn parse(text: &str) -> Option<Stability> {
        match text.trim().to_ascii_lowercase().as_str() {
            "draft" => Some(Stability::Draft),
            "alpha" => Some(Stability::Alpha),
            "beta" => Some(Stability::Beta),
            "stable" => Some(Stability::Stable),
            _ => None,
        }
    }

    /// The extension's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Draft => "draft",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
        }
    }
}

/// What the comparison may not learn from the specs alone: the deprecation policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Minimum days between deprecating an operation and its `x-sunset` date, per stability
    /// level (`[contracts.sunset_notice]`).
    pub sunset_notice_days: [(Stability, u32); 4],
}

impl Default for Policy {
    /// No notice for draft and alpha, 31 days for beta, 180 for stable (the usual public-API
    /// deprecation windows).
    fn default() -> Self {
        Policy {
            sunset_notice_days: [
                (Stability::Draft, 0),
                (Stability::Alpha, 0),
                (Stability::Beta, 31),
                (Stability::Stable, 180),
            ],
        }
    }
}

impl Policy {
    /// The minimum notice for an operation of this stability.
    pub fn notice_days(&self, level: Stability) -> u32 {
        self.sunset_notice_days.iter().find(|(l, _)| *l == level).map_or(0, |(_, d)| *d)
    }
}

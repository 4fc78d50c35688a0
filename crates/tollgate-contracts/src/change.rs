//! What every spec diff reports: changes with stable rule ids, levels and locations.

use serde::Serialize;
use std::collections::BTreeMap;
use tollgate_core::{Finding, Location, Severity};

/// How much a change matters to consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Non-breaking, worth a changelog line.
    Info,
    /// May break some consumers (dangerous).
    Warning,
    /// Breaks consumers.
    Error,
}

impl Level {
    /// The same scale as finding severities.
    pub fn severity(self) -> Severity {
        match self {
            Level::Info => Severity::Info,
            Level::Warning => Severity::Warning,
            Level::Error => Severity::Error,
        }
    }
}

/// Documentation of one rule: its stable id, default level and what it detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleDoc {
    /// Stable id, `<kind>/<area>-<change>` (e.g. `openapi/request-parameter-removed`).
    pub id: &'static str,
    /// Default level.
    pub level: Level,
    /// Area of the spec (`paths`, `request-body`, `response`, `type`, `field`, …).
    pub area: &'static str,
    /// Direction: `request` (what clients send), `response` (what they receive), or `both`.
    pub direction: &'static str,
    /// One sentence: what the rule detects and why it matters.
    pub description: &'static str,
}

/// A rule table entry (`const`-friendly, for the `RULES` tables).
pub const fn rule(
    id: &'static str,
    level: Level,
    area: &'static str,
    direction: &'static str,
    description: &'static str,
) -> RuleDoc {
    RuleDoc { id, level, area, direction, description }
}

/// One detected change between a base spec and a revision.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// The rule's id (one of the module's `RULES`).
    pub rule: &'static str,
    /// Its default level.
    pub level: Level,
    /// A sentence naming the operation / type and what changed.
    pub message: String,
    /// The operation (`GET /users/{id}`) or schema element (`User.email`) concerned.
    pub subject: String,
    /// The file (revision, or base for removals) and a JSON pointer into it.
    pub location: Location,
}

/// Turns changes into findings, applying per-rule level overrides (`rule id -> level`).
pub fn to_findings(changes: &[Change], overrides: &BTreeMap<String, Severity>) -> Vec<Finding> {
    changes
        .iter()
        .map(|c| {
            let severity = overrides.get(c.rule).copied().unwrap_or(c.level.severity());
            Finding::new(c.rule, severity, c.message.clone())
                .at(c.location.clone())
                .about(c.subject.clone())
        })
        .collect()
}

//! Contract gates: does a new API spec break the consumers of the old one?
//!
//! One module per spec kind ([`openapi`], [`graphql`], [`jsonschema`]), each with
//! `diff(base, revision) -> Result<Vec<Change>, ContractError>` and a `RULES` table; [`change`]
//! holds what they share: the rule taxonomy, change levels and conversion to findings with
//! per-rule overrides. [`baseline`] reads the same spec at a git ref (no checkout) and
//! [`exceptions`] applies accepted, expiring exceptions. [`gate`] owns the `[contracts]`
//! configuration, the gate's rule table and the decision (baseline -> exceptions -> semver).
//!
//! **Architecture invariant:** no network, no printing; every change names the operation (or
//! type/field) and a JSON pointer in the revision (or base, for removals).

pub mod baseline;
pub mod change;
pub mod confine;
pub mod error;
pub mod exceptions;
pub mod gate;
pub mod graphql;
pub mod jsonschema;
mod keywords;
pub mod openapi;
#[cfg(feature = "pact")]
pub mod pact;

pub use error::ContractError;

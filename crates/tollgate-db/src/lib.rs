//! PostgreSQL work the operator and `tollgate db …` share.
//!
//! - [`migrate`]: versioned SQL migrations under an advisory lock, with checksums, drift
//!   detection and destructive-change plans.
//! - [`backup`]: `pg_dump` streamed through SHA-256 and optional age encryption into an
//!   object store, with a metadata document per backup; [`store`] is the object store.
//! - [`retention`]: GFS retention selection (pure).
//! - [`restore`]: verification tiers and restores.
//! - [`conninfo`]: connection strings split into a password and the rest (client tools get
//!   the password in their environment, never on their command line), and redaction.
//! - [`gate`]: the rule tables of the database gates and the reports the CLI renders.
//!
//! **Architecture invariant:** nothing is deleted, dropped or applied on a guess: when in doubt,
//! stop with an error that says why.

pub mod backup;
pub mod conninfo;
pub mod gate;
pub mod migrate;
pub mod restore;
pub mod retention;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

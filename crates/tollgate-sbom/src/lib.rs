//! Software bills of materials for source trees.
//!
//! Three steps, each its own module: [`catalog`] reads lockfiles into an [`Inventory`],
//! [`format`] writes an inventory as CycloneDX or SPDX JSON, and [`diff`] compares two SBOMs
//! and reports the changes as findings; [`gate`] owns the `[sbom]` configuration, the rule
//! table and the gate checks built from them.
//!
//! **Architecture invariant:** nothing here touches the network or prints. I/O outside the
//! scanned tree is limited to local package metadata: the Cargo registry cache (licences),
//! the pub cache (pubspecs, for Dart edges), and the manifests of Cargo path dependencies a
//! lockfile names outside its workspace.

pub mod catalog;
pub mod diff;
pub mod error;
pub mod format;
pub mod gate;
pub mod model;
pub mod read;

pub use error::SbomError;
pub use model::{
    Component, ComponentKind, DependencyKind, Distribution, Ecosystem, Hash, HashAlgorithm,
    Inventory, Scope,
};

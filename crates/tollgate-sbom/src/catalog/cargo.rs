//! Cargo.lock (being written).

use crate::{Inventory, SbomError};
use std::path::Path;

/// Catalogues one Cargo workspace.
pub fn catalog(
    _root: &Path,
    lockfile: &Path,
    _cargo_home: Option<&Path>,
) -> Result<Inventory, SbomError> {
    Err(SbomError::malformed(crate::error::Place::file(lockfile), "cataloguer not written yet"))
}

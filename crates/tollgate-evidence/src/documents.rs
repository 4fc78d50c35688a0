//! Documents generated into a bundle (OSCAL, GitLab release evidence, the HTML report): the
//! hook [`build`](crate::build) calls, and the [`Generation`] it passes. A generator sees the
//! run directory and the manifest's entries for its files, never the other generated documents.

use std::path::Path;

use crate::{Coverage, EvidenceError, FileEntry, Mapping, Producer, ReleaseIdentity};
use crate::{gitlab, oscal, report};

/// A document [`build`](crate::build) generates into the bundle (OSCAL, GitLab release
/// evidence, the HTML report): its archive path and the function that makes its bytes from the
/// [`Generation`].
/// It is listed in the manifest like every file, with kind `export`. Adding one is a line:
/// `BuildOptions::new(version).document(GeneratedDocument::new("report.html", render))` with
/// `render: fn(&Generation<'_>) -> Result<Vec<u8>, EvidenceError>`.
pub struct GeneratedDocument {
    /// Path in the archive (relative, `/`-separated); must not exist in the run directory.
    pub path: String,
    pub(crate) generate: Box<GenerateFn>,
}

type GenerateFn = dyn Fn(&Generation<'_>) -> Result<Vec<u8>, EvidenceError> + Send + Sync;

impl GeneratedDocument {
    /// A document at `path` made by `generate`, which must be deterministic (same
    /// [`Generation`], same bytes).
    pub fn new(
        path: impl Into<String>,
        generate: impl Fn(&Generation<'_>) -> Result<Vec<u8>, EvidenceError> + Send + Sync + 'static,
    ) -> Self {
        GeneratedDocument { path: path.into(), generate: Box::new(generate) }
    }

    /// The documents every bundle carries: [`oscal::ASSESSMENT_RESULTS`],
    /// [`gitlab::RELEASE_EVIDENCE`] and [`report::REPORT_HTML`].
    pub fn defaults() -> Vec<GeneratedDocument> {
        vec![
            GeneratedDocument::new(report::REPORT_HTML, report::generate),
            GeneratedDocument::new(oscal::ASSESSMENT_RESULTS, oscal::generate),
            GeneratedDocument::new(gitlab::RELEASE_EVIDENCE, gitlab::generate),
        ]
    }
}

/// What a [`GeneratedDocument`] is made from: the run directory and what the manifest says of
/// its files. Generated documents do not see each other.
#[derive(Debug, Clone, Copy)]
pub struct Generation<'a> {
    /// The run directory being bundled (generators may read its files).
    pub run_dir: &'a Path,
    /// The release identity.
    pub release: &'a ReleaseIdentity,
    /// The producer block of the manifest.
    pub producer: &'a Producer,
    /// The run directory's files (not the generated documents), sorted by path.
    pub files: &'a [FileEntry],
    /// The mapping in use.
    pub mapping: &'a Mapping,
    /// Coverage of the mapping's catalogs by `files`.
    pub coverage: &'a Coverage,
    /// The bundle's timestamp: `SOURCE_DATE_EPOCH` or 0 (seconds since the Unix epoch).
    pub source_date_epoch: u64,
}

//! Evidence bundles: every file of a release run directory in one reproducible `.tar.gz`, with
//! a hash manifest (`manifest.json`) signed as a DSSE envelope (`manifest.dsse.json`).
//!
//! Archive layout: `manifest.json` first, `manifest.dsse.json` second, then the run directory's
//! directories and files in sorted order at their paths relative to the run directory. Entries
//! have mtime `SOURCE_DATE_EPOCH` (or 0), uid/gid 0, empty owner names, mode 0644 (files) or
//! 0755 (directories); the gzip header carries no file name and no mtime. The same inputs give
//! a byte-identical archive. Empty directories of the run directory are left out: the manifest
//! lists files, and a verified archive holds only the directories its files need.
//!
//! [`verify`] reads the archive once, streaming: the signature over the manifest first, then
//! every file's size, SHA-256 and SHA-512 as it passes; unsafe paths, links and special files
//! are rejected. It accepts only what the builder writes (canonical GNU tar headers, regular
//! files and the directories that hold them, bounded zero padding, one gzip member or zstd
//! frame), so that what verifies is exactly what GNU tar or Python's `tarfile` extract; and it
//! checks each header against the manifest before reading its data, so a bundle cannot make it
//! read more than the manifest declares. Bundles are `.tar.gz` (`.tgz`) or `.tar.zst`
//! (`.tzst`), chosen by file name; a file without that format's magic number is not a bundle.
//!
//! **Architecture invariant:** no printing; files are streamed, never loaded whole (only the
//! manifest and its envelope are read into memory, capped at [`MAX_MANIFEST_BYTES`]).

mod archive;
mod build;
mod container;
pub mod controls;
mod documents;
mod error;
pub mod gate;
pub mod git_range;
pub mod github;
pub mod gitlab;
mod hasher;
mod manifest;
pub mod oscal;
pub mod publish;
pub mod report;
mod show;
mod tar_stream;
mod verify;
mod walk;

pub use archive::{Format, format_of, source_date_epoch};
pub use build::{BuildOptions, Built, build};
pub use controls::{
    CatalogCoverage, ControlCoverage, Coverage, EvidenceKind, Mapping, classify, coverage,
};
pub use documents::{GeneratedDocument, Generation};
pub use error::EvidenceError;
pub use manifest::{
    FileEntry, MANIFEST, MANIFEST_DSSE, MAX_MANIFEST_BYTES, Manifest, PAYLOAD_TYPE, PolicyFile,
    Producer, ReleaseIdentity, SCHEMA_VERSION, Tool, media_type,
};
pub use show::show;
pub use verify::{Summary, verify};

#[cfg(test)]
mod tests;

//! Errors, each naming the file (and the archive entry) it is about.

use std::path::PathBuf;

/// What went wrong building, verifying or reading an evidence bundle.
///
/// [`EvidenceError::is_input_error`] tells input errors (exit 2: a file that cannot be opened,
/// a file that is not a bundle at all, a bad run directory, an unsupported format) from
/// verification failures (exit 1: the file is a gzip or zstd stream, as its name says, and is
/// not what its signed manifest says, including a truncated, corrupt or padded archive).
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file could not be opened, read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The run directory cannot be bundled.
    #[error("{}: {message}", path.display())]
    RunDir {
        /// The offending path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// `[evidence]` in the configuration names an unknown catalog, kind or control.
    #[error("{}: {key}: {message}", path.display())]
    Config {
        /// The configuration file (`tollgate.toml`).
        path: PathBuf,
        /// The offending key (`evidence.controls.sbom[0]`).
        key: String,
        /// What is wrong, with the known values.
        message: String,
    },
    /// A generated document (OSCAL, GitLab release evidence, report) could not be made.
    #[error("{path}: cannot generate: {message}")]
    Generate {
        /// The document's archive path.
        path: String,
        /// Why.
        message: String,
    },
    /// The bundle's file name says neither `.tar.gz`/`.tgz` nor `.tar.zst`/`.tzst`.
    #[error("{}: unsupported bundle format (expected .tar.gz, .tgz, .tar.zst or .tzst)", path.display())]
    UnsupportedFormat {
        /// The bundle.
        path: PathBuf,
    },
    /// `SOURCE_DATE_EPOCH` is set but not a non-negative Unix timestamp.
    #[error("SOURCE_DATE_EPOCH={value:?} is not a non-negative Unix timestamp in seconds")]
    SourceDateEpoch {
        /// The rejected value.
        value: String,
    },
    /// The file does not start with the magic number of the format its name says: it is not
    /// a bundle at all (an input error).
    #[error("{}: not a bundle: expected a {format} stream (magic number {magic}), found {found}", path.display())]
    NotABundle {
        /// The file.
        path: PathBuf,
        /// `gzip` or `zstd`.
        format: &'static str,
        /// The expected magic number, in hex.
        magic: String,
        /// What the file holds instead (`an empty file`, its first bytes).
        found: String,
    },
    /// The archive ends early, is not a valid gzip/zstd/tar stream, or has anything but the
    /// accepted padding after its end.
    #[error("{}: truncated or corrupt archive{}: {message}", bundle.display(), after.as_ref().map(|e| format!(" (after entry {e})")).unwrap_or_default())]
    Corrupt {
        /// The bundle.
        bundle: PathBuf,
        /// The last entry read completely, if any.
        after: Option<String>,
        /// What the decoder said.
        message: String,
    },
    /// An entry has an absolute path.
    #[error("{}: entry {entry:?} has an absolute path", bundle.display())]
    AbsolutePath {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
    },
    /// An entry's path climbs out of the archive (`..`).
    #[error("{}: entry {entry:?} escapes the archive with '..' (path traversal)", bundle.display())]
    PathTraversal {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
    },
    /// An entry's path is not in normal form (empty, `.`, `//`, backslash or not UTF-8).
    #[error("{}: entry {entry:?} has an unsafe path: {reason}", bundle.display())]
    UnsafePath {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// An entry is a symbolic link.
    #[error("{}: entry {entry:?} is a symbolic link (to {target:?}); bundles hold regular files only", bundle.display())]
    Symlink {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// The link target.
        target: String,
    },
    /// An entry is a hard link.
    #[error("{}: entry {entry:?} is a hard link (to {target:?}); bundles hold regular files only", bundle.display())]
    Hardlink {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// The link target.
        target: String,
    },
    /// An entry is a device, FIFO or another special file.
    #[error("{}: entry {entry:?} is a {kind}; bundles hold regular files only", bundle.display())]
    SpecialFile {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// What it is.
        kind: String,
    },
    /// A directory entry declares data: standard extractors would read it as further entries.
    #[error("{}: directory entry {entry:?} carries {size} bytes of data; tar extractors would read them as further entries", bundle.display())]
    DirectoryData {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path, as in the archive.
        entry: String,
        /// The size its header declares.
        size: u64,
    },
    /// A directory entry that is not the parent of any file of the signed manifest.
    #[error("{}: extra directory {entry:?} is in the archive but holds no file of the signed manifest", bundle.display())]
    ExtraDirectory {
        /// The bundle.
        bundle: PathBuf,
        /// The directory's path (without the trailing `/`).
        entry: String,
    },
    /// A tar header (or an entry's padding) is not exactly what bundles are written with, so
    /// extractors might read it differently from this verifier.
    #[error("{}: entry {entry:?}: {what}; bundles hold canonical GNU tar headers only", bundle.display())]
    NonCanonical {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// Which field differs and how.
        what: String,
    },
    /// The archive does not start with `manifest.json` then `manifest.dsse.json`.
    #[error("{}: expected {expected} as entry {index} of the archive, found {found}", bundle.display())]
    ManifestMissing {
        /// The bundle.
        bundle: PathBuf,
        /// The expected entry name.
        expected: &'static str,
        /// The position (0-based).
        index: usize,
        /// What was there.
        found: String,
    },
    /// `manifest.json` or its envelope cannot be parsed.
    #[error("{}: {entry}: {message}", bundle.display())]
    ManifestInvalid {
        /// The bundle.
        bundle: PathBuf,
        /// `manifest.json` or `manifest.dsse.json`.
        entry: &'static str,
        /// Why.
        message: String,
    },
    /// The DSSE signature over the manifest does not verify with the key.
    #[error("{}: manifest.dsse.json: signature does not verify: {message}", bundle.display())]
    BadSignature {
        /// The bundle.
        bundle: PathBuf,
        /// The verifier's message (names the key ids).
        message: String,
    },
    /// `manifest.json` is not the payload the signature covers.
    #[error("{}: manifest.json differs from the payload signed in manifest.dsse.json (manifest tampered with)", bundle.display())]
    ManifestTampered {
        /// The bundle.
        bundle: PathBuf,
    },
    /// A file in the archive is not listed in the manifest.
    #[error("{}: extra file {entry:?} is in the archive but not in the signed manifest", bundle.display())]
    ExtraFile {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
    },
    /// A file or directory appears twice in the archive.
    #[error("{}: entry {entry:?} appears more than once in the archive", bundle.display())]
    DuplicateFile {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
    },
    /// A file listed in the manifest is not in the archive.
    #[error("{}: missing file {entry:?}: listed in the signed manifest but not in the archive{}", bundle.display(), if *more > 0 { format!(" (and {more} more)") } else { String::new() })]
    MissingFile {
        /// The bundle.
        bundle: PathBuf,
        /// The first missing path.
        entry: String,
        /// How many others are missing.
        more: usize,
    },
    /// A file's size differs from the manifest.
    #[error("{}: file {entry:?}: size is {found} bytes, the signed manifest says {expected}", bundle.display())]
    SizeMismatch {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// From the manifest.
        expected: u64,
        /// In the archive.
        found: u64,
    },
    /// A file's digest differs from the manifest.
    #[error("{}: file {entry:?}: {algorithm} is {found}, the signed manifest says {expected}", bundle.display())]
    DigestMismatch {
        /// The bundle.
        bundle: PathBuf,
        /// The entry's path.
        entry: String,
        /// `sha256` or `sha512`.
        algorithm: &'static str,
        /// From the manifest.
        expected: String,
        /// Of the archived bytes.
        found: String,
    },
}

impl EvidenceError {
    /// True for errors about the inputs (exit 2), false for verification failures (exit 1).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            EvidenceError::Io { .. }
                | EvidenceError::RunDir { .. }
                | EvidenceError::UnsupportedFormat { .. }
                | EvidenceError::NotABundle { .. }
                | EvidenceError::SourceDateEpoch { .. }
                | EvidenceError::Config { .. }
                | EvidenceError::Generate { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        EvidenceError::Io { path: path.into(), cause }
    }
}

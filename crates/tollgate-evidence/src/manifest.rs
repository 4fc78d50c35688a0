//! `manifest.json`: the signed record of a bundle. It names the release run and what produced
//! the bundle, and lists every file with its size, SHA-256, SHA-512, media type, evidence kind
//! and controls. Its JSON is a public, versioned format ([`SCHEMA_VERSION`]): this crate writes
//! one version and reads only that one.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Coverage, EvidenceError, EvidenceKind, controls};

/// The manifest's file name in the archive.
pub const MANIFEST: &str = "manifest.json";
/// The DSSE envelope over the manifest, in the archive.
pub const MANIFEST_DSSE: &str = "manifest.dsse.json";
/// The DSSE payload type of the manifest.
pub const PAYLOAD_TYPE: &str = "application/vnd.tollgate.evidence-manifest+json";
/// The manifest schema version this crate writes and reads.
pub const SCHEMA_VERSION: &str = "2";
/// The largest manifest or envelope accepted when reading a bundle.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// Which release run this is the evidence of.
    pub release: ReleaseIdentity,
    /// Who and what produced the bundle, and with which configuration and policy set.
    pub producer: Producer,
    /// The control catalogs the files were mapped to (ids, in order).
    pub catalogs: Vec<String>,
    /// Every file, sorted by path.
    pub files: Vec<FileEntry>,
}

/// What produced a bundle: the tool, and digests of the inputs that decided its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Producer {
    /// The tool and its version.
    pub tool: Tool,
    /// SHA-256 of the effective configuration (`tollgate.toml` over the defaults), serialized
    /// as compact JSON with keys in declaration order and maps sorted.
    pub config_sha256: String,
    /// SHA-256 of the policy set: the catalogs in use and the kind → control mapping, plus
    /// the path and SHA-256 of every file of the repository's `policies/` directory
    /// ([`controls::Mapping::policy_json`]).
    pub policy_sha256: String,
    /// The `policies/` files in the policy set (path relative to the repository root, SHA-256),
    /// sorted by path; empty when the repository has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyFile>,
}

/// One policy file in the policy set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    /// Path relative to the repository root (`policies/release.rego`).
    pub path: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// The release run a bundle is the evidence of (from `release.json` when present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseIdentity {
    /// The run id (`release.json` `runId`, else the run directory's name).
    pub run_id: String,
    /// When the run started (RFC 3339), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// `go` or `no-go`, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// The tool that built the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `tollgate`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Path in the archive (relative, `/`-separated).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Lowercase hex SHA-512.
    pub sha512: String,
    /// IANA media type guessed from the name.
    pub media_type: String,
    /// What the file is evidence of ([`classify`](crate::classify); `export` for generated
    /// documents).
    pub kind: EvidenceKind,
    /// The qualified control ids it supports (`soc2:CC8.1`), sorted by catalog (in the
    /// shipped order) then naturally by control id ([`controls::qualified_cmp`]).
    pub controls: Vec<String>,
}

impl Manifest {
    /// The manifest as it is written and signed: pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Total size of the files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The coverage of the manifest's catalogs by its files' recorded controls.
    pub fn coverage(&self) -> Coverage {
        controls::coverage_of(
            &self.catalogs,
            self.files.iter().map(|f| (f.path.as_str(), f.controls.as_slice())),
        )
    }
}

/// The media type for an archive path.
pub fn media_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ends = |s: &str| name.ends_with(s);
    if ends(".sigstore.json") {
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    } else if ends(".dsse.json") {
        "application/vnd.dsse.envelope.v1+json"
    } else if name.starts_with("cyclonedx") && ends(".json") {
        "application/vnd.cyclonedx+json"
    } else if name.starts_with("spdx") && ends(".json") {
        "application/spdx+json"
    } else if ends(".sarif") || ends(".sarif.json") {
        "application/sarif+json"
    } else if ends(".json") {
        "application/json"
    } else if ends(".xml") {
        "application/xml"
    } else if ends(".pub") || ends(".pem") {
        "application/x-pem-file"
    } else if ends(".md") {
        "text/markdown"
    } else if ends(".html") {
        "text/html"
    } else if ends(".txt") || ends(".log") {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

pub(crate) fn parse_manifest(bundle: &Path, bytes: &[u8]) -> Result<Manifest, EvidenceError> {
    // The version first, so an older or newer manifest is named as such rather than by the
    // first field this version does not know.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Versioned {
        schema_version: Option<serde_json::Value>,
    }
    if let Ok(Versioned { schema_version }) = serde_json::from_slice::<Versioned>(bytes)
        && schema_version.as_ref().and_then(|v| v.as_str()) != Some(SCHEMA_VERSION)
    {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST,
            message: format!(
                "/schemaVersion is {}; this tollgate reads {SCHEMA_VERSION:?} (manifest schema \
                 version {SCHEMA_VERSION}; rebuild the bundle with a matching tollgate)",
                schema_version.map_or("missing".to_owned(), |v| v.to_string())
            ),
        });
    }
    let manifest: Manifest =
        serde_json::from_slice(bytes).map_err(|e| EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST,
            message: format!("line {}, column {}: {e}", e.line(), e.column()),
        })?;
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST,
            message: format!(
                "/schemaVersion is {:?}; this tollgate reads {SCHEMA_VERSION:?}",
                manifest.schema_version
            ),
        });
    }
    Ok(manifest)
}

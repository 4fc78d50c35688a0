//! Writing an [`Inventory`] as CycloneDX or SPDX JSON.
//!
//! Output is deterministic: JSON keys are sorted (documents are built as `serde_json::Value`,
//! whose maps are ordered), components, edges and properties are sorted, the timestamp comes
//! from the caller (who honours `SOURCE_DATE_EPOCH`), and the serial number / document
//! namespace is a UUIDv5 of the document's content without the timestamp.

pub mod cyclonedx;
pub mod spdx;

use crate::Inventory;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The SBOM formats Tollgate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SbomFormat {
    /// CycloneDX JSON (`application/vnd.cyclonedx+json`).
    #[serde(rename = "cyclonedx-json")]
    CycloneDxJson,
    /// SPDX 2.3 JSON (`application/spdx+json`).
    #[serde(rename = "spdx-json")]
    SpdxJson,
}

impl SbomFormat {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SbomFormat::CycloneDxJson => "cyclonedx-json",
            SbomFormat::SpdxJson => "spdx-json",
        }
    }

    /// The IANA media type of documents in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            SbomFormat::CycloneDxJson => "application/vnd.cyclonedx+json",
            SbomFormat::SpdxJson => "application/spdx+json",
        }
    }

    /// The conventional file name (`cyclonedx.json`, `spdx.json`).
    pub fn file_name(self) -> &'static str {
        match self {
            SbomFormat::CycloneDxJson => "cyclonedx.json",
            SbomFormat::SpdxJson => "spdx.json",
        }
    }
}

impl fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SbomFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cyclonedx-json" | "cyclonedx" => Ok(SbomFormat::CycloneDxJson),
            "spdx-json" | "spdx" => Ok(SbomFormat::SpdxJson),
            _ => Err(format!("unknown SBOM format {s:?} (expected cyclonedx-json or spdx-json)")),
        }
    }
}

/// CycloneDX specification versions Tollgate writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum CycloneDxVersion {
    /// 1.5.
    #[serde(rename = "1.5")]
    V1_5,
    /// 1.6 (the default).
    #[default]
    #[serde(rename = "1.6")]
    V1_6,
    /// 1.7.
    #[serde(rename = "1.7")]
    V1_7,
}

impl CycloneDxVersion {
    /// `"1.5"`, `"1.6"` or `"1.7"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CycloneDxVersion::V1_5 => "1.5",
            CycloneDxVersion::V1_6 => "1.6",
            CycloneDxVersion::V1_7 => "1.7",
        }
    }
}

impl FromStr for CycloneDxVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.5" => Ok(CycloneDxVersion::V1_5),
            "1.6" => Ok(CycloneDxVersion::V1_6),
            "1.7" => Ok(CycloneDxVersion::V1_7),
            _ => Err(format!("unsupported CycloneDX version {s:?} (expected 1.5, 1.6 or 1.7)")),
        }
    }
}

impl fmt::Display for CycloneDxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a document says about itself, beyond the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentInfo {
    /// Name of what was scanned (the directory or project name).
    pub subject: String,
    /// RFC 3339 UTC creation time.
    pub timestamp: String,
    /// Version of the producing tool (Tollgate).
    pub tool_version: String,
    /// Lockfiles of the scanned tree left out of the inventory, sorted: when not empty the
    /// document is partial, and says so (CycloneDX: `tollgate:skipped-lockfile` metadata
    /// properties; SPDX: the creation-info comment).
    pub skipped: Vec<SkippedLockfile>,
    /// Lockfiles catalogued as locked although they disagree with their manifests, one entry
    /// per disagreement, sorted (CycloneDX: `tollgate:out-of-date-lockfile` properties; SPDX:
    /// more lines of the same comment). Their rule is `sbom/out-of-date-lockfile`.
    pub out_of_date: Vec<SkippedLockfile>,
}

/// A lockfile a tree scan found but did not catalogue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkippedLockfile {
    /// The lockfile, relative to the scanned root, `/`-separated.
    pub path: String,
    /// The rule it was reported under (`sbom/unreadable-lockfile`, …).
    pub rule: &'static str,
    /// Why, with the file and place (paths relative to the scanned root).
    pub reason: String,
}

impl SkippedLockfile {
    /// `path: rule: reason`, the text both formats record.
    pub fn describe(&self) -> String {
        format!("{}: {}: {}", self.path, self.rule, self.reason)
    }
}

/// Renders `inventory` in `format`; `version` applies to CycloneDX only.
pub fn render(
    inventory: &Inventory,
    format: SbomFormat,
    version: CycloneDxVersion,
    info: &DocumentInfo,
) -> String {
    match format {
        SbomFormat::CycloneDxJson => cyclonedx::render(inventory, version, info),
        SbomFormat::SpdxJson => spdx::render(inventory, info),
    }
}

/// Pretty JSON with a trailing newline (keys are already sorted: by `serde_json::Map`, or by
/// the field order of the typed documents).
fn to_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// A UUIDv5 naming this exact content (serial numbers and document namespaces).
fn content_uuid<T: Serialize + ?Sized>(value: &T) -> uuid::Uuid {
    // Namespace: UUIDv5 of the URL namespace for "https://tollgate.dev/sbom".
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://tollgate.dev/sbom");
    let canonical = serde_json::to_vec(value).unwrap_or_default();
    uuid::Uuid::new_v5(&namespace, &canonical)
}

/// Whether `text` is a valid SPDX licence expression (ids from the SPDX list or `LicenseRef-`).
fn is_spdx_expression(text: &str) -> bool {
    ::spdx::Expression::parse(text).is_ok()
}

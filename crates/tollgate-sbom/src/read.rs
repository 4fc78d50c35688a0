//! Reading SBOMs (CycloneDX any version, SPDX 2.x JSON) into comparable entries.

use crate::SbomError;
use crate::error::Place;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// One component of an SBOM, as far as comparing SBOMs needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Identity without version: `type/namespace/name` from the purl, else the name.
    pub key: String,
    /// Version string (may be empty).
    pub version: String,
    /// The purl as written, if any.
    pub purl: Option<String>,
    /// Declared licence (SPDX expression or name), if any.
    pub license: Option<String>,
    /// `(algorithm, lowercase hex)` pairs.
    pub hashes: BTreeSet<(String, String)>,
    /// JSON pointer of the component in its document.
    pub pointer: String,
}

/// Which standard a document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standard {
    /// CycloneDX JSON.
    CycloneDx,
    /// SPDX 2.x JSON.
    Spdx,
}

/// A parsed SBOM: its standard and its entries (metadata subject included).
#[derive(Debug, Clone)]
pub struct SbomDocument {
    /// CycloneDX or SPDX.
    pub standard: Standard,
    /// Every component, sorted.
    pub entries: Vec<Entry>,
    /// The document's own creation timestamp, if present.
    pub timestamp: Option<String>,
}

/// Reads an SBOM file, detecting CycloneDX or SPDX JSON.
pub fn read_file(path: &Path) -> Result<SbomDocument, SbomError> {
    let text = std::fs::read_to_string(path).map_err(|e| SbomError::io(path, e))?;
    parse(path, &text)
}

/// Parses SBOM text; `path` names the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<SbomDocument, SbomError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| SbomError::json(path, &e))?;
    let mut document = if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        read_cyclonedx(path, &doc)?
    } else if doc
        .get("spdxVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("SPDX-2."))
    {
        read_spdx(path, &doc)?
    } else {
        return Err(SbomError::malformed(
            Place::file(path),
            "neither CycloneDX (bomFormat) nor SPDX 2.x (spdxVersion) JSON",
        ));
    };
    document.entries.sort();
    Ok(document)
}

fn read_cyclonedx(path: &Path, doc: &Value) -> Result<SbomDocument, SbomError> {
    let mut entries = Vec::new();
    // The subject counts as a component only when it is a package (has a purl); a synthetic
    // subject naming the scanned directory is not something that can be added or removed.
    if let Some(subject) = doc.pointer("/metadata/component").filter(|c| c.get("purl").is_some()) {
        entries.push(cyclonedx_entry(path, subject, "/metadata/component".into())?);
    }
    if let Some(components) = doc.get("components") {
        let list = components.as_array().ok_or_else(|| {
            SbomError::malformed(Place::file(path), "/components: expected an array")
        })?;
        for (i, c) in list.iter().enumerate() {
            collect_cyclonedx(path, c, format!("/components/{i}"), &mut entries)?;
        }
    }
    let timestamp = doc.pointer("/metadata/timestamp").and_then(Value::as_str).map(str::to_owned);
    Ok(SbomDocument { standard: Standard::CycloneDx, entries, timestamp })
}

fn collect_cyclonedx(
    path: &Path,
    c: &Value,
    pointer: String,
    out: &mut Vec<Entry>,
) -> Result<(), SbomError> {
    out.push(cyclonedx_entry(path, c, pointer.clone())?);
    if let Some(nested) = c.get("components").and_then(Value::as_array) {
        for (i, n) in nested.iter().enumerate() {
            collect_cyclonedx(path, n, format!("{pointer}/components/{i}"), out)?;
        }
    }
    Ok(())
}

fn cyclonedx_entry(path: &Path, c: &Value, pointer: String) -> Result<Entry, SbomError> {
    let name = c.get("name").and_then(Value::as_str).ok_or_else(|| {
        SbomError::malformed(Place::file(path), format!("{pointer}: component without a name"))
    })?;
    let group = c.get("group").and_then(Value::as_str);
    let purl = c.get("purl").and_then(Value::as_str).map(str::to_owned);
    let license = c.get("licenses").and_then(Value::as_array).and_then(|list| {
        let parts: Vec<String> = list
            .iter()
            .filter_map(|l| {
                l.get("expression")
                    .and_then(Value::as_str)
                    .or_else(|| l.pointer("/license/id").and_then(Value::as_str))
                    .or_else(|| l.pointer("/license/name").and_then(Value::as_str))
                    .map(str::to_owned)
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" AND "))
    });
    let hashes = c
        .get("hashes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|h| {
                    Some((
                        h.get("alg")?.as_str()?.to_owned(),
                        h.get("content")?.as_str()?.to_lowercase(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Entry {
        key: key(purl.as_deref(), group, name),
        version: c.get("version").and_then(Value::as_str).unwrap_or_default().to_owned(),
        purl,
        license,
        hashes,
        pointer,
    })
}

fn read_spdx(path: &Path, doc: &Value) -> Result<SbomDocument, SbomError> {
    let mut entries = Vec::new();
    let packages = doc.get("packages").and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, p) in packages.iter().enumerate() {
        let pointer = format!("/packages/{i}");
        let name = p.get("name").and_then(Value::as_str).ok_or_else(|| {
            SbomError::malformed(Place::file(path), format!("{pointer}: package without a name"))
        })?;
        let purl = p.get("externalRefs").and_then(Value::as_array).and_then(|refs| {
            refs.iter()
                .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
                .and_then(|r| r.get("referenceLocator").and_then(Value::as_str))
                .map(str::to_owned)
        });
        let license = p
            .get("licenseDeclared")
            .and_then(Value::as_str)
            .filter(|l| !matches!(*l, "NOASSERTION" | "NONE"))
            .map(str::to_owned);
        let hashes = p
            .get("checksums")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|h| {
                        let alg = h.get("algorithm")?.as_str()?.replace("SHA", "SHA-");
                        Some((alg, h.get("checksumValue")?.as_str()?.to_lowercase()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.push(Entry {
            key: key(purl.as_deref(), None, name),
            version: p.get("versionInfo").and_then(Value::as_str).unwrap_or_default().to_owned(),
            purl,
            license,
            hashes,
            pointer,
        });
    }
    let timestamp = doc.pointer("/creationInfo/created").and_then(Value::as_str).map(str::to_owned);
    Ok(SbomDocument { standard: Standard::Spdx, entries, timestamp })
}

/// `type/namespace/name` from a purl (version, qualifiers and subpath dropped); else the name.
fn key(purl: Option<&str>, group: Option<&str>, name: &str) -> String {
    if let Some(p) = purl.and_then(|p| p.parse::<packageurl::PackageUrl>().ok()) {
        return match p.namespace() {
            Some(ns) => format!("{}/{}/{}", p.ty(), ns, p.name()),
            None => format!("{}/{}", p.ty(), p.name()),
        };
    }
    match group {
        Some(g) => format!("{g}/{name}"),
        None => name.to_owned(),
    }
}

//! Reading SBOMs (CycloneDX JSON 1.2 to 1.7, SPDX 2.2 and 2.3 JSON) into comparable entries.

use crate::SbomError;
use crate::error::Place;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
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
        check_version(path, &doc, "/specVersion", "CycloneDX JSON", &CYCLONEDX_VERSIONS)?;
        check_unique(path, &doc, "bom-ref")?;
        read_cyclonedx(path, &doc)?
    } else if doc
        .get("spdxVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("SPDX-2."))
    {
        check_version(path, &doc, "/spdxVersion", "SPDX JSON", &SPDX_VERSIONS)?;
        check_unique(path, &doc, "SPDXID")?;
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

/// CycloneDX versions with a JSON format (1.0 and 1.1 are XML only), all of which keep the
/// component fields read here where they are.
const CYCLONEDX_VERSIONS: Versions =
    (&["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"], "1.2 to 1.7; 1.0 and 1.1 have no JSON format");

/// SPDX 2 versions with a JSON format (JSON arrived with 2.2).
const SPDX_VERSIONS: Versions = (&["SPDX-2.2", "SPDX-2.3"], "SPDX-2.2, SPDX-2.3");

/// The version strings read, and how an error lists them.
type Versions = (&'static [&'static str], &'static str);

/// The document's version (a string at `pointer`) must be one of `versions`. Errors, like the
/// others here, are `Malformed` at the file with the JSON pointer leading the message.
fn check_version(
    path: &Path,
    doc: &Value,
    pointer: &str,
    what: &'static str,
    (versions, supported): &Versions,
) -> Result<(), SbomError> {
    let Some(version) = doc.pointer(pointer).and_then(Value::as_str) else {
        return Err(SbomError::malformed(
            Place::file(path),
            format!("{pointer}: missing or not a string"),
        ));
    };
    if versions.contains(&version) {
        return Ok(());
    }
    Err(SbomError::malformed(
        Place::file(path),
        format!("{pointer}: unsupported {what} version {version:?} (supported: {supported})"),
    ))
}

/// Identifiers named `key` (CycloneDX `bom-ref`, SPDX `SPDXID`) must be unique in the whole
/// document, whatever kind of element carries them; the second use is the error.
fn check_unique(path: &Path, doc: &Value, key: &str) -> Result<(), SbomError> {
    let mut seen: HashMap<&str, String> = HashMap::new();
    let mut pending: Vec<(&Value, String)> = vec![(doc, String::new())];
    // Depth-first in document order; serde_json already bounded the nesting at 128.
    while let Some((value, pointer)) = pending.pop() {
        match value {
            Value::Object(map) => {
                if let Some(id) = map.get(key).and_then(Value::as_str) {
                    let here = format!("{pointer}/{}", escape(key));
                    if let Some(first) = seen.get(id) {
                        return Err(SbomError::malformed(
                            Place::file(path),
                            format!("{here}: duplicate {key} `{id}` (first at {first})"),
                        ));
                    }
                    seen.insert(id, here);
                }
                for (k, v) in map.iter().rev() {
                    if v.is_object() || v.is_array() {
                        pending.push((v, format!("{pointer}/{}", escape(k))));
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate().rev() {
                    pending.push((v, format!("{pointer}/{i}")));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A key as a JSON pointer segment (RFC 6901: `~` is `~0`, `/` is `~1`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(doc: &Value) -> Result<SbomDocument, SbomError> {
        parse(Path::new("bom.json"), &doc.to_string())
    }

    fn cyclonedx(spec_version: &str) -> Value {
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": spec_version,
            "metadata": { "component": { "bom-ref": "app", "name": "app", "purl": "pkg:cargo/app@1.0.0" } },
            "components": [
                { "bom-ref": "pkg:cargo/a@1.0.0", "name": "a", "version": "1.0.0", "purl": "pkg:cargo/a@1.0.0",
                  "components": [ { "bom-ref": "pkg:cargo/b@1.0.0", "name": "b", "purl": "pkg:cargo/b@1.0.0" } ] }
            ]
        })
    }

    fn spdx(version: &str) -> Value {
        json!({
            "spdxVersion": version,
            "SPDXID": "SPDXRef-DOCUMENT",
            "packages": [
                { "SPDXID": "SPDXRef-a", "name": "a", "versionInfo": "1.0.0" },
                { "SPDXID": "SPDXRef-b", "name": "b", "versionInfo": "2.0.0" }
            ]
        })
    }

    #[test]
    fn every_cyclonedx_json_version_is_read() {
        for version in ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"] {
            let doc = read(&cyclonedx(version)).unwrap();
            assert_eq!(doc.entries.len(), 3, "{version}");
        }
    }

    #[test]
    fn unknown_cyclonedx_spec_version_is_refused_at_its_pointer() {
        for version in ["1.8", "2.0", "1.1", "1.0", "", "1.6.1"] {
            let err = read(&cyclonedx(version)).unwrap_err();
            assert!(matches!(err, SbomError::Malformed { .. }), "{version}: {err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "bom.json: /specVersion: unsupported CycloneDX JSON version {version:?} (supported: 1.2 to 1.7; 1.0 and 1.1 have no JSON format)"
                )
            );
        }
        let mut doc = cyclonedx("1.6");
        doc.as_object_mut().unwrap().remove("specVersion");
        let err = read(&doc).unwrap_err().to_string();
        assert_eq!(err, "bom.json: /specVersion: missing or not a string");
    }

    #[test]
    fn duplicate_bom_ref_is_refused_at_the_second() {
        let mut doc = cyclonedx("1.6");
        doc["components"][0]["components"][0]["bom-ref"] = json!("pkg:cargo/a@1.0.0");
        let err = read(&doc).unwrap_err();
        assert!(matches!(err, SbomError::Malformed { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "bom.json: /components/0/components/0/bom-ref: duplicate bom-ref `pkg:cargo/a@1.0.0` (first at /components/0/bom-ref)"
        );
        // Across kinds of element too: a service may not reuse a component's bom-ref.
        let mut doc = cyclonedx("1.6");
        doc["services"] = json!([{ "bom-ref": "app", "name": "svc" }]);
        let err = read(&doc).unwrap_err().to_string();
        assert!(err.starts_with("bom.json: /services/0/bom-ref: duplicate bom-ref `app`"), "{err}");
    }

    #[test]
    fn spdx_versions_are_checked() {
        for version in ["SPDX-2.2", "SPDX-2.3"] {
            assert_eq!(read(&spdx(version)).unwrap().entries.len(), 2, "{version}");
        }
        for version in ["SPDX-2.1", "SPDX-2.4", "SPDX-2.9"] {
            let err = read(&spdx(version)).unwrap_err();
            assert!(matches!(err, SbomError::Malformed { .. }), "{version}: {err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "bom.json: /spdxVersion: unsupported SPDX JSON version {version:?} (supported: SPDX-2.2, SPDX-2.3)"
                )
            );
        }
    }

    #[test]
    fn duplicate_spdxid_is_refused_at_the_second() {
        let mut doc = spdx("SPDX-2.3");
        doc["packages"][1]["SPDXID"] = json!("SPDXRef-a");
        let err = read(&doc).unwrap_err();
        assert!(matches!(err, SbomError::Malformed { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "bom.json: /packages/1/SPDXID: duplicate SPDXID `SPDXRef-a` (first at /packages/0/SPDXID)"
        );
        let mut doc = spdx("SPDX-2.3");
        doc["packages"][0]["SPDXID"] = json!("SPDXRef-DOCUMENT");
        let err = read(&doc).unwrap_err().to_string();
        assert!(err.starts_with("bom.json: /packages/0/SPDXID: duplicate SPDXID"), "{err}");
    }
}

//! SPDX 2.3 JSON.
//!
//! Written through typed structs that borrow from the inventory, fields declared in sorted key
//! order (see `cyclonedx.rs`).

use super::{DocumentInfo, content_uuid, is_spdx_expression, to_pretty};
use crate::{Component, ComponentKind, HashAlgorithm, Inventory};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The first line of the creation-info comment of a partial document; one line follows per
/// lockfile left out (`path: rule: reason`), sorted.
pub const SKIPPED_PREFIX: &str = "tollgate: partial SBOM; lockfiles left out:";

/// The first line of the comment's part about lockfiles catalogued although out of date; one
/// line follows per disagreement (`path: rule: reason`), sorted.
pub const OUT_OF_DATE_PREFIX: &str = "tollgate: lockfiles out of date with their manifests:";

/// The creation-info comment of a document with lockfiles left out or out of date.
fn partial_comment(info: &DocumentInfo) -> Option<String> {
    let mut parts = Vec::new();
    for (prefix, list) in [(OUT_OF_DATE_PREFIX, &info.out_of_date), (SKIPPED_PREFIX, &info.skipped)]
    {
        if !list.is_empty() {
            let lines: Vec<String> = list.iter().map(|s| s.describe()).collect();
            parts.push(format!("{prefix}\n{}", lines.join("\n")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// Renders `inventory` as an SPDX 2.3 JSON document.
pub fn render(inventory: &Inventory, info: &DocumentInfo) -> String {
    let ids: BTreeMap<&str, String> =
        inventory.components.values().map(|c| (c.bom_ref.as_str(), spdx_id(c))).collect();
    let mut extracted: BTreeMap<String, &str> = BTreeMap::new();
    let packages: Vec<Package<'_>> = inventory
        .components
        .values()
        .map(|c| package(c, &ids[c.bom_ref.as_str()], &mut extracted))
        .collect();

    let mut relationships: Vec<Relationship<'_>> = Vec::new();
    let described: Vec<&str> = if inventory.roots.is_empty() {
        ids.values().map(String::as_str).collect()
    } else {
        inventory.roots.iter().filter_map(|r| ids.get(r.as_str())).map(String::as_str).collect()
    };
    for id in described {
        relationships.push(relationship("SPDXRef-DOCUMENT", "DESCRIBES", id));
    }
    for (from, tos) in &inventory.dependencies {
        for to in tos {
            if let (Some(a), Some(b)) = (ids.get(from.as_str()), ids.get(to.as_str())) {
                relationships.push(relationship(a, "DEPENDS_ON", b));
            }
        }
    }

    let mut document = Document {
        spdx_id: "SPDXRef-DOCUMENT",
        creation_info: CreationInfo {
            comment: partial_comment(info),
            created: None,
            creators: [format!("Tool: tollgate-{}", info.tool_version)],
        },
        data_license: "CC0-1.0",
        document_namespace: None,
        extracted: extracted
            .iter()
            .map(|(id, text)| ExtractedLicense { extracted_text: text, license_id: id, name: text })
            .collect(),
        name: &info.subject,
        packages,
        relationships,
        spdx_version: "SPDX-2.3",
    };
    // The namespace names the content without the creation time (and without itself).
    let uuid = content_uuid(&document);
    document.document_namespace =
        Some(format!("https://tollgate.dev/spdxdocs/{}-{uuid}", sanitize(&info.subject)));
    document.creation_info.created = Some(&info.timestamp);
    to_pretty(&document)
}

// Fields in sorted key order (byte order: upper case first), as `serde_json::Map` sorts.

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    #[serde(rename = "creationInfo")]
    creation_info: CreationInfo<'a>,
    #[serde(rename = "dataLicense")]
    data_license: &'static str,
    #[serde(rename = "documentNamespace", skip_serializing_if = "Option::is_none")]
    document_namespace: Option<String>,
    #[serde(rename = "hasExtractedLicensingInfos", skip_serializing_if = "Vec::is_empty")]
    extracted: Vec<ExtractedLicense<'a>>,
    name: &'a str,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship<'a>>,
    #[serde(rename = "spdxVersion")]
    spdx_version: &'static str,
}

#[derive(Serialize)]
struct CreationInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<&'a str>,
    creators: [String; 1],
}

#[derive(Serialize)]
struct ExtractedLicense<'a> {
    #[serde(rename = "extractedText")]
    extracted_text: &'a str,
    #[serde(rename = "licenseId")]
    license_id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Package<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum<'a>>,
    #[serde(rename = "copyrightText")]
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(rename = "downloadLocation")]
    download_location: &'a str,
    #[serde(rename = "externalRefs")]
    external_refs: [ExternalRef<'a>; 1],
    #[serde(rename = "filesAnalyzed")]
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<&'a str>,
    #[serde(rename = "licenseConcluded")]
    license_concluded: &'static str,
    #[serde(rename = "licenseDeclared")]
    license_declared: Cow<'a, str>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    originator: Option<String>,
    #[serde(rename = "primaryPackagePurpose")]
    primary_package_purpose: &'static str,
    supplier: Cow<'a, str>,
    #[serde(rename = "versionInfo", skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
}

#[derive(Serialize)]
struct Checksum<'a> {
    algorithm: &'static str,
    #[serde(rename = "checksumValue")]
    checksum_value: &'a str,
}

#[derive(Serialize)]
struct ExternalRef<'a> {
    #[serde(rename = "referenceCategory")]
    reference_category: &'static str,
    #[serde(rename = "referenceLocator")]
    reference_locator: &'a str,
    #[serde(rename = "referenceType")]
    reference_type: &'static str,
}

#[derive(Serialize)]
struct Relationship<'a> {
    #[serde(rename = "relatedSpdxElement")]
    related_spdx_element: &'a str,
    #[serde(rename = "relationshipType")]
    relationship_type: &'static str,
    #[serde(rename = "spdxElementId")]
    spdx_element_id: &'a str,
}

fn package<'a>(
    c: &'a Component,
    id: &'a str,
    extracted: &mut BTreeMap<String, &'a str>,
) -> Package<'a> {
    let download = c
        .source
        .as_deref()
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .unwrap_or("NOASSERTION");
    let declared = match &c.license {
        Some(l) if is_spdx_expression(l) => Cow::Borrowed(l.as_str()),
        Some(l) => {
            let ref_id = format!("LicenseRef-{}", sanitize(l));
            extracted.insert(ref_id.clone(), l);
            Cow::Owned(ref_id)
        }
        None => Cow::Borrowed("NOASSERTION"),
    };
    let checksums = c
        .hashes
        .iter()
        .map(|h| Checksum { algorithm: algorithm(h.algorithm), checksum_value: &h.hex })
        .collect();
    let supplier = c
        .supplier
        .as_ref()
        .map_or(Cow::Borrowed("NOASSERTION"), |s| Cow::Owned(format!("Organization: {s}")));
    let purpose = match c.kind {
        ComponentKind::Application => "APPLICATION",
        ComponentKind::Library => "LIBRARY",
    };
    Package {
        spdx_id: id,
        checksums,
        copyright_text: "NOASSERTION",
        description: c.description.as_deref(),
        download_location: download,
        external_refs: [ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_locator: &c.purl,
            reference_type: "purl",
        }],
        files_analyzed: false,
        homepage: c
            .homepage
            .as_deref()
            .filter(|h| h.starts_with("https://") || h.starts_with("http://")),
        license_concluded: "NOASSERTION",
        license_declared: declared,
        name: c.full_name(),
        originator: c.authors.first().map(|first| format!("Person: {}", person(first))),
        primary_package_purpose: purpose,
        supplier,
        version_info: (!c.version.is_empty()).then_some(c.version.as_str()),
    }
}

fn relationship<'a>(from: &'a str, kind: &'static str, to: &'a str) -> Relationship<'a> {
    Relationship { related_spdx_element: to, relationship_type: kind, spdx_element_id: from }
}

fn algorithm(a: HashAlgorithm) -> &'static str {
    match a {
        HashAlgorithm::Sha1 => "SHA1",
        HashAlgorithm::Sha256 => "SHA256",
        HashAlgorithm::Sha384 => "SHA384",
        HashAlgorithm::Sha512 => "SHA512",
    }
}

/// `Name <email>` -> `Name (email)` as SPDX wants it.
fn person(author: &str) -> String {
    match author.split_once('<') {
        Some((name, rest)) => format!("{} ({})", name.trim(), rest.trim_end_matches('>').trim()),
        None => author.trim().to_owned(),
    }
}

/// A stable, unique SPDX element id: readable name and version plus a short hash of the ref.
fn spdx_id(c: &Component) -> String {
    let digest = hex::encode(&Sha256::digest(c.bom_ref.as_bytes())[..4]);
    format!("SPDXRef-Package-{}-{}-{digest}", sanitize(&c.full_name()), sanitize(&c.version))
}

/// Characters allowed in SPDX ids and LicenseRefs: letters, digits, `.` and `-`.
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() || ch == '.' { ch } else { '-' })
        .collect();
    out.truncate(120);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Keys come out sorted and the namespace names the content without the creation time.
    #[test]
    fn keys_are_sorted_and_the_namespace_names_the_content() {
        let inv = super::super::cyclonedx::tests::full_inventory();
        let info = DocumentInfo {
            subject: "demo".into(),
            timestamp: "2026-01-01T00:00:00Z".into(),
            tool_version: "0.1.0".into(),
            ..Default::default()
        };
        let text = render(&inv, &info);
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(super::super::to_pretty(&doc), text);
        let lib = &doc["packages"][1];
        assert_eq!(lib["supplier"], "Organization: Example Corp");
        assert_eq!(lib["originator"], "Person: Jane Doe (jane@example.com)");
        assert_eq!(lib["licenseDeclared"], "LicenseRef-Custom-licence-terms");
        assert_eq!(doc["hasExtractedLicensingInfos"][0]["extractedText"], "Custom licence terms");
        let namespace = doc.as_object_mut().unwrap().remove("documentNamespace").unwrap();
        doc["creationInfo"].as_object_mut().unwrap().remove("created").unwrap();
        assert_eq!(namespace, format!("https://tollgate.dev/spdxdocs/demo-{}", content_uuid(&doc)));
    }
}

//! SPDX 2.3 JSON.

use super::{DocumentInfo, content_uuid, is_spdx_expression, to_pretty};
use crate::{Component, ComponentKind, HashAlgorithm, Inventory};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Renders `inventory` as an SPDX 2.3 JSON document.
pub fn render(inventory: &Inventory, info: &DocumentInfo) -> String {
    let ids: BTreeMap<&str, String> =
        inventory.components.values().map(|c| (c.bom_ref.as_str(), spdx_id(c))).collect();
    let mut extracted: BTreeMap<String, String> = BTreeMap::new();
    let packages: Vec<Value> = inventory
        .components
        .values()
        .map(|c| package(c, &ids[c.bom_ref.as_str()], &mut extracted))
        .collect();

    let mut relationships: Vec<Value> = Vec::new();
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

    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": info.subject,
        "creationInfo": {
            "creators": [format!("Tool: tollgate-{}", info.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        let infos: Vec<Value> = extracted
            .into_iter()
            .map(|(id, text)| json!({ "licenseId": id, "extractedText": text, "name": text }))
            .collect();
        document["hasExtractedLicensingInfos"] = infos.into();
    }
    let uuid = content_uuid(&document);
    document["documentNamespace"] =
        format!("https://tollgate.dev/spdxdocs/{}-{uuid}", sanitize(&info.subject)).into();
    document["creationInfo"]["created"] = info.timestamp.clone().into();
    to_pretty(&document)
}

fn package(c: &Component, id: &str, extracted: &mut BTreeMap<String, String>) -> Value {
    let mut o = Map::new();
    o.insert("SPDXID".into(), id.into());
    o.insert("name".into(), c.full_name().into());
    if !c.version.is_empty() {
        o.insert("versionInfo".into(), c.version.clone().into());
    }
    let download = c
        .source
        .as_deref()
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .unwrap_or("NOASSERTION");
    o.insert("downloadLocation".into(), download.into());
    o.insert("filesAnalyzed".into(), false.into());
    o.insert("licenseConcluded".into(), "NOASSERTION".into());
    let declared = match &c.license {
        Some(l) if is_spdx_expression(l) => l.clone(),
        Some(l) => {
            let ref_id = format!("LicenseRef-{}", sanitize(l));
            extracted.insert(ref_id.clone(), l.clone());
            ref_id
        }
        None => "NOASSERTION".into(),
    };
    o.insert("licenseDeclared".into(), declared.into());
    o.insert("copyrightText".into(), "NOASSERTION".into());
    let checksums: Vec<Value> = c
        .hashes
        .iter()
        .map(|h| json!({ "algorithm": algorithm(h.algorithm), "checksumValue": h.hex }))
        .collect();
    if !checksums.is_empty() {
        o.insert("checksums".into(), checksums.into());
    }
    o.insert(
        "externalRefs".into(),
        json!([{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": c.purl }]),
    );
    let supplier =
        c.supplier.as_ref().map_or("NOASSERTION".to_owned(), |s| format!("Organization: {s}"));
    o.insert("supplier".into(), supplier.into());
    if let Some(first) = c.authors.first() {
        o.insert("originator".into(), format!("Person: {}", person(first)).into());
    }
    if let Some(description) = &c.description {
        o.insert("description".into(), description.clone().into());
    }
    if let Some(home) =
        c.homepage.as_ref().filter(|h| h.starts_with("https://") || h.starts_with("http://"))
    {
        o.insert("homepage".into(), home.clone().into());
    }
    let purpose = match c.kind {
        ComponentKind::Application => "APPLICATION",
        ComponentKind::Library => "LIBRARY",
    };
    o.insert("primaryPackagePurpose".into(), purpose.into());
    Value::Object(o)
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to })
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

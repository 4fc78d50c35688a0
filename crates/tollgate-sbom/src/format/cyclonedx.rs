//! CycloneDX JSON, versions 1.5, 1.6 and 1.7.
//!
//! The document is written through typed structs that borrow from the inventory (no
//! intermediate `serde_json::Value` tree to build and free). Their fields are declared in
//! sorted key order, so the output is the same as serialising sorted JSON maps.

use super::{CycloneDxVersion, DocumentInfo, content_uuid, is_spdx_expression, to_pretty};
use crate::{Component, ComponentKind, Hash, HashAlgorithm, Inventory, Scope};
use serde::Serialize;
use std::collections::BTreeSet;

/// The `bom-ref` of the synthetic subject when a tree has several roots.
pub const SUBJECT_REF: &str = "tollgate:subject";

/// The metadata property naming a lockfile the scan left out (`path: rule: reason`), once per
/// lockfile, sorted: a document with any is partial.
pub const SKIPPED_LOCKFILE: &str = "tollgate:skipped-lockfile";

/// The metadata property naming a lockfile catalogued as locked although it disagrees with its
/// manifests (`path: rule: reason`), once per disagreement, sorted: the document may lack
/// packages the manifests declare.
pub const OUT_OF_DATE_LOCKFILE: &str = "tollgate:out-of-date-lockfile";

/// Renders `inventory` as a CycloneDX JSON document of `version`.
pub fn render(inventory: &Inventory, version: CycloneDxVersion, info: &DocumentInfo) -> String {
    // The document's subject: the single root, or a synthetic one that depends on every root.
    let single_root = (inventory.roots.len() == 1).then(|| inventory.roots.iter().next()).flatten();
    let (subject, subject_ref) = match single_root.and_then(|r| inventory.get(r)) {
        Some(root) => {
            (Subject::Component(Box::new(component(root, version))), root.bom_ref.as_str())
        }
        None => (
            Subject::Synthetic { bom_ref: SUBJECT_REF, name: &info.subject, kind: "application" },
            SUBJECT_REF,
        ),
    };
    let components: Vec<ComponentJson<'_>> = inventory
        .components
        .values()
        .filter(|c| c.bom_ref != subject_ref)
        .map(|c| component(c, version))
        .collect();
    let mut dependencies: Vec<Dependency<'_>> =
        Vec::with_capacity(inventory.dependencies.len() + 1);
    if subject_ref == SUBJECT_REF {
        dependencies.push(Dependency { depends_on: &inventory.roots, of: SUBJECT_REF });
    }
    for (from, to) in &inventory.dependencies {
        dependencies.push(Dependency { depends_on: to, of: from });
    }
    dependencies.sort_by(|a, b| a.of.cmp(b.of));

    let skipped: Vec<String> = info.skipped.iter().map(|s| s.describe()).collect();
    let out_of_date: Vec<String> = info.out_of_date.iter().map(|s| s.describe()).collect();
    let mut document = Bom {
        schema: format!("http://cyclonedx.org/schema/bom-{}.schema.json", version.as_str()),
        bom_format: "CycloneDX",
        components,
        dependencies,
        metadata: Metadata {
            component: subject,
            lifecycles: [Lifecycle { phase: "pre-build" }],
            properties: out_of_date
                .iter()
                .map(|value| Property { name: OUT_OF_DATE_LOCKFILE, value })
                .chain(skipped.iter().map(|value| Property { name: SKIPPED_LOCKFILE, value }))
                .collect(),
            timestamp: None,
            tools: Tools {
                components: [Tool {
                    external_references: [ExternalReference {
                        hashes: Vec::new(),
                        kind: "website",
                        url: "https://github.com/tollgate-dev/tollgate",
                    }],
                    name: "tollgate",
                    kind: "application",
                    version: &info.tool_version,
                }],
            },
        },
        serial_number: None,
        spec_version: version.as_str(),
        version: 1,
    };
    // The serial number names the content without the timestamp (and without itself).
    document.serial_number = Some(format!("urn:uuid:{}", content_uuid(&document)));
    document.metadata.timestamp = Some(&info.timestamp);
    to_pretty(&document)
}

// Every struct below lists its fields in sorted key order (byte order, as `serde_json::Map`
// sorts), which is the order serde writes them in.

#[derive(Serialize)]
struct Bom<'a> {
    #[serde(rename = "$schema")]
    schema: String,
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    components: Vec<ComponentJson<'a>>,
    dependencies: Vec<Dependency<'a>>,
    metadata: Metadata<'a>,
    #[serde(rename = "serialNumber", skip_serializing_if = "Option::is_none")]
    serial_number: Option<String>,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    version: u32,
}

#[derive(Serialize)]
struct Metadata<'a> {
    component: Subject<'a>,
    lifecycles: [Lifecycle; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    tools: Tools<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Subject<'a> {
    Component(Box<ComponentJson<'a>>),
    Synthetic {
        #[serde(rename = "bom-ref")]
        bom_ref: &'static str,
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

#[derive(Serialize)]
struct Lifecycle {
    phase: &'static str,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: [Tool<'a>; 1],
}

#[derive(Serialize)]
struct Tool<'a> {
    #[serde(rename = "externalReferences")]
    external_references: [ExternalReference<'a>; 1],
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Dependency<'a> {
    #[serde(rename = "dependsOn")]
    depends_on: &'a BTreeSet<String>,
    #[serde(rename = "ref")]
    of: &'a str,
}

#[derive(Serialize)]
struct ComponentJson<'a> {
    /// CycloneDX 1.5: one string.
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    /// CycloneDX 1.6 and later: organisational contacts.
    #[serde(skip_serializing_if = "Option::is_none")]
    authors: Option<Vec<Contact<'a>>>,
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<HashJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    licenses: Option<[LicenseChoice<'a>; 1]>,
    name: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property<'a>>,
    purl: &'a str,
    scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Name<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct HashJson<'a> {
    alg: HashAlgorithm,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice<'a> {
    Expression { expression: &'a str },
    Named { license: Name<'a> },
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Contact<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct ExternalReference<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<HashJson<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Property<'a> {
    name: &'a str,
    value: &'a str,
}

fn component(c: &Component, version: CycloneDxVersion) -> ComponentJson<'_> {
    let kind = match c.kind {
        ComponentKind::Application => "application",
        ComponentKind::Library => "library",
    };
    let scope = match c.scope {
        Scope::Required => "required",
        Scope::Optional => "optional",
        Scope::Excluded => "excluded",
    };
    let licenses = c.license.as_deref().map(|license| {
        if is_spdx_expression(license) {
            [LicenseChoice::Expression { expression: license }]
        } else {
            [LicenseChoice::Named { license: Name { name: license } }]
        }
    });
    let (author, authors) = match (c.authors.is_empty(), version >= CycloneDxVersion::V1_6) {
        (true, _) => (None, None),
        (false, true) => (None, Some(c.authors.iter().map(|a| contact(a)).collect())),
        (false, false) => (Some(c.authors.join(", ")), None),
    };
    let mut external_references: Vec<ExternalReference<'_>> = Vec::new();
    if let Some(url) = &c.repository {
        external_references.push(ExternalReference { hashes: Vec::new(), kind: "vcs", url });
    }
    if let Some(url) = &c.homepage {
        external_references.push(ExternalReference { hashes: Vec::new(), kind: "website", url });
    }
    for d in &c.distributions {
        external_references.push(ExternalReference {
            hashes: hashes(&d.hashes),
            kind: "distribution",
            url: &d.url,
        });
    }
    let mut properties: Vec<Property<'_>> =
        c.properties.iter().map(|(name, value)| Property { name, value }).collect();
    for file in &c.found_in {
        properties.push(Property { name: "tollgate:found-in", value: file });
    }
    if let Some(source) = &c.source {
        properties.push(Property { name: "tollgate:source", value: source });
    }
    properties.sort_by(|a, b| (a.name, a.value).cmp(&(b.name, b.value)));
    ComponentJson {
        author,
        authors,
        bom_ref: &c.bom_ref,
        description: c.description.as_deref(),
        external_references,
        group: c.namespace.as_deref(),
        hashes: hashes(&c.hashes),
        licenses,
        name: &c.name,
        properties,
        purl: &c.purl,
        scope,
        supplier: c.supplier.as_deref().map(|name| Name { name }),
        kind,
        version: (!c.version.is_empty()).then_some(c.version.as_str()),
    }
}

fn hashes(hashes: &[Hash]) -> Vec<HashJson<'_>> {
    hashes.iter().map(|h| HashJson { alg: h.algorithm, content: &h.hex }).collect()
}

/// `Name <email>` as a CycloneDX organizational contact.
fn contact(author: &str) -> Contact<'_> {
    match author.split_once('<') {
        Some((name, rest)) if rest.ends_with('>') => {
            let email = rest.trim_end_matches('>').trim();
            let name = name.trim();
            let contact = Contact {
                email: (!email.is_empty() && email.contains('@')).then_some(email),
                name: (!name.is_empty()).then_some(name),
            };
            if contact.email.is_none() && contact.name.is_none() {
                Contact { email: None, name: Some(author) }
            } else {
                contact
            }
        }
        _ => Contact { email: None, name: Some(author.trim()) },
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::{Distribution, Ecosystem, HashAlgorithm};
    use serde_json::{Value, json};

    fn info() -> DocumentInfo {
        DocumentInfo {
            subject: "demo".into(),
            timestamp: "2026-01-01T00:00:00Z".into(),
            tool_version: "0.1.0".into(),
            ..Default::default()
        }
    }

    /// An inventory using every field a component has.
    pub(in crate::format) fn full_inventory() -> Inventory {
        let mut inv = Inventory::default();
        let mut app = Component::new(Ecosystem::Npm, None, "app", "1.0.0", "pkg:npm/app@1.0.0");
        app.kind = ComponentKind::Application;
        let mut lib = Component::new(
            Ecosystem::Npm,
            Some("scope".into()),
            "lib",
            "2.0.0",
            "pkg:npm/%40scope/lib@2.0.0",
        );
        lib.scope = Scope::Optional;
        lib.license = Some("Custom licence terms".into());
        lib.hashes = vec![
            Hash { algorithm: HashAlgorithm::Sha1, hex: "aa".into() },
            Hash { algorithm: HashAlgorithm::Sha512, hex: "bb".into() },
        ];
        lib.distributions = vec![
            Distribution {
                url: "https://example.com/lib.tgz".into(),
                hashes: vec![Hash { algorithm: HashAlgorithm::Sha256, hex: "cc".into() }],
            },
            Distribution { url: "lib-2.0.0.zip".into(), hashes: vec![] },
        ];
        lib.authors = vec![
            "Jane Doe <jane@example.com>".into(),
            "<>".into(),
            " Team ".into(),
            "Bob <not-an-email>".into(),
        ];
        lib.supplier = Some("Example Corp".into());
        lib.description = Some("A library.".into());
        lib.source = Some("https://registry.example.com/lib".into());
        lib.repository = Some("https://git.example.com/lib".into());
        lib.homepage = Some("https://lib.example.com".into());
        lib.properties.insert("cdx:npm:package:development".into(), "true".into());
        lib.found_in.insert("b/package-lock.json".into());
        lib.found_in.insert("a/package-lock.json".into());
        let mut bare = Component::new(Ecosystem::Cargo, None, "bare", "", "pkg:cargo/bare");
        bare.license = Some("MIT OR Apache-2.0".into());
        inv.add(app);
        inv.add(lib);
        inv.add(bare);
        inv.depend("pkg:npm/app@1.0.0", "pkg:npm/%40scope/lib@2.0.0");
        inv.depend("pkg:npm/%40scope/lib@2.0.0", "pkg:cargo/bare");
        inv.normalize();
        inv
    }

    /// Keys come out sorted, as they did from `serde_json::Map`: re-serialising the parsed
    /// document (whose maps sort their keys) reproduces the text exactly.
    #[test]
    fn keys_are_sorted_and_the_serial_number_names_the_content() {
        let mut inv = full_inventory();
        for roots in [1, 2] {
            if roots == 2 {
                inv.roots.insert("pkg:cargo/bare".into());
            }
            for version in [CycloneDxVersion::V1_5, CycloneDxVersion::V1_6, CycloneDxVersion::V1_7]
            {
                let text = render(&inv, version, &info());
                let mut doc: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(to_pretty(&doc), text, "{version}");
                let serial = doc.as_object_mut().unwrap().remove("serialNumber").unwrap();
                doc["metadata"].as_object_mut().unwrap().remove("timestamp").unwrap();
                assert_eq!(serial, format!("urn:uuid:{}", content_uuid(&doc)));
            }
        }
    }

    #[test]
    fn every_component_field_is_written() {
        let text = render(&full_inventory(), CycloneDxVersion::V1_6, &info());
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["metadata"]["component"]["bom-ref"], "pkg:npm/app@1.0.0");
        assert_eq!(
            doc["components"][1],
            json!({
                "authors": [
                    { "email": "jane@example.com", "name": "Jane Doe" },
                    { "name": "<>" },
                    { "name": "Team" },
                    { "name": "Bob" },
                ],
                "bom-ref": "pkg:npm/%40scope/lib@2.0.0",
                "description": "A library.",
                "externalReferences": [
                    { "type": "vcs", "url": "https://git.example.com/lib" },
                    { "type": "website", "url": "https://lib.example.com" },
                    {
                        "hashes": [{ "alg": "SHA-256", "content": "cc" }],
                        "type": "distribution",
                        "url": "https://example.com/lib.tgz",
                    },
                    { "type": "distribution", "url": "lib-2.0.0.zip" },
                ],
                "group": "scope",
                "hashes": [
                    { "alg": "SHA-1", "content": "aa" },
                    { "alg": "SHA-512", "content": "bb" },
                ],
                "licenses": [{ "license": { "name": "Custom licence terms" } }],
                "name": "lib",
                "properties": [
                    { "name": "cdx:npm:package:development", "value": "true" },
                    { "name": "tollgate:found-in", "value": "a/package-lock.json" },
                    { "name": "tollgate:found-in", "value": "b/package-lock.json" },
                    { "name": "tollgate:source", "value": "https://registry.example.com/lib" },
                ],
                "purl": "pkg:npm/%40scope/lib@2.0.0",
                "scope": "optional",
                "supplier": { "name": "Example Corp" },
                "type": "library",
                "version": "2.0.0",
            })
        );
        assert_eq!(
            doc["components"][0],
            json!({
                "bom-ref": "pkg:cargo/bare",
                "licenses": [{ "expression": "MIT OR Apache-2.0" }],
                "name": "bare",
                "purl": "pkg:cargo/bare",
                "scope": "required",
                "type": "library",
            })
        );
        let v15 = render(&full_inventory(), CycloneDxVersion::V1_5, &info());
        let doc: Value = serde_json::from_str(&v15).unwrap();
        assert_eq!(
            doc["components"][1]["author"],
            "Jane Doe <jane@example.com>, <>,  Team , Bob <not-an-email>"
        );
        assert!(doc["components"][1].get("authors").is_none());
    }
}

//! CycloneDX JSON, versions 1.5, 1.6 and 1.7.

use super::{CycloneDxVersion, DocumentInfo, content_uuid, is_spdx_expression, to_pretty};
use crate::{Component, ComponentKind, Hash, Inventory, Scope};
use serde_json::{Map, Value, json};

/// The `bom-ref` of the synthetic subject when a tree has several roots.
pub const SUBJECT_REF: &str = "tollgate:subject";

/// Renders `inventory` as a CycloneDX JSON document of `version`.
pub fn render(inventory: &Inventory, version: CycloneDxVersion, info: &DocumentInfo) -> String {
    // The document's subject: the single root, or a synthetic one that depends on every root.
    let single_root = (inventory.roots.len() == 1).then(|| inventory.roots.iter().next()).flatten();
    let (subject, subject_ref) = match single_root.and_then(|r| inventory.get(r)) {
        Some(root) => (component(root, version), root.bom_ref.clone()),
        None => (
            json!({ "type": "application", "name": info.subject, "bom-ref": SUBJECT_REF }),
            SUBJECT_REF.to_owned(),
        ),
    };
    let components: Vec<Value> = inventory
        .components
        .values()
        .filter(|c| c.bom_ref != subject_ref)
        .map(|c| component(c, version))
        .collect();
    let mut dependencies: Vec<Value> = Vec::with_capacity(inventory.dependencies.len() + 1);
    if subject_ref == SUBJECT_REF {
        dependencies.push(json!({ "ref": SUBJECT_REF, "dependsOn": inventory.roots }));
    }
    for (from, to) in &inventory.dependencies {
        dependencies.push(json!({ "ref": from, "dependsOn": to }));
    }
    dependencies.sort_by(|a, b| a["ref"].as_str().cmp(&b["ref"].as_str()));

    let tools = json!({
        "components": [{
            "type": "application",
            "name": "tollgate",
            "version": info.tool_version,
            "externalReferences": [{ "type": "website", "url": "https://github.com/tollgate-dev/tollgate" }],
        }]
    });
    let mut document = json!({
        "$schema": format!("http://cyclonedx.org/schema/bom-{}.schema.json", version.as_str()),
        "bomFormat": "CycloneDX",
        "specVersion": version.as_str(),
        "version": 1,
        "metadata": {
            "lifecycles": [{ "phase": "pre-build" }],
            "tools": tools,
            "component": subject,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let serial = format!("urn:uuid:{}", content_uuid(&document));
    document["serialNumber"] = Value::String(serial);
    document["metadata"]["timestamp"] = Value::String(info.timestamp.clone());
    to_pretty(&document)
}

fn component(c: &Component, version: CycloneDxVersion) -> Value {
    let mut o = Map::new();
    o.insert("bom-ref".into(), c.bom_ref.clone().into());
    let kind = match c.kind {
        ComponentKind::Application => "application",
        ComponentKind::Library => "library",
    };
    o.insert("type".into(), kind.into());
    if let Some(ns) = &c.namespace {
        o.insert("group".into(), ns.clone().into());
    }
    o.insert("name".into(), c.name.clone().into());
    if !c.version.is_empty() {
        o.insert("version".into(), c.version.clone().into());
    }
    o.insert("purl".into(), c.purl.clone().into());
    let scope = match c.scope {
        Scope::Required => "required",
        Scope::Optional => "optional",
        Scope::Excluded => "excluded",
    };
    o.insert("scope".into(), scope.into());
    if let Some(license) = &c.license {
        let entry = if is_spdx_expression(license) {
            json!({ "expression": license })
        } else {
            json!({ "license": { "name": license } })
        };
        o.insert("licenses".into(), json!([entry]));
    }
    if !c.hashes.is_empty() {
        o.insert("hashes".into(), hashes(&c.hashes));
    }
    if !c.authors.is_empty() {
        if version >= CycloneDxVersion::V1_6 {
            let authors: Vec<Value> = c.authors.iter().map(|a| contact(a)).collect();
            o.insert("authors".into(), authors.into());
        } else {
            o.insert("author".into(), c.authors.join(", ").into());
        }
    }
    if let Some(supplier) = &c.supplier {
        o.insert("supplier".into(), json!({ "name": supplier }));
    }
    if let Some(description) = &c.description {
        o.insert("description".into(), description.clone().into());
    }
    let mut refs: Vec<Value> = Vec::new();
    if let Some(url) = &c.repository {
        refs.push(json!({ "type": "vcs", "url": url }));
    }
    if let Some(url) = &c.homepage {
        refs.push(json!({ "type": "website", "url": url }));
    }
    for d in &c.distributions {
        let mut r = json!({ "type": "distribution", "url": d.url });
        if !d.hashes.is_empty() {
            r["hashes"] = hashes(&d.hashes);
        }
        refs.push(r);
    }
    if !refs.is_empty() {
        o.insert("externalReferences".into(), refs.into());
    }
    let mut properties: Vec<Value> =
        c.properties.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect();
    for file in &c.found_in {
        properties.push(json!({ "name": "tollgate:found-in", "value": file }));
    }
    if let Some(source) = &c.source {
        properties.push(json!({ "name": "tollgate:source", "value": source }));
    }
    properties.sort_by(|a, b| {
        (a["name"].as_str(), a["value"].as_str()).cmp(&(b["name"].as_str(), b["value"].as_str()))
    });
    if !properties.is_empty() {
        o.insert("properties".into(), properties.into());
    }
    Value::Object(o)
}

fn hashes(hashes: &[Hash]) -> Value {
    let list: Vec<Value> = hashes
        .iter()
        .map(|h| {
            let alg = serde_json::to_value(h.algorithm).unwrap_or(Value::Null);
            json!({ "alg": alg, "content": h.hex })
        })
        .collect();
    list.into()
}

/// `Name <email>` as a CycloneDX organizational contact.
fn contact(author: &str) -> Value {
    match author.split_once('<') {
        Some((name, rest)) if rest.ends_with('>') => {
            let email = rest.trim_end_matches('>').trim();
            let name = name.trim();
            let mut o = Map::new();
            if !name.is_empty() {
                o.insert("name".into(), name.into());
            }
            if !email.is_empty() && email.contains('@') {
                o.insert("email".into(), email.into());
            }
            if o.is_empty() {
                o.insert("name".into(), author.into());
            }
            Value::Object(o)
        }
        _ => json!({ "name": author.trim() }),
    }
}

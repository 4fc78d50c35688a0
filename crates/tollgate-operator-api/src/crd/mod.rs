//! The custom resources of group `tollgate.dev`, version `v1alpha1`.
//!
//! Each kind is a Rust type deriving `CustomResource`; the CRD manifests are generated from them
//! ([`all`]). Every status carries `conditions` and `observedGeneration`.

pub mod backup;
pub mod migration;
pub mod parity;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResourceExt;

/// The API group of every kind.
pub const GROUP: &str = "tollgate.dev";
/// The API version of every kind.
pub const VERSION: &str = "v1alpha1";

/// Most conditions a status lists (each kind uses fewer than ten types).
pub const MAX_CONDITIONS: u64 = 16;

/// The schema of every `status.conditions`: the `meta/v1` Condition list as the Kubernetes API
/// conventions declare it — a map list keyed by `type` (`x-kubernetes-list-type: map`,
/// `x-kubernetes-list-map-keys: [type]`, so server-side apply merges conditions by type) with
/// `status` one of `True`, `False`, `Unknown`, at most [`MAX_CONDITIONS`] entries, and the
/// string fields bounded as in `meta/v1` (type 316, reason 1024, message 32768).
pub fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut item = generator.subschema_for::<Condition>().to_value();
    if let Some(props) = item.get_mut("properties").and_then(serde_json::Value::as_object_mut) {
        let mut bound = |name: &str, key: &str, value: serde_json::Value| {
            if let Some(p) = props.get_mut(name).and_then(serde_json::Value::as_object_mut) {
                p.insert(key.to_owned(), value);
            }
        };
        bound("status", "enum", serde_json::json!(["True", "False", "Unknown"]));
        bound("type", "maxLength", serde_json::json!(316));
        bound("reason", "maxLength", serde_json::json!(1024));
        bound("message", "maxLength", serde_json::json!(32768));
    }
    let list = serde_json::json!({
        "type": "array",
        "items": item,
        "maxItems": MAX_CONDITIONS,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    });
    schemars::Schema::try_from(list).unwrap_or_default()
}

/// The CRDs of every kind, sorted by name (what `deploy/` holds).
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        parity::EnvironmentParity::crd(),
        migration::SchemaMigration::crd(),
        backup::BackupPolicy::crd(),
        backup::Backup::crd(),
        backup::Restore::crd(),
    ];
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_is_namespaced_in_our_group_with_a_status_subresource() {
        let crds = all();
        assert!(crds.len() >= 2);
        for crd in &crds {
            assert_eq!(crd.spec.group, GROUP);
            assert_eq!(crd.spec.scope, "Namespaced");
            let v = &crd.spec.versions[0];
            assert_eq!(v.name, VERSION);
            assert!(v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
            assert!(v.additional_printer_columns.as_ref().is_some_and(|c| !c.is_empty()));
            assert!(crd.spec.names.short_names.as_ref().is_some_and(|s| !s.is_empty()));
        }
        let names: Vec<_> =
            crds.iter().map(|c| c.metadata.name.clone().unwrap_or_default()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}

//! The custom resources of group `tollgate.dev`, version `v1alpha1`.
//!
//! Each kind is a Rust type deriving `CustomResource`; the CRD manifests are generated from them
//! ([`all`]). Every status carries `conditions` and `observedGeneration`.

pub mod backup;
pub mod migration;
pub mod parity;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every kind.
pub const GROUP: &str = "tollgate.dev";
/// The API version of every kind.
pub const VERSION: &str = "v1alpha1";

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

//! What one environment looks like, reduced to comparable values.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};
use sha2::{Digest, Sha256};

use crate::crd::migration::SchemaMigration;
use crate::crd::parity::Dimension;

/// ConfigMaps with this label set to `"true"` are feature-flag manifests: each `data` entry is
/// one flag (`name: value`). They are compared as flags, not as ConfigMaps.
pub const FEATURE_FLAGS_LABEL: &str = "tollgate.dev/feature-flags";

/// ConfigMaps every namespace has, different per cluster: never compared.
const IGNORED_CONFIG_MAPS: [&str; 1] = ["kube-root-ca.crt"];
/// Secret types that differ per namespace by nature: never compared.
const IGNORED_SECRET_TYPES: [&str; 2] =
    ["kubernetes.io/service-account-token", "helm.sh/release.v1"];
/// Annotation `kubectl apply` writes with the whole object, Secret values included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Set by [`digest_secret_in_place`] / [`digest_config_map_in_place`] on cached copies: their
/// values are already SHA-256 digests (hex) and are compared as they are.
pub const DIGESTED_ANNOTATION: &str = "tollgate.dev/parity-digested";

/// One comparable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// What equality is decided on (a digest, a hash, a version).
    pub compare: String,
    /// What a drift may show of it.
    pub shown: Shown,
}

/// What a drift may show of a [`Value`] (decided when a drift is reported, so snapshots of
/// thousands of objects allocate nothing for display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// The compared value itself (flags, schema versions).
    Compared,
    /// `sha256:` and the first 12 hex digits of the compared digest (ConfigMap values).
    ShortHash,
    /// Nothing (Secrets: not even the hash).
    Hidden,
    /// This text (an image reference, when its digest is what is compared).
    Text(String),
}

impl Value {
    /// A value shown as it is compared.
    pub fn plain(v: impl Into<String>) -> Value {
        Value { compare: v.into(), shown: Shown::Compared }
    }

    /// What a drift may show of the value (`None`: nothing).
    pub fn display(&self) -> Option<String> {
        match &self.shown {
            Shown::Compared => Some(self.compare.clone()),
            Shown::ShortHash => Some(short_hash(&self.compare)),
            Shown::Hidden => None,
            Shown::Text(t) => Some(t.clone()),
        }
    }
}

/// An environment reduced to `dimension → object → key → value`. Objects with a single value
/// (feature flags, schema versions) use the key `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The values.
    pub objects: BTreeMap<Dimension, BTreeMap<String, BTreeMap<String, Value>>>,
    /// How many API objects were read into it.
    pub source_objects: usize,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The identity of a container image for comparison: the digest when the reference is pinned
/// (`…@sha256:…`; registries may differ between environments), else the whole reference.
pub fn image_identity(image: &str) -> String {
    match image.rsplit_once('@') {
        Some((_, digest)) if digest.contains(':') => digest.to_owned(),
        _ => image.to_owned(),
    }
}

/// Replaces every value of a Secret by the SHA-256 (hex) of the value, marks the copy with
/// [`DIGESTED_ANNOTATION`] and drops what could hold values elsewhere (`stringData`, the
/// last-applied annotation, managed fields). Caches apply it before storing, so Secret values
/// are never held by the operator.
pub fn digest_secret_in_place(secret: &mut Secret) {
    if is_digested(&secret.metadata) {
        return;
    }
    if let Some(data) = secret.data.as_mut() {
        for v in data.values_mut() {
            *v = ByteString(sha256_hex(&v.0).into_bytes());
        }
    }
    secret.string_data = None;
    strip_meta(&mut secret.metadata);
    mark_digested(&mut secret.metadata);
}

/// Replaces every value of a ConfigMap (`data` and `binaryData`) by its SHA-256 (hex) and marks
/// the copy with [`DIGESTED_ANNOTATION`], except for feature-flag manifests, whose values are
/// compared as they are. Caches apply it before storing: values are hashed once per change
/// instead of once per reconcile, and large values do not stay in memory.
pub fn digest_config_map_in_place(cm: &mut ConfigMap) {
    strip_meta(&mut cm.metadata);
    let is_flags =
        cm.metadata.labels.as_ref().and_then(|l| l.get(FEATURE_FLAGS_LABEL)).map(String::as_str)
            == Some("true");
    if is_flags || is_digested(&cm.metadata) {
        return;
    }
    if let Some(data) = cm.data.as_mut() {
        for v in data.values_mut() {
            *v = sha256_hex(v.as_bytes());
        }
    }
    if let Some(data) = cm.binary_data.as_mut() {
        for v in data.values_mut() {
            *v = ByteString(sha256_hex(&v.0).into_bytes());
        }
    }
    mark_digested(&mut cm.metadata);
}

/// Keeps of a Deployment only what the comparison reads (metadata without managed fields, and
/// the name and image of each container), so caches of thousands of Deployments stay small.
pub fn slim_deployment_in_place(d: &mut Deployment) {
    strip_meta(&mut d.metadata);
    d.status = None;
    let slim = |c: &k8s_openapi::api::core::v1::Container| k8s_openapi::api::core::v1::Container {
        name: c.name.clone(),
        image: c.image.clone(),
        ..Default::default()
    };
    let pod = d.spec.template.spec.take().map(|p| k8s_openapi::api::core::v1::PodSpec {
        containers: p.containers.iter().map(slim).collect(),
        init_containers: p.init_containers.as_ref().map(|cs| cs.iter().map(slim).collect()),
        ..Default::default()
    });
    d.spec = k8s_openapi::api::apps::v1::DeploymentSpec {
        template: k8s_openapi::api::core::v1::PodTemplateSpec { metadata: None, spec: pod },
        ..Default::default()
    };
}

fn is_digested(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    meta.annotations.as_ref().is_some_and(|a| a.contains_key(DIGESTED_ANNOTATION))
}

fn mark_digested(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(DIGESTED_ANNOTATION.to_owned(), "true".to_owned());
}

/// The digest of a value: the value itself when the object is a digested cache copy.
fn digest(digested: bool, bytes: &[u8]) -> String {
    if digested { String::from_utf8_lossy(bytes).into_owned() } else { sha256_hex(bytes) }
}

/// Drops metadata the comparison never reads (managed fields, the last-applied annotation), so
/// caches of thousands of objects stay small.
pub fn strip_for_cache(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    strip_meta(meta);
}

fn strip_meta(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

fn short_hash(full: &str) -> String {
    format!("sha256:{}", &full[..full.len().min(12)])
}

/// Whether `meta` belongs in the snapshot of `namespace` under `selector` (and is not being
/// deleted).
pub(super) fn wanted(
    namespace: &str,
    selector: Option<&Selector>,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    meta.namespace.as_deref() == Some(namespace)
        && meta.deletion_timestamp.is_none()
        && selector.is_none_or(|s| s.matches(meta.labels.as_ref().unwrap_or(&BTreeMap::new())))
}

/// Whether a ConfigMap is never compared (same name everywhere, different content by nature).
pub(super) fn is_ignored_config_map(name: &str) -> bool {
    IGNORED_CONFIG_MAPS.contains(&name)
}

/// Whether a ConfigMap is a feature-flag manifest ([`FEATURE_FLAGS_LABEL`]).
pub(super) fn is_flag_manifest(cm: &ConfigMap) -> bool {
    cm.labels().get(FEATURE_FLAGS_LABEL).map(String::as_str) == Some("true")
}

/// Whether a Secret is of a type that is never compared.
pub(super) fn is_ignored_secret(s: &Secret) -> bool {
    s.type_.as_deref().is_some_and(|t| IGNORED_SECRET_TYPES.contains(&t))
}

/// The keys a Deployment contributes to [`Dimension::Images`]: container → image.
pub(super) fn deployment_keys(d: &Deployment) -> BTreeMap<String, Value> {
    let mut keys = BTreeMap::new();
    if let Some(pod) = d.spec.template.spec.as_ref() {
        let all = pod.init_containers.iter().flatten().chain(&pod.containers);
        for c in all {
            let image = c.image.clone().unwrap_or_default();
            keys.insert(
                c.name.clone(),
                Value { compare: image_identity(&image), shown: Shown::Text(image) },
            );
        }
    }
    keys
}

/// The keys a (non-flag) ConfigMap contributes to [`Dimension::ConfigMaps`]: key → digest.
pub(super) fn config_map_keys(cm: &ConfigMap) -> BTreeMap<String, Value> {
    let digested = is_digested(&cm.metadata);
    let mut keys = BTreeMap::new();
    for (k, v) in cm.data.iter().flatten() {
        let h = digest(digested, v.as_bytes());
        keys.insert(k.clone(), Value { compare: h, shown: Shown::ShortHash });
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        let h = digest(digested, &v.0);
        keys.insert(k.clone(), Value { compare: h, shown: Shown::ShortHash });
    }
    keys
}

/// The keys a Secret contributes to [`Dimension::Secrets`]: key → digest (never shown).
pub(super) fn secret_keys(s: &Secret) -> BTreeMap<String, Value> {
    let digested = is_digested(&s.metadata);
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value { compare: digest(digested, &v.0), shown: Shown::Hidden }))
        .collect()
}

/// The keys a SchemaMigration contributes to [`Dimension::SchemaVersion`]: its applied
/// version (`none` before the first run).
pub(super) fn migration_keys(m: &SchemaMigration) -> BTreeMap<String, Value> {
    let version = m
        .status
        .as_ref()
        .and_then(|s| s.applied_version)
        .map_or_else(|| "none".to_owned(), |v| v.to_string());
    BTreeMap::from([(String::new(), Value::plain(version))])
}

/// The flags of feature-flag manifests given in name order (their `data`): a flag set by two
/// manifests takes the first one's value.
pub(super) fn merge_flags<'a>(
    manifests: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut flags: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for data in manifests {
        for (flag, value) in data {
            flags
                .entry(flag.clone())
                .or_insert_with(|| BTreeMap::from([(String::new(), Value::plain(value.trim()))]));
        }
    }
    flags
}

impl Snapshot {
    /// Builds a snapshot of the objects `selector` selects (all when `None`) in `namespace`
    /// (objects elsewhere are skipped, so whole-cluster caches can be passed), for the given
    /// dimensions only.
    pub fn build<'a>(
        namespace: &str,
        selector: Option<&Selector>,
        dimensions: &[Dimension],
        deployments: impl IntoIterator<Item = &'a Deployment>,
        config_maps: impl IntoIterator<Item = &'a ConfigMap>,
        secrets: impl IntoIterator<Item = &'a Secret>,
        migrations: impl IntoIterator<Item = &'a SchemaMigration>,
    ) -> Snapshot {
        let wanted = |meta| wanted(namespace, selector, meta);
        let on = |d: Dimension| dimensions.contains(&d);
        let mut snap = Snapshot::default();

        if on(Dimension::Images) {
            for d in deployments.into_iter().filter(|d| wanted(&d.metadata)) {
                snap.source_objects += 1;
                snap.insert(Dimension::Images, d.name_any(), deployment_keys(d));
            }
        }

        let mut flag_manifests: Vec<&BTreeMap<String, String>> = Vec::new();
        if on(Dimension::ConfigMaps) || on(Dimension::FeatureFlags) {
            let mut cms: Vec<&ConfigMap> =
                config_maps.into_iter().filter(|c| wanted(&c.metadata)).collect();
            cms.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            for cm in cms {
                let name = cm.name_any();
                if is_ignored_config_map(&name) {
                    continue;
                }
                if is_flag_manifest(cm) {
                    if !on(Dimension::FeatureFlags) {
                        continue;
                    }
                    snap.source_objects += 1;
                    // Flag manifests are read in name order (see `merge_flags`).
                    if let Some(data) = cm.data.as_ref() {
                        flag_manifests.push(data);
                    }
                } else if on(Dimension::ConfigMaps) {
                    snap.source_objects += 1;
                    snap.insert(Dimension::ConfigMaps, name, config_map_keys(cm));
                }
            }
        }
        if on(Dimension::FeatureFlags) {
            let flags = merge_flags(flag_manifests);
            snap.objects.entry(Dimension::FeatureFlags).or_default().extend(flags);
        }

        if on(Dimension::Secrets) {
            for s in secrets.into_iter().filter(|s| wanted(&s.metadata)) {
                if is_ignored_secret(s) {
                    continue;
                }
                snap.source_objects += 1;
                snap.insert(Dimension::Secrets, s.name_any(), secret_keys(s));
            }
        }

        if on(Dimension::SchemaVersion) {
            for m in migrations.into_iter().filter(|m| wanted(&m.metadata)) {
                snap.source_objects += 1;
                snap.insert(Dimension::SchemaVersion, m.name_any(), migration_keys(m));
            }
        }
        snap
    }

    /// Adds (or replaces) one object.
    pub fn insert(&mut self, dim: Dimension, object: String, keys: BTreeMap<String, Value>) {
        self.objects.entry(dim).or_default().insert(object, keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn meta(ns: &str, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    fn deployment(ns: &str, name: &str, images: &[(&str, &str)]) -> Deployment {
        Deployment {
            metadata: meta(ns, name, &[("app", "shop")]),
            spec: DeploymentSpec {
                template: PodTemplateSpec {
                    spec: Some(PodSpec {
                        containers: images
                            .iter()
                            .map(|(c, i)| Container {
                                name: c.to_string(),
                                image: Some(i.to_string()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn secret(ns: &str, name: &str, kv: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: meta(ns, name, &[]),
            data: Some(
                kv.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn pinned_images_compare_by_digest_only() {
        assert_eq!(image_identity("dev.example/app@sha256:abc"), "sha256:abc");
        assert_eq!(image_identity("prod.example/app:1.2@sha256:abc"), "sha256:abc");
        assert_eq!(image_identity("registry:5000/app:1.2"), "registry:5000/app:1.2");
    }

    #[test]
    fn snapshot_takes_only_the_namespace_and_selector() {
        let d1 = deployment("dev", "web", &[("app", "app:1")]);
        let d2 = deployment("prod", "web", &[("app", "app:2")]);
        let mut d3 = deployment("dev", "other", &[("app", "x:1")]);
        d3.metadata.labels = None;
        let sel: Selector = [("app", "shop")].into_iter().collect();
        let s = Snapshot::build("dev", Some(&sel), &Dimension::ALL, [&d1, &d2, &d3], [], [], []);
        let images = &s.objects[&Dimension::Images];
        assert_eq!(images.keys().collect::<Vec<_>>(), ["web"]);
        assert_eq!(images["web"]["app"].compare, "app:1");
        assert_eq!(s.source_objects, 1);
    }

    #[test]
    fn secrets_are_hashed_and_never_displayed() {
        let s = secret("dev", "db", &[("password", "hunter2")]);
        let snap = Snapshot::build("dev", None, &Dimension::ALL, [], [], [&s], []);
        let v = &snap.objects[&Dimension::Secrets]["db"]["password"];
        assert_eq!(v.compare, sha256_hex(b"hunter2"));
        assert_eq!(v.display(), None);
        assert!(!format!("{snap:?}").contains("hunter2"));
    }

    #[test]
    fn digesting_a_secret_removes_every_copy_of_its_values() {
        let mut s = secret("dev", "db", &[("password", "hunter2")]);
        s.metadata.annotations = Some(BTreeMap::from([(
            LAST_APPLIED.to_owned(),
            r#"{"stringData":{"password":"hunter2"}}"#.to_owned(),
        )]));
        s.string_data = Some(BTreeMap::from([("password".to_owned(), "hunter2".to_owned())]));
        digest_secret_in_place(&mut s);
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        // Comparison still works: equal values give equal digests of digests.
        let mut t = secret("prod", "db", &[("password", "hunter2")]);
        digest_secret_in_place(&mut t);
        assert_eq!(s.data, t.data);
    }

    #[test]
    fn digested_cache_copies_compare_like_the_originals() {
        let raw_secret = secret("dev", "db", &[("password", "hunter2")]);
        let mut cached_secret = raw_secret.clone();
        digest_secret_in_place(&mut cached_secret);
        digest_secret_in_place(&mut cached_secret); // idempotent
        let raw_cm = ConfigMap {
            metadata: meta("dev", "app", &[]),
            data: Some(BTreeMap::from([("LOG".to_owned(), "debug".to_owned())])),
            binary_data: Some(BTreeMap::from([("blob".to_owned(), ByteString(vec![0, 1, 2]))])),
            ..Default::default()
        };
        let mut cached_cm = raw_cm.clone();
        digest_config_map_in_place(&mut cached_cm);
        digest_config_map_in_place(&mut cached_cm);
        assert_ne!(cached_cm.data, raw_cm.data, "values are replaced by digests");
        let raw = Snapshot::build("dev", None, &Dimension::ALL, [], [&raw_cm], [&raw_secret], []);
        let cached =
            Snapshot::build("dev", None, &Dimension::ALL, [], [&cached_cm], [&cached_secret], []);
        assert_eq!(raw, cached);
        assert_eq!(
            cached.objects[&Dimension::ConfigMaps]["app"]["LOG"].compare,
            sha256_hex(b"debug")
        );
        // Feature-flag manifests keep their values: flags are compared and shown as they are.
        let mut flags = ConfigMap {
            metadata: meta("dev", "flags", &[(FEATURE_FLAGS_LABEL, "true")]),
            data: Some(BTreeMap::from([("beta".to_owned(), "on".to_owned())])),
            ..Default::default()
        };
        digest_config_map_in_place(&mut flags);
        assert_eq!(flags.data.unwrap()["beta"], "on");
    }

    #[test]
    fn slim_deployments_keep_only_names_and_images() {
        let mut d = deployment("dev", "web", &[("app", "app@sha256:1")]);
        d.metadata.managed_fields = Some(vec![Default::default()]);
        if let Some(pod) = d.spec.template.spec.as_mut() {
            pod.containers[0].args = Some(vec!["--big".into(); 100]);
            pod.service_account_name = Some("web".into());
        }
        let before = Snapshot::build("dev", None, &Dimension::ALL, [&d], [], [], []);
        slim_deployment_in_place(&mut d);
        let pod = d.spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.containers[0].args, None);
        assert_eq!(pod.service_account_name, None);
        assert_eq!(d.metadata.managed_fields, None);
        assert_eq!(Snapshot::build("dev", None, &Dimension::ALL, [&d], [], [], []), before);
    }

    #[test]
    fn feature_flag_manifests_are_flags_not_config_maps() {
        let flags = ConfigMap {
            metadata: meta("dev", "flags", &[(FEATURE_FLAGS_LABEL, "true")]),
            data: Some(BTreeMap::from([("checkout-v2".to_owned(), " on\n".to_owned())])),
            ..Default::default()
        };
        let root =
            ConfigMap { metadata: meta("dev", "kube-root-ca.crt", &[]), ..Default::default() };
        let plain = ConfigMap {
            metadata: meta("dev", "app", &[]),
            data: Some(BTreeMap::from([("LOG".to_owned(), "debug".to_owned())])),
            ..Default::default()
        };
        let s = Snapshot::build("dev", None, &Dimension::ALL, [], [&flags, &root, &plain], [], []);
        assert_eq!(s.objects[&Dimension::FeatureFlags]["checkout-v2"][""].compare, "on");
        assert_eq!(s.objects[&Dimension::ConfigMaps].keys().collect::<Vec<_>>(), ["app"]);
        let only_cm =
            Snapshot::build("dev", None, &[Dimension::ConfigMaps], [], [&flags, &plain], [], []);
        assert!(!only_cm.objects.contains_key(&Dimension::FeatureFlags));
    }
}

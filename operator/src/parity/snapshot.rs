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
    // Digit by digit into a sized string: `hex::encode` goes through a `char` iterator and
    // costs about as much as the hash itself (every cached ConfigMap value is hashed).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The identity of a container image for comparison: the digest when the reference is pinned
/// (`…@sha256:…`; registries may differ between environments), else the whole reference.
pub fn image_identity(image: &str) -> String {
    pinned_digest(image).unwrap_or(image).to_owned()
}

/// The digest of a pinned image reference (`…@sha256:…`), if it is one.
fn pinned_digest(image: &str) -> Option<&str> {
    match image.rsplit_once('@') {
        Some((_, digest)) if digest.contains(':') => Some(digest),
        _ => None,
    }
}

/// How a container image is compared and shown: a pinned one by its digest (the whole
/// reference shown), any other by the whole reference ([`image_identity`]).
fn image_value(image: &str) -> Value {
    match pinned_digest(image) {
        Some(digest) => Value { compare: digest.to_owned(), shown: Shown::Text(image.to_owned()) },
        // Compared and shown alike: one string, not two.
        None => Value::plain(image),
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
    if !digested {
        return sha256_hex(bytes);
    }
    // Digests are hex (ASCII): the plain UTF-8 check is enough; the lossy copy is the fallback.
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// [`digest`] of a text value: a digested cache copy's value is copied as it is.
fn digest_text(digested: bool, text: &str) -> String {
    if digested { text.to_owned() } else { sha256_hex(text.as_bytes()) }
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

/// The objects [`wanted`] selects, in name order (stable: objects of the same name keep their
/// order). Reading objects in name order also lays out what a snapshot copies of them in the
/// order the diff walks it, which keeps the diff's memory reads close together (the caches hand
/// objects out in hash order).
fn in_name_order<'a, K: kube::Resource>(
    objects: impl IntoIterator<Item = &'a K>,
    namespace: &str,
    selector: Option<&Selector>,
) -> Vec<&'a K> {
    let mut selected: Vec<&K> =
        objects.into_iter().filter(|o| wanted(namespace, selector, o.meta())).collect();
    selected.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
    selected
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
            keys.insert(c.name.clone(), image_value(c.image.as_deref().unwrap_or_default()));
        }
    }
    keys
}

/// The keys a (non-flag) ConfigMap contributes to [`Dimension::ConfigMaps`]: key → digest.
pub(super) fn config_map_keys(cm: &ConfigMap) -> BTreeMap<String, Value> {
    let digested = is_digested(&cm.metadata);
    let mut keys = BTreeMap::new();
    for (k, v) in cm.data.iter().flatten() {
        let h = digest_text(digested, v);
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
        .and_then(|s| s.applied_version.clone())
        .unwrap_or_else(|| "none".to_owned());
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
        let (snap, _) = Snapshot::build_with_flag_manifests(
            namespace,
            selector,
            dimensions,
            deployments,
            config_maps,
            secrets,
            migrations,
        );
        snap
    }

    /// [`Snapshot::build`], and the feature-flag manifests it read (in name order; none when
    /// [`Dimension::FeatureFlags`] is not compared), which a live snapshot keeps to merge the
    /// flags again when one of them changes.
    pub(super) fn build_with_flag_manifests<'a>(
        namespace: &str,
        selector: Option<&Selector>,
        dimensions: &[Dimension],
        deployments: impl IntoIterator<Item = &'a Deployment>,
        config_maps: impl IntoIterator<Item = &'a ConfigMap>,
        secrets: impl IntoIterator<Item = &'a Secret>,
        migrations: impl IntoIterator<Item = &'a SchemaMigration>,
    ) -> (Snapshot, Vec<&'a ConfigMap>) {
        let wanted = |meta| wanted(namespace, selector, meta);
        let on = |d: Dimension| dimensions.contains(&d);
        let mut snap = Snapshot::default();

        if on(Dimension::Images) {
            for d in in_name_order(deployments, namespace, selector) {
                snap.source_objects += 1;
                snap.insert(Dimension::Images, d.name_any(), deployment_keys(d));
            }
        }

        let mut flag_manifests: Vec<&ConfigMap> = Vec::new();
        if on(Dimension::ConfigMaps) || on(Dimension::FeatureFlags) {
            // Flag manifests are read in name order (see `merge_flags`).
            for cm in in_name_order(config_maps, namespace, selector) {
                let name = cm.name_any();
                if is_ignored_config_map(&name) {
                    continue;
                }
                if is_flag_manifest(cm) {
                    if on(Dimension::FeatureFlags) {
                        snap.source_objects += 1;
                        flag_manifests.push(cm);
                    }
                } else if on(Dimension::ConfigMaps) {
                    snap.source_objects += 1;
                    snap.insert(Dimension::ConfigMaps, name, config_map_keys(cm));
                }
            }
        }
        if on(Dimension::FeatureFlags) {
            let flags = merge_flags(flag_manifests.iter().filter_map(|cm| cm.data.as_ref()));
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
        (snap, flag_manifests)
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

    #[test]
    fn hex_digests_are_lowercase_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for input in [&b""[..], b"hunter2", &[0, 1, 0xfe, 0xff], &[b'x'; 200]] {
            assert_eq!(sha256_hex(input), hex::encode(Sha256::digest(input)), "{input:?}");
        }
    }

    #[test]
    fn pinned_images_show_their_reference_and_others_show_what_is_compared() {
        let pinned = "registry.example/app:1.2@sha256:abc";
        let d = deployment("dev", "web", &[("app", pinned), ("proxy", "proxy:7"), ("none", "")]);
        let keys = deployment_keys(&d);
        assert_eq!(keys["app"].compare, "sha256:abc");
        assert_eq!(keys["app"].display().as_deref(), Some(pinned));
        assert_eq!(keys["proxy"].compare, image_identity("proxy:7"));
        assert_eq!(keys["proxy"].display().as_deref(), Some("proxy:7"));
        assert_eq!(keys["none"].display().as_deref(), Some(""));
        // Not pinned: an `@` without a digest after it.
        assert_eq!(image_value("app@latest"), Value::plain("app@latest"));
    }

    #[test]
    fn digested_values_that_are_not_utf8_compare_as_their_lossy_text() {
        let mut cm = ConfigMap {
            metadata: meta("dev", "app", &[]),
            binary_data: Some(BTreeMap::from([("blob".to_owned(), ByteString(vec![b'a', 0xff]))])),
            ..Default::default()
        };
        mark_digested(&mut cm.metadata);
        let keys = config_map_keys(&cm);
        assert_eq!(keys["blob"].compare, String::from_utf8_lossy(&[b'a', 0xff]));
        assert_eq!(keys["blob"].compare, "a\u{fffd}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// One cached object: kind (0 Deployment, 1 ConfigMap, 2 Secret, 3 SchemaMigration),
        /// namespace, name, `app` label, flag-manifest label, being deleted, data, `special`
        /// (no pod spec / no data / an ignored Secret type / no applied version), digested.
        type Row = (
            u8,
            &'static str,
            &'static str,
            Option<&'static str>,
            bool,
            bool,
            BTreeMap<String, String>,
            bool,
            bool,
        );

        fn row() -> impl Strategy<Value = Row> {
            (
                0u8..4,
                prop::sample::select(vec!["a", "b"]),
                prop::sample::select(vec!["o0", "o1", "o2", "kube-root-ca.crt"]),
                prop::option::of(prop::sample::select(vec!["x", "y"])),
                any::<bool>(),
                prop::bool::weighted(0.1),
                prop::collection::btree_map(
                    prop::sample::select(vec!["k0".to_owned(), "k1".to_owned()]),
                    prop::sample::select(vec!["v0".to_owned(), "v1@sha256:1".to_owned()]),
                    0..3,
                ),
                prop::bool::weighted(0.2),
                any::<bool>(),
            )
        }

        #[derive(Default)]
        struct Objects {
            deployments: Vec<Deployment>,
            config_maps: Vec<ConfigMap>,
            secrets: Vec<Secret>,
            migrations: Vec<SchemaMigration>,
        }

        fn objects(rows: &[Row]) -> Objects {
            let mut out = Objects::default();
            for (kind, ns, name, app, flags, deleting, data, special, digested) in rows.iter() {
                let mut labels: Vec<(&str, &str)> = app.iter().map(|a| ("app", *a)).collect();
                if *flags {
                    labels.push((FEATURE_FLAGS_LABEL, "true"));
                }
                let mut metadata = meta(ns, name, &labels);
                if *deleting {
                    metadata.deletion_timestamp =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                            jiff::Timestamp::UNIX_EPOCH,
                        ));
                }
                let pairs: Vec<(&str, &str)> =
                    data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                match kind {
                    0 => {
                        let mut d = deployment(ns, name, &pairs);
                        d.metadata = metadata;
                        if *special {
                            d.spec.template.spec = None;
                        }
                        out.deployments.push(d);
                    }
                    1 => {
                        let mut cm = ConfigMap {
                            metadata,
                            data: (!special).then(|| data.clone()),
                            ..Default::default()
                        };
                        if *digested {
                            digest_config_map_in_place(&mut cm);
                        }
                        out.config_maps.push(cm);
                    }
                    2 => {
                        let mut s = secret(ns, name, &pairs);
                        s.metadata = metadata;
                        s.type_ = special.then(|| IGNORED_SECRET_TYPES[0].to_owned());
                        if *digested {
                            digest_secret_in_place(&mut s);
                        }
                        out.secrets.push(s);
                    }
                    _ => {
                        let version = (!special).then_some(data.len());
                        let mut m: SchemaMigration = serde_json::from_value(serde_json::json!({
                            "apiVersion": "tollgate.dev/v1alpha1",
                            "kind": "SchemaMigration",
                            "metadata": {},
                            "spec": {"databaseSecretRef": {"name": "db", "key": "url"}, "source": {}},
                            "status": {"appliedVersion": version},
                        }))
                        .expect("a valid SchemaMigration");
                        m.metadata = metadata;
                        out.migrations.push(m);
                    }
                }
            }
            out
        }

        /// The plain way: ConfigMaps sorted by name first (flag manifests merge in name
        /// order), every other object read in the order given ([`Snapshot::build`] sorts
        /// Deployments by name too, for memory locality; the result must not change).
        fn one_by_one(
            namespace: &str,
            selector: Option<&Selector>,
            dimensions: &[Dimension],
            o: &Objects,
        ) -> Snapshot {
            let wanted = |meta| wanted(namespace, selector, meta);
            let on = |d: Dimension| dimensions.contains(&d);
            let mut snap = Snapshot::default();
            if on(Dimension::Images) {
                for d in o.deployments.iter().filter(|d| wanted(&d.metadata)) {
                    snap.source_objects += 1;
                    snap.insert(Dimension::Images, d.name_any(), deployment_keys(d));
                }
            }
            let mut manifests = Vec::new();
            if on(Dimension::ConfigMaps) || on(Dimension::FeatureFlags) {
                let mut cms: Vec<&ConfigMap> =
                    o.config_maps.iter().filter(|c| wanted(&c.metadata)).collect();
                cms.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
                for cm in cms {
                    let name = cm.name_any();
                    if is_ignored_config_map(&name) {
                        continue;
                    }
                    if is_flag_manifest(cm) {
                        if on(Dimension::FeatureFlags) {
                            snap.source_objects += 1;
                            manifests.extend(cm.data.as_ref());
                        }
                    } else if on(Dimension::ConfigMaps) {
                        snap.source_objects += 1;
                        snap.insert(Dimension::ConfigMaps, name, config_map_keys(cm));
                    }
                }
            }
            if on(Dimension::FeatureFlags) {
                let flags = merge_flags(manifests);
                snap.objects.entry(Dimension::FeatureFlags).or_default().extend(flags);
            }
            if on(Dimension::Secrets) {
                for s in o.secrets.iter().filter(|s| wanted(&s.metadata) && !is_ignored_secret(s)) {
                    snap.source_objects += 1;
                    snap.insert(Dimension::Secrets, s.name_any(), secret_keys(s));
                }
            }
            if on(Dimension::SchemaVersion) {
                for m in o.migrations.iter().filter(|m| wanted(&m.metadata)) {
                    snap.source_objects += 1;
                    snap.insert(Dimension::SchemaVersion, m.name_any(), migration_keys(m));
                }
            }
            snap
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Building from objects in any order (the caches' hash order), with repeated
            /// names, equals building from them in name order; the flag manifests it returns
            /// are the selected ones in name order.
            #[test]
            fn build_in_any_order_equals_the_name_ordered_build(
                rows in prop::collection::vec(row(), 0..24),
                dims in prop::sample::subsequence(Dimension::ALL.to_vec(), 0..=5),
                select in any::<bool>(),
            ) {
                let selector: Option<Selector> =
                    select.then(|| [("app", "x")].into_iter().collect());
                let o = objects(&rows);
                let (built, manifests) = Snapshot::build_with_flag_manifests(
                    "a",
                    selector.as_ref(),
                    &dims,
                    &o.deployments,
                    &o.config_maps,
                    &o.secrets,
                    &o.migrations,
                );
                prop_assert_eq!(&built, &one_by_one("a", selector.as_ref(), &dims, &o));
                let names: Vec<&str> =
                    manifests.iter().map(|cm| cm.metadata.name.as_deref().unwrap_or("")).collect();
                let mut expected: Vec<&ConfigMap> = o
                    .config_maps
                    .iter()
                    .filter(|cm| {
                        dims.contains(&Dimension::FeatureFlags)
                            && wanted("a", selector.as_ref(), &cm.metadata)
                            && is_flag_manifest(cm)
                            && !is_ignored_config_map(&cm.name_any())
                    })
                    .collect();
                expected.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
                let expected: Vec<&str> =
                    expected.iter().map(|cm| cm.metadata.name.as_deref().unwrap_or("")).collect();
                prop_assert_eq!(names, expected);
            }
        }
    }
}

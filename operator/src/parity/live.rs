//! A [`Snapshot`] kept up to date from watch events: when one object changes, only that
//! object is read again, instead of every object of the namespace.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::Selector;

use super::snapshot::{
    config_map_keys, deployment_keys, is_flag_manifest, is_ignored_config_map, is_ignored_secret,
    merge_flags, migration_keys, secret_keys, wanted,
};
use super::{Snapshot, Value};
use crate::crd::migration::SchemaMigration;
use crate::crd::parity::Dimension;

/// One cached object of a kind snapshots read, as a watch event carries it.
#[derive(Debug, Clone, Copy)]
pub enum Object<'a> {
    /// A Deployment ([`Dimension::Images`]).
    Deployment(&'a Deployment),
    /// A ConfigMap ([`Dimension::ConfigMaps`] or, for manifests, [`Dimension::FeatureFlags`]).
    ConfigMap(&'a ConfigMap),
    /// A Secret, already digested ([`Dimension::Secrets`]).
    Secret(&'a Secret),
    /// A SchemaMigration ([`Dimension::SchemaVersion`]).
    Migration(&'a SchemaMigration),
}

impl Object<'_> {
    fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Deployment(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::Migration(o) => &o.metadata,
        }
    }
}

impl<'a> From<&'a Deployment> for Object<'a> {
    fn from(o: &'a Deployment) -> Self {
        Object::Deployment(o)
    }
}

impl<'a> From<&'a ConfigMap> for Object<'a> {
    fn from(o: &'a ConfigMap) -> Self {
        Object::ConfigMap(o)
    }
}

impl<'a> From<&'a Secret> for Object<'a> {
    fn from(o: &'a Secret) -> Self {
        Object::Secret(o)
    }
}

impl<'a> From<&'a SchemaMigration> for Object<'a> {
    fn from(o: &'a SchemaMigration) -> Self {
        Object::Migration(o)
    }
}

/// The snapshot of one namespace for one selector and set of dimensions, maintained
/// incrementally: after [`LiveSnapshot::build`] from the caches, [`LiveSnapshot::apply`] each
/// watch event, and [`LiveSnapshot::snapshot`] stays equal to what [`Snapshot::build`] would
/// return for the caches as they are now.
///
/// Applying the same event twice is harmless (the result depends only on the object's latest
/// state), so an event that reached the caches before the build may be applied after it.
#[derive(Debug, Clone)]
pub struct LiveSnapshot {
    namespace: String,
    selector: Option<Selector>,
    dimensions: Vec<Dimension>,
    snapshot: Arc<Snapshot>,
    /// `data` of the selected feature-flag manifests by name (flags merge across manifests, so
    /// a change to one merges them all again; they are few and small).
    flag_manifests: BTreeMap<String, BTreeMap<String, String>>,
}

impl LiveSnapshot {
    /// Builds it from the cached objects, like [`Snapshot::build`] (objects of other namespaces
    /// are skipped).
    pub fn build<'a>(
        namespace: &str,
        selector: Option<Selector>,
        dimensions: &[Dimension],
        deployments: impl IntoIterator<Item = &'a Deployment>,
        config_maps: impl IntoIterator<Item = &'a ConfigMap>,
        secrets: impl IntoIterator<Item = &'a Secret>,
        migrations: impl IntoIterator<Item = &'a SchemaMigration>,
    ) -> LiveSnapshot {
        let (snapshot, flag_manifests) = Snapshot::build_with_flag_manifests(
            namespace,
            selector.as_ref(),
            dimensions,
            deployments,
            config_maps,
            secrets,
            migrations,
        );
        let flag_manifests = flag_manifests
            .into_iter()
            .map(|cm| {
                (cm.metadata.name.clone().unwrap_or_default(), cm.data.clone().unwrap_or_default())
            })
            .collect();
        LiveSnapshot {
            namespace: namespace.to_owned(),
            selector,
            dimensions: dimensions.to_vec(),
            snapshot: Arc::new(snapshot),
            flag_manifests,
        }
    }

    /// The snapshot as of the last event applied (shared: no copy).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.clone()
    }

    /// The namespace it reads.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Takes one watch event into account: `object` was created or changed (`deleted` false),
    /// or deleted (`deleted` true). Objects of other namespaces are ignored. Only this object
    /// is read; the snapshot is copied first only if a reader still holds it.
    pub fn apply(&mut self, object: Object<'_>, deleted: bool) {
        let meta = object.meta();
        if meta.namespace.as_deref() != Some(self.namespace.as_str()) {
            return;
        }
        let name = meta.name.clone().unwrap_or_default();
        let present = !deleted && wanted(&self.namespace, self.selector.as_ref(), meta);
        let on = |d: Dimension| self.dimensions.contains(&d);
        let (images, config_maps, flags_on, secrets, versions) = (
            on(Dimension::Images),
            on(Dimension::ConfigMaps),
            on(Dimension::FeatureFlags),
            on(Dimension::Secrets),
            on(Dimension::SchemaVersion),
        );
        match object {
            Object::Deployment(d) => {
                if images {
                    let keys = present.then(|| deployment_keys(d));
                    self.replace(Dimension::Images, name, keys);
                }
            }
            Object::ConfigMap(cm) => {
                if is_ignored_config_map(&name) {
                    return;
                }
                let flags = is_flag_manifest(cm);
                if config_maps {
                    let keys = (present && !flags).then(|| config_map_keys(cm));
                    self.replace(Dimension::ConfigMaps, name.clone(), keys);
                }
                if flags_on {
                    let data = (present && flags).then(|| cm.data.clone().unwrap_or_default());
                    self.replace_flag_manifest(name, data);
                }
            }
            Object::Secret(s) => {
                if secrets {
                    let keys = (present && !is_ignored_secret(s)).then(|| secret_keys(s));
                    self.replace(Dimension::Secrets, name, keys);
                }
            }
            Object::Migration(m) => {
                if versions {
                    let keys = present.then(|| migration_keys(m));
                    self.replace(Dimension::SchemaVersion, name, keys);
                }
            }
        }
    }

    /// Sets (`Some`) or removes (`None`) one object of a dimension, keeping the count of source
    /// objects and dropping a dimension left empty (as [`Snapshot::build`] never creates one).
    fn replace(&mut self, dim: Dimension, name: String, keys: Option<BTreeMap<String, Value>>) {
        let current = self.snapshot.objects.get(&dim).and_then(|o| o.get(&name));
        if current == keys.as_ref() {
            return;
        }
        let snap = Arc::make_mut(&mut self.snapshot);
        let objects = snap.objects.entry(dim).or_default();
        if objects.remove(&name).is_some() {
            snap.source_objects -= 1;
        }
        if let Some(keys) = keys {
            objects.insert(name, keys);
            snap.source_objects += 1;
        }
        if objects.is_empty() {
            snap.objects.remove(&dim);
        }
    }

    /// Sets (`Some`) or removes (`None`) one feature-flag manifest and merges the flags again.
    fn replace_flag_manifest(&mut self, name: String, data: Option<BTreeMap<String, String>>) {
        if self.flag_manifests.get(&name) == data.as_ref() {
            return;
        }
        let before = self.flag_manifests.len();
        match data {
            Some(d) => self.flag_manifests.insert(name, d),
            None => self.flag_manifests.remove(&name),
        };
        let snap = Arc::make_mut(&mut self.snapshot);
        snap.source_objects = snap.source_objects - before + self.flag_manifests.len();
        snap.objects.insert(Dimension::FeatureFlags, merge_flags(self.flag_manifests.values()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parity::{FEATURE_FLAGS_LABEL, digest_config_map_in_place, digest_secret_in_place};
    use k8s_openapi::ByteString;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use proptest::prelude::*;

    /// A cached object of the model store.
    #[derive(Debug, Clone)]
    #[expect(clippy::large_enum_variant, reason = "a test model, a few dozen objects")]
    enum Cached {
        Deployment(Deployment),
        ConfigMap(ConfigMap),
        Secret(Secret),
        Migration(SchemaMigration),
    }

    impl Cached {
        fn object(&self) -> Object<'_> {
            match self {
                Cached::Deployment(o) => Object::Deployment(o),
                Cached::ConfigMap(o) => Object::ConfigMap(o),
                Cached::Secret(o) => Object::Secret(o),
                Cached::Migration(o) => Object::Migration(o),
            }
        }
    }

    /// One generated watch event.
    #[derive(Debug, Clone)]
    struct Event {
        kind: u8,
        namespace: &'static str,
        name: &'static str,
        app: Option<&'static str>,
        flags_label: bool,
        deleting: bool,
        data: BTreeMap<String, String>,
        special: bool,
        deleted: bool,
        replayed: bool,
    }

    fn event() -> impl Strategy<Value = Event> {
        (
            0u8..4,
            prop::sample::select(vec!["a", "b"]),
            prop::sample::select(vec!["o0", "o1", "o2", "kube-root-ca.crt"]),
            prop::option::of(prop::sample::select(vec!["x", "y"])),
            any::<bool>(),
            prop::bool::weighted(0.15),
            prop::collection::btree_map(
                prop::sample::select(vec!["k0".to_owned(), "k1".to_owned(), "k2".to_owned()]),
                prop::sample::select(vec!["v0".to_owned(), " v1\n".to_owned(), "v2".to_owned()]),
                0..3,
            ),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.2),
        )
            .prop_map(
                |(
                    kind,
                    namespace,
                    name,
                    app,
                    flags_label,
                    deleting,
                    data,
                    special,
                    deleted,
                    replayed,
                )| {
                    Event {
                        kind,
                        namespace,
                        name,
                        app,
                        flags_label,
                        deleting,
                        data,
                        special,
                        deleted,
                        replayed,
                    }
                },
            )
    }

    /// The object an event carries, as the caches hold it (digested, like the watches do).
    fn cached(e: &Event) -> Cached {
        let mut labels = BTreeMap::new();
        if let Some(app) = e.app {
            labels.insert("app".to_owned(), app.to_owned());
        }
        if e.flags_label {
            labels.insert(FEATURE_FLAGS_LABEL.to_owned(), "true".to_owned());
        }
        let metadata = ObjectMeta {
            name: Some(e.name.to_owned()),
            namespace: Some(e.namespace.to_owned()),
            labels: Some(labels),
            deletion_timestamp: e.deleting.then_some(Time(jiff::Timestamp::UNIX_EPOCH)),
            ..Default::default()
        };
        match e.kind {
            0 => Cached::Deployment(Deployment {
                metadata,
                spec: DeploymentSpec {
                    template: PodTemplateSpec {
                        spec: (!e.special).then(|| PodSpec {
                            containers: e
                                .data
                                .iter()
                                .map(|(k, v)| Container {
                                    name: k.clone(),
                                    image: Some(format!("app:{v}")),
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
            }),
            1 => {
                let mut cm = ConfigMap {
                    metadata,
                    data: (!e.special).then(|| e.data.clone()),
                    ..Default::default()
                };
                digest_config_map_in_place(&mut cm);
                Cached::ConfigMap(cm)
            }
            2 => {
                let mut s = Secret {
                    metadata,
                    type_: e.special.then(|| "kubernetes.io/service-account-token".to_owned()),
                    data: Some(
                        e.data
                            .iter()
                            .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
                            .collect(),
                    ),
                    ..Default::default()
                };
                digest_secret_in_place(&mut s);
                Cached::Secret(s)
            }
            _ => {
                let version = if e.special { None } else { Some(e.data.len()) };
                let mut m: SchemaMigration = serde_json::from_value(serde_json::json!({
                    "apiVersion": "tollgate.dev/v1alpha1",
                    "kind": "SchemaMigration",
                    "metadata": {},
                    "spec": {"databaseSecretRef": {"name": "db", "key": "url"}, "source": {}},
                    "status": {"appliedVersion": version},
                }))
                .expect("a valid SchemaMigration");
                m.metadata = metadata;
                Cached::Migration(m)
            }
        }
    }

    type Store = BTreeMap<(u8, &'static str, &'static str), Cached>;

    fn apply_to_store(store: &mut Store, e: &Event, object: Cached) {
        let key = (e.kind, e.namespace, e.name);
        if e.deleted {
            store.remove(&key);
        } else {
            store.insert(key, object);
        }
    }

    fn full_rebuild(store: &Store, selector: Option<&Selector>, dims: &[Dimension]) -> Snapshot {
        let of = |k: u8| store.iter().filter(move |((kind, ..), _)| *kind == k).map(|(_, o)| o);
        Snapshot::build(
            "a",
            selector,
            dims,
            of(0).filter_map(|o| if let Cached::Deployment(d) = o { Some(d) } else { None }),
            of(1).filter_map(|o| if let Cached::ConfigMap(c) = o { Some(c) } else { None }),
            of(2).filter_map(|o| if let Cached::Secret(s) = o { Some(s) } else { None }),
            of(3).filter_map(|o| if let Cached::Migration(m) = o { Some(m) } else { None }),
        )
    }

    fn live_from(store: &Store, selector: Option<Selector>, dims: &[Dimension]) -> LiveSnapshot {
        let of = |k: u8| store.iter().filter(move |((kind, ..), _)| *kind == k).map(|(_, o)| o);
        LiveSnapshot::build(
            "a",
            selector,
            dims,
            of(0).filter_map(|o| if let Cached::Deployment(d) = o { Some(d) } else { None }),
            of(1).filter_map(|o| if let Cached::ConfigMap(c) = o { Some(c) } else { None }),
            of(2).filter_map(|o| if let Cached::Secret(s) = o { Some(s) } else { None }),
            of(3).filter_map(|o| if let Cached::Migration(m) = o { Some(m) } else { None }),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Incremental maintenance equals a full rebuild after every event of a random
        /// sequence, for random selectors and dimensions, with replayed events (an event that
        /// reached the caches before the build is applied again after it).
        #[test]
        fn incremental_maintenance_equals_a_full_rebuild(
            before in prop::collection::vec(event(), 0..12),
            after in prop::collection::vec(event(), 1..40),
            dims in prop::sample::subsequence(Dimension::ALL.to_vec(), 0..=5),
            select in any::<bool>(),
        ) {
            let selector: Option<Selector> =
                select.then(|| [("app", "x")].into_iter().collect());
            let mut store = Store::new();
            for e in &before {
                apply_to_store(&mut store, e, cached(e));
            }
            let mut live = live_from(&store, selector.clone(), &dims);
            let built = live.snapshot();
            prop_assert_eq!(built.as_ref(), &full_rebuild(&store, selector.as_ref(), &dims));
            if let Some(last) = before.last() {
                // Replayed: it had reached the caches before the build.
                live.apply(cached(last).object(), last.deleted);
            }
            for e in &after {
                let object = cached(e);
                let held = live.snapshot();
                live.apply(object.object(), e.deleted);
                if e.replayed {
                    live.apply(object.object(), e.deleted);
                }
                apply_to_store(&mut store, e, object);
                let kept = live.snapshot();
                prop_assert_eq!(
                    kept.as_ref(),
                    &full_rebuild(&store, selector.as_ref(), &dims),
                    "after {:?}", e
                );
                drop(held);
            }
        }
    }

    #[test]
    fn a_held_snapshot_is_not_changed_by_later_events() {
        let e = |name: &'static str, v: &str| Event {
            kind: 0,
            namespace: "a",
            name,
            app: None,
            flags_label: false,
            deleting: false,
            data: BTreeMap::from([("app".to_owned(), v.to_owned())]),
            special: false,
            deleted: false,
            replayed: false,
        };
        let mut store = Store::new();
        let first = e("web", "1");
        apply_to_store(&mut store, &first, cached(&first));
        let mut live = live_from(&store, None, &Dimension::ALL);
        let held = live.snapshot();
        let next = e("web", "2");
        live.apply(cached(&next).object(), false);
        assert_eq!(held.objects[&Dimension::Images]["web"]["app"].compare, "app:1");
        assert_eq!(live.snapshot().objects[&Dimension::Images]["web"]["app"].compare, "app:2");
        // Another namespace's object changes nothing.
        let elsewhere = Event { namespace: "b", ..e("web", "3") };
        let before = live.snapshot();
        live.apply(cached(&elsewhere).object(), false);
        assert!(Arc::ptr_eq(&before, &live.snapshot()));
        // An event that changes nothing comparable does not copy the snapshot either.
        live.apply(cached(&next).object(), false);
        assert!(Arc::ptr_eq(&before, &live.snapshot()));
        live.apply(cached(&next).object(), true);
        assert!(!live.snapshot().objects.contains_key(&Dimension::Images));
        assert_eq!(live.snapshot().source_objects, 0);
    }
}

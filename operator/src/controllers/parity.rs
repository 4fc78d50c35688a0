//! The EnvironmentParity controller.
//!
//! Reads come from watch-backed caches ([`ClusterCaches`]: reflector stores of Deployments,
//! ConfigMaps, Secrets and SchemaMigrations, watched once for the whole cluster and shared by
//! every EnvironmentParity), never from a LIST per reconcile. Environments in other clusters are
//! read through a kubeconfig Secret: one client and one set of caches per Secret, rebuilt when the
//! Secret's `resourceVersion` changes.
//!
//! Reconcile = read the caches, compute the status with [`compute_status`] (pure), write it by
//! server-side apply only when it changed, publish events on condition transitions, set the drift
//! metric, requeue after `spec.intervalSeconds`.
//!
//! Snapshots are memoised per (namespace, selector, dimensions) and kept up to date from the
//! watch events ([`LiveSnapshot`]): an event re-reads only the changed object, into the
//! snapshots of its namespace, so a reconcile right after a change costs about what one in
//! steady state does. A new list (watch restart) drops them; the next reconcile builds them again.
//!
//! Secret values never reach the caches: [`digest_secret_in_place`] replaces them by their
//! SHA-256 before storing, and drops the last-applied annotation that repeats them. ConfigMap
//! values are digested the same way (except feature-flag manifests) and Deployments are cut down
//! to container names and images ([`slim_deployment_in_place`]), so the caches stay small.
//!
//! No finalizer: the controller owns no external state (the caches are shared and in memory).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::conditions::{self, Summary};
use crate::context::Context;
use crate::controllers::cache_changes::{self, Change, ChangeFeed, Cluster, RemoteKey};
use crate::controllers::update_status;
use crate::crd::migration::SchemaMigration;
use crate::crd::parity::{
    Dimension, Environment, EnvironmentParity, EnvironmentParityStatus, EnvironmentStatus,
    HealthStatus, SecretKeyRef,
};
use crate::parity::{
    CompareOptions, Comparison, LiveSnapshot, Object, Snapshot, compare,
    digest_config_map_in_place, digest_secret_in_place, slim_deployment_in_place, strip_for_cache,
};
use crate::probe::Prober;

/// The controller's name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "parity";
/// Requeue delay while caches are still filling.
const SYNC_RETRY: Duration = Duration::from_secs(2);

pub use crate::controllers::Error;

/// Aborts the watcher tasks of a cache set when its last clone is dropped.
struct Tasks(Vec<tokio::task::AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Watch-backed caches of one cluster (every namespace, or one watched namespace).
#[derive(Clone)]
pub struct ClusterCaches {
    /// Deployments (managed fields and last-applied annotations stripped).
    pub deployments: Store<Deployment>,
    /// ConfigMaps (same).
    pub config_maps: Store<ConfigMap>,
    /// Secrets, with every value replaced by its SHA-256 ([`digest_secret_in_place`]).
    pub secrets: Store<Secret>,
    /// SchemaMigrations.
    pub migrations: Store<SchemaMigration>,
    /// Snapshots by (namespace, selector, dimensions), kept up to date from watch events
    /// (only the changed object is read again) and dropped when a watch lists again.
    memo: Arc<Mutex<SnapshotMemo>>,
    _tasks: Arc<Tasks>,
}

/// (namespace, selector as JSON, dimensions) → the snapshot, maintained from watch events.
type SnapshotMemo = HashMap<(String, String, Vec<Dimension>), LiveSnapshot>;
/// Most memoised snapshots per cluster (the memo is cleared when it would grow past it).
const MAX_MEMOISED: usize = 256;

fn lock(memo: &Mutex<SnapshotMemo>) -> std::sync::MutexGuard<'_, SnapshotMemo> {
    // Entries are only ever replaced or patched whole: a poisoned lock still holds valid ones.
    memo.lock().unwrap_or_else(|p| p.into_inner())
}

/// Brings the memoised snapshots up to date after one watch event reached the stores: an
/// object applied or deleted is read again (into the snapshots of its namespace only); a new
/// list drops them all (objects may have vanished without a Delete event).
fn record_event<K>(memo: &Mutex<SnapshotMemo>, event: &watcher::Event<K>)
where
    for<'a> Object<'a>: From<&'a K>,
{
    match event {
        watcher::Event::Apply(o) => record_object(memo, Object::from(o), false),
        watcher::Event::Delete(o) => record_object(memo, Object::from(o), true),
        // The reflector swaps its store at InitDone only.
        watcher::Event::InitDone => lock(memo).clear(),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

fn record_object(memo: &Mutex<SnapshotMemo>, object: Object<'_>, deleted: bool) {
    for live in lock(memo).values_mut() {
        live.apply(object, deleted);
    }
}

fn spawn_watch<K, F>(
    api: Api<K>,
    memo: Arc<Mutex<SnapshotMemo>>,
    wake: Waker,
    mut modify: F,
) -> (Store<K>, tokio::task::AbortHandle)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: FnMut(&mut K) + Send + 'static,
    for<'a> Object<'a>: From<&'a K>,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&());
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(move |o| modify(o))
        .reflect(writer)
        .for_each(move |event| {
            match event {
                // After the reflector applied it: a snapshot built in between already holds the
                // change, and applying it again is harmless.
                Ok(event) => {
                    record_event(&memo, &event);
                    wake.event(&event);
                }
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "parity cache watch failed; retrying")
                }
            }
            futures::future::ready(())
        });
    (reader, tokio::spawn(stream).abort_handle())
}

/// Tells the controller which namespace of which cluster changed ([`ChangeFeed`]).
#[derive(Clone)]
struct Waker {
    cluster: Cluster,
    feed: Arc<ChangeFeed>,
}

impl Waker {
    fn event<K: Resource>(&self, event: &watcher::Event<K>) {
        let namespace = match event {
            watcher::Event::Apply(o) | watcher::Event::Delete(o) => o.meta().namespace.clone(),
            watcher::Event::InitDone => None,
            watcher::Event::Init | watcher::Event::InitApply(_) => return,
        };
        self.feed.push(Change { cluster: self.cluster.clone(), namespace });
    }
}

impl ClusterCaches {
    /// Starts watching the cluster behind `client` (needs a tokio runtime): every namespace, or
    /// only `namespace`. Every watch event pushes a [`Change`] of `cluster` to `feed` after the
    /// caches took it in. The watches stop when the last clone is dropped.
    pub fn watch(
        client: Client,
        cluster: Cluster,
        namespace: Option<&str>,
        feed: Arc<ChangeFeed>,
    ) -> ClusterCaches {
        use crate::context::api_in as api;
        let memo = Arc::new(Mutex::new(SnapshotMemo::new()));
        let wake = Waker { cluster, feed };
        let (deployments, a) = spawn_watch(
            api::<Deployment>(&client, namespace),
            memo.clone(),
            wake.clone(),
            slim_deployment_in_place,
        );
        let (config_maps, b) = spawn_watch(
            api::<ConfigMap>(&client, namespace),
            memo.clone(),
            wake.clone(),
            digest_config_map_in_place,
        );
        let (secrets, c) = spawn_watch(
            api::<Secret>(&client, namespace),
            memo.clone(),
            wake.clone(),
            digest_secret_in_place,
        );
        let (migrations, d) = spawn_watch(
            api::<SchemaMigration>(&client, namespace),
            memo.clone(),
            wake,
            |m: &mut SchemaMigration| strip_for_cache(&mut m.metadata),
        );
        ClusterCaches {
            deployments,
            config_maps,
            secrets,
            migrations,
            memo,
            _tasks: Arc::new(Tasks(vec![a, b, c, d])),
        }
    }

    /// Caches over stores filled by someone else (tests and benchmarks fill them through
    /// `reflector::store()` writers; after each change they call [`ClusterCaches::record`],
    /// or [`ClusterCaches::mark_changed`] after a whole new list). Secrets must already be
    /// digested.
    pub fn from_stores(
        deployments: Store<Deployment>,
        config_maps: Store<ConfigMap>,
        secrets: Store<Secret>,
        migrations: Store<SchemaMigration>,
    ) -> ClusterCaches {
        ClusterCaches {
            deployments,
            config_maps,
            secrets,
            migrations,
            memo: Arc::default(),
            _tasks: Arc::new(Tasks(Vec::new())),
        }
    }

    /// Drops every memoised snapshot: the next reads build them again from the stores (the
    /// watches do it themselves when they list again; for [`ClusterCaches::from_stores`] after
    /// changes not passed to [`ClusterCaches::record`]).
    pub fn mark_changed(&self) {
        lock(&self.memo).clear();
    }

    /// Brings the memoised snapshots up to date after `object` was applied to the stores
    /// (`deleted` false) or removed from them (`deleted` true): only this object is read again,
    /// into the snapshots of its namespace. The watches do it for every event; for
    /// [`ClusterCaches::from_stores`].
    pub fn record(&self, object: Object<'_>, deleted: bool) {
        record_object(&self.memo, object, deleted);
    }

    /// [`ClusterCaches::snapshot`], memoised per namespace, selector and dimensions: built from
    /// the stores once, then kept up to date from watch events (only changed objects are read
    /// again), so a reconcile right after a change costs about as much as one without.
    pub fn snapshot_memoised(
        &self,
        env: &Environment,
        index: usize,
        dimensions: &[Dimension],
    ) -> Result<Arc<Snapshot>, String> {
        let selector = serde_json::to_string(&env.selector).unwrap_or_default();
        let key = (env.namespace.clone(), selector, dimensions.to_vec());
        // Built under the lock: an event that reaches the stores meanwhile is applied to the
        // new entry after it (the watch waits for the lock), never lost.
        let mut memo = lock(&self.memo);
        if let Some(live) = memo.get(&key) {
            return Ok(live.snapshot());
        }
        let live = self.live(env, index, dimensions)?;
        let snap = live.snapshot();
        if memo.len() >= MAX_MEMOISED {
            memo.clear();
        }
        memo.insert(key, live);
        Ok(snap)
    }

    /// Whether the stores needed for `dimensions` have received their initial list.
    pub fn is_ready(&self, dimensions: &[Dimension]) -> bool {
        let on = |d| dimensions.contains(&d);
        let ready = |f: futures::future::BoxFuture<'_, bool>| f.now_or_never().unwrap_or(false);
        (!on(Dimension::Images)
            || ready(self.deployments.wait_until_ready().map(|r| r.is_ok()).boxed()))
            && (!(on(Dimension::ConfigMaps) || on(Dimension::FeatureFlags))
                || ready(self.config_maps.wait_until_ready().map(|r| r.is_ok()).boxed()))
            && (!on(Dimension::Secrets)
                || ready(self.secrets.wait_until_ready().map(|r| r.is_ok()).boxed()))
            && (!on(Dimension::SchemaVersion)
                || ready(self.migrations.wait_until_ready().map(|r| r.is_ok()).boxed()))
    }

    /// The snapshot of one environment from the caches (no API call). Errors (a bad selector)
    /// name the field.
    pub fn snapshot(
        &self,
        env: &Environment,
        index: usize,
        dimensions: &[Dimension],
    ) -> Result<Snapshot, String> {
        let live = self.live(env, index, dimensions)?;
        Ok(Arc::unwrap_or_clone(live.snapshot()))
    }

    /// A [`LiveSnapshot`] of one environment, built from the stores.
    fn live(
        &self,
        env: &Environment,
        index: usize,
        dimensions: &[Dimension],
    ) -> Result<LiveSnapshot, String> {
        let selector = env
            .selector
            .clone()
            .map(Selector::try_from)
            .transpose()
            .map_err(|e| format!("/spec/environments/{index}/selector: {e}"))?;
        let ns = env.namespace.as_str();
        let in_ns = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.namespace.as_deref() == Some(ns)
        };
        let on = |d| dimensions.contains(&d);
        let deployments = if on(Dimension::Images) {
            self.deployments.state_filter(|o| in_ns(&o.metadata))
        } else {
            Vec::new()
        };
        let config_maps = if on(Dimension::ConfigMaps) || on(Dimension::FeatureFlags) {
            self.config_maps.state_filter(|o| in_ns(&o.metadata))
        } else {
            Vec::new()
        };
        let secrets = if on(Dimension::Secrets) {
            self.secrets.state_filter(|o| in_ns(&o.metadata))
        } else {
            Vec::new()
        };
        let migrations = if on(Dimension::SchemaVersion) {
            self.migrations.state_filter(|o| in_ns(&o.metadata))
        } else {
            Vec::new()
        };
        Ok(LiveSnapshot::build(
            ns,
            selector,
            dimensions,
            deployments.iter().map(|a| a.as_ref()),
            config_maps.iter().map(|a| a.as_ref()),
            secrets.iter().map(|a| a.as_ref()),
            migrations.iter().map(|a| a.as_ref()),
        ))
    }
}

/// kubeconfig Secret → (the Secret's resourceVersion, the caches built from it).
type RemoteMap = HashMap<RemoteKey, (String, ClusterCaches)>;

/// Caches of other clusters, one per kubeconfig Secret, rebuilt when the Secret changes and
/// dropped ([`RemoteClusters::retain`]) when no EnvironmentParity refers to the Secret any more.
pub struct RemoteClusters {
    by_secret: Mutex<RemoteMap>,
    feed: Arc<ChangeFeed>,
}

impl RemoteClusters {
    /// No remote caches yet; those made later push their watch events to `feed`.
    pub fn new(feed: Arc<ChangeFeed>) -> RemoteClusters {
        RemoteClusters { by_secret: Mutex::default(), feed }
    }

    /// The caches of the cluster the kubeconfig in Secret `namespace/r.name` key `r.key` points
    /// at (one GET of the Secret; caches reused while its resourceVersion is unchanged).
    pub async fn caches(
        &self,
        client: &Client,
        namespace: &str,
        r: &SecretKeyRef,
    ) -> Result<ClusterCaches, String> {
        let place = format!("secret {namespace}/{} key {}", r.name, r.key);
        let secret = Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(&r.name)
            .await
            .map_err(|e| format!("{place}: cannot read: {e}"))?
            .ok_or_else(|| format!("{place}: not found"))?;
        let version = secret.resource_version().unwrap_or_default();
        let key = RemoteKey::new(namespace, r);
        {
            let mut map = self.lock();
            match map.get(&key) {
                Some((v, caches)) if *v == version => return Ok(caches.clone()),
                // The Secret changed: stop watching what it pointed at before.
                Some(_) => drop(map.remove(&key)),
                None => {}
            }
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&r.key))
            .ok_or_else(|| format!("{place}: no such key"))?;
        let text = std::str::from_utf8(&bytes.0).map_err(|_| format!("{place}: not UTF-8"))?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(text)
            .map_err(|e| format!("{place}: not a kubeconfig: {e}"))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| format!("{place}: unusable kubeconfig: {e}"))?;
        let remote =
            Client::try_from(config).map_err(|e| format!("{place}: cannot build a client: {e}"))?;
        let caches =
            ClusterCaches::watch(remote, Cluster::Remote(key.clone()), None, self.feed.clone());
        self.lock().insert(key, (version, caches.clone()));
        Ok(caches)
    }

    /// Drops the caches (and so stops the watches) of every kubeconfig Secret not in `used`;
    /// returns how many clusters are still watched.
    pub fn retain(&self, used: &HashSet<RemoteKey>) -> usize {
        let mut map = self.lock();
        map.retain(|key, _| used.contains(key));
        map.len()
    }

    /// Whether no other cluster is watched.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RemoteMap> {
        // A panic while holding the lock leaves a consistent map (inserts are single calls).
        self.by_secret.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The caches of this cluster: every namespace, or (`--watch-namespace`) each watched
/// namespace on its own — the operator may read nothing else.
#[derive(Clone)]
pub enum LocalCaches {
    /// The whole cluster.
    Cluster(ClusterCaches),
    /// One cache set per watched namespace.
    Namespaces(BTreeMap<String, ClusterCaches>),
}

impl LocalCaches {
    /// The caches holding `namespace`; an error naming the watched namespaces when it is not
    /// one of them (the environment is reported unreadable, never compared as empty).
    pub fn of(&self, namespace: &str) -> Result<ClusterCaches, String> {
        match self {
            LocalCaches::Cluster(c) => Ok(c.clone()),
            LocalCaches::Namespaces(map) => map.get(namespace).cloned().ok_or_else(|| {
                format!(
                    "namespace {namespace} is not watched by this operator (--watch-namespace: {})",
                    map.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }),
        }
    }
}

/// What the controller needs besides the shared [`Context`].
pub struct ParityContext {
    /// Client, metrics, executor, clock.
    pub ctx: Arc<Context>,
    /// Caches of this cluster.
    pub local: LocalCaches,
    /// Caches of other clusters.
    pub remotes: RemoteClusters,
    /// Every EnvironmentParity (the controller's own store): which kubeconfig Secrets are
    /// still in use.
    pub parities: Store<EnvironmentParity>,
    /// The HTTP(S) client of the environments' health probes.
    pub prober: Prober,
}

impl AsRef<Context> for ParityContext {
    fn as_ref(&self) -> &Context {
        &self.ctx
    }
}

impl ParityContext {
    /// A parity was deleted: drop its drift series and the clusters only it read.
    fn forget(&self, namespace: &str, name: &str) {
        self.ctx.metrics.forget_parity(namespace, name);
        self.forget_unused_remotes(None);
    }

    /// Stops watching the clusters no EnvironmentParity reads any more (`current` counts as
    /// one, in case the store has not seen it yet) and reports how many are watched.
    fn forget_unused_remotes(&self, current: Option<&EnvironmentParity>) {
        if self.remotes.is_empty() {
            // The common case, on every reconcile: nothing to drop, no store scan.
            self.ctx.metrics.set_remote_clusters(0);
            return;
        }
        let parities = self.parities.state();
        let used: HashSet<RemoteKey> = parities
            .iter()
            .map(Arc::as_ref)
            .chain(current)
            .flat_map(cache_changes::remote_keys)
            .collect();
        let watched = self.remotes.retain(&used);
        self.ctx.metrics.set_remote_clusters(watched);
    }
}

/// How the environments could be read for one reconcile.
#[derive(Debug)]
pub enum EnvRead {
    /// A snapshot.
    Read(Arc<Snapshot>),
    /// Caches still filling.
    Syncing,
    /// Unreadable (bad kubeconfig Secret, bad selector): the message says why.
    Failed(String),
}

/// The next status (pure). `envs` pairs each environment of the spec with how it was read;
/// `old` is the current status. `lastCompared` is refreshed only when the result changed or the
/// interval has passed, so steady state writes at most once per interval.
pub fn compute_status(
    obj: &EnvironmentParity,
    envs: &[EnvRead],
    old: Option<&EnvironmentParityStatus>,
    now: jiff::Timestamp,
) -> EnvironmentParityStatus {
    compute_status_with_health(obj, envs, &[], old, now)
}

/// [`compute_status`] with the environments' last health probes: `health` pairs each
/// environment of the spec with its probe result (`None`: no probe; a shorter slice leaves the
/// rest without). With any probe, the `Healthy` condition says whether all passed, and an
/// unhealthy environment keeps `InSync` False (reason `EnvironmentUnhealthy`) even without
/// drift: a promotion order is not in sync while one of its environments is down.
pub fn compute_status_with_health(
    obj: &EnvironmentParity,
    envs: &[EnvRead],
    health: &[Option<HealthStatus>],
    old: Option<&EnvironmentParityStatus>,
    now: jiff::Timestamp,
) -> EnvironmentParityStatus {
    let generation = obj.metadata.generation;
    let mut status = old.cloned().unwrap_or_default();
    conditions::normalise(&mut status.conditions);
    status.observed_generation = generation;
    let conds = &mut status.conditions;

    let options = match CompareOptions::from_spec(&obj.spec) {
        Ok(o) => o,
        Err(message) => {
            conditions::set_summary(
                conds,
                Summary::Stalled,
                "InvalidSpec",
                &message,
                generation,
                now,
            );
            conditions::set(
                conds,
                conditions::IN_SYNC,
                false,
                "InvalidSpec",
                &message,
                generation,
                now,
            );
            return status;
        }
    };
    let syncing: Vec<&str> = obj
        .spec
        .environments
        .iter()
        .zip(envs)
        .filter(|(_, r)| matches!(r, EnvRead::Syncing))
        .map(|(e, _)| e.name.as_str())
        .collect();
    if !syncing.is_empty() {
        let message = format!("waiting for the caches of {}", syncing.join(", "));
        conditions::set_summary(
            conds,
            Summary::Reconciling,
            "CachesSyncing",
            &message,
            generation,
            now,
        );
        return status;
    }

    let named: Vec<(&str, Option<&Snapshot>)> = obj
        .spec
        .environments
        .iter()
        .zip(envs)
        .map(|(e, r)| {
            (e.name.as_str(), if let EnvRead::Read(s) = r { Some(s.as_ref()) } else { None })
        })
        .collect();
    let comparison: Comparison = compare(&named, &options, &status.drifts, now);
    let failures: Vec<String> = obj
        .spec
        .environments
        .iter()
        .zip(envs)
        .filter_map(|(e, r)| match r {
            EnvRead::Failed(m) => Some(format!("{}: {m}", e.name)),
            _ => None,
        })
        .collect();

    status.environments = obj
        .spec
        .environments
        .iter()
        .zip(envs)
        .map(|(e, r)| EnvironmentStatus {
            name: e.name.clone(),
            objects: match r {
                EnvRead::Read(s) => u32::try_from(s.source_objects).unwrap_or(u32::MAX),
                _ => 0,
            },
            error: match r {
                EnvRead::Failed(m) => Some(conditions_message(m)),
                _ => None,
            },
            health: None,
        })
        .collect();
    for (status, h) in status.environments.iter_mut().zip(health) {
        status.health = h.clone();
    }
    let unhealthy: Vec<String> = status
        .environments
        .iter()
        .filter_map(|e| {
            let h = e.health.as_ref()?;
            (!h.healthy).then(|| format!("{}: {}", e.name, h.message))
        })
        .collect();
    let probed = status.environments.iter().any(|e| e.health.is_some());
    let counted = comparison.counted();
    status.total_drifts = u32::try_from(comparison.total).unwrap_or(u32::MAX);
    status.tolerated_drifts = u32::try_from(comparison.tolerated).unwrap_or(u32::MAX);
    status.drifts = comparison.drifts;

    let summary = if counted == 0 {
        format!("no drift ({} within the allowed lag)", comparison.tolerated)
    } else {
        format!("{counted} drift(s) ({} within the allowed lag)", comparison.tolerated)
    };
    let conds = &mut status.conditions;
    let unhealthy_message = format!("unhealthy: {}", unhealthy.join("; "));
    if probed {
        let message = if unhealthy.is_empty() {
            "every probe passed".to_owned()
        } else {
            unhealthy_message.clone()
        };
        conditions::set(
            conds,
            conditions::HEALTHY,
            unhealthy.is_empty(),
            if unhealthy.is_empty() { "ProbesPassed" } else { "EnvironmentUnhealthy" },
            &message,
            generation,
            now,
        );
    } else {
        conditions::remove(conds, conditions::HEALTHY);
    }
    conditions::set(
        conds,
        conditions::DRIFTED,
        counted > 0,
        if counted > 0 { "DriftDetected" } else { "NoDrift" },
        &summary,
        generation,
        now,
    );
    if failures.is_empty() {
        let (in_sync, reason, message) = if counted > 0 {
            (false, "DriftDetected", summary.clone())
        } else if !unhealthy.is_empty() {
            (false, "EnvironmentUnhealthy", format!("{summary}; {unhealthy_message}"))
        } else {
            (true, "InSync", summary.clone())
        };
        conditions::set(conds, conditions::IN_SYNC, in_sync, reason, &message, generation, now);
        conditions::set_summary(conds, Summary::Ready, "Compared", &summary, generation, now);
    } else {
        let message = format!("cannot read {}", failures.join("; "));
        conditions::set(
            conds,
            conditions::IN_SYNC,
            false,
            "EnvironmentUnreadable",
            &message,
            generation,
            now,
        );
        conditions::set_summary(
            conds,
            Summary::Stalled,
            "EnvironmentUnreadable",
            &message,
            generation,
            now,
        );
    }

    let interval = jiff::SignedDuration::from_secs(i64::from(obj.interval_seconds()));
    let mut unchanged = status.clone();
    unchanged.last_compared = old.and_then(|o| o.last_compared.clone());
    let fresh = unchanged
        .last_compared
        .as_ref()
        .is_some_and(|t| now.duration_since(t.0) < interval && t.0 <= now);
    if Some(&unchanged) == old && fresh {
        return unchanged;
    }
    status.last_compared = Some(Time(now));
    status
}

fn conditions_message(m: &str) -> String {
    m.chars().take(1024).collect()
}

/// Reconciles one EnvironmentParity.
pub async fn reconcile(
    obj: Arc<EnvironmentParity>,
    pctx: Arc<ParityContext>,
) -> Result<Action, Error> {
    let ctx = &pctx.ctx;
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let name = obj.name_any();
    let namespace =
        obj.namespace().ok_or_else(|| Error::NoNamespace(format!("EnvironmentParity {name}")))?;
    let dimensions = obj.dimensions();

    let mut envs = Vec::with_capacity(obj.spec.environments.len());
    for (i, env) in obj.spec.environments.iter().enumerate() {
        let caches = match &env.kubeconfig_secret_ref {
            None => pctx.local.of(&env.namespace),
            Some(r) => pctx.remotes.caches(&ctx.client, &namespace, r).await,
        };
        envs.push(match caches {
            Err(m) => EnvRead::Failed(m),
            Ok(c) if !c.is_ready(&dimensions) => EnvRead::Syncing,
            Ok(c) => match c.snapshot_memoised(env, i, &dimensions) {
                Ok(s) => EnvRead::Read(s),
                Err(m) => EnvRead::Failed(m),
            },
        });
    }
    let syncing = envs.iter().any(|e| matches!(e, EnvRead::Syncing));
    let old = obj.status.as_ref();
    let now = ctx.clock.now();
    let health = probe_environments(&pctx, &obj, now).await;
    let new = compute_status_with_health(&obj, &envs, &health, old, now);

    update_status(&ctx.client, obj.as_ref(), CONTROLLER, old, &new).await?;
    pctx.forget_unused_remotes(Some(&obj));
    if !syncing && conditions::get(&new.conditions, conditions::DRIFTED).is_some() {
        ctx.metrics.set_drifts(
            &namespace,
            &name,
            u64::from(new.total_drifts - new.tolerated_drifts),
        );
    }
    for (env, h) in obj.spec.environments.iter().zip(&health) {
        if let Some(h) = h {
            ctx.metrics.set_environment_health(&namespace, &name, &env.name, h.healthy);
        }
    }
    let interval = Duration::from_secs(u64::from(obj.interval_seconds()));
    Ok(if syncing {
        Action::requeue(SYNC_RETRY)
    } else {
        Action::requeue(next_probe_in(&obj, &health, now).map_or(interval, |d| d.min(interval)))
    })
}

/// The environments' health (aligned with the spec): a probe whose last result (in the
/// status) is older than its interval runs now — all due probes at once — and the others keep
/// their last result. Each probe run is observed in the latency metric.
async fn probe_environments(
    pctx: &ParityContext,
    obj: &EnvironmentParity,
    now: jiff::Timestamp,
) -> Vec<Option<HealthStatus>> {
    let namespace = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let last = |env: &str| {
        obj.status.as_ref()?.environments.iter().find(|e| e.name == env)?.health.clone()
    };
    let runs = obj.spec.environments.iter().map(|env| {
        let previous = last(&env.name);
        let (namespace, name) = (&namespace, &name);
        async move {
            let probe = env.health.as_ref()?;
            let interval = jiff::SignedDuration::from_secs(i64::from(probe.interval_seconds()));
            if let Some(p) = previous.filter(|p| {
                p.last_check_time.0 <= now && now.duration_since(p.last_check_time.0) < interval
            }) {
                return Some(p);
            }
            let outcome = pctx.prober.probe(probe).await;
            if let Some(ms) = outcome.latency_ms {
                pctx.ctx.metrics.observe_probe_latency(namespace, name, &env.name, ms);
            }
            Some(HealthStatus {
                healthy: outcome.healthy,
                last_check_time: Time(now),
                status_code: outcome.status_code,
                latency_ms: outcome.latency_ms,
                message: conditions_message(&outcome.message),
            })
        }
    });
    futures::future::join_all(runs).await
}

/// How long until the next health probe of `obj` is due (`None`: no probes).
fn next_probe_in(
    obj: &EnvironmentParity,
    health: &[Option<HealthStatus>],
    now: jiff::Timestamp,
) -> Option<Duration> {
    obj.spec
        .environments
        .iter()
        .zip(health)
        .filter_map(|(env, h)| {
            let interval = i64::from(env.health.as_ref()?.interval_seconds());
            let since = h.as_ref().map_or(0, |h| now.duration_since(h.last_check_time.0).as_secs());
            Some(Duration::from_secs(u64::try_from((interval - since).max(1)).unwrap_or(1)))
        })
        .min()
}

/// Retry policy: count the error and retry after the parity's exponential backoff (5 s doubling to
/// 5 min, jittered; [`crate::backoff`]), reset by its next successful reconcile.
pub fn error_policy(
    obj: Arc<EnvironmentParity>,
    error: &Error,
    pctx: Arc<ParityContext>,
) -> Action {
    crate::controllers::backoff_on_error(CONTROLLER, obj.as_ref(), error, &pctx.ctx)
}

/// Runs the controller (and the caches of this cluster) until `shutdown` resolves.
///
/// A parity is reconciled when it changes, every `intervalSeconds`, and as soon as an object it
/// reads changes: the cache watches feed a [`ChangeFeed`], whose coalesced batches are mapped to
/// the parities they concern ([`cache_changes::affected`]).
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let feed = Arc::new(ChangeFeed::default());
    let local = match ctx.scope.watched() {
        None => LocalCaches::Cluster(ClusterCaches::watch(
            ctx.client.clone(),
            Cluster::Local,
            None,
            feed.clone(),
        )),
        Some(watched) => LocalCaches::Namespaces(
            watched
                .iter()
                .map(|ns| {
                    let caches = ClusterCaches::watch(
                        ctx.client.clone(),
                        Cluster::Local,
                        Some(ns),
                        feed.clone(),
                    );
                    (ns.clone(), caches)
                })
                .collect(),
        ),
    };
    let (parities, writer) = reflector::store();
    let pctx = Arc::new(ParityContext {
        ctx: ctx.clone(),
        local,
        remotes: RemoteClusters::new(feed.clone()),
        parities: parities.clone(),
        prober: Prober::new(),
    });
    // The controller's own watch, so that deletions are seen too (a Controller only reacts to
    // applied objects): a deleted parity's drift series and the clusters only it read go at
    // once, not at its next requeue.
    let gc = pctx.clone();
    let own = watcher(ctx.api::<EnvironmentParity>(), watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(watcher::Event::Delete(p)) = event {
                gc.forget(p.namespace().as_deref().unwrap_or_default(), &p.name_any());
            }
        })
        .applied_objects();
    let wake_ups = futures::stream::unfold(feed, |feed| async move {
        let batch = feed.next_batch().await;
        Some((batch, feed))
    })
    .flat_map({
        let parities = parities.clone();
        move |batch| futures::stream::iter(to_wake(&parities.state(), &batch))
    });
    let gc = pctx.clone();
    Controller::for_stream(own, parities)
        .reconcile_on(wake_ups)
        .graceful_shutdown_on(shutdown)
        .run(
            |obj, pctx| {
                crate::controllers::reconcile_with_backoff(CONTROLLER, obj, pctx, reconcile)
            },
            error_policy,
            pctx,
        )
        .for_each(|result| {
            if let Err(kube::runtime::controller::Error::ObjectNotFound(r)) = &result {
                // Gone without a Delete event (deleted while the watch was down).
                gc.forget(r.namespace.as_deref().unwrap_or_default(), &r.name);
            }
            futures::future::ready(())
        })
        .await;
}

/// The parities a batch of changes concerns, each once, in a stable order.
fn to_wake(
    parities: &[Arc<EnvironmentParity>],
    batch: &[Change],
) -> Vec<ObjectRef<EnvironmentParity>> {
    let mut refs: Vec<ObjectRef<EnvironmentParity>> = parities
        .iter()
        .filter(|p| batch.iter().any(|c| cache_changes::affected(p, c)))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect();
    refs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    refs.dedup();
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::parity::{AllowedLag, EnvironmentParitySpec};
    use crate::parity::Value;
    use std::collections::BTreeMap;

    fn t(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    fn env(name: &str) -> Environment {
        Environment {
            name: name.into(),
            namespace: name.into(),
            kubeconfig_secret_ref: None,
            selector: None,
            health: None,
        }
    }

    fn parity(interval: u32) -> EnvironmentParity {
        let mut p = EnvironmentParity::new(
            "shop",
            EnvironmentParitySpec {
                environments: vec![env("dev"), env("prod")],
                dimensions: vec![],
                ignore: vec![],
                allowed_lag: None,
                interval_seconds: Some(interval),
            },
        );
        p.metadata.namespace = Some("ops".into());
        p.metadata.generation = Some(4);
        p
    }

    fn image(v: &str) -> Snapshot {
        let mut s = Snapshot::default();
        s.insert(
            Dimension::Images,
            "web".into(),
            BTreeMap::from([("app".to_owned(), Value::plain(v))]),
        );
        s.source_objects = 1;
        s
    }

    #[test]
    fn in_sync_environments_are_ready_and_in_sync() {
        let p = parity(60);
        let s = compute_status(
            &p,
            &[EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("a")))],
            None,
            t(100),
        );
        assert!(conditions::is_true(&s.conditions, conditions::READY));
        assert!(conditions::is_true(&s.conditions, conditions::IN_SYNC));
        assert!(!conditions::is_true(&s.conditions, conditions::DRIFTED));
        assert_eq!(s.observed_generation, Some(4));
        assert_eq!(s.total_drifts, 0);
        assert_eq!(s.last_compared, Some(Time(t(100))));
        assert_eq!(s.environments.iter().map(|e| e.objects).collect::<Vec<_>>(), [1, 1]);
    }

    fn health(healthy: bool, message: &str) -> Option<HealthStatus> {
        Some(HealthStatus {
            healthy,
            last_check_time: Time(t(90)),
            status_code: Some(if healthy { 200 } else { 503 }),
            latency_ms: Some(12),
            message: message.into(),
        })
    }

    #[test]
    fn an_unhealthy_environment_blocks_in_sync_and_sets_healthy_false() {
        let p = parity(60);
        let same = [EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("a")))];
        let down = [None, health(false, "status 503, expected 200")];
        let s = compute_status_with_health(&p, &same, &down, None, t(100));
        let in_sync = conditions::get(&s.conditions, conditions::IN_SYNC).unwrap();
        assert_eq!(
            (in_sync.status.as_str(), in_sync.reason.as_str()),
            ("False", "EnvironmentUnhealthy")
        );
        assert!(in_sync.message.contains("prod: status 503, expected 200"), "{}", in_sync.message);
        let healthy = conditions::get(&s.conditions, conditions::HEALTHY).unwrap();
        assert_eq!(
            (healthy.status.as_str(), healthy.reason.as_str()),
            ("False", "EnvironmentUnhealthy")
        );
        assert!(!conditions::is_true(&s.conditions, conditions::DRIFTED), "no drift");
        assert!(conditions::is_true(&s.conditions, conditions::READY), "compared");
        assert_eq!(s.environments[0].health, None);
        assert_eq!(s.environments[1].health, down[1]);

        // Recovered: InSync again, Healthy True.
        let up = [None, health(true, "200 in 12 ms")];
        let s = compute_status_with_health(&p, &same, &up, Some(&s), t(110));
        assert!(conditions::is_true(&s.conditions, conditions::IN_SYNC));
        assert!(conditions::is_true(&s.conditions, conditions::HEALTHY));
        // Probes removed from the spec: no Healthy condition.
        let s = compute_status_with_health(&p, &same, &[], Some(&s), t(120));
        assert!(conditions::get(&s.conditions, conditions::HEALTHY).is_none());
        assert!(s.environments.iter().all(|e| e.health.is_none()));
    }

    #[test]
    fn the_next_probe_is_due_after_its_interval() {
        let mut p = parity(600);
        p.spec.environments[1].health = Some(crate::crd::parity::HealthProbe {
            url: "http://127.0.0.1:1/".into(),
            expected_status: None,
            timeout_seconds: None,
            latency_budget_ms: None,
            interval_seconds: Some(30),
            json: None,
        });
        assert_eq!(
            next_probe_in(&p, &[None, health(true, "ok")], t(100)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            next_probe_in(&p, &[None, health(true, "ok")], t(500)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(next_probe_in(&parity(60), &[None, None], t(100)), None);
    }

    #[test]
    fn drift_sets_drifted_and_lists_it() {
        let p = parity(60);
        let s = compute_status(
            &p,
            &[EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("b")))],
            None,
            t(100),
        );
        assert!(conditions::is_true(&s.conditions, conditions::DRIFTED));
        assert!(!conditions::is_true(&s.conditions, conditions::IN_SYNC));
        assert!(
            conditions::is_true(&s.conditions, conditions::READY),
            "a completed comparison is Ready"
        );
        assert_eq!(s.total_drifts, 1);
        assert_eq!(s.drifts[0].pointer, "/images/web/app");
    }

    #[test]
    fn steady_state_does_not_change_the_status_within_the_interval() {
        let p = parity(60);
        let envs = [EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("b")))];
        let first = compute_status(&p, &envs, None, t(100));
        let second = compute_status(&p, &envs, Some(&first), t(130));
        assert_eq!(second, first, "nothing to write");
        let third = compute_status(&p, &envs, Some(&first), t(160));
        assert_eq!(third.last_compared, Some(Time(t(160))), "heartbeat once per interval");
        assert_eq!(third.drifts, first.drifts, "drifts keep their first-seen time");
        // A change is written at once.
        let fixed = compute_status(
            &p,
            &[EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("a")))],
            Some(&first),
            t(110),
        );
        assert_eq!(fixed.last_compared, Some(Time(t(110))));
        assert!(conditions::is_true(&fixed.conditions, conditions::IN_SYNC));
    }

    #[test]
    fn syncing_caches_mean_reconciling_without_touching_drifts() {
        let p = parity(60);
        let first = compute_status(
            &p,
            &[EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("b")))],
            None,
            t(100),
        );
        let s = compute_status(
            &p,
            &[EnvRead::Read(Arc::new(image("a"))), EnvRead::Syncing],
            Some(&first),
            t(200),
        );
        assert!(conditions::is_true(&s.conditions, conditions::RECONCILING));
        assert!(!conditions::is_true(&s.conditions, conditions::READY));
        assert_eq!(s.drifts, first.drifts);
    }

    #[test]
    fn an_unreadable_environment_stalls_with_the_reason() {
        let p = parity(60);
        let s = compute_status(
            &p,
            &[
                EnvRead::Read(Arc::new(image("a"))),
                EnvRead::Failed("secret ops/prod-kubeconfig key kubeconfig: not found".into()),
            ],
            None,
            t(100),
        );
        let stalled = conditions::get(&s.conditions, conditions::STALLED).unwrap();
        assert_eq!(stalled.status, "True");
        assert_eq!(stalled.reason, "EnvironmentUnreadable");
        assert!(
            stalled.message.contains("prod: secret ops/prod-kubeconfig"),
            "{}",
            stalled.message
        );
        assert!(!conditions::is_true(&s.conditions, conditions::IN_SYNC));
        assert_eq!(
            s.environments[1].error.as_deref(),
            Some("secret ops/prod-kubeconfig key kubeconfig: not found")
        );
    }

    #[test]
    fn a_bad_spec_stalls_with_the_pointer() {
        let mut p = parity(60);
        p.spec.allowed_lag =
            Some(AllowedLag { schema_versions: None, duration: Some("soon".into()) });
        let s = compute_status(
            &p,
            &[EnvRead::Read(Arc::new(image("a"))), EnvRead::Read(Arc::new(image("a")))],
            None,
            t(1),
        );
        let stalled = conditions::get(&s.conditions, conditions::STALLED).unwrap();
        assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "InvalidSpec"));
        assert!(stalled.message.starts_with("/spec/allowedLag/duration"));
    }

    #[test]
    fn caches_feed_snapshots_without_the_api() {
        use kube::runtime::watcher::Event;
        let (deployments, mut dw) = reflector::store::<Deployment>();
        let (config_maps, mut cw) = reflector::store::<ConfigMap>();
        let (secrets, mut sw) = reflector::store::<Secret>();
        let (migrations, mut mw) = reflector::store::<SchemaMigration>();
        let mut secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("db".into()),
                namespace: Some("dev".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "password".to_owned(),
                k8s_openapi::ByteString(b"hunter2".to_vec()),
            )])),
            ..Default::default()
        };
        digest_secret_in_place(&mut secret);
        dw.apply_watcher_event(&Event::Init);
        dw.apply_watcher_event(&Event::InitDone);
        cw.apply_watcher_event(&Event::Init);
        cw.apply_watcher_event(&Event::InitDone);
        mw.apply_watcher_event(&Event::Init);
        mw.apply_watcher_event(&Event::InitDone);
        let caches = ClusterCaches::from_stores(deployments, config_maps, secrets, migrations);
        assert!(!caches.is_ready(&Dimension::ALL), "the Secret store has not listed yet");
        assert!(caches.is_ready(&[Dimension::Images]));
        sw.apply_watcher_event(&Event::Init);
        sw.apply_watcher_event(&Event::InitApply(secret));
        sw.apply_watcher_event(&Event::InitDone);
        assert!(caches.is_ready(&Dimension::ALL));
        let snap = caches.snapshot(&env("dev"), 0, &Dimension::ALL).unwrap();
        assert!(snap.objects[&Dimension::Secrets]["db"].contains_key("password"));
        assert!(
            !caches
                .snapshot(&env("prod"), 1, &Dimension::ALL)
                .unwrap()
                .objects
                .contains_key(&Dimension::Secrets)
        );
        let mut bad = env("dev");
        bad.selector = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_expressions: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                    key: "app".into(),
                    operator: "Sometimes".into(),
                    values: None,
                },
            ]),
            match_labels: None,
        });
        let e = caches.snapshot(&bad, 2, &Dimension::ALL).unwrap_err();
        assert!(e.starts_with("/spec/environments/2/selector"), "{e}");

        // Memoised: the same snapshot until the stores change, then a fresh one.
        let first = caches.snapshot_memoised(&env("dev"), 0, &Dimension::ALL).unwrap();
        let again = caches.snapshot_memoised(&env("dev"), 0, &Dimension::ALL).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other_dims = caches.snapshot_memoised(&env("dev"), 0, &[Dimension::Images]).unwrap();
        assert!(!Arc::ptr_eq(&first, &other_dims), "keyed by dimensions too");
        let mut more = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("api".into()),
                namespace: Some("dev".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        digest_secret_in_place(&mut more);
        sw.apply_watcher_event(&Event::Apply(more));
        caches.mark_changed();
        let after = caches.snapshot_memoised(&env("dev"), 0, &Dimension::ALL).unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        assert!(after.objects[&Dimension::Secrets].contains_key("api"));
    }

    /// A Deployment `name` in `ns` with one container `app` running `image`.
    fn deployment(ns: &str, name: &str, image: &str) -> Deployment {
        Deployment {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            spec: k8s_openapi::api::apps::v1::DeploymentSpec {
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    spec: Some(k8s_openapi::api::core::v1::PodSpec {
                        containers: vec![k8s_openapi::api::core::v1::Container {
                            name: "app".into(),
                            image: Some(image.into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn memoised_snapshots_follow_watch_events() {
        use kube::runtime::watcher::Event;
        let (deployments, mut dw) = reflector::store::<Deployment>();
        dw.apply_watcher_event(&Event::Init);
        dw.apply_watcher_event(&Event::InitApply(deployment("dev", "web", "app:1")));
        dw.apply_watcher_event(&Event::InitApply(deployment("prod", "web", "app:1")));
        dw.apply_watcher_event(&Event::InitDone);
        let caches = ClusterCaches::from_stores(
            deployments,
            reflector::store::<ConfigMap>().0,
            reflector::store::<Secret>().0,
            reflector::store::<SchemaMigration>().0,
        );
        let images = [Dimension::Images];
        let dev = caches.snapshot_memoised(&env("dev"), 0, &images).unwrap();
        let prod = caches.snapshot_memoised(&env("prod"), 1, &images).unwrap();

        // A change reaches the memoised snapshot of its namespace only.
        let web2 = deployment("dev", "web", "app:2");
        dw.apply_watcher_event(&Event::Apply(web2.clone()));
        record_event(&caches.memo, &Event::Apply(web2.clone()));
        let dev2 = caches.snapshot_memoised(&env("dev"), 0, &images).unwrap();
        assert_eq!(dev.objects[&Dimension::Images]["web"]["app"].compare, "app:1", "held copy");
        assert_eq!(dev2.objects[&Dimension::Images]["web"]["app"].compare, "app:2");
        assert_eq!(*dev2, caches.snapshot(&env("dev"), 0, &images).unwrap(), "= a full build");
        assert!(Arc::ptr_eq(&prod, &caches.snapshot_memoised(&env("prod"), 1, &images).unwrap()));

        // Deletions too, through the public entry point.
        dw.apply_watcher_event(&Event::Delete(web2.clone()));
        caches.record(Object::Deployment(&web2), true);
        let dev3 = caches.snapshot_memoised(&env("dev"), 0, &images).unwrap();
        assert!(!dev3.objects.contains_key(&Dimension::Images));
        assert_eq!(dev3.source_objects, 0);

        // A new list drops the memo: objects may have vanished without a Delete event.
        record_event::<Deployment>(&caches.memo, &Event::InitDone);
        let prod2 = caches.snapshot_memoised(&env("prod"), 1, &images).unwrap();
        assert!(!Arc::ptr_eq(&prod, &prod2));
        assert_eq!(prod, prod2);
    }
}

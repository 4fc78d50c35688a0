//! A small stateful fake Kubernetes API server for integration tests.
//!
//! No kube-apiserver can run on these machines, so controllers are tested against this server:
//! it listens on 127.0.0.1 over a real socket and speaks the Kubernetes HTTP API in the real
//! shapes (paths, query parameters, JSON objects, `meta/v1` `Status` errors, newline-delimited
//! watch events), so the client under test is an unmodified `kube::Client`.
//!
//! What it implements, for the kinds in [`resources::RESOURCES`] (ConfigMaps, Secrets, Pods,
//! Events in `v1` and `events.k8s.io/v1`, Deployments, Jobs, Leases, Namespaces, the five
//! `tollgate.dev` CRDs, …), all stored generically as JSON:
//! - get; list with `labelSelector`, `fieldSelector` (`metadata.name`/`metadata.namespace`),
//!   `limit` + `continue`; list `metadata.resourceVersion` is the current global version;
//! - watch (`?watch=true`): synthetic ADDED events for a watch from `""`/`"0"` (or with
//!   `sendInitialEvents=true`, ended by a BOOKMARK annotated `k8s.io/initial-events-end`),
//!   resume from a resourceVersion by replaying the retained history, 410 Gone (as an `ERROR`
//!   event, like the real server) for a compacted version, BOOKMARK events with
//!   `allowWatchBookmarks=true`, selector transitions as ADDED/DELETED, `timeoutSeconds`;
//! - create (409 AlreadyExists, `generateName`), replace (409 Conflict on a stale
//!   `resourceVersion`), patch: merge, strategic merge (applied as a merge patch), JSON patch
//!   (RFC 6902, with `test`), server-side apply (`application/apply-patch+yaml` with
//!   `fieldManager`, `force`);
//! - the `/status` subresource for kinds that have one: `/status` writes change only `status`,
//!   main-resource writes keep the stored `status`, and `metadata.generation` is bumped on
//!   changes outside metadata and status;
//! - delete with finalizers: `deletionTimestamp` is set, new finalizers are refused, and the
//!   object is removed once its finalizers are empty; delete preconditions (uid,
//!   resourceVersion); delete collection;
//! - metadata-only reads (`Accept: …;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`, what
//!   kube's `PartialObjectMeta` get/list/watch send): objects reduced to `metadata`, 406 for a
//!   form it cannot serve (Table, YAML, protobuf, list-vs-object mismatch);
//! - request rules for tests: [`FakeApiServer::hold_requests`] holds requests until several
//!   have arrived (a race made certain), [`FakeApiServer::fail_requests`] answers 500;
//! - preconditions: a write (replace, patch, apply, through the main resource or `/status`)
//!   whose body carries `metadata.resourceVersion` is refused with 409 Conflict unless it is
//!   the stored one (the optimistic lock the operator's claims rely on);
//! - uid, creationTimestamp, and resourceVersion as one global counter; writes that change
//!   nothing are no-ops (no new resourceVersion, no watch event), as in the real server.
//!
//! Simplifications versus the real API server (documented so tests do not rely on them):
//! - Server-side apply tracks field ownership per manager (Apply and Update entries, per
//!   subresource, rendered into `metadata.managedFields` as FieldsV1) with conflicts (409 with
//!   `FieldManagerConflict` causes), `force`, shared ownership of equal values and removal of
//!   fields a manager stops applying; but every list is atomic (the real server merges some
//!   built-in lists by key, e.g. containers by `name`) and only `labels`, `annotations`,
//!   `finalizers` and `ownerReferences` of `metadata` are owned. Apply bodies may be JSON
//!   or YAML; other bodies must be JSON.
//! - Strategic merge patch has no patch directives (`$patch`, `$retainKeys`) and replaces lists.
//! - Every page of a paginated list reads the current state (no snapshot per continue token).
//! - No schema validation, defaulting, admission, RBAC, garbage collection by ownerReferences,
//!   namespace existence checks, protobuf, or discovery (`/api`, `/apis`); `dryRun`
//!   requests are refused with 400 (never silently written).
//! - No-op detection ignores `managedFields` timestamps (none are recorded).

#![allow(dead_code)] // helpers the tests do not use yet stay available to new tests

pub mod fields;
pub mod http;
pub mod resources;
pub mod selector;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use self::http::Shared;
use self::resources::ResourceInfo;
pub use self::store::RecordedRequest;
use self::store::{Filter, Key, State};

/// Polls `check` every 100 ms until it returns a value, for up to 30 s; panics naming `what`.
pub async fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    eventually_within(what, Duration::from_secs(30), check).await
}

/// [`eventually`] with another time limit.
pub async fn eventually_within<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}")
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How the fake server behaves where tests may want to tune it.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often open watches with `allowWatchBookmarks=true` receive a BOOKMARK.
    pub bookmark_interval: Duration,
    /// How many changes are kept for watch resumption; older resourceVersions get 410 Gone.
    pub history_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { bookmark_interval: Duration::from_millis(500), history_limit: 10_000 }
    }
}

/// The running fake API server. Dropping it closes the listener and every open connection
/// (open watches end; later requests are refused), like an API server going away.
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.watch_epoch.send_modify(|e| *e += 1);
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn info_of<K: Resource<DynamicType = ()>>() -> &'static ResourceInfo {
    let api_version = K::api_version(&());
    let plural = K::plural(&());
    resources::find_by_api_version(&api_version, &plural)
        .unwrap_or_else(|| panic!("the fake API server does not serve {api_version} {plural}"))
}

impl FakeApiServer {
    /// Starts a server with default [`Options`] on an ephemeral port of 127.0.0.1 and returns
    /// it with a `kube::Client` pointed at it (default namespace `default`).
    pub async fn start() -> (Self, kube::Client) {
        Self::start_with(Options::default()).await
    }

    /// Starts a server with these options; see [`FakeApiServer::start`].
    pub async fn start_with(options: Options) -> (Self, kube::Client) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (tx, _) = broadcast::channel(4096);
        let (epoch, _) = watch::channel(0_u64);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(tx, options.history_limit)),
            watch_epoch: epoch,
            rules: Mutex::new(Vec::new()),
        });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            // Connections live in this task's set: dropping the server aborts them all, so a
            // client cannot keep talking to a "dropped" server over a kept-alive connection.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                while connections.try_join_next().is_some() {}
                let Ok((stream, _)) = listener.accept().await else { continue };
                let shared = accept_shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| http::handle(shared.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let progress_shared = shared.clone();
        let progress = tokio::spawn(async move {
            let mut tick = tokio::time::interval(options.bookmark_interval);
            loop {
                tick.tick().await;
                progress_shared.lock().broadcast_progress();
            }
        });
        let server = Self { addr, shared, tasks: vec![accept, progress] };
        let client = server.client();
        (server, client)
    }

    /// Another client of this server (for example one per simulated operator replica).
    pub fn client(&self) -> kube::Client {
        let url: hyper::Uri = format!("http://{}", self.addr).parse().expect("a valid URL");
        let config = kube::Config::new(url);
        kube::Client::try_from(config).expect("a kube client for the fake API server")
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version()
    }

    /// A stored object as JSON (`namespace` is ignored for cluster-scoped kinds).
    pub fn get_json(
        &self,
        api_version: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let info = resources::find_by_api_version(api_version, plural)?;
        self.shared.lock().get(info, namespace, name).ok()
    }

    /// A stored object, typed.
    pub fn get<K: Resource<DynamicType = ()> + DeserializeOwned>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<K> {
        let info = info_of::<K>();
        let value = self.shared.lock().get(info, namespace, name).ok()?;
        Some(serde_json::from_value(value).expect("a stored object deserializes as its kind"))
    }

    /// Every stored object of a kind (all namespaces), in namespace/name order.
    pub fn list<K: Resource<DynamicType = ()> + DeserializeOwned>(&self) -> Vec<K> {
        let info = info_of::<K>();
        let state = self.shared.lock();
        state
            .objects(info, &Filter::default())
            .map(|(_, v)| {
                serde_json::from_value(v.clone()).expect("a stored object deserializes as its kind")
            })
            .collect()
    }

    /// Every stored Event (core `v1` and `events.k8s.io/v1`) as JSON, in namespace/name order.
    pub fn events(&self) -> Vec<Value> {
        let state = self.shared.lock();
        let mut out = Vec::new();
        for api_version in ["v1", "events.k8s.io/v1"] {
            let info =
                resources::find_by_api_version(api_version, "events").expect("events are served");
            out.extend(state.objects(info, &Filter::default()).map(|(_, v)| v.clone()));
        }
        out
    }

    /// The `reason`s of every stored Event about the object `namespace/name` (either events
    /// API), in namespace/name order.
    pub fn event_reasons_for(&self, namespace: &str, name: &str) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| {
                let regarding = e.get("regarding").or_else(|| e.get("involvedObject"));
                regarding.is_some_and(|r| {
                    r.get("name").and_then(Value::as_str) == Some(name)
                        && r.get("namespace").and_then(Value::as_str).unwrap_or(namespace)
                            == namespace
                })
            })
            .filter_map(|e| e.get("reason").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Creates or replaces an object directly, keeping its `status` and skipping preconditions:
    /// for seeding fixtures and for playing other controllers (the kubelet, the Job
    /// controller). Watches see the change like any other.
    pub fn upsert<K: Resource<DynamicType = ()> + serde::Serialize>(&self, object: &K) -> Value {
        let info = info_of::<K>();
        let mut value = serde_json::to_value(object).expect("the object serializes");
        value["apiVersion"] = Value::String(K::api_version(&()).into_owned());
        value["kind"] = Value::String(K::kind(&()).into_owned());
        self.shared.lock().upsert(info, value).expect("upsert")
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Holds the next `count` `method` requests to `path` until all `count` have arrived, then
    /// lets them proceed one after the other: two clients that read the same state and then
    /// write are made to race for certain (e.g. two claims of one object).
    pub fn hold_requests(&self, method: &str, path: &str, count: usize) {
        let rule = http::RequestRule {
            method: method.to_owned(),
            path: path.to_owned(),
            action: http::RuleAction::Hold {
                remaining: count,
                barrier: Arc::new(tokio::sync::Barrier::new(count)),
            },
        };
        self.shared.rules.lock().expect("rules").push(rule);
    }

    /// Answers the next `count` `method` requests to `path` with HTTP 500 (`InternalError`),
    /// leaving the state untouched: an API server failing for a while.
    pub fn fail_requests(&self, method: &str, path: &str, count: usize) {
        let rule = http::RequestRule {
            method: method.to_owned(),
            path: path.to_owned(),
            action: http::RuleAction::Fail { remaining: count },
        };
        self.shared.rules.lock().expect("rules").push(rule);
    }

    /// Forgets the change history: watches resuming from any older resourceVersion get
    /// 410 Gone (like an etcd compaction).
    pub fn compact(&self) {
        self.shared.lock().compact();
    }

    /// Ends every open watch stream (as a restarting API server or a dropped connection would);
    /// clients then resume from their last resourceVersion.
    pub fn close_watches(&self) {
        self.shared.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Whether an object exists (by resource key; for assertions on deletion).
    pub fn exists<K: Resource<DynamicType = ()>>(&self, namespace: &str, name: &str) -> bool {
        let info = info_of::<K>();
        let key = Key {
            group: info.group.to_owned(),
            plural: info.plural.to_owned(),
            namespace: if info.namespaced { namespace.to_owned() } else { String::new() },
            name: name.to_owned(),
        };
        self.shared.lock().object(&key).is_some()
    }
}

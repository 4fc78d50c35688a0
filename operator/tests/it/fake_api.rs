//! The fake Kubernetes API server (`tests/support`) driven by a real `kube::Client` over a real
//! socket: these tests pin the API semantics the controller tests rely on (conflicts, status
//! subresource, generation, finalizers, server-side apply, watch resume, bookmarks, 410 Gone).
//! The server stands in for kube-apiserver, which cannot run on these machines; it answers in
//! the real API's shapes (see the module doc of `support` for its documented simplifications).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{self, FakeApiServer};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus};
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent,
    WatchParams,
};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use serde_json::json;

fn config_map(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
            ..ObjectMeta::default()
        },
        data: Some(data.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
        ..ConfigMap::default()
    }
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    Deployment {
        metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
        spec: DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("app".into(), name.into())])),
                ..LabelSelector::default()
            },
            ..DeploymentSpec::default()
        },
        status: Some(DeploymentStatus { replicas: Some(99), ..DeploymentStatus::default() }),
    }
}

fn api_error(result: Result<impl std::fmt::Debug, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn rv(meta: &ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .expect("resourceVersion")
        .parse()
        .expect("numeric resourceVersion")
}

#[tokio::test]
async fn create_get_replace_with_conflicts() {
    let (_server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    let pp = PostParams::default();

    let created = api.create(&pp, &config_map("app", &[], &[("k", "v1")])).await.unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("prod"));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    let again = api_error(api.create(&pp, &config_map("app", &[], &[])).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));

    let mut fresh = api.get("app").await.unwrap();
    fresh.data = Some(BTreeMap::from([("k".into(), "v2".into())]));
    let replaced = api.replace("app", &pp, &fresh).await.unwrap();
    assert!(rv(&replaced.metadata) > rv(&created.metadata));

    // `fresh` still carries the old resourceVersion: a lost update is refused.
    fresh.data = Some(BTreeMap::from([("k".into(), "v3".into())]));
    let stale = api_error(api.replace("app", &pp, &fresh).await);
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert_eq!(api.get("app").await.unwrap().data.unwrap()["k"], "v2");

    let missing = api_error(api.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    let bad_ns = api_error(
        api.create(
            &pp,
            &ConfigMap {
                metadata: ObjectMeta {
                    namespace: Some("dev".into()),
                    ..config_map("x", &[], &[]).metadata
                },
                ..ConfigMap::default()
            },
        )
        .await,
    );
    assert_eq!(bad_ns.code, 400);
}

#[tokio::test]
async fn list_filters_by_label_and_field_and_paginates() {
    let (_server, client) = FakeApiServer::start().await;
    let prod: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    let dev: Api<ConfigMap> = Api::namespaced(client.clone(), "dev");
    let pp = PostParams::default();
    for (i, tier) in ["web", "web", "db", "web", "cache"].iter().enumerate() {
        prod.create(&pp, &config_map(&format!("cm-{i}"), &[("tier", tier)], &[])).await.unwrap();
    }
    dev.create(&pp, &config_map("cm-dev", &[("tier", "web")], &[])).await.unwrap();

    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items.into_iter().map(|c| c.metadata.name.unwrap()).collect()
    };
    assert_eq!(
        names(prod.list(&ListParams::default().labels("tier=web")).await.unwrap()),
        ["cm-0", "cm-1", "cm-3"]
    );
    assert_eq!(
        names(prod.list(&ListParams::default().labels("tier in (db,cache)")).await.unwrap()),
        ["cm-2", "cm-4"]
    );
    assert_eq!(
        names(prod.list(&ListParams::default().labels("tier!=web,tier")).await.unwrap()),
        ["cm-2", "cm-4"]
    );
    assert_eq!(
        names(prod.list(&ListParams::default().fields("metadata.name=cm-4")).await.unwrap()),
        ["cm-4"]
    );
    let all: Api<ConfigMap> = Api::all(client);
    assert_eq!(
        names(all.list(&ListParams::default().labels("tier=web")).await.unwrap()),
        ["cm-dev", "cm-0", "cm-1", "cm-3"]
    );
    let unsupported = api_error(all.list(&ListParams::default().fields("data.k=v")).await);
    assert_eq!(unsupported.code, 400);

    let first = prod.list(&ListParams::default().limit(2)).await.unwrap();
    let token = first.metadata.continue_.clone().expect("a continue token");
    assert_eq!(names(first), ["cm-0", "cm-1"]);
    let second = prod.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    let token = second.metadata.continue_.clone().expect("another continue token");
    assert_eq!(names(second), ["cm-2", "cm-3"]);
    let last = prod.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert!(last.metadata.continue_.as_deref().unwrap_or("").is_empty());
    assert_eq!(names(last), ["cm-4"]);
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<Deployment> = Api::namespaced(client, "prod");
    let pp = PostParams::default();

    let created = api.create(&pp, &deployment("web", 1)).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.status.is_none(), "create ignores status: {:?}", created.status);

    let patched = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1}, "spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().ready_replicas, Some(1));
    assert_eq!(patched.spec.replicas, Some(1), "a /status write does not change spec");
    assert_eq!(patched.metadata.generation, Some(1));

    let spec_change = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(spec_change.metadata.generation, Some(2));
    assert_eq!(
        spec_change.status.unwrap().ready_replicas,
        Some(1),
        "a main-resource write keeps status"
    );

    let labels_only = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labels_only.metadata.generation, Some(2), "metadata changes do not bump generation");

    // A write that changes nothing is a no-op: same resourceVersion, no event.
    let before = server.resource_version();
    let same = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(rv(&same.metadata), rv(&labels_only.metadata));
    assert_eq!(server.resource_version(), before);

    let stored: Deployment = server.get("prod", "web").unwrap();
    assert_eq!(stored.spec.replicas, Some(3));
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    let mut cm = config_map("guarded", &[], &[]);
    cm.metadata.finalizers = Some(vec!["tollgate.dev/cleanup".into()]);
    let created = api.create(&PostParams::default(), &cm).await.unwrap();

    let wrong_uid = DeleteParams::default()
        .preconditions(Preconditions { uid: Some("nope".into()), resource_version: None });
    assert_eq!(api_error(api.delete("guarded", &wrong_uid).await).code, 409);

    let pending = api.delete("guarded", &DeleteParams::default()).await.unwrap();
    let pending = pending.left().expect("deletion is pending while finalizers remain");
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(server.exists::<ConfigMap>("prod", "guarded"));

    let add = api_error(
        api.patch(
            "guarded",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["tollgate.dev/cleanup", "other"]}})),
        )
        .await,
    );
    assert_eq!((add.code, add.reason.as_str()), (422, "Invalid"));

    // kube's finalizer helper removes finalizers with a JSON patch guarded by a `test` op.
    let failed_test = api_error(
        api.patch::<()>(
            "guarded",
            &PatchParams::default(),
            &Patch::Json(
                serde_json::from_value(json!([
                    {"op": "test", "path": "/metadata/finalizers", "value": ["something-else"]},
                    {"op": "remove", "path": "/metadata/finalizers/0"}
                ]))
                .unwrap(),
            ),
        )
        .await,
    );
    assert_eq!(failed_test.code, 422);
    assert!(server.exists::<ConfigMap>("prod", "guarded"));

    api.patch::<()>(
        "guarded",
        &PatchParams::default(),
        &Patch::Json(
            serde_json::from_value(json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["tollgate.dev/cleanup"]},
                {"op": "remove", "path": "/metadata/finalizers/0"}
            ]))
            .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert!(
        !server.exists::<ConfigMap>("prod", "guarded"),
        "removed once the last finalizer is gone"
    );
    assert_eq!(api_error(api.get("guarded").await).code, 404);

    // Without finalizers deletion is immediate.
    api.create(&PostParams::default(), &config_map("plain", &[], &[])).await.unwrap();
    assert!(api.delete("plain", &DeleteParams::default()).await.unwrap().is_right());
    assert!(!server.exists::<ConfigMap>("prod", "plain"));
    let _ = created;
}

#[tokio::test]
async fn server_side_apply_owns_fields_and_conflicts() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    let applied = |data: serde_json::Value| {
        Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data}),
        )
    };

    // Apply creates.
    let a = PatchParams::apply("manager-a");
    let created = api.patch("cfg", &a, &applied(json!({"x": "1", "y": "1"}))).await.unwrap();
    assert_eq!(created.data.as_ref().unwrap().len(), 2);
    let managed = created.metadata.managed_fields.unwrap();
    assert_eq!(managed.len(), 1);
    assert_eq!(
        (managed[0].manager.as_deref(), managed[0].operation.as_deref()),
        (Some("manager-a"), Some("Apply"))
    );

    // Another manager setting an owned field to another value conflicts...
    let b = PatchParams::apply("manager-b");
    let conflict = api_error(api.patch("cfg", &b, &applied(json!({"x": "2"}))).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("manager-a") && conflict.message.contains(".data.x"),
        "{}",
        conflict.message
    );
    // ...setting it to the same value shares ownership...
    api.patch("cfg", &b, &applied(json!({"y": "1"}))).await.unwrap();
    // ...and force takes it over.
    let forced =
        api.patch("cfg", &b.clone().force(), &applied(json!({"x": "2", "y": "1"}))).await.unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["x"], "2");

    // manager-a stops applying y and x: y is still owned by b, so it stays; a's own z goes.
    api.patch("cfg", &a, &applied(json!({"z": "1"}))).await.unwrap();
    let after = api.patch("cfg", &a, &applied(json!({}))).await.unwrap();
    let data = after.data.unwrap();
    assert_eq!(data.get("x").map(String::as_str), Some("2"));
    assert_eq!(data.get("y").map(String::as_str), Some("1"));
    assert!(
        !data.contains_key("z"),
        "a field its only applier stopped applying is removed: {data:?}"
    );

    // Apply without a field manager is refused like the real server refuses it.
    let no_manager =
        api_error(api.patch("cfg", &PatchParams::default(), &applied(json!({}))).await);
    assert_eq!(no_manager.code, 400);

    // Status apply on a kind with a status subresource touches only status.
    let deployments: Api<Deployment> = Api::namespaced(client, "prod");
    deployments.create(&PostParams::default(), &deployment("web", 1)).await.unwrap();
    let status_apply = Patch::Apply(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"replicas": 9},
        "status": {"availableReplicas": 1}
    }));
    let pp = PatchParams::apply("tollgate-test").force();
    let d = deployments.patch_status("web", &pp, &status_apply).await.unwrap();
    assert_eq!(d.status.unwrap().available_replicas, Some(1));
    assert_eq!(d.spec.replicas, Some(1));
    // Re-applying the same status changes nothing: no new resourceVersion.
    let rv_before = server.resource_version();
    deployments.patch_status("web", &pp, &status_apply).await.unwrap();
    assert_eq!(server.resource_version(), rv_before);
    let status_missing = api_error(deployments.patch_status("absent", &pp, &status_apply).await);
    assert_eq!(status_missing.code, 404);
    let status_requests = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/deployments/web/status"))
        .count();
    assert_eq!(status_requests, 2);
}

#[tokio::test]
async fn secrets_fold_string_data() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<Secret> = Api::namespaced(client, "prod");
    let secret = Secret {
        metadata: ObjectMeta { name: Some("db".into()), ..ObjectMeta::default() },
        string_data: Some(BTreeMap::from([("url".into(), "postgres://x".into())])),
        ..Secret::default()
    };
    api.create(&PostParams::default(), &secret).await.unwrap();
    let stored: Secret = server.get("prod", "db").unwrap();
    assert!(stored.string_data.is_none());
    assert_eq!(stored.data.unwrap()["url"].0, b"postgres://x");
}

#[tokio::test]
async fn raw_watch_resumes_from_a_resource_version_and_reports_410_when_compacted() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    let pp = PostParams::default();
    let first = api.create(&pp, &config_map("a", &[], &[])).await.unwrap();
    api.create(&pp, &config_map("b", &[], &[])).await.unwrap();
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v"}})))
        .await
        .unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();

    // Resume right after the first create: the three later changes, in order.
    let resume_at = first.metadata.resource_version.clone().unwrap();
    let stream = api
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), &resume_at)
        .await
        .unwrap();
    let events: Vec<String> = stream
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|e| match e {
            WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.unwrap()),
            WatchEvent::Modified(o) => format!("MODIFIED {}", o.metadata.name.unwrap()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name.unwrap()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(events, ["ADDED b", "MODIFIED a", "DELETED b"]);

    // After compaction the old version is gone: the real server's 410 Expired ERROR event.
    server.compact();
    let stream = api.watch(&WatchParams::default().timeout(1), &resume_at).await.unwrap();
    let events: Vec<_> = stream.try_collect().await.unwrap();
    match events.as_slice() {
        [WatchEvent::Error(e)] => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected one 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn raw_watch_sends_bookmarks_and_selector_transitions() {
    let (server, client) = FakeApiServer::start_with(support::Options {
        bookmark_interval: Duration::from_millis(50),
        ..support::Options::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    let start = server.resource_version().to_string();
    let mut stream = api
        .watch(&WatchParams::default().labels("tier=web").timeout(5), &start)
        .await
        .unwrap()
        .boxed();

    api.create(&PostParams::default(), &config_map("c", &[("tier", "db")], &[])).await.unwrap();
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "web"}}})),
    )
    .await
    .unwrap();
    api.patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v"}})))
        .await
        .unwrap();
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "db"}}})),
    )
    .await
    .unwrap();
    let last_rv = server.resource_version();

    let mut seen = Vec::new();
    let mut bookmark_rv = None;
    while let Some(event) =
        tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("events in time")
    {
        match event.unwrap() {
            WatchEvent::Added(_) => seen.push("ADDED"),
            WatchEvent::Modified(_) => seen.push("MODIFIED"),
            WatchEvent::Deleted(_) => seen.push("DELETED"),
            WatchEvent::Bookmark(b) => {
                let rv: u64 = b.metadata.resource_version.parse().unwrap();
                if rv >= last_rv {
                    bookmark_rv = Some(rv);
                    break;
                }
            }
            WatchEvent::Error(e) => panic!("unexpected error event {e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED", "MODIFIED", "DELETED"], "the db-labelled create is filtered out");
    assert_eq!(bookmark_rv, Some(last_rv));
}

type WatcherStream =
    futures::stream::BoxStream<'static, Result<watcher::Event<ConfigMap>, watcher::Error>>;

/// The next apply or delete the watcher reports, as "apply NAME" / "delete NAME".
async fn next_change(events: &mut WatcherStream) -> String {
    let next = async {
        loop {
            match events.next().await.expect("the watcher keeps going").expect("no watcher error") {
                watcher::Event::Apply(cm) | watcher::Event::InitApply(cm) => {
                    return format!("apply {}", cm.metadata.name.unwrap());
                }
                watcher::Event::Delete(cm) => {
                    return format!("delete {}", cm.metadata.name.unwrap());
                }
                watcher::Event::Init | watcher::Event::InitDone => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), next).await.expect("a change within 10 s")
}

#[tokio::test]
async fn kube_runtime_watcher_sees_changes_and_survives_dropped_watches() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    api.create(&PostParams::default(), &config_map("before", &[], &[])).await.unwrap();

    let mut events: WatcherStream = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut names = Vec::new();
    names.push(next_change(&mut events).await);
    api.create(&PostParams::default(), &config_map("during", &[], &[])).await.unwrap();
    names.push(next_change(&mut events).await);

    // The server ends the watch; the watcher resumes from its last resourceVersion and misses
    // nothing written meanwhile.
    server.close_watches();
    api.delete("before", &DeleteParams::default()).await.unwrap();
    names.push(next_change(&mut events).await);
    assert_eq!(names, ["apply before", "apply during", "delete before"]);
}

#[tokio::test]
async fn event_recorder_publishes_events() {
    let (server, client) = FakeApiServer::start().await;
    let recorder = Recorder::new(
        client,
        Reporter { controller: "tollgate-operator".into(), instance: Some("pod-0".into()) },
    );
    let reference = ObjectReference {
        api_version: Some("tollgate.dev/v1alpha1".into()),
        kind: Some("Backup".into()),
        name: Some("nightly-1".into()),
        namespace: Some("prod".into()),
        uid: Some("u-1".into()),
        ..ObjectReference::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "Stalled".into(),
        note: Some("worker died".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.unwrap();
    // The same event again is folded into a series by the recorder (a merge patch here).
    recorder.publish(&event, &reference).await.unwrap();
    assert_eq!(server.event_reasons_for("prod", "nightly-1"), ["Stalled"]);
    let stored = &server.events()[0];
    assert_eq!(stored["apiVersion"], "events.k8s.io/v1");
    assert_eq!(stored["note"], "worker died");
}

#[tokio::test]
async fn generate_name_and_delete_collection() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    let mut cm = config_map("", &[("batch", "1")], &[]);
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("run-".into());
    let a = api.create(&PostParams::default(), &cm).await.unwrap();
    let b = api.create(&PostParams::default(), &cm).await.unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("run-") && b.starts_with("run-") && a != b, "{a} {b}");
    api.create(&PostParams::default(), &config_map("keep", &[("batch", "2")], &[])).await.unwrap();

    let mut nameless = config_map("", &[], &[]);
    nameless.metadata.name = None;
    let invalid = api_error(api.create(&PostParams::default(), &nameless).await);
    assert_eq!((invalid.code, invalid.reason.as_str()), (422, "Invalid"));

    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("batch=1"))
        .await
        .unwrap();
    let left: Vec<String> =
        server.list::<ConfigMap>().into_iter().map(|c| c.metadata.name.unwrap()).collect();
    assert_eq!(left, ["keep"]);
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    let (_server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "prod");
    api.create(&PostParams::default(), &config_map("one", &[], &[])).await.unwrap();
    api.create(&PostParams::default(), &config_map("two", &[], &[])).await.unwrap();
    // sendInitialEvents=true: initial ADDED events ended by the initial-events-end BOOKMARK.
    let mut events: WatcherStream =
        watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    let done = async {
        loop {
            match events.next().await.unwrap().unwrap() {
                watcher::Event::InitApply(cm) => initial.push(cm.metadata.name.unwrap()),
                watcher::Event::InitDone => break,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), done).await.expect("the initial list ends");
    assert_eq!(initial, ["one", "two"]);
    api.create(&PostParams::default(), &config_map("three", &[], &[])).await.unwrap();
    assert_eq!(next_change(&mut events).await, "apply three");
}

/// Server-side apply bodies are YAML on the wire (kubectl sends YAML; kube sends JSON, which
/// is YAML too): a raw request with a YAML body is applied.
#[tokio::test]
async fn apply_accepts_a_yaml_body() {
    let (server, client) = FakeApiServer::start().await;
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n";
    let request =
        hyper::Request::patch("/api/v1/namespaces/prod/configmaps/from-yaml?fieldManager=kubectl")
            .header("content-type", "application/apply-patch+yaml")
            .body(yaml.as_bytes().to_vec())
            .unwrap();
    let applied: ConfigMap = client.request(request).await.unwrap();
    assert_eq!(applied.data.unwrap()["k"], "v");
    assert!(server.exists::<ConfigMap>("prod", "from-yaml"));
    let bad = hyper::Request::patch("/api/v1/namespaces/prod/configmaps/x?fieldManager=kubectl")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"kind: [unclosed".to_vec())
        .unwrap();
    let error = api_error(client.request::<ConfigMap>(bad).await);
    assert_eq!(error.code, 400);
}

/// Metadata-only requests, as kube sends them (`Api::<PartialObjectMeta<K>>`, `list_metadata`,
/// `get_metadata`, the metadata watcher): the server answers `meta.k8s.io/v1`
/// `PartialObjectMetadata(List)` with the objects' metadata and never their `data`, as
/// kube-apiserver does; a conversion that does not fit the response is 406.
#[tokio::test]
async fn metadata_only_requests_get_metadata_and_never_data() {
    use kube::Resource;
    use kube::core::{PartialObjectMeta, Request};
    use serde_json::Value;

    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    let pp = PostParams::default();
    api.create(&pp, &config_map("one", &[("tier", "db")], &[("V1__a.sql", "SELECT 1;")]))
        .await
        .unwrap();
    api.create(&pp, &config_map("two", &[], &[("V1__b.sql", "SELECT 2;")])).await.unwrap();
    let path = || ConfigMap::url_path(&(), Some("prod"));
    let fields = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };

    // The list on the wire: exactly kube's request, raw JSON back.
    let request = Request::new(path()).list_metadata(&ListParams::default()).unwrap();
    let raw: Value = client.request(request).await.unwrap();
    assert_eq!(raw["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(raw["kind"], "PartialObjectMetadataList");
    assert_eq!(raw["metadata"]["resourceVersion"], server.resource_version().to_string());
    let items = raw["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(fields(item), ["apiVersion", "kind", "metadata"], "{item}");
        assert_eq!(
            (item["apiVersion"].as_str(), item["kind"].as_str()),
            (Some("meta.k8s.io/v1"), Some("PartialObjectMetadata"))
        );
    }
    assert_eq!(items[0]["metadata"]["labels"]["tier"], "db", "metadata is kept whole");
    let sent = server.requests().last().unwrap().accept.clone();
    assert_eq!(
        sent.as_deref(),
        Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
    );

    // Typed, through kube's API: names and types, and the paginated form.
    let listed = api.list_metadata(&ListParams::default().limit(1)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.continue_.is_some(), "continue survives the conversion");
    let one = api.get_metadata("one").await.unwrap();
    assert_eq!(one.types.unwrap().kind, "PartialObjectMetadata");
    assert_eq!(one.metadata.name.as_deref(), Some("one"));
    let raw_one: Value = client
        .request(Request::new(path()).get_metadata("one", &Default::default()).unwrap())
        .await
        .unwrap();
    assert!(raw_one.get("data").is_none(), "{raw_one}");

    // The same requests without the conversion still carry the data.
    assert_eq!(api.get("one").await.unwrap().data.unwrap()["V1__a.sql"], "SELECT 1;");

    // A watch: every object is PartialObjectMetadata, and a change of data is still an event.
    let start = server.resource_version().to_string();
    let request =
        Request::new(path()).watch_metadata(&WatchParams::default().timeout(5), &start).unwrap();
    let mut raw_events = client.request_events::<Value>(request).await.unwrap().boxed();
    assert_eq!(
        server.requests().last().unwrap().accept.as_deref(),
        Some("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
    );
    let metas: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client.clone(), "prod");
    let before = server.requests().len();
    let mut watched = watcher(metas, watcher::Config::default()).boxed();
    let initial = async {
        let mut names = Vec::new();
        loop {
            match watched.next().await.unwrap().unwrap() {
                watcher::Event::InitApply(m) => names.push(m.metadata.name.unwrap()),
                watcher::Event::InitDone => break names,
                _ => {}
            }
        }
    };
    let initial = tokio::time::timeout(Duration::from_secs(10), initial).await.unwrap();
    assert_eq!(initial, ["one", "two"]);
    api.patch("two", &PatchParams::default(), &Patch::Merge(json!({"data": {"V2__c.sql": "x"}})))
        .await
        .unwrap();
    let changed = async {
        loop {
            if let watcher::Event::Apply(m) = watched.next().await.unwrap().unwrap() {
                break m;
            }
        }
    };
    let changed = tokio::time::timeout(Duration::from_secs(10), changed).await.unwrap();
    assert_eq!(changed.metadata.name.as_deref(), Some("two"));
    assert_eq!(changed.types.unwrap().kind, "PartialObjectMetadata");
    match tokio::time::timeout(Duration::from_secs(10), raw_events.next()).await.unwrap() {
        Some(Ok(WatchEvent::Modified(object))) => {
            assert_eq!(fields(&object), ["apiVersion", "kind", "metadata"], "{object}");
            assert_eq!(object["kind"], "PartialObjectMetadata");
            assert_eq!(object["metadata"]["name"], "two");
        }
        other => panic!("expected a MODIFIED event, got {other:?}"),
    }
    // The watcher's own list and watch were metadata-only.
    let requests = server.requests();
    let by_watcher: Vec<_> =
        requests[before..].iter().filter(|r| r.method == "GET" && r.path == path()).collect();
    assert!(by_watcher.iter().any(|r| !r.query.contains("watch=true")), "{by_watcher:?}");
    assert!(by_watcher.iter().any(|r| r.query.contains("watch=true")), "{by_watcher:?}");
    for r in by_watcher {
        assert!(
            r.accept.as_deref().is_some_and(|a| a.contains("as=PartialObjectMetadata")),
            "{r:?}"
        );
    }

    // Conversions that do not fit: a list asked for as one object and the reverse are 406,
    // and so is a media type this server does not write.
    for (uri, accept) in [
        (path(), "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
        (
            format!("{}/one", path()),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        ),
        (path(), "application/json;as=Table;g=meta.k8s.io;v=v1"),
        (path(), "application/yaml"),
    ] {
        let request = hyper::Request::get(&uri).header("accept", accept).body(Vec::new()).unwrap();
        let error = api_error(client.request::<Value>(request).await);
        assert_eq!((error.code, error.reason.as_str()), (406, "NotAcceptable"), "{uri} {accept}");
    }
    // A refused conversion of a write writes nothing.
    let request = hyper::Request::delete(format!("{}?labelSelector=tier%3Ddb", path()))
        .header("accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
        .body(Vec::new())
        .unwrap();
    assert_eq!(api_error(client.request::<Value>(request).await).code, 406);
    assert!(server.exists::<ConfigMap>("prod", "one"));
    // kubectl's fallback list: the first alternative it cannot have, the second it can.
    let request = hyper::Request::get(path())
        .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
        .body(Vec::new())
        .unwrap();
    let full: Value = client.request(request).await.unwrap();
    assert_eq!(full["kind"], "ConfigMapList");
    assert_eq!(full["items"][0]["data"]["V1__a.sql"], "SELECT 1;");
}

/// Status writes with `metadata.resourceVersion` are preconditions, through every write verb
/// of `/status` (server-side apply — what the operator's claims send —, merge patch, replace):
/// a stale version is 409 Conflict and changes nothing; the current one is written.
#[tokio::test]
async fn status_writes_honour_resource_version_preconditions() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<Deployment> = Api::namespaced(client, "prod");
    let created = api.create(&PostParams::default(), &deployment("web", 1)).await.unwrap();
    let read_at = created.metadata.resource_version.clone().unwrap();
    // Someone else writes first.
    let moved = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1}})),
        )
        .await
        .unwrap();
    let apply = |rv: &str, ready: i32| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"resourceVersion": rv},
            "status": {"readyReplicas": ready},
        })
    };
    let ssa = PatchParams::apply("claimer").force();
    let stale = api.patch_status("web", &ssa, &Patch::Apply(apply(&read_at, 7))).await;
    let status = api_error(stale);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"), "{status:?}");
    let merge = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"resourceVersion": read_at}, "status": {"readyReplicas": 8}}),
            ),
        )
        .await;
    assert_eq!(api_error(merge).code, 409);
    let mut replace = moved.clone();
    replace.metadata.resource_version = Some(read_at.clone());
    replace.status.as_mut().unwrap().ready_replicas = Some(9);
    let put = api.replace_status("web", &PostParams::default(), &replace).await;
    assert_eq!(api_error(put).code, 409);
    let stored: Deployment = server.get("prod", "web").unwrap();
    assert_eq!(stored.status.unwrap().ready_replicas, Some(1), "no stale write landed");

    let current = moved.metadata.resource_version.clone().unwrap();
    let written = api.patch_status("web", &ssa, &Patch::Apply(apply(&current, 7))).await.unwrap();
    assert_eq!(written.status.unwrap().ready_replicas, Some(7));
    assert!(rv(&written.metadata) > rv(&moved.metadata));
}

/// Test rules: held requests wait until all of them arrived (so two clients that read the same
/// state both write it before either write is applied); failed requests get 500 and change
/// nothing; both rules expire after their count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_can_be_held_into_a_race_or_failed() {
    let (server, client) = FakeApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    api.create(&PostParams::default(), &config_map("cm", &[], &[("k", "0")])).await.unwrap();
    let path = "/api/v1/namespaces/prod/configmaps/cm";
    server.fail_requests("GET", path, 2);
    for _ in 0..2 {
        let status = api_error(api.get("cm").await);
        assert_eq!((status.code, status.reason.as_str()), (500, "InternalError"));
    }
    let read = api.get("cm").await.expect("the rule expired after two failures");

    server.hold_requests("PUT", path, 2);
    let write = |value: &str| {
        let mut cm = read.clone();
        cm.data = Some(BTreeMap::from([("k".to_owned(), value.to_owned())]));
        let api = api.clone();
        async move { api.replace("cm", &PostParams::default(), &cm).await }
    };
    let first = tokio::spawn(write("a"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!first.is_finished(), "the first write waits for the second");
    let (a, b) = tokio::join!(first, write("b"));
    let results = [a.unwrap().is_ok(), b.is_ok()];
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "one of two stale writers wins");
    api.replace("cm", &PostParams::default(), &api.get("cm").await.unwrap())
        .await
        .expect("the hold rule expired");
}

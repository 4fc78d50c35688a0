//! End-to-end tests against a real Kubernetes cluster (for example kind in CI; see
//! `docs/operator.md`). They run only when `KUBECONFIG` is set and print why they skip
//! otherwise — the one place in this repository where a test may skip, because no cluster can
//! run on the development machines.
//!
//! They check what the fake API server cannot: that the real API server accepts the generated
//! CRDs (schemas and CEL rules), that the fake server's semantics (conflicts, status
//! subresource, generation, finalizers, server-side apply conflicts, resourceVersion
//! preconditions on status applies) match the real ones, that
//! leader election works on a real Lease, and that the running operator reconciles an
//! EnvironmentParity.
//!
//! Each test works in its own namespace(s), named `tollgate-e2e-<test>-<unique>`, deleted at the
//! end. The cluster must allow the current user to install CRDs (kind's default admin does).

// Printing the skip reason is the point of the skip.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, PodSpec, PodTemplateSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tollgate_operator::context::{Context, SystemClock};
use tollgate_operator::crd;
use tollgate_operator::crd::parity::EnvironmentParity;
use tollgate_operator::executor::InProcessExecutor;
use tollgate_operator::metrics::Metrics;
use tollgate_operator::runtime::{self, LeaderElection, LeaseConfig, RunConfig};

/// A client for the cluster in `KUBECONFIG`, or `None` (with the reason printed) when unset.
async fn cluster(test: &str) -> Option<Client> {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!(
            "skipping {test}: KUBECONFIG is not set (these tests need a real cluster, e.g. kind)"
        );
        return None;
    }
    Some(Client::try_default().await.expect("a client from KUBECONFIG"))
}

fn unique(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("tollgate-e2e-{test}-{:x}{:x}", std::process::id(), nanos)
}

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns).await.expect("create the test namespace");
}

async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
}

async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply("tollgate-e2e").force();
    for crd in crd::all() {
        let name = crd.name_any();
        api.patch(&name, &pp, &Patch::Apply(&crd))
            .await
            .unwrap_or_else(|e| panic!("the API server rejects CRD {name}: {e}"));
        eventually(&format!("CRD {name} to be established"), Duration::from_secs(60), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                let established = crd
                    .status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established.then_some(())
            }
        })
        .await;
    }
}

fn api_error(result: Result<impl std::fmt::Debug, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn crds_are_accepted_and_established() {
    let Some(client) = cluster("crds_are_accepted_and_established").await else { return };
    install_crds(&client).await;
    // The CEL rule on environment names is enforced by the real API server.
    let ns = unique("crds");
    create_namespace(&client, &ns).await;
    let api: Api<EnvironmentParity> = Api::namespaced(client.clone(), &ns);
    let duplicate: EnvironmentParity = serde_json::from_value(json!({
        "apiVersion": "tollgate.dev/v1alpha1", "kind": "EnvironmentParity",
        "metadata": {"name": "dup"},
        "spec": {"environments": [{"name": "a", "namespace": "x"}, {"name": "a", "namespace": "y"}]},
    }))
    .unwrap();
    let rejected = api_error(api.create(&PostParams::default(), &duplicate).await);
    delete_namespace(&client, &ns).await;
    assert_eq!(rejected.code, 422, "{rejected:?}");
}

/// The same semantics `tests/fake_api.rs` pins on the fake server, checked on the real one.
#[tokio::test]
async fn api_semantics_match_the_fake_server() {
    let Some(client) = cluster("api_semantics_match_the_fake_server").await else { return };
    let ns = unique("semantics");
    create_namespace(&client, &ns).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();

    // Stale replace: 409 Conflict.
    let cm = ConfigMap {
        metadata: ObjectMeta { name: Some("app".into()), ..ObjectMeta::default() },
        ..ConfigMap::default()
    };
    let created = cms.create(&pp, &cm).await.unwrap();
    assert_eq!(api_error(cms.create(&pp, &cm).await).reason, "AlreadyExists");
    let mut fresh = created.clone();
    fresh.data = Some(BTreeMap::from([("k".into(), "v".into())]));
    cms.replace("app", &pp, &fresh).await.unwrap();
    assert_eq!(api_error(cms.replace("app", &pp, &fresh).await).code, 409);

    // Server-side apply: conflict between managers, force takes over.
    let applied = |v: &str| {
        Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"x": v}}),
        )
    };
    cms.patch("ssa", &PatchParams::apply("manager-a"), &applied("1")).await.unwrap();
    assert_eq!(
        api_error(cms.patch("ssa", &PatchParams::apply("manager-b"), &applied("2")).await).code,
        409
    );
    cms.patch("ssa", &PatchParams::apply("manager-b").force(), &applied("2")).await.unwrap();

    // Status subresource and generation.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
    let deployment = Deployment {
        metadata: ObjectMeta { name: Some("web".into()), ..ObjectMeta::default() },
        spec: DeploymentSpec {
            replicas: Some(0),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "web".into(),
                        image: Some("registry.k8s.io/pause:3.10".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    };
    let d = deployments.create(&pp, &deployment).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let d = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1), "metadata changes do not bump generation");
    let d = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}})))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));

    // A forced server-side apply of /status carrying a stale metadata.resourceVersion is 409
    // (the precondition the operator's claims rely on); the current one is written.
    let claim = |rv: &str, generation: i64| {
        Patch::Apply(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "resourceVersion": rv},
            "status": {"observedGeneration": generation},
        }))
    };
    let current = d.metadata.resource_version.clone().unwrap();
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"c": "d"}}})),
        )
        .await
        .unwrap();
    let ssa = PatchParams::apply("tollgate-e2e-claim").force();
    assert_eq!(
        api_error(deployments.patch_status("web", &ssa, &claim(&current, 1)).await).code,
        409
    );
    // The Deployment controller writes status too: retry while it moves the version on.
    let mut written = false;
    for _ in 0..5 {
        let fresh = deployments.get("web").await.unwrap().metadata.resource_version.unwrap();
        match deployments.patch_status("web", &ssa, &claim(&fresh, 1)).await {
            Ok(_) => {
                written = true;
                break;
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(written, "an apply at the current resourceVersion is written");

    // Finalizers hold deletion; removing the last one completes it.
    let mut guarded = cm.clone();
    guarded.metadata.name = Some("guarded".into());
    guarded.metadata.finalizers = Some(vec!["tollgate.dev/e2e".into()]);
    cms.create(&pp, &guarded).await.unwrap();
    let pending = cms.delete("guarded", &DeleteParams::default()).await.unwrap();
    assert!(pending.left().and_then(|c| c.metadata.deletion_timestamp).is_some());
    let add = api_error(
        cms.patch(
            "guarded",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["tollgate.dev/e2e", "other"]}})),
        )
        .await,
    );
    assert_eq!(add.code, 422);
    cms.patch(
        "guarded",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually("the finalized ConfigMap to go", Duration::from_secs(30), || {
        let cms = cms.clone();
        async move { cms.get_opt("guarded").await.ok().flatten().is_none().then_some(()) }
    })
    .await;

    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn leader_election_on_a_real_lease() {
    let Some(client) = cluster("leader_election_on_a_real_lease").await else { return };
    let ns = unique("lease");
    create_namespace(&client, &ns).await;
    let config = |identity: &str| LeaseConfig {
        duration_secs: 5,
        grace_secs: 2,
        ..LeaseConfig::new(&ns, identity)
    };
    let mut a = LeaderElection::start(client.clone(), config("replica-a")).await.unwrap();
    let mut b = LeaderElection::start(client.clone(), config("replica-b")).await.unwrap();
    let first_is_a = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            r = a.acquired() => { r.unwrap(); true }
            r = b.acquired() => { r.unwrap(); false }
        }
    })
    .await
    .expect("a leader within 30 s");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_ne!(a.is_leader(), b.is_leader(), "exactly one replica leads");
    let (leader, mut standby) = if first_is_a { (a, b) } else { (b, a) };
    leader.release().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), standby.acquired())
        .await
        .expect("takeover within 30 s")
        .unwrap();
    standby.release().await.unwrap();
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn operator_reports_config_map_drift() {
    let Some(client) = cluster("operator_reports_config_map_drift").await else { return };
    install_crds(&client).await;
    let (dev, prod) = (unique("dev"), unique("prod"));
    for ns in [&dev, &prod] {
        create_namespace(&client, ns).await;
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        let value = if ns == &dev { "new" } else { "old" };
        let cm = ConfigMap {
            metadata: ObjectMeta { name: Some("settings".into()), ..ObjectMeta::default() },
            data: Some(BTreeMap::from([("mode".into(), value.into())])),
            ..ConfigMap::default()
        };
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }

    let ctx = Context::new(
        client.clone(),
        Arc::new(Metrics::new()),
        Arc::new(InProcessExecutor),
        Arc::new(SystemClock),
    );
    let listener = runtime::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(runtime::run(
        ctx,
        RunConfig { http_addr: addr, leader_election: None, watch_namespaces: vec![] },
        listener,
        async {
            let _ = stopped.await;
        },
    ));

    let parities: Api<EnvironmentParity> = Api::namespaced(client.clone(), &prod);
    let parity: EnvironmentParity = serde_json::from_value(json!({
        "apiVersion": "tollgate.dev/v1alpha1", "kind": "EnvironmentParity",
        "metadata": {"name": "app"},
        "spec": {
            "environments": [{"name": "dev", "namespace": dev}, {"name": "prod", "namespace": prod}],
            "dimensions": ["configMaps"],
        },
    }))
    .unwrap();
    parities.create(&PostParams::default(), &parity).await.unwrap();
    let drifts = eventually("the parity status to report drift", Duration::from_secs(60), || {
        let parities = parities.clone();
        async move {
            let p = parities.get("app").await.ok()?;
            let status = serde_json::to_value(p.status?).ok()?;
            status.get("totalDrifts").and_then(serde_json::Value::as_u64).filter(|n| *n > 0)
        }
    })
    .await;
    assert!(drifts >= 1);
    assert_eq!(EnvironmentParity::kind(&()), "EnvironmentParity");

    let _ = stop.send(());
    operator.await.unwrap().unwrap();
    for ns in [&dev, &prod] {
        delete_namespace(&client, ns).await;
    }
}

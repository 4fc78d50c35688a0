//! The EnvironmentParity controller against the fake API server (`tests/support`: a stand-in for
//! kube-apiserver over a real socket, since none can run here). Objects are seeded in the
//! server; the real controller reads them through its watch-backed caches and writes status and
//! events back through the API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec, Secret};
use kube::api::ObjectMeta;
use tollgate_operator::conditions;
use tollgate_operator::context::{Context, SystemClock};
use tollgate_operator::controllers::parity;
use tollgate_operator::crd::parity::{
    Environment, EnvironmentParity, EnvironmentParitySpec, SecretKeyRef,
};
use tollgate_operator::executor::InProcessExecutor;
use tollgate_operator::metrics::Metrics;

use crate::support::{FakeApiServer, eventually};

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: Some(ns.into()), ..Default::default() }
}

fn deployment(ns: &str, image: &str) -> Deployment {
    Deployment {
        metadata: meta(ns, "web"),
        spec: DeploymentSpec {
            template: PodTemplateSpec {
                spec: Some(PodSpec {
                    containers: vec![Container {
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

fn secret(ns: &str, name: &str, key: &str, value: &str) -> Secret {
    Secret {
        metadata: meta(ns, name),
        data: Some(BTreeMap::from([(key.to_owned(), ByteString(value.as_bytes().to_vec()))])),
        ..Default::default()
    }
}

fn config_map(ns: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(ns, "app"),
        data: Some(BTreeMap::from([("LOG".to_owned(), value.to_owned())])),
        ..Default::default()
    }
}

fn parity_object(prod_kubeconfig: Option<SecretKeyRef>) -> EnvironmentParity {
    let env = |name: &str, kubeconfig_secret_ref| Environment {
        name: name.into(),
        namespace: name.into(),
        kubeconfig_secret_ref,
        selector: None,
        health: None,
    };
    let mut p = EnvironmentParity::new(
        "shop",
        EnvironmentParitySpec {
            environments: vec![env("dev", None), env("prod", prod_kubeconfig)],
            dimensions: vec![],
            ignore: vec![],
            allowed_lag: None,
            interval_seconds: Some(600),
        },
    );
    p.metadata.namespace = Some("ops".into());
    p.metadata.generation = Some(1);
    p
}

fn context(client: kube::Client) -> Arc<Context> {
    Arc::new(Context::new(
        client,
        Arc::new(Metrics::new()),
        Arc::new(InProcessExecutor),
        Arc::new(SystemClock),
    ))
}

fn condition(p: &EnvironmentParity, type_: &str) -> Option<(String, String)> {
    let c = conditions::get(&p.status.as_ref()?.conditions, type_)?;
    Some((c.status.clone(), c.reason.clone()))
}

/// Re-seeds the EnvironmentParity with a new annotation: a change the controller's watch sees,
/// so it reconciles now instead of after `intervalSeconds`.
fn touch(server: &FakeApiServer, n: u32) {
    let mut p: EnvironmentParity = server.get("ops", "shop").expect("the EnvironmentParity");
    p.metadata.annotations = Some(BTreeMap::from([("test/touch".to_owned(), n.to_string())]));
    server.upsert(&p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_found_in_the_caches_reported_and_cleared() {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&deployment("dev", "dev.example/app@sha256:aaa"));
    server.upsert(&deployment("prod", "prod.example/app@sha256:bbb"));
    server.upsert(&config_map("dev", "debug"));
    server.upsert(&config_map("prod", "debug"));
    server.upsert(&secret("dev", "db", "password", "hunter2"));
    server.upsert(&secret("prod", "db", "password", "hunter3"));
    server.upsert(&parity_object(None));

    let ctx = context(client);
    let metrics = ctx.metrics.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(parity::run(ctx, async move {
        let _ = stopped.await;
    }));

    let p = eventually("Drifted=True", || {
        let p: EnvironmentParity = server.get("ops", "shop")?;
        (condition(&p, conditions::DRIFTED)?.0 == "True").then_some(p)
    })
    .await;
    let status = p.status.clone().unwrap();
    let found: Vec<_> = status
        .drifts
        .iter()
        .map(|d| (d.pointer.as_str(), d.from.as_str(), d.to.as_str()))
        .collect();
    assert_eq!(
        found,
        [("/images/web/app", "dev", "prod"), ("/secrets/db/password", "dev", "prod")],
        "the image digest and the Secret value differ; the ConfigMap does not"
    );
    assert_eq!(status.total_drifts, 2);
    assert_eq!(condition(&p, conditions::IN_SYNC), Some(("False".into(), "DriftDetected".into())));
    assert_eq!(condition(&p, conditions::READY).map(|c| c.0), Some("True".into()));
    assert_eq!(status.observed_generation, Some(1));
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("hunter"), "no Secret value in the status: {json}");
    assert!(
        !json.contains(&tollgate_operator::parity::sha256_hex(b"hunter2")),
        "no Secret hash either"
    );
    let reasons = server.event_reasons_for("ops", "shop");
    assert!(reasons.contains(&"DriftDetected".to_owned()), "{reasons:?}");
    assert!(
        metrics.render().contains(r#"tollgate_operator_drifts{namespace="ops",name="shop"} 2"#),
        "{}",
        metrics.render()
    );

    // Status went out by server-side apply under the controller's own field manager.
    let status_writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/environmentparities/shop/status"))
        .collect();
    assert!(!status_writes.is_empty());
    for r in &status_writes {
        assert_eq!(r.method, "PATCH");
        assert_eq!(r.content_type.as_deref(), Some("application/apply-patch+yaml"));
        assert_eq!(r.field_manager.as_deref(), Some("tollgate-operator/parity"));
    }

    // More reconciles with nothing changed: no LIST, and no status write.
    let lists = |server: &FakeApiServer| {
        server
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && !r.query.contains("watch=true"))
            .filter(|r| {
                ["/deployments", "/configmaps", "/secrets"].iter().any(|k| r.path.ends_with(k))
            })
            .count()
    };
    let lists_before = lists(&server);
    let writes_before = status_writes.len();
    for n in 0..3 {
        touch(&server, n);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(lists(&server), lists_before, "reconciles read the caches, not the API");
    let writes_after = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/environmentparities/shop/status"))
        .count();
    assert_eq!(writes_after, writes_before, "an unchanged status is not written again");

    // Promote: prod gets dev's image digest (from its own registry) and Secret value. The
    // watch events wake the parity at once (its interval is 10 minutes; nothing touches it).
    server.upsert(&deployment("prod", "prod.example/app@sha256:aaa"));
    server.upsert(&secret("prod", "db", "password", "hunter2"));
    let p = eventually("InSync=True", || {
        let p: EnvironmentParity = server.get("ops", "shop")?;
        (condition(&p, conditions::IN_SYNC)?.0 == "True").then_some(p)
    })
    .await;
    let status = p.status.unwrap();
    assert!(status.drifts.is_empty());
    assert_eq!(status.total_drifts, 0);
    assert_eq!(condition_of(&status.conditions, conditions::DRIFTED), Some("False".into()));
    let reasons = server.event_reasons_for("ops", "shop");
    assert!(reasons.contains(&"InSync".to_owned()), "{reasons:?}");

    // Deleted: its drift series goes at once (not at its next requeue, 10 minutes away).
    assert!(metrics.render().contains(r#"tollgate_operator_drifts{namespace="ops",name="shop"}"#));
    kube::Api::<EnvironmentParity>::namespaced(server.client(), "ops")
        .delete("shop", &Default::default())
        .await
        .expect("delete the parity");
    eventually("the drift series dropped", || {
        (!metrics.render().contains(r#"tollgate_operator_drifts{namespace="ops",name="shop"}"#))
            .then_some(())
    })
    .await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("graceful shutdown")
        .unwrap();
}

fn condition_of(
    conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<String> {
    conditions::get(conds, type_).map(|c| c.status.clone())
}

fn kubeconfig(server: &FakeApiServer) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: remote\n  cluster:\n    server: http://{}\ncontexts:\n- name: remote\n  context:\n    cluster: remote\n    user: remote\ncurrent-context: remote\nusers:\n- name: remote\n  user: {{}}\n",
        server.addr()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_is_read_through_its_kubeconfig_secret() {
    let (local, client) = FakeApiServer::start().await;
    let (remote, _) = FakeApiServer::start().await;
    local.upsert(&deployment("dev", "app@sha256:aaa"));
    remote.upsert(&deployment("prod", "app@sha256:ccc"));
    // The remote cluster's objects are not in the local one.
    local.upsert(&deployment("prod", "app@sha256:aaa"));
    local.upsert(&secret("ops", "prod-kubeconfig", "kubeconfig", &kubeconfig(&remote)));
    let key = SecretKeyRef { name: "prod-kubeconfig".into(), key: "kubeconfig".into() };
    local.upsert(&parity_object(Some(key)));

    let ctx = context(client.clone());
    let metrics = ctx.metrics.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(parity::run(ctx, async move {
        let _ = stopped.await;
    }));
    let p = eventually("a comparison with the remote cluster", || {
        let p: EnvironmentParity = local.get("ops", "shop")?;
        (condition(&p, conditions::DRIFTED)?.0 == "True").then_some(p)
    })
    .await;
    let status = p.status.unwrap();
    assert_eq!(status.drifts.len(), 1);
    assert!(
        status.drifts[0].description.contains("app@sha256:ccc"),
        "prod was read from the remote cluster: {}",
        status.drifts[0].description
    );
    assert!(
        remote
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/deployments") && r.query.contains("watch=true"))
    );

    assert!(metrics.render().contains("tollgate_operator_remote_clusters 1\n"));

    // A change in the remote cluster wakes the parity (interval 10 minutes, nothing touched).
    remote.upsert(&deployment("prod", "app@sha256:aaa"));
    eventually("InSync=True after the remote change", || {
        let p: EnvironmentParity = local.get("ops", "shop")?;
        (condition(&p, conditions::IN_SYNC)?.0 == "True").then_some(())
    })
    .await;

    // A kubeconfig that is not one stalls with the Secret named (the Secret's own change wakes
    // the parity).
    local.upsert(&secret("ops", "prod-kubeconfig", "kubeconfig", "{not: [a kubeconfig"));
    let p = eventually("Stalled=True", || {
        let p: EnvironmentParity = local.get("ops", "shop")?;
        (condition(&p, conditions::STALLED)?.0 == "True").then_some(p)
    })
    .await;
    let stalled = conditions::get(&p.status.as_ref().unwrap().conditions, conditions::STALLED)
        .unwrap()
        .clone();
    assert_eq!(stalled.reason, "EnvironmentUnreadable");
    assert!(
        stalled.message.contains("secret ops/prod-kubeconfig key kubeconfig"),
        "{}",
        stalled.message
    );

    // Deleting the parity stops watching the cluster only it read.
    local.upsert(&secret("ops", "prod-kubeconfig", "kubeconfig", &kubeconfig(&remote)));
    eventually("the remote cluster watched again", || {
        metrics.render().contains("tollgate_operator_remote_clusters 1\n").then_some(())
    })
    .await;
    kube::Api::<EnvironmentParity>::namespaced(client, "ops")
        .delete("shop", &Default::default())
        .await
        .expect("delete the parity");
    eventually("no remote cluster watched", || {
        metrics.render().contains("tollgate_operator_remote_clusters 0\n").then_some(())
    })
    .await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("graceful shutdown")
        .unwrap();
}

/// A real HTTP server on 127.0.0.1 answering every request with `status` (and a JSON body);
/// returns its URL.
async fn health_endpoint(status: std::sync::Arc<std::sync::atomic::AtomicU16>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let status = status.clone();
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let code = status.load(std::sync::atomic::Ordering::SeqCst);
                let body = r#"{"status":"ok"}"#;
                let answer = format!(
                    "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/healthz")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_environment_keeps_the_parity_out_of_sync_until_it_recovers() {
    use std::sync::atomic::{AtomicU16, Ordering};
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&deployment("dev", "example/app:1"));
    server.upsert(&deployment("prod", "example/app:1"));
    let answer = Arc::new(AtomicU16::new(503));
    let url = health_endpoint(answer.clone()).await;
    let mut p = parity_object(None);
    p.spec.environments[1].health = Some(tollgate_operator::crd::parity::HealthProbe {
        url,
        expected_status: None,
        timeout_seconds: Some(2),
        latency_budget_ms: Some(5_000),
        interval_seconds: Some(5),
        json: Some(tollgate_operator::crd::parity::JsonCheck {
            pointer: "/status".into(),
            value: "ok".into(),
        }),
    });
    server.upsert(&p);

    let ctx = context(client);
    let metrics = ctx.metrics.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(parity::run(ctx, async move {
        let _ = stopped.await;
    }));

    let p = eventually("Healthy=False", || {
        let p: EnvironmentParity = server.get("ops", "shop")?;
        (condition(&p, conditions::HEALTHY)?.0 == "False").then_some(p)
    })
    .await;
    assert_eq!(
        condition(&p, conditions::IN_SYNC),
        Some(("False".into(), "EnvironmentUnhealthy".into())),
        "no drift, but prod is down"
    );
    assert_eq!(condition(&p, conditions::DRIFTED).map(|c| c.0), Some("False".into()));
    let status = p.status.clone().unwrap();
    let prod = status.environments[1].health.clone().expect("prod's probe result");
    assert!(!prod.healthy);
    assert_eq!(prod.status_code, Some(503));
    assert_eq!(prod.message, "status 503, expected 200");
    assert!(prod.latency_ms.is_some());
    assert_eq!(status.environments[0].health, None, "dev has no probe");
    let gauge =
        r#"tollgate_operator_environment_healthy{namespace="ops",name="shop",environment="prod"}"#;
    // Set right after the status write.
    eventually("the healthy gauge at 0", || {
        metrics.render().contains(&format!("{gauge} 0")).then_some(())
    })
    .await;

    // The endpoint recovers: the next scheduled probe (interval 5 s) turns the parity InSync.
    answer.store(200, Ordering::SeqCst);
    let p = eventually("InSync=True", || {
        let p: EnvironmentParity = server.get("ops", "shop")?;
        (condition(&p, conditions::IN_SYNC)?.0 == "True").then_some(p)
    })
    .await;
    assert_eq!(condition(&p, conditions::HEALTHY), Some(("True".into(), "ProbesPassed".into())));
    let prod = p.status.unwrap().environments[1].health.clone().unwrap();
    assert!(prod.healthy);
    assert_eq!(prod.status_code, Some(200));
    eventually("the healthy gauge at 1", || {
        metrics.render().contains(&format!("{gauge} 1")).then_some(())
    })
    .await;
    assert!(metrics.render().contains("tollgate_operator_environment_probe_latency_seconds_count"));

    let _ = stop.send(());
    controller.await.expect("the controller stops");
}

/// An EnvironmentParity whose status writes fail (the fake answers 500 three times) is retried
/// after growing delays (base, 2×, 4×; jitter off here) like every other kind, not every 15 s,
/// and the successful write resets its count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_status_writes_back_off_per_parity_and_reset_on_success() {
    use tollgate_operator::backoff::{BackoffPolicy, ErrorBackoff, object_key};
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&deployment("dev", "dev.example/app@sha256:aaa"));
    server.upsert(&deployment("prod", "prod.example/app@sha256:aaa"));
    let path = "/apis/tollgate.dev/v1alpha1/namespaces/ops/environmentparities/shop/status";
    server.fail_requests("PATCH", path, 3);
    let base = Duration::from_millis(300);
    let mut ctx = Context::new(
        client,
        Arc::new(Metrics::new()),
        Arc::new(InProcessExecutor),
        Arc::new(SystemClock),
    );
    ctx.backoff = Arc::new(ErrorBackoff::new(BackoffPolicy {
        base,
        max: Duration::from_secs(60),
        jitter: 0.0,
    }));
    let ctx = Arc::new(ctx);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(parity::run(ctx.clone(), async move {
        let _ = stopped.await;
    }));
    // The parity arrives once the caches are watching, so that no cache event wakes it up
    // between its retries: only the backoff does.
    eventually("the caches watching", || {
        let watching = |kind: &str| {
            server
                .requests()
                .iter()
                .any(|r| r.query.contains("watch=true") && r.path.ends_with(kind))
        };
        ["/deployments", "/configmaps", "/secrets", "/schemamigrations"]
            .iter()
            .all(|k| watching(k))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.upsert(&parity_object(None));
    eventually("InSync=True after three failed writes", || {
        let p: EnvironmentParity = server.get("ops", "shop")?;
        (condition(&p, conditions::IN_SYNC)?.0 == "True").then_some(())
    })
    .await;
    let writes: Vec<std::time::Instant> = server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .map(|r| r.at)
        .collect();
    assert!(writes.len() >= 4, "{} writes", writes.len());
    let gaps: Vec<Duration> = writes.windows(2).take(3).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let nominal = base * (1 << i);
        assert!(
            *gap >= nominal.mul_f64(0.9) && *gap < nominal + Duration::from_secs(2),
            "retry {} after {gap:?}, expected about {nominal:?} (all gaps {gaps:?})",
            i + 1
        );
    }
    let key = object_key(parity::CONTROLLER, Some("ops"), "shop");
    assert_eq!(ctx.backoff.failures(&key), 0, "the success reset the count");
    let _ = stop.send(());
    controller.await.unwrap();
}

//! The operator process against the fake API server (`tests/support`, a stand-in for
//! kube-apiserver over a real socket): leader election on a coordination.k8s.io/v1 Lease with
//! kube-lease-manager, the HTTP endpoints, and graceful shutdown releasing the Lease.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_operator::context::{Context, SystemClock};
use tollgate_operator::crd::parity::EnvironmentParity;
use tollgate_operator::executor::InProcessExecutor;
use tollgate_operator::metrics::Metrics;
use tollgate_operator::runtime::{self, LeaderElection, LeaseConfig, RunConfig};

use crate::support::{self, FakeApiServer};

fn lease_config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        name: "tollgate-operator".into(),
        duration_secs: 2,
        grace_secs: 1,
        ..LeaseConfig::new("tollgate-system", identity)
    }
}

fn holder(server: &FakeApiServer) -> Option<String> {
    server
        .get::<Lease>("tollgate-system", "tollgate-operator")
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

pub(crate) async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_electors_one_leads_and_the_other_takes_over_after_release() {
    let (server, _) = FakeApiServer::start().await;
    let mut a = LeaderElection::start(server.client(), lease_config("replica-a")).await.unwrap();
    let mut b = LeaderElection::start(server.client(), lease_config("replica-b")).await.unwrap();

    // Exactly one wins.
    let first = within("a leader", async {
        tokio::select! {
            r = a.acquired() => { r.unwrap(); "replica-a" }
            r = b.acquired() => { r.unwrap(); "replica-b" }
        }
    })
    .await;
    // Give the loser time to try (and fail) to take the Lease too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ne!(a.is_leader(), b.is_leader(), "exactly one replica leads");
    assert_eq!(holder(&server).as_deref(), Some(first));

    // The leader releases (graceful shutdown); the standby takes over.
    let (leader, mut standby, second) =
        if first == "replica-a" { (a, b, "replica-b") } else { (b, a, "replica-a") };
    leader.release().await.unwrap();
    within("the standby to take over", standby.acquired()).await.unwrap();
    assert_eq!(holder(&server).as_deref(), Some(second));
    let lease: Lease = server.get("tollgate-system", "tollgate-operator").unwrap();
    assert!(
        lease.spec.unwrap().lease_transitions.unwrap_or(0) >= 1,
        "the takeover is counted as a transition"
    );

    standby.release().await.unwrap();
    assert_eq!(holder(&server), None, "a released Lease has no holder");
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the operator's HTTP port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("an HTTP status line");
    (code, response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_health_and_metrics_leads_and_releases_the_lease_on_shutdown() {
    let (server, client) = FakeApiServer::start().await;
    let metrics = Arc::new(Metrics::new());
    let ctx =
        Context::new(client, metrics.clone(), Arc::new(InProcessExecutor), Arc::new(SystemClock));
    let listener = runtime::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = RunConfig {
        http_addr: addr,
        leader_election: Some(lease_config("replica-x")),
        watch_namespaces: vec![],
    };
    let operator = tokio::spawn(runtime::run(ctx, config, listener, async {
        let _ = stop_rx.await;
    }));

    within("/readyz to report the leader", async {
        loop {
            let (code, body) = http_get(addr, "/readyz").await;
            if code == 200 && body.contains("ok (leader)") {
                break;
            }
            assert!(code == 503 || body.contains("ok (standby)"), "{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(holder(&server).as_deref(), Some("replica-x"));

    let (code, _) = http_get(addr, "/healthz").await;
    assert_eq!(code, 200);
    metrics.reconcile_error("backup", "kube");
    let (code, body) = http_get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("application/openmetrics-text"), "{body}");
    assert!(
        body.contains(
            r#"tollgate_operator_reconcile_errors_total{controller="backup",reason="kube"} 1"#
        ),
        "{body}"
    );
    assert_eq!(http_get(addr, "/nope").await.0, 404);

    // The readiness probe listed every tollgate.dev kind through the API.
    let listed: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/apis/tollgate.dev/v1alpha1/"))
        .map(|r| r.path)
        .collect();
    for plural in
        ["environmentparities", "schemamigrations", "backuppolicies", "backups", "restores"]
    {
        assert!(listed.iter().any(|p| p.ends_with(plural)), "{plural} was not probed: {listed:?}");
    }

    // The leader runs the controllers: an EnvironmentParity over two namespaces whose
    // ConfigMaps differ gets a status reporting the drift (written by server-side apply).
    seed_drifting_parity(&server);
    let drifts = within("the parity controller to report drift", async {
        loop {
            let total = server
                .get::<EnvironmentParity>("ops", "shop")
                .and_then(|p| p.status)
                .map(|s| s.total_drifts)
                .unwrap_or(0);
            if total > 0 {
                break total;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(drifts, 1, "one changed key");
    assert!(
        server.requests().iter().any(|r| r.method == "PATCH"
            && r.path
                == "/apis/tollgate.dev/v1alpha1/namespaces/ops/environmentparities/shop/status"
            && r.content_type.as_deref() == Some("application/apply-patch+yaml")),
        "status is written by server-side apply"
    );

    // The controller's metrics reach /metrics.
    let (_, body) = http_get(addr, "/metrics").await;
    assert!(body.contains(r#"tollgate_operator_drifts{namespace="ops",name="shop"} 1"#), "{body}");
    assert!(body.contains(r#"tollgate_operator_reconcile_total{controller="parity"}"#), "{body}");

    // Every request the operator made (fixtures were seeded without HTTP) is allowed by the
    // generated least-privilege RBAC.
    assert_rbac_allows(&server.requests());

    // SIGTERM stand-in: a graceful stop releases the Lease.
    stop_tx.send(()).unwrap();
    within("the operator to stop", operator).await.unwrap().unwrap();
    assert_eq!(holder(&server), None);
    assert!(TcpStream::connect(addr).await.is_err(), "the HTTP port is closed after shutdown");
}

/// (apiGroup, resource[/subresource], verb) of a recorded request, and its namespace.
fn access(r: &support::RecordedRequest) -> (String, String, &'static str, Option<String>) {
    let segments: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", group, _, rest @ ..] => (*group, rest),
        _ => panic!("unexpected path {}", r.path),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        other => (None, other),
    };
    let (resource, named) = match rest {
        [plural] => ((*plural).to_owned(), false),
        [plural, _] => ((*plural).to_owned(), true),
        [plural, _, sub] => (format!("{plural}/{sub}"), true),
        _ => panic!("unexpected path {}", r.path),
    };
    let verb = match (r.method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if r.query.contains("watch=true") => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (m, _) => panic!("unexpected method {m}"),
    };
    (group.to_owned(), resource, verb, namespace)
}

fn assert_rbac_allows(requests: &[support::RecordedRequest]) {
    use k8s_openapi::api::rbac::v1::PolicyRule;
    let rbac = tollgate_operator::manifests::render()
        .unwrap()
        .into_iter()
        .find(|m| m.file_name == "rbac.yaml")
        .unwrap();
    let (mut cluster, mut local) = (Vec::<PolicyRule>::new(), Vec::<PolicyRule>::new());
    for doc in serde_yaml_ng::Deserializer::from_str(&rbac.contents) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        let rules: Vec<PolicyRule> =
            serde_json::from_value(value["rules"].clone()).unwrap_or_default();
        match value["kind"].as_str() {
            Some("ClusterRole") => cluster.extend(rules),
            Some("Role") => local.extend(rules),
            _ => {}
        }
    }
    let allows = |rules: &[PolicyRule], group: &str, resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r.api_groups.as_ref().is_some_and(|g| g.iter().any(|g| g == group))
                && r.resources.as_ref().is_some_and(|rs| rs.iter().any(|x| x == resource))
                && r.verbs.iter().any(|v| v == verb)
        })
    };
    let mut checked = 0;
    for request in requests {
        let (group, resource, verb, namespace) = access(request);
        let in_own_namespace =
            namespace.as_deref() == Some(tollgate_operator::manifests::NAMESPACE);
        assert!(
            allows(&cluster, &group, &resource, verb)
                || (in_own_namespace && allows(&local, &group, &resource, verb)),
            "RBAC does not allow {verb} {group}/{resource} in {namespace:?} ({} {}?{})",
            request.method,
            request.path,
            request.query
        );
        checked += 1;
    }
    assert!(checked > 10, "only {checked} requests were checked");
}

#[tokio::test]
async fn readyz_is_not_ready_until_the_api_answers() {
    let health = runtime::Health::default();
    assert!(health.readiness().is_err());
    health.set_leader(false);
    assert!(health.readiness().is_err(), "the API probe has not passed");
    health.set_api_ready();
    assert_eq!(health.readiness(), Ok("standby"));
    health.set_leader(true);
    assert_eq!(health.readiness(), Ok("leader"));
}

/// A kubeconfig pointing at the fake API server (plain HTTP, no credentials).
pub(crate) fn kubeconfig_for(server: &FakeApiServer, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\n\
         users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
         current-context: fake\n",
        server.addr()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Kills the child process if the test fails before it exits.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the child's JSON log lines from stderr until the one announcing the HTTP address
/// (`--http-addr 127.0.0.1:0` lets the child pick a free port itself, so no port is reserved
/// and released first, which another test in this process could grab in between); the rest
/// of stderr is drained in the background so the child never blocks on a full pipe.
fn http_addr_from_log(stderr: std::process::ChildStderr) -> std::sync::mpsc::Receiver<SocketAddr> {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if let Some(addr) = event["http_addr"].as_str().and_then(|a| a.parse().ok()) {
                let _ = tx.send(addr);
            }
        }
    });
    rx
}

/// The real binary: `tollgate-operator run` against the fake API server leads, serves its
/// endpoints, and on SIGTERM stops, releases the Lease and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_cleanly_on_sigterm_and_releases_the_lease() {
    let (server, _) = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&server, dir.path());
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_tollgate-operator"))
            .args([
                "run",
                "--http-addr",
                "127.0.0.1:0",
                "--identity",
                "pod-1",
                "--namespace",
                "tollgate-system",
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn,tollgate_operator=info")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start tollgate-operator"),
    );
    let addrs = http_addr_from_log(child.0.stderr.take().expect("piped stderr"));
    // Off the async workers: the fake API server runs on them.
    let addr = tokio::task::spawn_blocking(move || addrs.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the binary logs the address it serves on");
    assert_ne!(addr.port(), 0, "the logged address is the bound one");

    within("the binary to lead", async {
        loop {
            if let Ok(mut stream) = TcpStream::connect(addr).await {
                let _ = stream
                    .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await;
                let mut body = String::new();
                let _ = stream.read_to_string(&mut body).await;
                if body.contains("ok (leader)") {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert_eq!(holder(&server).as_deref(), Some("pod-1"));

    let pid = child.0.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = within("the binary to exit", async {
        loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert_eq!(holder(&server), None, "the Lease is released on the way out");
}

/// Runs the operator in-process with leader election as `identity`, until it leads as far as
/// it knows itself (its `/readyz`), not only as the Lease says; it runs until it fails.
async fn leading_operator(
    client: kube::Client,
    identity: &str,
) -> tokio::task::JoinHandle<Result<(), runtime::RuntimeError>> {
    let ctx = Context::new(
        client,
        Arc::new(Metrics::new()),
        Arc::new(InProcessExecutor),
        Arc::new(SystemClock),
    );
    let listener = runtime::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = RunConfig {
        http_addr: addr,
        leader_election: Some(lease_config(identity)),
        watch_namespaces: vec![],
    };
    let operator = tokio::spawn(runtime::run(ctx, config, listener, std::future::pending()));
    within(&format!("{identity} to lead"), async {
        while !http_get(addr, "/readyz").await.1.contains("ok (leader)") {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    operator
}

/// A leader whose Lease is taken over (here: rewritten by another holder) stops its
/// controllers and ends with `LostLeadership`, so the process restarts as a standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_lease_stops_the_operator_with_an_error() {
    let (server, client) = FakeApiServer::start().await;
    let operator = leading_operator(client, "replica-x").await;

    let mut lease: Lease = server.get("tollgate-system", "tollgate-operator").unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("usurper".into());
    spec.lease_duration_seconds = Some(3600);
    spec.renew_time =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now()));
    server.upsert(&lease);

    let ended = within("the operator to notice", operator).await.unwrap();
    match ended {
        Err(runtime::RuntimeError::LostLeadership { name, .. }) => {
            assert_eq!(name, "tollgate-operator")
        }
        other => panic!("expected LostLeadership, got {other:?}"),
    }
    assert_ne!(
        holder(&server).as_deref(),
        Some("replica-x"),
        "the stopped replica does not hold the Lease"
    );
}

/// A leader cut off from the API server steps down before its Lease expires (its lease manager
/// alone would keep retrying and never report the loss, while a standby takes the Lease over):
/// the fake API server is dropped, so every request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_steps_down() {
    let (server, client) = FakeApiServer::start().await;
    let operator = leading_operator(client, "replica-y").await;
    // Leading steadily through several renewals (lease 2 s, grace 1 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!operator.is_finished(), "a leader that can renew keeps leading");
    let lease: Lease = server.get("tollgate-system", "tollgate-operator").unwrap();
    let renewed = lease.spec.and_then(|s| s.renew_time).expect("renewed").0;
    let expires = renewed + jiff::SignedDuration::from_secs(2);

    drop(server);
    let ended = within("the cut-off leader to step down", operator).await.unwrap();
    let stepped_down = jiff::Timestamp::now();
    assert!(
        matches!(ended, Err(runtime::RuntimeError::LostLeadership { .. })),
        "expected LostLeadership, got {ended:?}"
    );
    // Before a standby could take over: within about one lease duration of the last renewal
    // the test saw (a later renewal may have happened before the server went away).
    assert!(
        stepped_down < expires + jiff::SignedDuration::from_secs(2),
        "stepped down at {stepped_down}, the Lease seen expired at {expires}"
    );
}

/// Seeds EnvironmentParity `ops/shop` over namespaces `dev` and `prod`, whose ConfigMap
/// `settings` differs in one key: one drift for the parity controller to find.
pub(crate) fn seed_drifting_parity(server: &FakeApiServer) {
    for (ns, value) in [("dev", "new"), ("prod", "old")] {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "settings", "namespace": ns},
            "data": {"mode": value},
        }))
        .unwrap();
        server.upsert(&cm);
    }
    let parity: EnvironmentParity = serde_json::from_value(json!({
        "apiVersion": "tollgate.dev/v1alpha1", "kind": "EnvironmentParity",
        "metadata": {"name": "shop", "namespace": "ops"},
        "spec": {
            "environments": [{"name": "dev", "namespace": "dev"}, {"name": "prod", "namespace": "prod"}],
            "dimensions": ["configMaps"],
        },
    }))
    .unwrap();
    server.upsert(&parity);
}

/// A namespaced operator (`--watch-namespace team-a`) against the fake API server: it
/// reconciles team-a's objects, leaves team-b's alone, sends no request outside team-a (no
/// cluster-wide list or watch, so the Roles of a namespaced install suffice), and reports an
/// EnvironmentParity environment in an unwatched namespace as unreadable instead of comparing
/// it as empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespaced_operator_stays_in_its_namespaces() {
    use tollgate_operator::crd::backup::{Backup, BackupSpec};
    use tollgate_operator::crd::parity::{Environment, EnvironmentParitySpec};
    let (server, client) = FakeApiServer::start().await;
    let backup = |ns: &str| {
        let mut b = Backup::new(
            "manual",
            BackupSpec { policy_ref: "missing".into(), scheduled_time: None },
        );
        b.metadata.namespace = Some(ns.into());
        b
    };
    server.upsert(&backup("team-a"));
    server.upsert(&backup("team-b"));
    let env = |name: &str| Environment {
        name: name.into(),
        namespace: name.into(),
        kubeconfig_secret_ref: None,
        selector: None,
        health: None,
    };
    let mut parity = EnvironmentParity::new(
        "teams",
        EnvironmentParitySpec {
            environments: vec![env("team-a"), env("team-b")],
            dimensions: vec![],
            ignore: vec![],
            allowed_lag: None,
            interval_seconds: Some(600),
        },
    );
    parity.metadata.namespace = Some("team-a".into());
    server.upsert(&parity);

    let ctx = Context::new(
        client,
        Arc::new(Metrics::new()),
        Arc::new(InProcessExecutor),
        Arc::new(SystemClock),
    );
    let listener = runtime::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = RunConfig {
        http_addr: addr,
        leader_election: None,
        watch_namespaces: vec!["team-a".into()],
    };
    let operator = tokio::spawn(runtime::run(ctx, config, listener, async {
        let _ = stop_rx.await;
    }));

    let status = support::eventually("team-a's Backup to be judged", || {
        server.get::<Backup>("team-a", "manual")?.status
    })
    .await;
    assert!(status.conditions.iter().any(|c| c.reason == "PolicyNotFound"), "{status:?}");
    let unreadable = support::eventually("the unwatched environment reported", || {
        let p: EnvironmentParity = server.get("team-a", "teams")?;
        p.status?.environments.into_iter().find(|e| e.name == "team-b")?.error
    })
    .await;
    assert!(unreadable.contains("namespace team-b is not watched"), "{unreadable}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.get::<Backup>("team-b", "manual").unwrap().status.is_none(), "team-b untouched");

    let outside: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| {
            !r.path.contains("/namespaces/team-a/") && !r.path.ends_with("/namespaces/team-a")
        })
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    assert!(outside.is_empty(), "requests outside team-a: {outside:#?}");

    let _ = stop_tx.send(());
    within("the operator to stop", operator).await.unwrap().unwrap();
}

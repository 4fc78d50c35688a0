//! How work runs, against the fake API server (`tests/support`) and, where work really runs, a
//! real PostgreSQL with the real `pg_dump` (as in `backup`):
//!
//! - claims are compare-and-swap on `resourceVersion`: two reconcilers that read the same
//!   Pending Backup race to claim it and exactly one runs the backup. The fake server enforces
//!   `metadata.resourceVersion` preconditions on `/status` writes, and was extended with request
//!   rules (`hold_requests`) to make the race certain: both claims are sent before either is
//!   applied;
//! - work limits: a backup beyond the limit waits in the queue, visible in status and metrics;
//! - error backoff: repeated failures of one object are retried after growing delays and the
//!   count resets on success (the fake was extended with `fail_requests` to fail the reads);
//! - the Job executor: work handed to the worker as a mounted Secret file (nothing secret in the
//!   Job), and worker pods that never start, are evicted or deleted (the fake holds pods in
//!   whatever status the test writes, playing the kubelet).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams};
use tollgate_operator::backoff::{BackoffPolicy, ErrorBackoff, object_key};
use tollgate_operator::conditions;
use tollgate_operator::context::Context;
use tollgate_operator::controllers::backup as backup_ctl;
use tollgate_operator::crd::backup::{Backup, BackupPhase, BackupSpec};
use tollgate_operator::executor::job::{JobConfig, JobExecutor, WORK_FILE, WORK_KEY, job_name};
use tollgate_operator::executor::limits::{Limits, WorkClass, WorkLimits};
use tollgate_operator::executor::{
    ExecError, Executor, FailureReason, InProcessExecutor, Outcome, SecretString, StoreCredentials,
    StoreTarget, VerifyTier, Work,
};
use tollgate_operator::metrics::Metrics;

use crate::backup::{NS, TestClock, context, eventually, meta, policy, secret, seed, stored_ids};
use crate::support::FakeApiServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn manual_backup(name: &str, policy: &str) -> Backup {
    Backup {
        metadata: meta(name),
        spec: BackupSpec { policy_ref: policy.into(), scheduled_time: None },
        status: None,
    }
}

fn status_path(name: &str) -> String {
    format!("/apis/tollgate.dev/v1alpha1/namespaces/{NS}/backups/{name}/status")
}

/// Two reconcilers (two clients, two contexts, as two operator replicas that both believe they
/// lead) read the same Pending Backup and both try to claim it; the fake server holds both
/// claims until both were sent. The claims carry the resourceVersion they read, so exactly one
/// is applied and exactly one backup is dumped; the loser leaves the Backup alone.
#[test]
fn two_claims_of_one_backup_run_it_once() {
    let db = tollgate_db::testing::scratch_database("op_race");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    let url = format!("file://{}", store.path().display());
    runtime().block_on(async {
        let (server, client) = FakeApiServer::start().await;
        server.upsert(&secret("app-db", &[("url", db.url())]));
        server.upsert(&policy("race", &url, serde_json::json!({ "schedule": "0 3 1 1 *" })));
        server.upsert(&manual_backup("race-manual", "race"));
        let clock = Arc::new(TestClock(Mutex::new(Timestamp::now())));
        let (first, _) = context(client, clock.clone());
        let (second, _) = context(server.client(), clock);
        server.hold_requests("PATCH", &status_path("race-manual"), 2);
        let cached = Arc::new(server.get::<Backup>(NS, "race-manual").expect("the Backup"));
        let (a, b) = tokio::join!(
            backup_ctl::reconcile(cached.clone(), first),
            backup_ctl::reconcile(cached, second)
        );
        a.expect("the first reconcile");
        b.expect("the second reconcile");
        let ids = stored_ids(&url);
        assert_eq!(ids.len(), 1, "exactly one claim ran the backup: {ids:?}");
        let s = server.get::<Backup>(NS, "race-manual").unwrap().status.unwrap();
        assert_eq!(s.phase, BackupPhase::Succeeded, "{:?}", s.message);
        assert_eq!(s.attempts, 1, "one attempt, not two");
        assert_eq!(s.backup_id.as_deref(), Some(ids[0].as_str()));
    });
}

/// Runs work in-process and records the kind of each item it was handed.
struct CountingExecutor {
    runs: Arc<Mutex<Vec<&'static str>>>,
}

impl Executor for CountingExecutor {
    fn run(&self, work: Work) -> futures::future::BoxFuture<'static, Result<Outcome, ExecError>> {
        let kind = match &work {
            Work::Verify { .. } => "verify",
            Work::Restore { .. } => "restore",
            Work::Backup { .. } => "backup",
            _ => "other",
        };
        self.runs.lock().unwrap().push(kind);
        InProcessExecutor.run(work)
    }
}

/// Two reconcilers read the same Pending Restore (a drill of a real backup) and both try to
/// claim it; the fake server holds both claims until both were sent. Exactly one claim is
/// applied, so the verification runs once and the Restore records one result.
#[test]
fn two_claims_of_one_restore_run_it_once() {
    use tollgate_operator::controllers::restore as restore_ctl;
    use tollgate_operator::crd::backup::{
        BackupStatus, Restore, RestoreMode, RestorePhase, RestoreSpec, VerifyTier,
    };
    let db = tollgate_db::testing::scratch_database("op_restore_race");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    let url = format!("file://{}", store.path().display());
    let info = tollgate_db::backup::backup(
        &tollgate_db::store::Store::open(&url).expect("the store"),
        &tollgate_db::backup::BackupOptions { database_url: db.url().into(), recipients: vec![] },
    )
    .expect("a real backup");
    runtime().block_on(async {
        let (server, client) = FakeApiServer::start().await;
        server.upsert(&secret("app-db", &[("url", db.url())]));
        server.upsert(&policy("drills", &url, serde_json::json!({ "schedule": "0 3 1 1 *" })));
        let mut backup = manual_backup("nightly", "drills");
        backup.status = Some(BackupStatus {
            phase: BackupPhase::Succeeded,
            backup_id: Some(info.id.clone()),
            ..Default::default()
        });
        server.upsert(&backup);
        let restore = Restore {
            metadata: meta("drill"),
            spec: RestoreSpec {
                backup_ref: "nightly".into(),
                mode: RestoreMode::Verify,
                target_database_secret_ref: None,
                replace: false,
                tier: Some(VerifyTier::Checksum),
            },
            status: None,
        };
        server.upsert(&restore);
        let runs = Arc::new(Mutex::new(Vec::new()));
        let clock = Arc::new(TestClock(Mutex::new(Timestamp::now())));
        let replica = |client: kube::Client| {
            Arc::new(Context::new(
                client,
                Arc::new(Metrics::new()),
                Arc::new(CountingExecutor { runs: runs.clone() }),
                clock.clone(),
            ))
        };
        let (first, second) = (replica(client), replica(server.client()));
        let status_path =
            format!("/apis/tollgate.dev/v1alpha1/namespaces/{NS}/restores/drill/status");
        server.hold_requests("PATCH", &status_path, 2);
        let cached = Arc::new(server.get::<Restore>(NS, "drill").expect("the Restore"));
        let (a, b) = tokio::join!(
            restore_ctl::reconcile(cached.clone(), first),
            restore_ctl::reconcile(cached, second)
        );
        a.expect("the first reconcile");
        b.expect("the second reconcile");
        assert_eq!(*runs.lock().unwrap(), ["verify"], "exactly one claim ran the drill");
        let s = server.get::<Restore>(NS, "drill").unwrap().status.unwrap();
        assert_eq!(s.phase, RestorePhase::Succeeded, "{:?}", s.message);
        assert_eq!(s.passed, Some(true));
        assert_eq!(s.backup_id.as_deref(), Some(info.id.as_str()));
    });
}

/// With one backup slot taken, a claimed Backup waits in the queue: Running (its lease held),
/// `Reconciling` with reason `Queued` and its position, counted by the queue gauges. When the
/// slot frees, it runs and succeeds.
#[test]
fn a_backup_beyond_the_limit_waits_in_the_queue_and_says_so() {
    let db = tollgate_db::testing::scratch_database("op_queue");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    let url = format!("file://{}", store.path().display());
    runtime().block_on(async {
        let (server, client) = FakeApiServer::start().await;
        server.upsert(&secret("app-db", &[("url", db.url())]));
        server.upsert(&policy("queued", &url, serde_json::json!({ "schedule": "0 3 1 1 *" })));
        let metrics = Arc::new(Metrics::new());
        let clock = Arc::new(TestClock(Mutex::new(Timestamp::now())));
        let mut ctx = Context::new(client, metrics.clone(), Arc::new(InProcessExecutor), clock);
        ctx.limits =
            Arc::new(WorkLimits::new(Limits { backups: 1, ..Limits::default() }, metrics.clone()));
        let ctx = Arc::new(ctx);
        // Another backup holds the only slot.
        let mut other = ctx.limits.enter(WorkClass::Backup);
        let held = other.admit().await;

        server.upsert(&manual_backup("queued-manual", "queued"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let controller = tokio::spawn(backup_ctl::run(ctx.clone(), async move {
            let _ = rx.await;
        }));
        let queued = eventually("the Backup to show its place in the queue", || {
            let s = server.get::<Backup>(NS, "queued-manual")?.status?;
            let c = conditions::get(&s.conditions, conditions::RECONCILING)?.clone();
            (c.reason == "Queued").then_some((s, c))
        })
        .await;
        assert_eq!(queued.0.phase, BackupPhase::Running, "claimed while it waits");
        assert!(queued.0.lease_expires.is_some());
        assert_eq!(
            queued.1.message,
            "waiting for a work slot: position 1 of 1 in the backup queue (1 of 1 running)"
        );
        let text = metrics.render();
        assert!(text.contains("tollgate_operator_work_queued{kind=\"backup\"} 1"), "{text}");
        assert!(text.contains("tollgate_operator_work_running{kind=\"backup\"} 1"), "{text}");
        assert!(stored_ids(&url).is_empty(), "nothing dumped while queued");

        drop(held);
        let done = eventually("the queued Backup to run", || {
            let s = server.get::<Backup>(NS, "queued-manual")?.status?;
            (s.phase == BackupPhase::Succeeded).then_some(s)
        })
        .await;
        assert_eq!(stored_ids(&url), vec![done.backup_id.clone().unwrap()]);
        let reconciling = conditions::get(&done.conditions, conditions::RECONCILING).unwrap();
        assert_eq!(
            (reconciling.status.as_str(), reconciling.reason.as_str()),
            ("False", "Finished")
        );
        let text = metrics.render();
        assert!(text.contains("tollgate_operator_work_queued{kind=\"backup\"} 0"), "{text}");
        assert!(text.contains("tollgate_operator_work_running{kind=\"backup\"} 0"), "{text}");
        let _ = tx.send(());
        controller.await.unwrap();
    });
}

/// A Backup whose reads fail (the fake answers 500 four times) is retried after growing delays
/// (base, 2×, 4×, 8×; jitter off here), not every 15 s; the successful reconcile resets the
/// count, so the next failure is retried after the base delay again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_reconciles_back_off_per_object_and_reset_on_success() {
    let (server, client) = FakeApiServer::start().await;
    let path = format!("/apis/tollgate.dev/v1alpha1/namespaces/{NS}/backups/flaky");
    server.fail_requests("GET", &path, 4);
    server.upsert(&manual_backup("flaky", "missing-policy"));
    let base = Duration::from_millis(300);
    let clock = Arc::new(TestClock(Mutex::new(Timestamp::now())));
    let mut ctx =
        Context::new(client, Arc::new(Metrics::new()), Arc::new(InProcessExecutor), clock);
    ctx.backoff = Arc::new(ErrorBackoff::new(BackoffPolicy {
        base,
        max: Duration::from_secs(60),
        jitter: 0.0,
    }));
    let ctx = Arc::new(ctx);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(backup_ctl::run(ctx.clone(), async move {
        let _ = rx.await;
    }));
    let gets = |server: &FakeApiServer| -> Vec<std::time::Instant> {
        server
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .map(|r| r.at)
            .collect()
    };
    // The fifth read succeeds: the Backup stalls on its missing policy (a successful reconcile).
    crate::support::eventually_within(
        "the read after four failures",
        Duration::from_secs(30),
        || {
            let s = server.get::<Backup>(NS, "flaky")?.status?;
            conditions::get(&s.conditions, conditions::STALLED)
                .filter(|c| c.reason == "PolicyNotFound")
                .map(|_| ())
        },
    )
    .await;
    let times = gets(&server);
    assert!(times.len() >= 5, "{} reads", times.len());
    let gaps: Vec<Duration> = times.windows(2).take(4).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let nominal = base * (1 << i);
        assert!(
            *gap >= nominal.mul_f64(0.9) && *gap < nominal + Duration::from_secs(2),
            "retry {} after {gap:?}, expected about {nominal:?} (all gaps {gaps:?})",
            i + 1
        );
    }
    let key = object_key(backup_ctl::CONTROLLER, Some(NS), "flaky");
    assert_eq!(ctx.backoff.failures(&key), 0, "the success reset the count");

    // One more failure: retried after the base delay again, not after 16×.
    let before = gets(&server).len();
    server.fail_requests("GET", &path, 1);
    crate::backup::touch::<Backup>(&server, "flaky", 1);
    let times = crate::support::eventually("a failed read and its retry", || {
        let t = gets(&server);
        (t.len() >= before + 2).then_some(t)
    })
    .await;
    let gap = times[before + 1] - times[before];
    assert!(gap >= base.mul_f64(0.9) && gap < base * 2, "retried after {gap:?}");
    let _ = tx.send(());
    controller.await.unwrap();
}

fn job_config() -> JobConfig {
    let mut config = JobConfig::new(NS, "ghcr.io/tollgate-dev/tollgate-operator:test");
    config.poll_interval = Duration::from_millis(50);
    config.stall_timeout = Duration::from_millis(400);
    config
}

/// A work item full of secrets: database password, S3 secret key, age identity, scratch URL.
fn secret_work(store: &str) -> Work {
    Work::Verify {
        store: StoreTarget {
            url: store.into(),
            credentials: Some(StoreCredentials {
                access_key_id: SecretString::new("AKIAWORKTEST"),
                secret_access_key: SecretString::new("s3-secret-key-value"),
                session_token: None,
            }),
        },
        backup_id: "20261125T030000Z-abcdef".into(),
        tier: VerifyTier::Restore,
        scratch_server_url: Some(SecretString::new("postgresql://admin:hunter2@db:5432/postgres")),
        identities: Some(SecretString::new("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ")),
        queries: vec![],
        record: true,
    }
}

fn finished_pod(job: &str, exit_code: i32, message: &str) -> Pod {
    pod(
        job,
        serde_json::json!({
            "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
            "containerStatuses": [{
                "name": "work", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": {"terminated": {"exitCode": exit_code, "message": message}}
            }]
        }),
    )
}

/// A worker pod of `job` with this status (the test plays the kubelet).
fn pod(job: &str, status: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{job}-w0rk1"), "namespace": NS, "labels": {"job-name": job}},
        "status": status,
    }))
    .expect("a Pod")
}

fn waiting_pod(job: &str, reason: &str, message: &str) -> Pod {
    pod(
        job,
        serde_json::json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{
                "name": "work", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": {"waiting": {"reason": reason, "message": message}}
            }]
        }),
    )
}

/// The Job executor hands the work to the worker as a file of a mounted Secret: the Job (its
/// pod spec: args, env, everything) holds none of the work's secrets, its container gets only
/// the file path, and the Secret — owned by the Job, so garbage-collected with it — holds the
/// work. The real worker binary reads the file and its result comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_workers_read_their_work_from_a_mounted_secret_owned_by_the_job() {
    let (server, client) = FakeApiServer::start().await;
    let executor = JobExecutor::new(client, job_config());
    let work = secret_work("s3://bucket/backups?endpoint=http://127.0.0.1:1");
    let name = job_name(&work);
    let running = tokio::spawn({
        let (executor, work) = (executor.clone(), work.clone());
        async move { executor.run(work).await }
    });
    let (job, secret) = eventually("the Job and its Secret", || {
        Some((server.get::<Job>(NS, &name)?, server.get::<Secret>(NS, &name)?))
    })
    .await;
    let job_text = serde_json::to_string(&job).unwrap();
    for value in ["hunter2", "s3-secret-key-value", "AKIAWORKTEST", "AGE-SECRET-KEY-1"] {
        assert!(!job_text.contains(value), "{value} leaked into the Job: {job_text}");
    }
    let pod_spec = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let container = &pod_spec.containers[0];
    assert_eq!(
        container.args.as_deref().unwrap(),
        ["work".to_owned(), "--work-file".to_owned(), WORK_FILE.to_owned()]
    );
    assert!(container.env.as_ref().is_none_or(Vec::is_empty), "{:?}", container.env);
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| WORK_FILE.starts_with(&m.mount_path))
        .unwrap();
    assert_eq!(mount.read_only, Some(true));
    let volume = pod_spec.volumes.iter().flatten().find(|v| v.name == mount.name).unwrap();
    assert_eq!(volume.secret.as_ref().unwrap().secret_name.as_deref(), Some(name.as_str()));

    let owners = secret.metadata.owner_references.clone().expect("the Secret has an owner");
    assert_eq!(owners.len(), 1);
    assert_eq!((owners[0].kind.as_str(), owners[0].name.as_str()), ("Job", name.as_str()));
    assert_eq!(Some(&owners[0].uid), job.metadata.uid.as_ref(), "owned by this Job");
    let data = secret.data.clone().expect("data");
    let json = String::from_utf8(data[WORK_KEY].0.clone()).unwrap();
    assert_eq!(serde_json::from_str::<Work>(&json).unwrap(), work, "the Secret holds the work");
    running.abort();

    // The real worker binary reads its work from such a file (a retention dry run on an empty
    // local store: no database needed) and writes the result where the executor reads it.
    let store = tempfile::tempdir().unwrap();
    let retention = Work::Retention {
        store: StoreTarget { url: format!("file://{}", store.path().display()), credentials: None },
        database: "app".into(),
        rules: tollgate_operator::executor::RetentionPolicy { keep_last: 1, ..Default::default() },
        must_include: vec![],
        now: "2026-11-25T03:00:00Z".into(),
        dry_run: true,
    };
    let retention_name = job_name(&retention);
    let running = tokio::spawn({
        let (executor, work) = (executor.clone(), retention.clone());
        async move { executor.run(work).await }
    });
    let secret: Secret =
        eventually("the retention Secret", || server.get(NS, &retention_name)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(WORK_KEY);
    std::fs::write(&file, &secret.data.unwrap()[WORK_KEY].0).unwrap();
    let log = dir.path().join("termination-log");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate-operator"))
        .arg("work")
        .arg("--work-file")
        .arg(&file)
        .arg("--termination-log")
        .arg(&log)
        .output()
        .expect("the worker binary runs");
    assert!(status.status.success(), "{status:?}");
    server.upsert(&finished_pod(&retention_name, 0, &std::fs::read_to_string(&log).unwrap()));
    let mut job: Job = server.get(NS, &retention_name).unwrap();
    job.status = Some(JobStatus { succeeded: Some(1), ..Default::default() });
    server.upsert(&job);
    let outcome = tokio::time::timeout(Duration::from_secs(30), running).await.unwrap().unwrap();
    assert!(matches!(outcome, Ok(Outcome::RetentionApplied { .. })), "{outcome:?}");

    // A missing work file is a usage error (exit 2) naming the file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate-operator"))
        .args(["work", "--work-file", "/nonexistent/work.json", "--termination-log"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/work.json"));
}

/// Runs `work` through a Job executor; once its Job exists, `kubelet` plays the pod's life.
async fn run_with_pod<F>(
    work: Work,
    kubelet: F,
) -> (Result<Outcome, ExecError>, FakeApiServer, Duration)
where
    F: AsyncFnOnce(&FakeApiServer, &str),
{
    let (server, client) = FakeApiServer::start().await;
    let executor = JobExecutor::new(client, job_config());
    let name = job_name(&work);
    let started = std::time::Instant::now();
    let running = tokio::spawn(async move { executor.run(work).await });
    eventually("the Job", || server.get::<Job>(NS, &name)).await;
    kubelet(&server, &name).await;
    let result = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the executor gives an answer")
        .unwrap();
    (result, server, started.elapsed())
}

fn store(n: u32) -> String {
    format!("s3://bucket/case-{n}")
}

/// A worker pod that cannot pull its image (ErrImagePull, then ImagePullBackOff) for longer
/// than the stall timeout fails the work as WorkerStalled with the pod's reason and message;
/// the Job and its Secret are deleted (the pod would never start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_pull_its_image_is_reported_stalled() {
    let work = secret_work(&store(1));
    let name = job_name(&work);
    let (result, server, elapsed) = run_with_pod(work, async |server, job| {
        server.upsert(&waiting_pod(job, "ErrImagePull", "rpc error: manifest unknown"));
        tokio::time::sleep(Duration::from_millis(150)).await;
        server.upsert(&waiting_pod(
            job,
            "ImagePullBackOff",
            "Back-off pulling image \"ghcr.io/tollgate-dev/tollgate-operator:test\"",
        ));
    })
    .await;
    match result {
        Err(ExecError::Failed { reason: FailureReason::WorkerStalled, message }) => {
            assert!(message.contains("ImagePullBackOff"), "{message}");
            assert!(message.contains("Back-off pulling image"), "{message}");
            assert!(message.contains(&format!("{name}-w0rk1")), "names the pod: {message}");
        }
        other => panic!("expected WorkerStalled, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(400), "not before the stall timeout: {elapsed:?}");
    assert!(!FailureReason::WorkerStalled.transient(), "someone must fix the image");
    assert!(!server.exists::<Job>(NS, &name) && !server.exists::<Secret>(NS, &name));
}

/// An unschedulable worker pod (PodScheduled False, reason Unschedulable) is reported the same
/// way, with the scheduler's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_worker_is_reported_stalled() {
    let (result, _server, _) = run_with_pod(secret_work(&store(2)), async |server, job| {
        server.upsert(&pod(job, serde_json::json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory."}]
        })));
    })
    .await;
    match result {
        Err(ExecError::Failed { reason: FailureReason::WorkerStalled, message }) => {
            assert!(message.contains("Unschedulable: 0/3 nodes are available"), "{message}");
        }
        other => panic!("expected WorkerStalled, got {other:?}"),
    }
}

/// A pod that is only slow to start (ContainerCreating, then running and finishing) is not
/// mistaken for a stuck one, however long it takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_healthy_worker_is_not_stalled() {
    let work = secret_work(&store(3));
    let (result, _server, _) = run_with_pod(work, async |server, job| {
        server.upsert(&waiting_pod(job, "ContainerCreating", ""));
        tokio::time::sleep(Duration::from_millis(800)).await;
        let failed = ExecError::failed(FailureReason::BackupNotFound, "no such backup");
        let message = tollgate_operator::executor::termination_message(&Err(failed));
        server.upsert(&finished_pod(job, 1, &message));
        let mut j: Job = server.get(NS, job).unwrap();
        j.status = Some(JobStatus { failed: Some(1), ..Default::default() });
        server.upsert(&j);
    })
    .await;
    assert!(
        matches!(&result, Err(ExecError::Failed { reason: FailureReason::BackupNotFound, .. })),
        "{result:?}"
    );
}

/// An evicted worker pod is reported as evicted, with the kubelet's message (a transient
/// executor error: the controller retries), not as a missing result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_worker_is_reported_as_evicted() {
    let (result, _server, _) =
        run_with_pod(secret_work(&store(4)), async |server, job| {
            server.upsert(&pod(job, serde_json::json!({
            "phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory. Container work was using 812Mi."
        })));
        })
        .await;
    match &result {
        Err(e @ ExecError::Executor { message }) => {
            assert!(
                message.contains("was evicted: The node was low on resource: memory"),
                "{message}"
            );
            assert!(e.transient());
        }
        other => panic!("expected an eviction, got {other:?}"),
    }
}

/// A worker pod deleted before it finished (the Job then fails) is reported as deleted, not as
/// "no pod to read the result from".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_worker_is_reported_as_deleted() {
    let (result, _server, _) = run_with_pod(secret_work(&store(5)), async |server, job| {
        server.upsert(&pod(job, serde_json::json!({"phase": "Running"})));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pods: Api<Pod> = Api::namespaced(server.client(), NS);
        pods.delete(&format!("{job}-w0rk1"), &DeleteParams::default()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut j: Job = server.get(NS, job).unwrap();
        j.status = Some(JobStatus { failed: Some(1), ..Default::default() });
        server.upsert(&j);
    })
    .await;
    match &result {
        Err(ExecError::Executor { message }) => {
            assert!(message.contains("was deleted before its result was read"), "{message}");
            assert!(!message.contains("no pod to read the result from"), "{message}");
        }
        other => panic!("expected a deleted pod, got {other:?}"),
    }
}

/// The queue gauges are exported for every kind from the start (0 when idle).
#[test]
fn every_work_kind_has_queue_gauges() {
    let metrics = Arc::new(Metrics::new());
    let _limits = WorkLimits::new(Limits::default(), metrics.clone());
    let text = metrics.render();
    for kind in ["backup", "restore-verify", "migration"] {
        for series in ["work_queued", "work_running"] {
            let line = format!("tollgate_operator_{series}{{kind=\"{kind}\"}} 0");
            assert!(text.contains(&line), "{line} missing: {text}");
        }
    }
}

/// In Job mode, a Backup whose worker pod cannot pull its image ends Failed and Stalled with
/// reason WorkerStalled and the pod's reason and message (someone must fix the image), instead
/// of waiting out the Job's six-hour deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_whose_worker_never_starts_is_stalled_with_the_pods_reason() {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&secret("app-db", &[("url", "postgresql://app:hunter2@db.invalid/app")]));
    server.upsert(&policy(
        "jobbed",
        "s3://bucket/jobbed",
        serde_json::json!({ "schedule": "0 3 1 1 *" }),
    ));
    server.upsert(&manual_backup("jobbed-manual", "jobbed"));
    let executor = Arc::new(JobExecutor::new(client.clone(), job_config()));
    let clock = Arc::new(TestClock(Mutex::new(Timestamp::now())));
    let ctx = Arc::new(Context::new(client, Arc::new(Metrics::new()), executor, clock));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(backup_ctl::run(ctx, async move {
        let _ = rx.await;
    }));
    let job: Job = eventually("the backup's Job", || server.list::<Job>().into_iter().next()).await;
    let job_name = job.metadata.name.clone().unwrap();
    server.upsert(&waiting_pod(
        &job_name,
        "ImagePullBackOff",
        "Back-off pulling image \"registry.invalid/op:1\"",
    ));
    let s = eventually("the Backup to stall", || {
        let s = server.get::<Backup>(NS, "jobbed-manual")?.status?;
        (s.phase == BackupPhase::Failed).then_some(s)
    })
    .await;
    let stalled = conditions::get(&s.conditions, conditions::STALLED).unwrap();
    assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "WorkerStalled"));
    assert!(
        stalled.message.contains("ImagePullBackOff: Back-off pulling image"),
        "{}",
        stalled.message
    );
    assert!(!server.exists::<Job>(NS, &job_name), "the Job that would never run is deleted");
    let _ = tx.send(());
    controller.await.unwrap();
}

/// A worker whose claim was taken over (its lease ran out and another worker claimed the
/// Backup) stops writing: its lease renewal or result is a compare-and-swap that fails, and
/// re-reading shows the claim is no longer its own, so the new owner's status stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_claim_writes_nothing_more() {
    use tollgate_operator::controllers::{Cas, write_status_cas};
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&manual_backup("taken", "p"));
    let api: Api<Backup> = Api::namespaced(client, NS);
    let mine = tollgate_operator::crd::backup::BackupStatus {
        phase: BackupPhase::Running,
        worker: Some(backup_ctl::worker_identity().to_owned()),
        attempts: 1,
        ..Default::default()
    };
    let read = api.get("taken").await.unwrap();
    let rv = match write_status_cas(
        &api,
        "taken",
        "backup",
        read.metadata.resource_version.as_deref(),
        &mine,
    )
    .await
    .unwrap()
    {
        Cas::Written(rv) => rv,
        Cas::Stale => panic!("the first claim wins"),
    };
    let mut writes =
        backup_ctl::ClaimedWrites::new(api.clone(), "taken", "backup", rv.clone(), |b: &Backup| {
            b.status.as_ref().and_then(|s| s.worker.as_deref())
                == Some(backup_ctl::worker_identity())
        });
    // An annotation edit moves the resourceVersion: the renewal re-reads and still writes.
    crate::backup::touch::<Backup>(&server, "taken", 1);
    let mut renewed = mine.clone();
    renewed.message = Some("renewed".into());
    assert!(writes.write(&renewed).await.unwrap(), "still our claim");
    // Another worker takes over.
    let mut theirs = server.get::<Backup>(NS, "taken").unwrap();
    let status = theirs.status.as_mut().unwrap();
    status.worker = Some("operator-1/99-1".into());
    status.attempts = 2;
    server.upsert(&theirs);
    let mut finished = renewed.clone();
    finished.phase = BackupPhase::Succeeded;
    assert!(!writes.write(&finished).await.unwrap(), "the lost claim writes nothing");
    assert!(writes.lost());
    let s = server.get::<Backup>(NS, "taken").unwrap().status.unwrap();
    assert_eq!(
        (s.worker.as_deref(), s.attempts, s.phase),
        (Some("operator-1/99-1"), 2, BackupPhase::Running)
    );
}

//! BackupPolicy, Backup and Restore controllers against the fake API server (`tests/support`: a
//! stand-in for kube-apiserver over a real socket, since none can run here), a real PostgreSQL
//! (`TOLLGATE_TEST_DATABASE_URL`) with the real `pg_dump`/`pg_restore`, and a real
//! S3-compatible server (moto, `TOLLGATE_TEST_S3_ENDPOINT`) — all started by `cargo xtask test`.
//! Work runs through the in-process executor; time comes from a clock the test advances.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ObjectMeta;
use tollgate_db::backup::{self, BackupStatus as StoredStatus};
use tollgate_db::store::Store;
use tollgate_operator::conditions;
use tollgate_operator::context::{Clock, Context};
use tollgate_operator::controllers::{backup as backup_ctl, backup_policy, restore as restore_ctl};
use tollgate_operator::crd::backup::{
    Backup, BackupPhase, BackupPolicy, BackupSpec, BackupStatus, POLICY_LABEL, Restore,
    RestoreMode, RestorePhase, RestoreSpec, SecretKeyRef,
};
use tollgate_operator::executor::InProcessExecutor;
use tollgate_operator::metrics::Metrics;

use crate::support::FakeApiServer;

pub(crate) const NS: &str = "db";

/// A clock the test moves by hand.
pub(crate) struct TestClock(pub(crate) Mutex<Timestamp>);

impl TestClock {
    fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

pub(crate) fn meta(name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: Some(NS.into()), ..Default::default() }
}

pub(crate) fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: meta(name),
        data: Some(
            data.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect(),
        ),
        ..Default::default()
    }
}

/// A fresh bucket on the moto server; returns the store URL.
fn s3_bucket(name: &str) -> String {
    let endpoint = tollgate_db::testing::s3_endpoint();
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(std::env::var_os(k).is_some(), "{k} is not set: run `cargo xtask test`");
    }
    let bucket = tollgate_db::testing::create_bucket(name);
    format!("s3://{bucket}/backups?endpoint={endpoint}")
}

/// Complete backups in the store (blocking; off the async workers).
pub(crate) fn stored_ids(url: &str) -> Vec<String> {
    tokio::task::block_in_place(|| {
        let store = Store::open(url).expect("the store opens");
        let mut ids: Vec<String> = backup::list(&store)
            .expect("the store lists")
            .into_iter()
            .filter(|b| b.status == StoredStatus::Complete)
            .map(|b| b.id)
            .collect();
        ids.sort();
        ids
    })
}

/// [`crate::support::eventually`] with a minute: backups and restores run real tools.
pub(crate) async fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    crate::support::eventually_within(what, Duration::from_secs(60), check).await
}

/// Touches an object (an annotation) so its controller reconciles now, not at its requeue.
pub(crate) fn touch<K>(server: &FakeApiServer, name: &str, n: usize)
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned + serde::Serialize,
{
    if let Some(mut obj) = server.get::<K>(NS, name) {
        obj.meta_mut().annotations = Some(BTreeMap::from([("test/touch".into(), n.to_string())]));
        server.upsert(&obj);
    }
}

pub(crate) fn policy(name: &str, store_url: &str, extra: serde_json::Value) -> BackupPolicy {
    let mut spec = serde_json::json!({
        "databaseSecretRef": { "name": "app-db", "key": "url" },
        "store": { "url": store_url },
        "schedule": "* * * * *",
        "leaseSeconds": 30
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tollgate.dev/v1alpha1", "kind": "BackupPolicy",
        "metadata": { "name": name, "namespace": NS },
        "spec": spec
    }))
    .expect("a BackupPolicy")
}

struct Running {
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn stop(self) {
        for s in self.stop {
            let _ = s.send(());
        }
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("graceful shutdown")
                .unwrap();
        }
    }
}

fn start_controllers(ctx: Arc<Context>) -> Running {
    let mut stop = Vec::new();
    let mut tasks = Vec::new();
    for which in 0..3 {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        stop.push(tx);
        let ctx = ctx.clone();
        tasks.push(match which {
            0 => tokio::spawn(backup_policy::run(ctx, shutdown)),
            1 => tokio::spawn(backup_ctl::run(ctx, shutdown)),
            _ => tokio::spawn(restore_ctl::run(ctx, shutdown)),
        });
    }
    Running { stop, tasks }
}

pub(crate) fn context(client: kube::Client, clock: Arc<TestClock>) -> (Arc<Context>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let ctx = Arc::new(Context::new(client, metrics.clone(), Arc::new(InProcessExecutor), clock));
    (ctx, metrics)
}

/// Creates the app's table (blocking, outside the runtime).
pub(crate) fn seed(db: &tollgate_db::testing::ScratchDb) {
    db.connect()
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text);
             INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .expect("seed the database");
}

/// The whole story on S3: a policy schedules runs as the clock advances, each run is one
/// Backup (named after its scheduled minute) that is dumped to S3 and test-restored; retention
/// keeps the newest two and deletes the oldest from the store and its Backup object; a drill
/// and a real restore run as Restores; a restore into a non-empty database is refused.
#[test]
fn scheduled_backups_are_verified_retained_and_restorable() {
    let db = tollgate_db::testing::scratch_database("op_backup");
    seed(&db);
    let target = tollgate_db::testing::scratch_database("op_restore");
    let store_url = s3_bucket("tg-op-backup");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(scheduled_story(&db, &target, &store_url));
}

async fn scheduled_story(
    db: &tollgate_db::testing::ScratchDb,
    target: &tollgate_db::testing::ScratchDb,
    store_url: &str,
) {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&secret("app-db", &[("url", db.url())]));
    server.upsert(&secret("scratch", &[("url", &tollgate_db::testing::server_url())]));
    server.upsert(&secret("target-db", &[("url", target.url())]));
    server.upsert(&policy(
        "nightly",
        store_url,
        serde_json::json!({
            "retention": { "keepLast": 2 },
            "verification": {
                "tier": "restore",
                "scratchServerSecretRef": { "name": "scratch", "key": "url" },
                "queries": ["SELECT count(*) = 3 FROM items"]
            }
        }),
    ));
    let created = server.get::<BackupPolicy>(NS, "nightly").unwrap().metadata.creation_timestamp;
    let clock = Arc::new(TestClock(Mutex::new(created.unwrap().0)));
    let (ctx, metrics) = context(client, clock.clone());
    let running = start_controllers(ctx);

    // Nothing is due before the first minute boundary after creation.
    let p = eventually("the policy's first status", || {
        server.get::<BackupPolicy>(NS, "nightly")?.status.filter(|s| s.next_schedule_time.is_some())
    })
    .await;
    assert!(server.list::<Backup>().is_empty(), "no run before the schedule says so");
    let first_run = p.next_schedule_time.unwrap().0;

    let mut names = Vec::new();
    for run in 0..3 {
        let t = first_run + SignedDuration::from_mins(run);
        clock.set(t + SignedDuration::from_secs(5));
        let name = format!("nightly-{}", t.strftime("%Y%m%d%H%M"));
        let mut n = 0;
        let b = eventually(&format!("Backup {name} to succeed"), || {
            n += 1;
            if n % 10 == 0 {
                touch::<BackupPolicy>(&server, "nightly", n);
            }
            let b: Backup = server.get(NS, &name)?;
            let s = b.status.clone()?;
            assert_ne!(s.phase, BackupPhase::Failed, "{name} failed: {:?}", s.message);
            (s.phase == BackupPhase::Succeeded).then_some(b)
        })
        .await;
        assert_eq!(b.spec.scheduled_time, Some(Time(t)));
        assert_eq!(b.metadata.labels.as_ref().unwrap()[POLICY_LABEL], "nightly");
        let s = b.status.unwrap();
        let v = s.verification.expect("verified after the backup");
        assert!(v.passed, "{:?}", v.problems);
        assert!(conditions::is_true(&s.conditions, conditions::LAST_VERIFICATION_SUCCEEDED));
        assert_eq!(s.attempts, 1);
        assert!(s.worker.is_none() && s.lease_expires.is_none(), "the lease is released");
        names.push((name, s.backup_id.unwrap()));
        // One Backup per run so far, never a burst (retention may already have removed one).
        let count = server.list::<Backup>().len();
        assert!(count <= run as usize + 1, "{count} Backups after {} runs", run + 1);
    }

    // Retention after the third: the oldest is gone from the store and as an object.
    let mut n = 0;
    let status = eventually("retention after the third backup", || {
        let s = server.get::<BackupPolicy>(NS, "nightly")?.status?;
        if s.retention.as_ref()?.after_backup.as_deref() == Some(names[2].0.as_str()) {
            return Some(s);
        }
        // Nudge the policy until retention is reported (it runs once per new backup; tests in
        // this binary run in parallel, so polls can be slow).
        n += 1;
        if n % 10 == 0 {
            touch::<BackupPolicy>(&server, "nightly", n);
        }
        None
    })
    .await;
    let retention = status.retention.clone().unwrap();
    assert_eq!(retention.deleted, [names[0].1.clone()]);
    assert_eq!((retention.kept, retention.deleted_total), (2, 1));
    let mut expected = vec![names[1].1.clone(), names[2].1.clone()];
    expected.sort();
    assert_eq!(stored_ids(store_url), expected, "the store keeps the newest two");
    eventually("the oldest Backup object to go", || {
        (!server.exists::<Backup>(NS, &names[0].0)).then_some(())
    })
    .await;
    assert!(server.exists::<Backup>(NS, &names[1].0));
    assert_eq!(status.last_successful_backup.as_deref(), Some(names[2].0.as_str()));
    assert_eq!(status.last_successful_backup_id.as_deref(), Some(names[2].1.as_str()));
    assert!(conditions::is_true(&status.conditions, conditions::LAST_BACKUP_SUCCEEDED));
    assert!(conditions::is_true(&status.conditions, conditions::READY));
    assert!(server.event_reasons_for(NS, "nightly").contains(&"RetentionApplied".to_owned()));
    let rendered = metrics.render();
    assert!(
        rendered.lines().any(|l| l.contains("nightly") && l.contains("last_backup")),
        "{rendered}"
    );

    // A drill of the newest backup, recorded on the Restore and shown on the policy.
    let mut drill = Restore::new(
        "drill-1",
        RestoreSpec {
            backup_ref: names[2].0.clone(),
            mode: RestoreMode::Verify,
            target_database_secret_ref: None,
            replace: false,
            tier: None,
        },
    );
    drill.metadata.namespace = Some(NS.into());
    drill.metadata.labels = Some(BTreeMap::from([(POLICY_LABEL.into(), "nightly".into())]));
    server.upsert(&drill);
    let d = eventually("the drill to finish", || {
        let s = server.get::<Restore>(NS, "drill-1")?.status?;
        matches!(s.phase, RestorePhase::Succeeded | RestorePhase::Failed).then_some(s)
    })
    .await;
    assert_eq!((d.phase, d.passed), (RestorePhase::Succeeded, Some(true)), "{:?}", d.problems);

    // A real restore into an empty database, then the same into a non-empty one: refused.
    let restore = |name: &str| {
        let mut r = Restore::new(
            name,
            RestoreSpec {
                backup_ref: names[2].0.clone(),
                mode: RestoreMode::Restore,
                target_database_secret_ref: Some(SecretKeyRef {
                    name: "target-db".into(),
                    key: "url".into(),
                }),
                replace: false,
                tier: None,
            },
        );
        r.metadata.namespace = Some(NS.into());
        r
    };
    server.upsert(&restore("restore-1"));
    let r = eventually("the restore to finish", || {
        let s = server.get::<Restore>(NS, "restore-1")?.status?;
        matches!(s.phase, RestorePhase::Succeeded | RestorePhase::Failed).then_some(s)
    })
    .await;
    assert_eq!((r.phase, r.tables), (RestorePhase::Succeeded, Some(1)), "{:?}", r.message);
    let rows: i64 = tokio::task::block_in_place(|| {
        target.connect().query_one("SELECT count(*) FROM items", &[]).unwrap().get(0)
    });
    assert_eq!(rows, 3, "the restored table has the rows");
    server.upsert(&restore("restore-2"));
    let r = eventually("the second restore to be refused", || {
        let s = server.get::<Restore>(NS, "restore-2")?.status?;
        (s.phase == RestorePhase::Failed).then_some(s)
    })
    .await;
    let stalled = conditions::get(&r.conditions, conditions::STALLED).unwrap();
    assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "TargetNotEmpty"));

    running.stop().await;
}

/// A Backup left Running by a worker that died (its lease expired) is taken over: a
/// `WorkerLost` warning event, a second attempt, and a stored backup. One whose attempts are
/// used up fails with `WorkerLost` instead. A Backup named like the next run is adopted by the
/// policy; one of another policy stops it with `NameTaken`.
#[test]
fn lost_workers_are_taken_over_and_runs_adopted() {
    let db = tollgate_db::testing::scratch_database("op_takeover");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(takeover_story(&db, &format!("file://{}", store.path().display())));
}

async fn takeover_story(db: &tollgate_db::testing::ScratchDb, store_url: &str) {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&secret("app-db", &[("url", db.url())]));
    // A yearly schedule: the policy itself starts nothing during this test unless told.
    server.upsert(&policy("weekly", store_url, serde_json::json!({ "schedule": "0 3 1 1 *" })));
    server.upsert(&policy("other", store_url, serde_json::json!({ "schedule": "0 3 1 1 *" })));
    let now = Timestamp::now();
    let clock = Arc::new(TestClock(Mutex::new(now)));

    let stale = |name: &str, attempts: u32| {
        let mut b =
            Backup::new(name, BackupSpec { policy_ref: "weekly".into(), scheduled_time: None });
        b.metadata.namespace = Some(NS.into());
        b.status = Some(BackupStatus {
            phase: BackupPhase::Running,
            attempts,
            worker: Some("operator-old/1-1".into()),
            lease_expires: Some(Time(now - SignedDuration::from_secs(1))),
            ..Default::default()
        });
        b
    };
    server.upsert(&stale("lost-once", 1));
    server.upsert(&stale("lost-thrice", 3));

    let (ctx, _) = context(client, clock.clone());
    let running = start_controllers(ctx);

    let s = eventually("the lost backup to be taken over", || {
        let s = server.get::<Backup>(NS, "lost-once")?.status?;
        (s.phase == BackupPhase::Succeeded).then_some(s)
    })
    .await;
    assert_eq!(s.attempts, 2);
    assert!(s.worker.is_none());
    assert!(stored_ids(store_url).contains(s.backup_id.as_ref().unwrap()));
    assert!(server.event_reasons_for(NS, "lost-once").contains(&"WorkerLost".to_owned()));

    let s = eventually("the exhausted backup to fail", || {
        let s = server.get::<Backup>(NS, "lost-thrice")?.status?;
        (s.phase == BackupPhase::Failed).then_some(s)
    })
    .await;
    let ready = conditions::get(&s.conditions, conditions::READY).unwrap();
    assert_eq!(ready.reason, "WorkerLost");
    assert_eq!(s.attempts, 3, "no fourth attempt");

    // The next run of "weekly" already exists as an object of "weekly": adopted, not an error.
    let p: BackupPolicy = server.get(NS, "weekly").unwrap();
    let next = p.status.and_then(|s| s.next_schedule_time).expect("a next run").0;
    let run_name = format!("weekly-{}", next.strftime("%Y%m%d%H%M"));
    let mut pre = Backup::new(
        &run_name,
        BackupSpec { policy_ref: "weekly".into(), scheduled_time: Some(Time(next)) },
    );
    pre.metadata.namespace = Some(NS.into());
    pre.metadata.labels = Some(BTreeMap::from([(POLICY_LABEL.into(), "weekly".into())]));
    server.upsert(&pre);
    // The same name for "other"'s run would belong to "weekly": "other" must not take it.
    let other_name = format!("other-{}", next.strftime("%Y%m%d%H%M"));
    let mut foreign =
        Backup::new(&other_name, BackupSpec { policy_ref: "weekly".into(), scheduled_time: None });
    foreign.metadata.namespace = Some(NS.into());
    server.upsert(&foreign);
    clock.set(next + SignedDuration::from_secs(1));
    let mut n = 0;
    let s = eventually("the policy to adopt its run", || {
        n += 1;
        if n % 10 == 0 {
            touch::<BackupPolicy>(&server, "weekly", n);
        }
        let s = server.get::<BackupPolicy>(NS, "weekly")?.status?;
        (s.last_schedule_time == Some(Time(next))).then_some(s)
    })
    .await;
    assert!(!conditions::is_true(&s.conditions, conditions::STALLED));
    let b: Backup = server.get(NS, &run_name).unwrap();
    assert_eq!(b.spec.policy_ref, "weekly");
    let mut n = 0;
    let s = eventually("the other policy to stop on the taken name", || {
        n += 1;
        if n % 10 == 0 {
            touch::<BackupPolicy>(&server, "other", n);
        }
        let s = server.get::<BackupPolicy>(NS, "other")?.status?;
        let c = conditions::get(&s.conditions, conditions::STALLED)?;
        (c.status == "True").then_some(c.clone())
    })
    .await;
    assert_eq!(s.reason, "NameTaken");
    assert!(s.message.contains(&other_name), "{}", s.message);

    running.stop().await;
}

/// Retention never deletes on a listing that lacks the newest known backup: the policy stalls
/// with `UntrustedListing` and the store is untouched.
#[test]
fn retention_refuses_an_untrusted_listing() {
    let db = tollgate_db::testing::scratch_database("op_untrusted");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    let url = format!("file://{}", store.path().display());
    // Two real backups in the store.
    let opts = backup::BackupOptions { database_url: db.url().to_owned(), recipients: vec![] };
    let s = Store::open(&url).unwrap();
    let first = backup::backup(&s, &opts).expect("a backup");
    backup::backup(&s, &opts).expect("a backup");
    drop(s);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(untrusted_story(&url, &first.database));
}

async fn untrusted_story(store_url: &str, database: &str) {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&secret("app-db", &[("url", "postgresql://unused@127.0.0.1:1/x")]));
    server.upsert(&policy(
        "keep1",
        store_url,
        serde_json::json!({ "schedule": "0 3 1 1 *", "retention": { "keepLast": 1 } }),
    ));
    // A Succeeded Backup whose id the store does not have (the listing is partial, or the
    // store is another one than the Backup was written to).
    let mut b =
        Backup::new("keep1-ghost", BackupSpec { policy_ref: "keep1".into(), scheduled_time: None });
    b.metadata.namespace = Some(NS.into());
    b.metadata.labels = Some(BTreeMap::from([(POLICY_LABEL.into(), "keep1".into())]));
    b.status = Some(BackupStatus {
        phase: BackupPhase::Succeeded,
        backup_id: Some("20990101T000000Z-000000".into()),
        database: Some(database.into()),
        finished_time: Some(Time(Timestamp::now())),
        ..Default::default()
    });
    server.upsert(&b);
    let before = stored_ids(store_url);
    assert_eq!(before.len(), 2);
    let (ctx, _) = context(client, Arc::new(TestClock(Mutex::new(Timestamp::now()))));
    let running = start_controllers(ctx);
    let stalled = eventually("the policy to stall", || {
        let s = server.get::<BackupPolicy>(NS, "keep1")?.status?;
        let c = conditions::get(&s.conditions, conditions::STALLED)?;
        (c.status == "True").then_some(c.clone())
    })
    .await;
    assert_eq!(stalled.reason, "UntrustedListing");
    assert!(stalled.message.contains("nothing deleted"), "{}", stalled.message);
    assert_eq!(stored_ids(store_url), before, "keepLast 1 deleted nothing on a doubtful listing");
    running.stop().await;
}

/// The Job executor against the fake API server, with the test playing the Job controller and
/// the kubelet: it runs the worker's real entry point (`run_work_command`, what
/// `tollgate-operator work` calls) on the work JSON read from the Job's Secret, and reports the
/// result as the pod's termination message. The outcome matches the in-process executor's for
/// the same work; the Job and its Secret are deleted afterwards; a crashed worker's output
/// becomes an executor error.
#[test]
fn job_executor_runs_the_same_work_as_in_process() {
    let db = tollgate_db::testing::scratch_database("op_job");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    let url = format!("file://{}", store.path().display());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(job_story(&db, &url, store.path()));
}

fn finished_pod(job: &str, exit_code: i32, message: &str) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{job}-x7k2p"), "namespace": NS, "labels": {"job-name": job}},
        "status": {"phase": if exit_code == 0 { "Succeeded" } else { "Failed" }, "containerStatuses": [{
            "name": "work", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
            "state": {"terminated": {"exitCode": exit_code, "message": message}}
        }]}
    }))
    .expect("a Pod")
}

async fn job_story(db: &tollgate_db::testing::ScratchDb, store_url: &str, dir: &std::path::Path) {
    use k8s_openapi::api::batch::v1::{Job, JobStatus};
    use tollgate_operator::executor::job::{JobConfig, JobExecutor, WORK_KEY, job_name};
    use tollgate_operator::executor::{
        ExecError, Executor, Outcome, StoreTarget, Work, run_work_command,
    };

    let (server, client) = FakeApiServer::start().await;
    let mut config = JobConfig::new(NS, "ghcr.io/tollgate-dev/tollgate-operator:test");
    config.poll_interval = Duration::from_millis(100);
    let executor = JobExecutor::new(client, config);
    let work = Work::Backup {
        database_url: db.url().into(),
        store: StoreTarget { url: store_url.into(), credentials: None },
        recipients: vec![],
    };
    let name = job_name(&work);
    let running = tokio::spawn({
        let (executor, work) = (executor.clone(), work.clone());
        async move { executor.run(work).await }
    });

    let mut job: Job = eventually("the Job", || server.get(NS, &name)).await;
    let spec_text = serde_json::to_string(&job).unwrap();
    assert!(!spec_text.contains(db.url()), "the database URL stays out of the Job");
    // The Secret is created after the Job that owns it.
    let secret: Secret = eventually("the work Secret", || server.get(NS, &name)).await;
    let json = String::from_utf8(secret.data.unwrap()[WORK_KEY].0.clone()).unwrap();
    let log = dir.join("termination-log");
    let code = tokio::task::block_in_place(|| run_work_command(&json, &log));
    assert_eq!(code, 0);
    let message = std::fs::read_to_string(&log).unwrap();
    server.upsert(&finished_pod(&name, 0, &message));
    job.status = Some(JobStatus { succeeded: Some(1), ..Default::default() });
    server.upsert(&job);
    let by_job = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the executor notices the finished Job")
        .unwrap()
        .expect("the work succeeded");
    let by_process = InProcessExecutor.run(work).await.expect("the same work in-process");
    match (&by_job, &by_process) {
        (Outcome::BackedUp { backup: a }, Outcome::BackedUp { backup: b }) => {
            assert_eq!(a.database, b.database);
            assert_eq!(a.encrypted, b.encrypted);
            assert_ne!(a.id, b.id, "two backups");
            let ids = stored_ids(store_url);
            assert!(ids.contains(&a.id) && ids.contains(&b.id), "{ids:?}");
        }
        other => panic!("unexpected outcomes {other:?}"),
    }
    eventually("the Job and Secret to be deleted", || {
        (!server.exists::<Job>(NS, &name) && !server.exists::<Secret>(NS, &name)).then_some(())
    })
    .await;

    // An operator that restarts while its Job runs finds the Job by name and adopts it
    // (HTTP 409 on create), instead of starting the same work twice.
    let again = Work::Verify {
        store: StoreTarget { url: store_url.into(), credentials: None },
        backup_id: match &by_job {
            Outcome::BackedUp { backup } => backup.id.clone(),
            _ => unreachable!(),
        },
        tier: tollgate_operator::executor::VerifyTier::Toc,
        scratch_server_url: None,
        identities: None,
        queries: vec![],
        record: false,
    };
    let again_name = job_name(&again);
    let mut config = JobConfig::new(NS, "ghcr.io/tollgate-dev/tollgate-operator:test");
    config.poll_interval = Duration::from_millis(100);
    let created = server.upsert(&tollgate_operator::executor::job::job_for(&config, &again));
    let uid_before = created["metadata"]["uid"].clone();
    let running = tokio::spawn({
        let (executor, again) = (executor.clone(), again.clone());
        async move { executor.run(again).await }
    });
    let mut job: Job = eventually("the adopted Job's Secret", || {
        server.exists::<Secret>(NS, &again_name).then(|| server.get(NS, &again_name)).flatten()
    })
    .await;
    assert_eq!(serde_json::to_value(&job.metadata.uid).unwrap(), uid_before, "the same Job");
    let json = serde_json::to_string(&again).unwrap();
    let code = tokio::task::block_in_place(|| run_work_command(&json, &log));
    assert_eq!(code, 0);
    server.upsert(&finished_pod(&again_name, 0, &std::fs::read_to_string(&log).unwrap()));
    job.status = Some(JobStatus { succeeded: Some(1), ..Default::default() });
    server.upsert(&job);
    let verified = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the executor follows the adopted Job")
        .unwrap()
        .expect("the verification ran");
    assert!(
        matches!(&verified, Outcome::Verified { verification } if verification.passed),
        "{verified:?}"
    );
    assert_eq!(
        server.list::<Job>().len(),
        0,
        "only ever one Job for the work, deleted after reading its result"
    );

    // A worker that crashed before writing a result: its last output becomes the error.
    let crash = Work::Verify {
        store: StoreTarget { url: store_url.into(), credentials: None },
        backup_id: "nope".into(),
        tier: tollgate_operator::executor::VerifyTier::Checksum,
        scratch_server_url: None,
        identities: None,
        queries: vec![],
        record: false,
    };
    let crash_name = job_name(&crash);
    let running = tokio::spawn({
        let executor = executor.clone();
        async move { executor.run(crash).await }
    });
    let mut job: Job = eventually("the second Job", || server.get(NS, &crash_name)).await;
    server.upsert(&finished_pod(&crash_name, 101, "thread 'main' panicked at src/main.rs:1"));
    job.status = Some(JobStatus { failed: Some(1), ..Default::default() });
    server.upsert(&job);
    let err = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the executor notices the failed Job")
        .unwrap()
        .unwrap_err();
    match err {
        ExecError::Executor { message } => assert!(message.contains("panicked"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
}

/// An on-demand Backup of a policy with age encryption: the dump is stored encrypted to the
/// policy's recipient, and the `toc` verification decrypts it with the identity from the
/// policy's Secret. Without the identity Secret the Backup waits, Stalled, naming the Secret.
#[test]
fn encrypted_backups_are_verified_with_the_identity_secret() {
    let db = tollgate_db::testing::scratch_database("op_age");
    seed(&db);
    let store = tempfile::tempdir().expect("a store directory");
    let url = format!("file://{}", store.path().display());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(encrypted_story(&db, &url));
}

async fn encrypted_story(db: &tollgate_db::testing::ScratchDb, store_url: &str) {
    use age::secrecy::ExposeSecret as _;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&secret("app-db", &[("url", db.url())]));
    server.upsert(&policy(
        "sealed",
        store_url,
        serde_json::json!({
            "schedule": "0 3 1 1 *",
            "encryption": {
                "recipients": [recipient],
                "identitySecretRef": { "name": "age", "key": "identity" }
            },
            "verification": { "tier": "toc" }
        }),
    ));
    let mut b = Backup::new(
        "sealed-manual",
        BackupSpec { policy_ref: "sealed".into(), scheduled_time: None },
    );
    b.metadata.namespace = Some(NS.into());
    server.upsert(&b);
    let (ctx, _) = context(client, Arc::new(TestClock(Mutex::new(Timestamp::now()))));
    let running = start_controllers(ctx);

    let stalled = eventually("the Backup to wait for its identity Secret", || {
        let s = server.get::<Backup>(NS, "sealed-manual")?.status?;
        let c = conditions::get(&s.conditions, conditions::STALLED)?;
        (c.status == "True").then_some((s.clone(), c.clone()))
    })
    .await;
    assert_eq!(stalled.1.reason, "SecretNotFound");
    assert!(stalled.1.message.contains("db/age"), "{}", stalled.1.message);
    assert_eq!(stalled.0.attempts, 0, "a missing Secret is not an attempt");
    assert!(stored_ids(store_url).is_empty(), "nothing was dumped");

    server.upsert(&secret("age", &[("identity", identity.to_string().expose_secret())]));
    let mut n = 0;
    let s = eventually("the encrypted backup to succeed", || {
        n += 1;
        if n % 10 == 0 {
            touch::<Backup>(&server, "sealed-manual", n);
        }
        let s = server.get::<Backup>(NS, "sealed-manual")?.status?;
        (s.phase == BackupPhase::Succeeded).then_some(s)
    })
    .await;
    assert!(s.encrypted);
    assert!(s.key.as_deref().unwrap().ends_with(".dump.age"), "{:?}", s.key);
    let v = s.verification.expect("verified");
    assert!(v.passed, "{:?}", v.problems);
    assert_eq!(v.tier, tollgate_operator::executor::VerifyTier::Toc);
    // The pass is recorded in the store's metadata (what retention's guard reads).
    let recorded = tokio::task::block_in_place(|| {
        let store = Store::open(store_url).unwrap();
        backup::find(&store, s.backup_id.as_deref().unwrap()).unwrap().verified
    });
    assert_eq!(recorded.and_then(|v| v.claim()), Some("toc"));
    running.stop().await;
}

/// A reconcile handed a stale cached copy (a Backup still Pending, from before its own last
/// status write) works from the object as the (fake) API server has it now: the finished
/// Backup is left alone, not claimed or re-judged. Needs no database: the policy is missing, so
/// a reconcile of the stale copy would stall the Backup with PolicyNotFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cached_copy_is_not_reconciled() {
    let (server, client) = FakeApiServer::start().await;
    let finished = Backup {
        metadata: meta("done"),
        spec: BackupSpec { policy_ref: "gone".into(), scheduled_time: None },
        status: Some(BackupStatus {
            phase: BackupPhase::Succeeded,
            attempts: 1,
            backup_id: Some("20261125T020000Z-abc".into()),
            ..Default::default()
        }),
    };
    server.upsert(&finished);
    let stale = Arc::new(Backup { status: None, ..finished.clone() });
    let clock = Arc::new(TestClock(Mutex::new(Timestamp::now())));
    let (ctx, _) = context(client, clock);

    backup_ctl::reconcile(stale.clone(), ctx.clone()).await.expect("reconciled");
    let now: Backup = server.get(NS, "done").expect("the Backup");
    assert_eq!(now.status, finished.status, "the finished Backup is untouched");
    let writes = |server: &FakeApiServer| {
        server.requests().iter().filter(|r| r.path.ends_with("/status")).count()
    };
    assert_eq!(writes(&server), 0, "no status write");

    // Deleted meanwhile: nothing to do, nothing written.
    let gone = Arc::new(Backup { metadata: meta("deleted"), ..finished });
    backup_ctl::reconcile(gone, ctx).await.expect("reconciled");
    assert!(!server.exists::<Backup>(NS, "deleted"));
    assert_eq!(writes(&server), 0);
}

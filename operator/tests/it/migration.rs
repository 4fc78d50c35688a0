//! The SchemaMigration controller against the fake API server (`tests/support`: a stand-in for
//! kube-apiserver over a real socket, since none can run here) and a real PostgreSQL (the server
//! `cargo xtask test` starts; `TOLLGATE_TEST_DATABASE_URL`). Migrations run through the
//! in-process executor into a scratch database, and the test reads the database back.
//!
//! The controller's periodic re-plan is 5 minutes away in every test here: what the tests see
//! happen within seconds was woken by a watch event (the SchemaMigration, its ConfigMap, a
//! pre-migration Backup) or by the controller's own short requeues.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ObjectMeta;
use tollgate_operator::conditions;
use tollgate_operator::context::{Context, SystemClock};
use tollgate_operator::controllers::migration;
use tollgate_operator::crd::migration::{
    ConfigMapSource, MigrationSourceSpec, SchemaMigration, SchemaMigrationSpec, SecretKeyRef,
};
use tollgate_operator::executor::InProcessExecutor;
use tollgate_operator::metrics::Metrics;

use crate::support::{FakeApiServer, RecordedRequest, eventually};

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: Some("ops".into()), ..Default::default() }
}

fn sql(files: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta("sql"),
        data: Some(files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

fn schema_migration() -> SchemaMigration {
    let mut m = SchemaMigration::new(
        "app",
        SchemaMigrationSpec {
            database_secret_ref: SecretKeyRef { name: "db".into(), key: "url".into() },
            source: MigrationSourceSpec {
                config_map: Some(ConfigMapSource { name: "sql".into() }),
                git: None,
            },
            lock_timeout_seconds: Some(5),
            statement_timeout_seconds: Some(30),
            allow_destructive: false,
            require_approval: false,
            approved_plan_hash: None,
            pre_migration_backup: None,
        },
    );
    m.metadata.namespace = Some("ops".into());
    m.metadata.generation = Some(1);
    m
}

/// The migration once condition `type_` has `reason`. Nothing nudges the controller: the change
/// the test made (to the SchemaMigration or to its ConfigMap) must wake it by itself.
async fn wait_for(
    server: &FakeApiServer,
    type_: &str,
    status: &str,
    reason: &str,
) -> SchemaMigration {
    eventually(&format!("{type_}={status} ({reason})"), || {
        let m: SchemaMigration = server.get("ops", "app")?;
        let reached = m
            .status
            .as_ref()
            .and_then(|s| conditions::get(&s.conditions, type_))
            .is_some_and(|c| c.status == status && c.reason == reason);
        reached.then_some(m)
    })
    .await
}

fn context(client: kube::Client) -> Arc<Context> {
    Arc::new(Context::new(
        client,
        Arc::new(Metrics::new()),
        Arc::new(InProcessExecutor),
        Arc::new(SystemClock),
    ))
}

fn database_secret(db: &tollgate_db::testing::ScratchDb) -> Secret {
    Secret {
        metadata: meta("db"),
        data: Some(BTreeMap::from([("url".to_owned(), ByteString(db.url().as_bytes().to_vec()))])),
        ..Default::default()
    }
}

/// Reconciles of the migration controller finished so far (its `/metrics` counter).
fn reconciles_finished(ctx: &Context) -> u64 {
    let series = r#"tollgate_operator_reconcile_total{controller="migration"} "#;
    ctx.metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .map_or(0, |v| v.trim().parse::<f64>().expect("a numeric sample") as u64)
}

/// Reconciles of `ops/app` started so far: each one begins by reading the migration fresh from
/// the API server (a GET of the object itself; watches and lists use the collection path).
fn reconciles_started(server: &FakeApiServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path == "/apis/tollgate.dev/v1alpha1/namespaces/ops/schemamigrations/app"
        })
        .count()
}

/// The number of reconciles once the controller is idle: every started reconcile finished and
/// none started for `quiet` (its next wake-up is then the re-plan minutes away).
async fn idle_reconciles(server: &FakeApiServer, ctx: &Context, quiet: Duration) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (reconciles_started(server), reconciles_finished(ctx));
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = (reconciles_started(server), reconciles_finished(ctx));
        if now != last || now.0 as u64 != now.1 {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return now.0;
        }
        assert!(Instant::now() < deadline, "the migration controller never went idle: {now:?}");
    }
}

/// The versions in the history table (a blocking query, moved off the async workers).
fn history(db: &tollgate_db::testing::ScratchDb) -> Vec<i64> {
    tokio::task::block_in_place(|| history_now(db))
}

fn history_now(db: &tollgate_db::testing::ScratchDb) -> Vec<i64> {
    db.connect()
        .query("SELECT version::bigint FROM tollgate_schema_history ORDER BY 1", &[])
        .expect("the history table")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn table_exists(db: &tollgate_db::testing::ScratchDb, table: &str) -> bool {
    tokio::task::block_in_place(|| table_exists_now(db, table))
}

fn table_exists_now(db: &tollgate_db::testing::ScratchDb, table: &str) -> bool {
    db.connect()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .expect("to_regclass")
        .get(0)
}

/// The scratch database is created and dropped outside the runtime (its helpers block).
#[test]
fn migrations_apply_stop_for_approval_and_stall_on_drift() {
    let db = tollgate_db::testing::scratch_database("op_migration");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(apply_approve_drift(&db));
}

async fn apply_approve_drift(db: &tollgate_db::testing::ScratchDb) {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&database_secret(db));
    let v1 = ("V1__init.sql", "CREATE TABLE items (id bigint PRIMARY KEY);");
    let v2 = ("V2__name.sql", "ALTER TABLE items ADD COLUMN name text;");
    server.upsert(&sql(&[v1, v2]));
    server.upsert(&schema_migration());

    let ctx = context(client);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(migration::run(ctx, async move {
        let _ = stopped.await;
    }));

    // Safe migrations apply without approval.
    let m = wait_for(&server, conditions::READY, "True", "UpToDate").await;
    let status = m.status.unwrap();
    assert_eq!(status.applied_version.as_deref(), Some("2"));
    assert_eq!(status.last_applied_versions, ["1", "2"]);
    assert_eq!(status.pending_total, 0);
    assert_eq!(history(db), [1, 2]);
    let reasons = server.event_reasons_for("ops", "app");
    assert!(
        reasons.contains(&"UpToDate".to_owned()) || reasons.contains(&"Migrated".to_owned()),
        "{reasons:?}"
    );

    // A destructive migration stops for approval, naming the plan hash; nothing is applied.
    let v3 = ("V3__drop.sql", "DROP TABLE items;");
    server.upsert(&sql(&[v1, v2, v3]));
    let m = wait_for(&server, conditions::STALLED, "True", "ApprovalRequired").await;
    let status = m.status.clone().unwrap();
    let hash = status.plan_hash.clone().expect("the plan hash to approve");
    assert_eq!(status.pending_versions, ["3"]);
    assert!(
        status.destructive_statements[0].starts_with("V3: "),
        "{:?}",
        status.destructive_statements
    );
    let destructive =
        conditions::get(&status.conditions, conditions::DESTRUCTIVE_CHANGE_DETECTED).unwrap();
    assert_eq!(destructive.status, "True");
    let stalled = conditions::get(&status.conditions, conditions::STALLED).unwrap();
    assert!(stalled.message.contains(&hash), "{}", stalled.message);
    assert!(table_exists(db, "items"), "nothing was dropped");
    assert!(server.event_reasons_for("ops", "app").contains(&"ApprovalRequired".to_owned()));

    // Approving another plan approves nothing.
    let mut m = m;
    m.spec.approved_plan_hash = Some("0".repeat(64));
    server.upsert(&m);
    wait_for(&server, conditions::STALLED, "True", "ApprovalMismatch").await;
    assert!(table_exists(db, "items"));

    // Approving this plan applies it.
    let mut m: SchemaMigration = server.get("ops", "app").unwrap();
    m.spec.approved_plan_hash = Some(hash);
    server.upsert(&m);
    let m = wait_for(&server, conditions::READY, "True", "UpToDate").await;
    assert_eq!(m.status.unwrap().applied_version.as_deref(), Some("3"));
    assert!(!table_exists(db, "items"));
    assert_eq!(history(db), [1, 2, 3]);

    // An applied migration edited afterwards is drift: stop, say which, apply nothing.
    let v4 = ("V4__again.sql", "CREATE TABLE again (id int);");
    server.upsert(&sql(&[("V1__init.sql", "CREATE TABLE items (id int);"), v2, v3, v4]));
    let m = wait_for(&server, conditions::STALLED, "True", "MigrationDrift").await;
    let status = m.status.unwrap();
    assert!(status.drift.iter().any(|d| d.contains("V1")), "{:?}", status.drift);
    assert!(!table_exists(db, "again"), "nothing applied on drift");
    assert!(!conditions::is_true(&status.conditions, conditions::READY));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("graceful shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_secret_stalls_with_its_name() {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&sql(&[("V1__init.sql", "SELECT 1;")]));
    server.upsert(&schema_migration());
    let ctx = context(client);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(migration::run(ctx, async move {
        let _ = stopped.await;
    }));
    let m = wait_for(&server, conditions::STALLED, "True", "DatabaseSecretUnavailable").await;
    let stalled = conditions::get(&m.status.as_ref().unwrap().conditions, conditions::STALLED)
        .unwrap()
        .clone();
    assert!(stalled.message.contains("ops/db"), "{}", stalled.message);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("graceful shutdown")
        .unwrap();
}

/// The pre-migration backup runs through the real Backup controller (O3's), into a local store
/// directory with the real `pg_dump`; the migration waits for it and only then applies.
#[test]
fn a_pre_migration_backup_completes_before_anything_is_applied() {
    let db = tollgate_db::testing::scratch_database("op_premig");
    let store = tempfile::tempdir().expect("a store directory");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(backup_then_migrate(&db, store.path()));
}

async fn backup_then_migrate(db: &tollgate_db::testing::ScratchDb, store: &std::path::Path) {
    use tollgate_operator::crd::backup::{Backup, BackupPhase, BackupPolicy};
    use tollgate_operator::crd::migration::PreMigrationBackup;

    let (server, client) = FakeApiServer::start().await;
    server.upsert(&database_secret(db));
    let policy: BackupPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "tollgate.dev/v1alpha1",
        "kind": "BackupPolicy",
        "metadata": { "name": "nightly", "namespace": "ops" },
        "spec": {
            "databaseSecretRef": { "name": "db", "key": "url" },
            "store": { "url": format!("file://{}", store.display()) },
            "schedule": "0 3 1 1 *"
        }
    }))
    .expect("a BackupPolicy");
    server.upsert(&policy);
    server.upsert(&sql(&[("V1__init.sql", "CREATE TABLE items (id bigint PRIMARY KEY);")]));
    let mut m = schema_migration();
    m.spec.pre_migration_backup = Some(PreMigrationBackup { backup_policy_ref: "nightly".into() });
    server.upsert(&m);

    let ctx = context(client);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let migrations = tokio::spawn(migration::run(ctx.clone(), async move {
        let _ = stopped.await;
    }));
    let backups = tokio::spawn(tollgate_operator::controllers::backup::run(ctx, async move {
        let _ = stopped_b.await;
    }));

    let m = wait_for(&server, conditions::READY, "True", "UpToDate").await;
    let status = m.status.unwrap();
    let backup_name = status.pre_migration_backup.clone().expect("the pre-migration Backup");
    assert!(backup_name.starts_with("app-pre-"), "{backup_name}");
    let backup: Backup = server.get("ops", &backup_name).expect("the Backup object");
    let bstatus = backup.status.expect("the Backup's status");
    assert_eq!(bstatus.phase, BackupPhase::Succeeded);
    assert_eq!(
        backup.metadata.labels.unwrap().get(migration::MIGRATION_LABEL).map(String::as_str),
        Some("app")
    );
    assert!(
        backup.metadata.owner_references.is_none(),
        "deleting the migration never deletes a backup"
    );
    let completed = conditions::get(&status.conditions, conditions::BACKUP_COMPLETED).unwrap();
    assert_eq!(completed.status, "True");
    // The backup was finished before the migration started: its dump predates the table.
    let finished = bstatus.finished_time.expect("finished").0;
    let applied_at = status.last_applied_time.expect("applied").0;
    assert!(finished <= applied_at, "backup {finished} before migration {applied_at}");
    assert_eq!(history(db), [1]);
    assert!(std::fs::read_dir(store).unwrap().count() > 0, "the dump is in the store");

    stop.send(()).unwrap();
    stop_b.send(()).unwrap();
    for task in [migrations, backups] {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("graceful shutdown")
            .unwrap();
    }
}

/// A change to the migration's ConfigMap wakes it at once (its periodic re-plan is 5 minutes
/// away), through a metadata-only ConfigMap watch; changes to other ConfigMaps (another name in
/// its namespace, its name in another namespace) start no reconcile.
#[test]
fn its_config_map_wakes_a_migration_and_other_config_maps_do_not() {
    let db = tollgate_db::testing::scratch_database("op_mig_wake");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(config_map_wakes(&db));
}

async fn config_map_wakes(db: &tollgate_db::testing::ScratchDb) {
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&database_secret(db));
    let v1 = ("V1__init.sql", "CREATE TABLE items (id bigint PRIMARY KEY);");
    let v2 = ("V2__name.sql", "ALTER TABLE items ADD COLUMN name text;");
    server.upsert(&sql(&[v1, v2]));
    let other = |namespace: &str, name: &str, sql: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("V9__other.sql".to_owned(), sql.to_owned())])),
        ..Default::default()
    };
    server.upsert(&other("ops", "unrelated", "SELECT 1;"));
    server.upsert(&other("dev", "sql", "SELECT 1;"));
    server.upsert(&schema_migration());

    let ctx = context(client);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(migration::run(ctx.clone(), async move {
        let _ = stopped.await;
    }));
    let m = wait_for(&server, conditions::READY, "True", "UpToDate").await;
    assert_eq!(m.status.unwrap().applied_version.as_deref(), Some("2"));
    // The ConfigMap watcher opens its watch only after its initial list went through the
    // mapper: from then on, the wake-ups that list caused are scheduled and counted below.
    eventually("the ConfigMap watch", || {
        server
            .requests()
            .iter()
            .any(|r| r.path == "/api/v1/configmaps" && r.query.contains("watch=true"))
            .then_some(())
    })
    .await;
    let idle = idle_reconciles(&server, &ctx, Duration::from_secs(2)).await;

    // Other ConfigMaps change (and one appears): no reconcile starts.
    server.upsert(&other("ops", "unrelated", "SELECT 2;"));
    server.upsert(&other("dev", "sql", "CREATE TABLE elsewhere (id int);"));
    server.upsert(&other("ops", "new", "SELECT 3;"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reconciles_started(&server), idle, "an unrelated ConfigMap woke the migration");
    assert_eq!(reconciles_finished(&ctx), idle as u64);

    // Its own ConfigMap gains V3: planned and applied within seconds (`eventually` gives up
    // after 30), not at the re-plan minutes later.
    let v3 = ("V3__more.sql", "CREATE TABLE more (id int);");
    server.upsert(&sql(&[v1, v2, v3]));
    let status = eventually("V3 applied after the ConfigMap change", || {
        let status = server.get::<SchemaMigration>("ops", "app")?.status?;
        (status.applied_version.as_deref() == Some("3")).then_some(status)
    })
    .await;
    assert_eq!(status.last_applied_versions, ["3"]);
    assert!(reconciles_started(&server) > idle);
    assert_eq!(history(db), [1, 2, 3]);
    assert!(table_exists(db, "more"));
    assert!(!table_exists(db, "elsewhere"), "another namespace's ConfigMap is never applied");

    // The operator watched ConfigMaps as metadata only (it never holds the SQL of every
    // ConfigMap); the only ConfigMap it read whole is its own source.
    let requests = server.requests();
    let config_map_reads: Vec<_> =
        requests.iter().filter(|r| r.method == "GET" && r.path.contains("/configmaps")).collect();
    let (collection, single): (Vec<&RecordedRequest>, Vec<&RecordedRequest>) =
        config_map_reads.into_iter().partition(|r| r.path == "/api/v1/configmaps");
    assert!(collection.iter().any(|r| r.query.contains("watch=true")), "{collection:?}");
    for r in &collection {
        assert_eq!(
            r.accept.as_deref(),
            Some(if r.query.contains("watch=true") {
                "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
            } else {
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            }),
            "{r:?}"
        );
    }
    assert!(single.iter().all(|r| r.path == "/api/v1/namespaces/ops/configmaps/sql"), "{single:?}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("graceful shutdown")
        .unwrap();
}

/// The race a cached copy allows: right after `Work::Migrate` wrote `lastAppliedVersions`, the
/// next reconcile may be handed the migration from the watch cache as it was before that write.
/// The reconcile reads the migration fresh, so the status it writes keeps what the migration
/// recorded; and a migration deleted meanwhile is left alone.
#[test]
fn a_stale_cached_copy_does_not_roll_the_status_back() {
    let db = tollgate_db::testing::scratch_database("op_mig_stale");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(stale_copy(&db));
}

async fn stale_copy(db: &tollgate_db::testing::ScratchDb) {
    use kube::api::{Api, DeleteParams};
    use kube::runtime::controller::Action;

    let (server, client) = FakeApiServer::start().await;
    server.upsert(&database_secret(db));
    let v1 = ("V1__init.sql", "CREATE TABLE items (id bigint PRIMARY KEY);");
    let v2 = ("V2__name.sql", "ALTER TABLE items ADD COLUMN name text;");
    server.upsert(&sql(&[v1, v2]));
    server.upsert(&schema_migration());
    let ctx = context(client.clone());

    // One reconcile applies V1 and V2 (status written twice: Migrating, then Migrated).
    let seeded: SchemaMigration = server.get("ops", "app").unwrap();
    let action = migration::reconcile(Arc::new(seeded), ctx.clone()).await.expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    let fresh: SchemaMigration = server.get("ops", "app").unwrap();
    let recorded = fresh.status.clone().unwrap();
    assert_eq!(recorded.last_applied_versions, ["1", "2"]);
    let applied_at = recorded.last_applied_time.clone().expect("lastAppliedTime");
    assert_eq!(
        conditions::get(&recorded.conditions, conditions::READY).unwrap().reason,
        "Migrated"
    );
    assert_eq!(history(db), [1, 2]);

    // The next reconcile is handed a copy from before the second write.
    let mut stale = fresh.clone();
    let status = stale.status.as_mut().unwrap();
    status.last_applied_versions.clear();
    status.last_applied_time = None;
    status.pending_versions = vec!["1".into(), "2".into()];
    status.pending_total = 2;
    stale.metadata.resource_version = Some("1".into());
    let writes = |server: &FakeApiServer| {
        server
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with("/status"))
            .count()
    };
    let before = writes(&server);
    migration::reconcile(Arc::new(stale.clone()), ctx.clone()).await.expect("reconcile");
    assert_eq!(writes(&server), before + 1, "the up-to-date status was written");
    let after = server.get::<SchemaMigration>("ops", "app").unwrap().status.unwrap();
    let ready = conditions::get(&after.conditions, conditions::READY).unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "UpToDate"));
    assert_eq!(after.last_applied_versions, ["1", "2"], "lastAppliedVersions survived");
    assert_eq!(after.last_applied_time, Some(applied_at));
    assert_eq!((after.applied_version.as_deref(), after.pending_total), (Some("2"), 0));

    // Deleted since the event that queued it: nothing is written, nothing fails.
    Api::<SchemaMigration>::namespaced(client, "ops")
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let before = writes(&server);
    let action = migration::reconcile(Arc::new(stale), ctx).await.expect("reconcile");
    assert_eq!(action, Action::await_change());
    assert_eq!(writes(&server), before);
    assert!(!server.exists::<SchemaMigration>("ops", "app"));
}

/// With the only migration slot taken, a migration with pending versions waits in the queue:
/// Reconciling with reason Queued and its position, nothing applied; when the slot frees, it
/// applies.
#[test]
fn a_migration_beyond_the_limit_waits_in_the_queue() {
    let db = tollgate_db::testing::scratch_database("op_mig_queue");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(queued_migration(&db));
}

async fn queued_migration(db: &tollgate_db::testing::ScratchDb) {
    use tollgate_operator::executor::limits::{Limits, WorkClass, WorkLimits};
    let (server, client) = FakeApiServer::start().await;
    server.upsert(&database_secret(db));
    server.upsert(&sql(&[("V1__init.sql", "CREATE TABLE items (id bigint PRIMARY KEY);")]));
    let metrics = Arc::new(Metrics::new());
    let mut ctx =
        Context::new(client, metrics.clone(), Arc::new(InProcessExecutor), Arc::new(SystemClock));
    ctx.limits =
        Arc::new(WorkLimits::new(Limits { migrations: 1, ..Limits::default() }, metrics.clone()));
    let ctx = Arc::new(ctx);
    let mut other = ctx.limits.enter(WorkClass::Migration);
    let held = other.admit().await;
    server.upsert(&schema_migration());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(migration::run(ctx.clone(), async move {
        let _ = stopped.await;
    }));

    let m = wait_for(&server, conditions::RECONCILING, "True", "Queued").await;
    let c = conditions::get(&m.status.as_ref().unwrap().conditions, conditions::RECONCILING)
        .unwrap()
        .clone();
    assert_eq!(
        c.message,
        "waiting for a work slot: position 1 of 1 in the migration queue (1 of 1 running)"
    );
    assert!(metrics.render().contains("tollgate_operator_work_queued{kind=\"migration\"} 1"));
    assert!(!table_exists(db, "items"), "nothing applied while queued");

    drop(held);
    let m = wait_for(&server, conditions::READY, "True", "UpToDate").await;
    assert_eq!(m.status.unwrap().applied_version.as_deref(), Some("1"));
    assert!(table_exists(db, "items"));
    let _ = stop.send(());
    controller.await.unwrap();
}

//! Backups, verification, restores and retention against a real PostgreSQL and a real
//! S3-compatible server (moto), both started by `cargo xtask test`
//! (`TOLLGATE_TEST_DATABASE_URL`, `TOLLGATE_TEST_S3_ENDPOINT`, `AWS_*`).

use std::process::Command;
use tollgate_core::{Severity, Verdict};
use tollgate_db::backup::{self, BackupError, BackupOptions, BackupStatus};
use tollgate_db::restore::{self, Tier, VerifyOptions};
use tollgate_db::retention::{RetentionPolicy, select_for_deletion};
use tollgate_db::store::Store;

fn server() -> String {
    std::env::var("TOLLGATE_TEST_DATABASE_URL")
        .expect("TOLLGATE_TEST_DATABASE_URL is not set: run `cargo xtask test`")
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let q = if query.is_empty() { String::new() } else { format!("?{query}") };
    format!("{}/{db}{q}", &base[..authority_end])
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Db {
    name: String,
    url: String,
}

impl Db {
    fn new(prefix: &str) -> Db {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        psql(&server(), &format!("CREATE DATABASE \"{name}\""));
        let url = with_database(&server(), &name);
        Db { name, url }
    }

    fn seeded(prefix: &str) -> Db {
        let db = Db::new(prefix);
        psql(
            &db.url,
            "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g;
             CREATE TABLE notes (body text);
             INSERT INTO notes VALUES ('hello'), ('world');
             CREATE TABLE tollgate_schema_history (version bigint PRIMARY KEY, name text NOT NULL);
             INSERT INTO tollgate_schema_history VALUES (1, 'init'), (7, 'notes');",
        );
        db
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &server(), "-c"])
            .arg(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
            .output();
    }
}

fn local_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
    (dir, store)
}

/// A fresh bucket on the moto server.
fn s3_store(name: &str) -> Store {
    let endpoint = tollgate_db::testing::s3_endpoint();
    let bucket = tollgate_db::testing::create_bucket(name);
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(std::env::var_os(k).is_some(), "{k} is not set: run `cargo xtask test`");
    }
    Store::open(&format!("s3://{bucket}/backups?endpoint={endpoint}")).unwrap()
}

fn opts(tier: Tier, url: &str) -> VerifyOptions {
    VerifyOptions {
        tier,
        database_url: Some(url.to_string()),
        identities: Vec::new(),
        queries: vec!["SELECT count(*) = 1000 FROM items".into()],
        record: true,
    }
}

fn rules(report: &tollgate_core::GateReport, sev: Severity) -> Vec<String> {
    report.findings.iter().filter(|f| f.severity == sev).map(|f| f.rule.clone()).collect()
}

/// Scratch databases of any verification run of backup `id` on the server.
fn scratch_left(id: &str) -> usize {
    let prefix = restore::scratch_name(id, "");
    psql(
        &server(),
        &format!("SELECT count(*) FROM pg_database WHERE starts_with(datname, '{prefix}')"),
    )
    .parse()
    .unwrap()
}

fn backup_list_verify(store: &Store) {
    let db = Db::seeded("tg_backup");
    let info =
        backup::backup(store, &BackupOptions { database_url: db.url.clone(), recipients: vec![] })
            .unwrap();
    assert_eq!(info.database, db.name);
    assert_eq!(info.schema_version.as_deref(), Some("7"));
    assert!(info.size > 1000 && info.sha256.len() == 64 && info.sha256 == info.plain_sha256);
    assert!(info.key.ends_with(".dump") && info.recipients.is_empty());
    let listed = backup::list(store).unwrap();
    assert_eq!(listed, vec![info.clone()]);
    assert!(!store.list("").unwrap().iter().any(|(k, _)| k.contains(".tmp-")));

    let report = restore::verify(store, &info, &opts(Tier::Restore, &server())).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.findings);
    assert_eq!(report.gate, "db-verify");
    let info_rules = rules(&report, Severity::Info);
    for r in ["checksum", "toc", "restore", "schema-version", "query"] {
        assert!(info_rules.contains(&format!("db-verify/{r}")), "{r}: {info_rules:?}");
    }
    let counts: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "db-verify/row-count")
        .map(|f| f.message.clone())
        .collect();
    assert!(counts.contains(&"public.items: 1000 rows".to_string()), "{counts:?}");
    assert!(counts.contains(&"public.notes: 2 rows".to_string()), "{counts:?}");
    // The scratch database is gone.
    assert_eq!(scratch_left(&info.id), 0);
    // The verification is recorded.
    let again = backup::find(store, &info.id).unwrap();
    let verified = again.verified.clone().unwrap();
    assert_eq!(verified.claim(), Some("restore"));
    let restored_at = verified.restore.clone().unwrap().at;
    // A later checksum-only pass refreshes the checksum result, never the restore time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let report = restore::verify(store, &again, &opts(Tier::Checksum, &server())).unwrap();
    assert_eq!(report.verdict, Verdict::Pass);
    let verified = backup::find(store, &info.id).unwrap().verified.unwrap();
    assert_eq!(verified.restore.as_ref().unwrap().at, restored_at);
    assert_ne!(verified.checksum.as_ref().unwrap().at, restored_at);
    assert_eq!(verified.claim(), Some("restore"));

    // A failing custom query fails the gate and still drops the scratch database.
    let mut o = opts(Tier::Restore, &server());
    o.queries = vec!["SELECT count(*) = 5 FROM items".into()];
    o.record = false;
    let report = restore::verify(store, &info, &o).unwrap();
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(rules(&report, Severity::Error), vec!["db-verify/query-failed"]);
    assert_eq!(scratch_left(&info.id), 0);
}

#[test]
fn backup_list_verify_local() {
    let (_dir, store) = local_store();
    backup_list_verify(&store);
}

#[test]
fn backup_list_verify_s3() {
    let store = s3_store("tg-verify");
    backup_list_verify(&store);
}

#[test]
fn encrypted_backup_right_and_wrong_identity() {
    let (_dir, store) = local_store();
    let db = Db::seeded("tg_enc");
    let id = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    let info = backup::backup(
        &store,
        &BackupOptions {
            database_url: db.url.clone(),
            recipients: vec![id.to_public().to_string()],
        },
    )
    .unwrap();
    assert!(info.key.ends_with(".dump.age") && info.encrypted());
    assert_ne!(info.sha256, info.plain_sha256);
    let raw = store.get_bytes(&info.key).unwrap();
    assert!(raw.starts_with(b"age-encryption.org/v1"));

    let mut o = opts(Tier::Restore, &server());
    o.identities = vec![id.clone()];
    let report = restore::verify(&store, &info, &o).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.findings);

    o.identities = vec![other.clone()];
    let report = restore::verify(&store, &info, &o).unwrap();
    assert_eq!(report.verdict, Verdict::Fail);
    let msg =
        &report.findings.iter().find(|f| f.rule == "db-verify/toc-unreadable").unwrap().message;
    assert!(msg.contains("no given identity matches"), "{msg}");

    let target = Db::new("tg_enc_target");
    let e = restore::restore_into(&store, &info, &target.url, false, &[other]).unwrap_err();
    assert!(matches!(e, BackupError::Decryption(_)), "{e}");
    assert_eq!(
        psql(&target.url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
    let done = restore::restore_into(&store, &info, &target.url, false, &[id]).unwrap();
    assert_eq!(done.tables, 3);
    assert_eq!(psql(&target.url, "SELECT count(*) FROM items"), "1000");
}

#[test]
fn truncated_object_fails_checksum_and_toc() {
    let (dir, store) = local_store();
    let db = Db::seeded("tg_trunc");
    let info =
        backup::backup(&store, &BackupOptions { database_url: db.url.clone(), recipients: vec![] })
            .unwrap();
    let path = dir.path().join(&info.key);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let report = restore::verify(&store, &info, &opts(Tier::Restore, &server())).unwrap();
    assert_eq!(report.verdict, Verdict::Fail);
    let errors = rules(&report, Severity::Error);
    assert_eq!(
        errors,
        vec![
            "db-verify/checksum-mismatch",
            "db-verify/restore-skipped",
            "db-verify/toc-unreadable"
        ]
    );
    let checksum =
        &report.findings.iter().find(|f| f.rule == "db-verify/checksum-mismatch").unwrap();
    assert!(checksum.message.contains("corrupted or truncated"), "{}", checksum.message);
    let toc = &report.findings.iter().find(|f| f.rule == "db-verify/toc-unreadable").unwrap();
    assert!(toc.message.contains("corrupted or truncated"), "{}", toc.message);
    // Truncated inside the table of contents: pg_restore itself refuses.
    std::fs::write(&path, &bytes[..40]).unwrap();
    let report = restore::verify(&store, &info, &opts(Tier::Toc, &server())).unwrap();
    let toc = &report.findings.iter().find(|f| f.rule == "db-verify/toc-unreadable").unwrap();
    assert!(toc.message.contains("pg_restore --list cannot read"), "{}", toc.message);
    // The failures are recorded: the backup no longer counts as verified.
    let verified = backup::find(&store, &info.id).unwrap().verified.unwrap();
    assert!(!verified.checksum.as_ref().unwrap().passed && !verified.toc.as_ref().unwrap().passed);
    assert!(!verified.restore.as_ref().unwrap().passed, "a restore of a corrupt archive fails");
    assert_eq!(verified.claim(), None);
    // restore refuses before touching the target.
    let target = Db::new("tg_trunc_target");
    let e = restore::restore_into(&store, &info, &target.url, false, &[]).unwrap_err();
    assert!(matches!(e, BackupError::Integrity(_)), "{e}");
}

#[test]
fn failed_pg_dump_leaves_no_backup() {
    let (_dir, store) = local_store();
    let url = with_database(&server(), "tollgate_no_such_database");
    let e = backup::backup(&store, &BackupOptions { database_url: url, recipients: vec![] })
        .unwrap_err();
    assert!(e.to_string().contains("tollgate_no_such_database"), "{e}");
    assert!(store.list("").unwrap().is_empty());
    assert!(backup::list(&store).unwrap().is_empty());
}

#[test]
fn bad_recipient_is_a_clear_error() {
    let (_dir, store) = local_store();
    let db = Db::seeded("tg_badrcpt");
    let e = backup::backup(
        &store,
        &BackupOptions { database_url: db.url.clone(), recipients: vec!["age1nope".into()] },
    )
    .unwrap_err();
    assert!(e.to_string().contains("not an age X25519 key"), "{e}");
    assert!(store.list("").unwrap().is_empty());
}

#[test]
fn restore_into_empty_and_non_empty_targets() {
    let (_dir, store) = local_store();
    let db = Db::seeded("tg_src");
    let info =
        backup::backup(&store, &BackupOptions { database_url: db.url.clone(), recipients: vec![] })
            .unwrap();
    let target = Db::new("tg_target");
    let done = restore::restore_into(&store, &info, &target.url, false, &[]).unwrap();
    assert_eq!(done.tables, 3);
    assert_eq!(
        psql(&target.url, "SELECT count(*), sum(id), max(name) FROM items"),
        psql(&db.url, "SELECT count(*), sum(id), max(name) FROM items")
    );
    assert_eq!(
        psql(&target.url, "SELECT string_agg(body, ',' ORDER BY body) FROM notes"),
        "hello,world"
    );

    // Non-empty: refused, untouched.
    psql(&target.url, "INSERT INTO notes VALUES ('extra')");
    let e = restore::restore_into(&store, &info, &target.url, false, &[]).unwrap_err();
    assert!(matches!(e, BackupError::TargetNotEmpty { tables: 3, .. }), "{e}");
    assert!(e.to_string().contains("--replace"), "{e}");
    assert_eq!(psql(&target.url, "SELECT count(*) FROM notes"), "3");
    // With replace: the backup's contents.
    restore::restore_into(&store, &info, &target.url, true, &[]).unwrap();
    assert_eq!(psql(&target.url, "SELECT count(*) FROM notes"), "2");
    assert_eq!(psql(&target.url, "SELECT count(*) FROM items"), "1000");
}

#[test]
fn retention_on_stored_backups() {
    let (_dir, store) = local_store();
    let db = Db::seeded("tg_ret");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let info = backup::backup(
            &store,
            &BackupOptions { database_url: db.url.clone(), recipients: vec![] },
        )
        .unwrap();
        ids.push(info.id.clone());
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    // Verify the oldest only: it is the newest *verified* backup.
    let oldest = backup::find(&store, &ids[0]).unwrap();
    let report = restore::verify(&store, &oldest, &opts(Tier::Checksum, &server())).unwrap();
    assert_eq!(report.verdict, Verdict::Pass);
    // An interrupted upload lying around.
    store.put(&format!("{}/.tmp-20200101T000000Z-abcdef", db.name), b"partial".to_vec()).unwrap();

    let all = backup::list(&store).unwrap();
    assert_eq!(all.len(), 4);
    let policy = RetentionPolicy { keep_last: 1, ..Default::default() };
    let now = time::OffsetDateTime::now_utc();
    let decisions = select_for_deletion(&all, &policy, now);
    let keep: std::collections::BTreeMap<_, _> =
        decisions.iter().map(|d| (d.id.clone(), d.keep)).collect();
    assert!(keep[&ids[2]]);
    assert!(!keep[&ids[1]]);
    assert!(keep[&ids[0]], "newest verified");
    assert!(keep["20200101T000000Z-abcdef"], "incomplete kept");

    for d in decisions.iter().filter(|d| !d.keep) {
        let info = all.iter().find(|b| b.id == d.id).unwrap();
        backup::delete(&store, info).unwrap();
    }
    let left = backup::list(&store).unwrap();
    let left_ids: Vec<_> = left.iter().map(|b| (b.id.clone(), b.status)).collect();
    assert_eq!(
        left_ids,
        vec![
            (ids[2].clone(), BackupStatus::Complete),
            (ids[0].clone(), BackupStatus::Complete),
            ("20200101T000000Z-abcdef".to_string(), BackupStatus::Incomplete),
        ]
    );
    assert!(select_for_deletion(&left, &policy, now).iter().all(|d| d.keep));
}

fn database_exists(name: &str) -> bool {
    psql(&server(), &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")) == "1"
}

fn create_marked(name: &str, comment: Option<&str>) {
    psql(&server(), &format!("CREATE DATABASE \"{name}\""));
    if let Some(c) = comment {
        psql(&server(), &format!("COMMENT ON DATABASE \"{name}\" IS '{c}'"));
    }
}

/// What interrupted runs leave behind does not break the next check; only scratch databases
/// marked as ours and older than the grace period are dropped.
#[test]
fn leftover_scratch_databases_do_not_break_the_next_restore_check() {
    let (_dir, store) = local_store();
    let db = Db::seeded("tg_stale");
    let info =
        backup::backup(&store, &BackupOptions { database_url: db.url.clone(), recipients: vec![] })
            .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let long_ago = now - restore::STALE_SCRATCH_AFTER - time::Duration::minutes(5);
    // A run killed two hours ago (marked, stale), one still running (marked, fresh), a
    // database someone else made with a similar name, and the name the old code used.
    let killed = restore::scratch_name(&info.id, "deadbeef");
    let running = restore::scratch_name(&info.id, "0000cafe");
    let foreign = restore::scratch_name(&info.id, "0badf00d");
    let legacy = restore::scratch_name(&info.id, "").trim_end_matches('_').to_owned();
    create_marked(&killed, Some(&restore::scratch_marker("deadbeef", &info.id, long_ago)));
    create_marked(&running, Some(&restore::scratch_marker("0000cafe", &info.id, now)));
    create_marked(
        &foreign,
        Some("tollgate-verify-like but made by hand started=2000-01-01T00:00:00Z"),
    );
    create_marked(&legacy, None);

    let report = restore::verify(&store, &info, &opts(Tier::Restore, &server())).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.findings);
    assert!(!database_exists(&killed), "the stale scratch database of a killed run is dropped");
    assert!(database_exists(&running), "a running check's scratch database is left alone");
    assert!(database_exists(&foreign), "a database not marked as ours is never dropped");
    assert!(database_exists(&legacy), "an unmarked database is never dropped");
    assert_eq!(scratch_left(&info.id), 2, "the check dropped its own scratch database");
    for name in [running, foreign, legacy] {
        psql(&server(), &format!("DROP DATABASE \"{name}\""));
    }
}

#[test]
fn two_concurrent_restore_checks_of_one_backup_both_pass() {
    let (dir, store) = local_store();
    let db = Db::seeded("tg_concurrent");
    let info =
        backup::backup(&store, &BackupOptions { database_url: db.url.clone(), recipients: vec![] })
            .unwrap();
    let url = format!("file://{}", dir.path().display());
    let reports: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (url, info) = (&url, &info);
                s.spawn(move || {
                    let store = Store::open(url).unwrap();
                    let mut o = opts(Tier::Restore, &server());
                    o.record = false;
                    restore::verify(&store, info, &o).unwrap()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for report in reports {
        assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.findings);
    }
    assert_eq!(scratch_left(&info.id), 0);
}

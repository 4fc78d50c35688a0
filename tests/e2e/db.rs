//! `tollgate db migrate|plan|status` against the real PostgreSQL that `cargo xtask test` starts:
//! every test gets its own scratch database and checks the database itself, not only the output.

use crate::support::{run, text, tollgate};
use std::path::Path;
use std::process::Output;
use tollgate_db::testing::{ScratchDb, scratch_database};

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).unwrap();
}

fn db(args: &[&str], db: &ScratchDb, dir: &Path) -> Output {
    let mut cmd = tollgate(dir);
    cmd.arg("db")
        .args(args)
        .args(["--dir", "."])
        .args(["--report-format", "json"])
        .env("TOLLGATE_DATABASE_URL", db.url());
    run(&mut cmd)
}

/// The findings of the one report on stdout, as (rule, severity, message).
fn findings(output: &Output) -> Vec<(String, String, String)> {
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(output)));
    doc["reports"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn rules(output: &Output) -> Vec<String> {
    let mut r: Vec<String> = findings(output).into_iter().map(|f| f.0).collect();
    r.sort();
    r
}

/// The history of integer-versioned migrations, in version order.
fn history(db: &ScratchDb) -> Vec<(i64, String, String)> {
    let mut c = db.connect();
    c.query("SELECT version::bigint, name, checksum FROM tollgate_schema_history ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn exists(db: &ScratchDb, relation: &str) -> bool {
    let mut c = db.connect();
    c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation]).unwrap().get(0)
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn applies_reruns_and_reports_status() {
    let database = scratch_database("e2e_apply");
    let dir = tempfile::tempdir().unwrap();
    let v1 = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n";
    write(dir.path(), "V1__accounts.sql", v1);
    write(dir.path(), "V2__seed.sql", "INSERT INTO accounts VALUES (1, 'a@example.com');\n");
    write(dir.path(), "U2__seed.sql", "DELETE FROM accounts WHERE id = 1;\n");
    write(dir.path(), "README.md", "not a migration");

    let out = db(&["plan"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rules(&out), ["db/pending", "db/pending", "db/plan-hash"]);

    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rules(&out), ["db/applied", "db/applied"]);
    let h = history(&database);
    assert_eq!(
        h.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(),
        [(1, "accounts"), (2, "seed")]
    );
    assert_eq!(h[0].2, sha256(v1));
    let mut c = database.connect();
    let n: i64 = c.query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(n, 1);
    let (by, ms): (String, i64) = c
        .query_one(
            "SELECT applied_by, duration_ms FROM tollgate_schema_history WHERE version = '1'",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(by.starts_with("postgres@"), "{by}");
    assert!(ms >= 0);

    // Idempotent: nothing pending, nothing re-applied.
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rules(&out), ["db/up-to-date"]);
    let n: i64 = c.query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(n, 1);

    let out = db(&["status"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rules(&out), ["db/applied", "db/applied", "db/plan-hash"]);

    // Human output names the migrations.
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "status", "--dir", "."]).env("TOLLGATE_DATABASE_URL", database.url());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("V1__accounts applied"),
        "{}",
        text(&out)
    );
}

#[test]
fn edited_applied_migration_is_drift_and_nothing_is_applied() {
    let database = scratch_database("e2e_drift");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (x int);\n");
    assert_eq!(db(&["migrate"], &database, dir.path()).status.code(), Some(0));
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (x int, y int);\n");
    write(dir.path(), "V2__b.sql", "CREATE TABLE b (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("drift"), "{}", text(&out));
    let f = findings(&out);
    let drift: Vec<_> = f.iter().filter(|f| f.0 == "db/drift-checksum").collect();
    assert_eq!(drift.len(), 1, "{f:?}");
    assert!(drift[0].2.contains("V1 was edited after it was applied"), "{f:?}");
    assert!(!exists(&database, "b"), "V2 must not be applied");
    assert_eq!(history(&database).len(), 1);

    let out = db(&["status"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(rules(&out).contains(&"db/drift-checksum".to_owned()));
}

#[test]
fn missing_applied_file_and_out_of_order_are_drift() {
    let database = scratch_database("e2e_missing");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (x int);\n");
    write(dir.path(), "V3__c.sql", "CREATE TABLE c (x int);\n");
    assert_eq!(db(&["migrate"], &database, dir.path()).status.code(), Some(0));

    write(dir.path(), "V2__b.sql", "CREATE TABLE b (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let f = findings(&out);
    assert!(
        f.iter().any(|f| f.0 == "db/drift-out-of-order" && f.2.contains("V2 is pending but V3")),
        "{f:?}"
    );
    assert!(!exists(&database, "b"));

    std::fs::remove_file(dir.path().join("V2__b.sql")).unwrap();
    std::fs::remove_file(dir.path().join("V1__a.sql")).unwrap();
    write(dir.path(), "V4__d.sql", "CREATE TABLE d (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let f = findings(&out);
    assert!(
        f.iter()
            .any(|f| f.0 == "db/drift-missing" && f.2.contains("V1__a was applied but is missing")),
        "{f:?}"
    );
    assert!(!exists(&database, "d"));
    assert_eq!(history(&database).len(), 2);
}

#[test]
fn destructive_is_refused_then_approved_by_plan_hash() {
    let database = scratch_database("e2e_destructive");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (x int);\nCREATE TABLE keep (x int);\n");
    assert_eq!(db(&["migrate"], &database, dir.path()).status.code(), Some(0));
    write(dir.path(), "V2__drop.sql", "-- goodbye\nCREATE TABLE z (x int);\nDROP TABLE a;\n");

    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("V2__drop.sql:3: DROP TABLE: DROP TABLE a"), "{}", text(&out));
    assert!(exists(&database, "a") && !exists(&database, "z"));

    let out = db(&["plan"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let f = findings(&out);
    let hash_msg = &f.iter().find(|f| f.0 == "db/plan-hash").unwrap().2;
    let hash = hash_msg.split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(hash.len(), 64, "{hash_msg}");
    assert!(f.iter().any(|f| f.0 == "db/destructive" && f.1 == "error"), "{f:?}");

    // A hash of another plan does not approve this one.
    let wrong = "0".repeat(64);
    let out = db(&["migrate", "--approve", &wrong], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(rules(&out).contains(&"db/approval-mismatch".to_owned()));
    assert!(exists(&database, "a"));

    let out = db(&["migrate", "--approve", &hash], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rules(&out), ["db/applied", "db/destructive"]);
    assert!(!exists(&database, "a") && exists(&database, "z") && exists(&database, "keep"));

    // --allow-destructive also works, without a hash.
    write(dir.path(), "V3__trunc.sql", "TRUNCATE keep;\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = db(&["migrate", "--allow-destructive"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(history(&database).len(), 3);
}

#[test]
fn no_transaction_migration_creates_an_index_concurrently() {
    let database = scratch_database("e2e_notx");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__t.sql",
        "CREATE TABLE t (x int);\nINSERT INTO t SELECT generate_series(1, 1000);\n",
    );
    write(
        dir.path(),
        "V2__idx.sql",
        "-- tollgate:no-transaction\nCREATE INDEX CONCURRENTLY t_x ON t (x);\nANALYZE t;\n",
    );
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut c = database.connect();
    let valid: bool = c
        .query_one("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_x'::regclass", &[])
        .unwrap()
        .get(0);
    assert!(valid);
    assert_eq!(history(&database).len(), 2);

    // Without the marker, PostgreSQL refuses (inside a transaction): proves the marker matters.
    write(dir.path(), "V3__idx2.sql", "CREATE INDEX CONCURRENTLY t_x2 ON t (x);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("transaction block"), "{}", text(&out));
}

#[test]
fn failing_migration_rolls_back_alone_and_names_file_and_position() {
    let database = scratch_database("e2e_fail");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__ok.sql", "CREATE TABLE ok (x int);\n");
    write(dir.path(), "V2__bad.sql", "CREATE TABLE half (x int);\nINSERT INTO nope VALUES (1);\n");
    write(dir.path(), "V3__later.sql", "CREATE TABLE later (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("V2__bad.sql:2:13: V2 failed and was rolled back"), "{}", text(&out));
    assert!(stderr.contains("relation \"nope\" does not exist"), "{}", text(&out));
    assert!(exists(&database, "ok"), "V1 stays applied");
    assert!(!exists(&database, "half"), "V2 rolled back");
    assert!(!exists(&database, "later"), "V3 not attempted");
    assert_eq!(history(&database).iter().map(|h| h.0).collect::<Vec<_>>(), [1]);

    // A statement the parser cannot read is refused before anything runs (it could be
    // anything); once approved, PostgreSQL's own syntax error names the place.
    write(dir.path(), "V2__bad.sql", "SELECT 1;\n\nCREAT TABLE x (y int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("V2__bad.sql:3: unparseable statement"), "{}", text(&out));
    let out = db(&["migrate", "--allow-destructive"], &database, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("V2__bad.sql:3:1:"), "{}", text(&out));
}

#[test]
fn unreachable_database_is_a_clear_usage_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "SELECT 1;\n");
    for sub in ["migrate", "plan", "status"] {
        let mut cmd = tollgate(dir.path());
        cmd.args(["db", sub, "--dir", ".", "--database-url"])
            .arg(format!("postgres://u:secret@127.0.0.1:{port}/x"));
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "cannot connect to the database at postgres://u:***@127.0.0.1:{port}/x"
            )),
            "{}",
            text(&out)
        );
        assert!(!stderr.contains("secret"));
    }
    // A misnamed file is an input error too.
    write(dir.path(), "V1_a.sql", "SELECT 1;\n");
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "plan", "--dir", ".", "--database-url", "postgres://127.0.0.1:1/x"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("V1_a.sql: migration files are named"));
}

fn spawn_migrate(database: &ScratchDb, dir: &Path, extra: &[&str]) -> std::process::Child {
    let mut cmd = tollgate(dir);
    cmd.args(["db", "migrate", "--dir", ".", "--report-format", "json"])
        .args(extra)
        .env("TOLLGATE_DATABASE_URL", database.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().unwrap()
}

#[test]
fn two_processes_race_and_exactly_one_applies() {
    let database = scratch_database("e2e_race");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__slow.sql",
        "SELECT pg_sleep(3);\nCREATE TABLE raced (x int);\nINSERT INTO raced VALUES (1);\n",
    );
    let a = spawn_migrate(&database, dir.path(), &[]);
    let b = spawn_migrate(&database, dir.path(), &[]);
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", text(out));
    }
    let mut r: Vec<Vec<String>> = outs.iter().map(rules).collect();
    r.sort();
    assert_eq!(r[0], ["db/applied"], "{}\n{}", text(&outs[0]), text(&outs[1]));
    assert_eq!(r[1], ["db/lock-wait", "db/up-to-date"], "{}\n{}", text(&outs[0]), text(&outs[1]));
    assert_eq!(history(&database).len(), 1);
    let n: i64 = database.connect().query_one("SELECT count(*) FROM raced", &[]).unwrap().get(0);
    assert_eq!(n, 1);
}

#[test]
fn a_second_process_times_out_cleanly_on_the_lock() {
    let database = scratch_database("e2e_locktimeout");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__slow.sql", "SELECT pg_sleep(3);\nCREATE TABLE slow (x int);\n");
    let a = spawn_migrate(&database, dir.path(), &[]);
    // Wait until the first process holds the advisory lock.
    let mut c = database.connect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let held: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap()
            .get(0);
        if held > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the first run never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started = std::time::Instant::now();
    let b =
        spawn_migrate(&database, dir.path(), &["--lock-timeout", "1s"]).wait_with_output().unwrap();
    assert_eq!(b.status.code(), Some(2), "{}", text(&b));
    assert!(
        String::from_utf8_lossy(&b.stderr).contains("another migration run holds the lock"),
        "{}",
        text(&b)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let a = a.wait_with_output().unwrap();
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(history(&database).len(), 1);
}

#[test]
fn statement_timeout_stops_a_long_migration() {
    let database = scratch_database("e2e_stmt_timeout");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__slow.sql", "CREATE TABLE s (x int);\nSELECT pg_sleep(5);\n");
    let started = std::time::Instant::now();
    let out = db(&["migrate", "--statement-timeout", "1s"], &database, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("canceling statement due to statement timeout"),
        "{}",
        text(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert!(!exists(&database, "s"));
}

#[test]
fn configmap_and_git_sources() {
    let database = scratch_database("e2e_sources");
    let dir = tempfile::tempdir().unwrap();
    let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrations\ndata:\n  \
                     V1__a.sql: |\n    CREATE TABLE from_configmap (x int);\n";
    write(dir.path(), "cm.yaml", configmap);
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "migrate", "--configmap", "cm.yaml", "--report-format", "json"])
        .env("TOLLGATE_DATABASE_URL", database.url());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(exists(&database, "from_configmap"));

    // The same V1 (same bytes) and a V2 from git, at a pinned commit; a later commit adds V3.
    let repo_dir = dir.path().join("repo");
    let repo = git2::Repository::init(&repo_dir).unwrap();
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    let commit = |files: &[(&str, &str)]| {
        let mut index = repo.index().unwrap();
        for (path, content) in files {
            let full = repo_dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, content).unwrap();
            index.add_path(Path::new(path)).unwrap();
        }
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<_> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "m", &tree, &parents).unwrap()
    };
    let pinned = commit(&[
        ("db/V1__a.sql", "CREATE TABLE from_configmap (x int);\n"),
        ("db/V2__b.sql", "CREATE TABLE from_git (x int);\n"),
    ]);
    commit(&[("db/V3__c.sql", "CREATE TABLE later (x int);\n")]);
    // The working tree has V3 too, but only the pinned commit counts.
    let mut cmd = tollgate(dir.path());
    cmd.args([
        "db",
        "migrate",
        "--git-repo",
        "repo",
        "--git-path",
        "db",
        "--report-format",
        "json",
    ])
    .arg("--git-commit")
    .arg(pinned.to_string())
    .env("TOLLGATE_DATABASE_URL", database.url());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rules(&out), ["db/applied"]);
    assert!(exists(&database, "from_git") && !exists(&database, "later"));

    // A commit that does not exist is an input error.
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "plan", "--git-repo", "repo", "--git-commit", "deadbeefdeadbeef"])
        .env("TOLLGATE_DATABASE_URL", database.url());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at deadbeefdeadbeef"), "{}", text(&out));
}

/// The recorded versions as text, in the order the rows were applied.
fn recorded_versions(db: &ScratchDb) -> Vec<String> {
    let mut c = db.connect();
    c.query("SELECT version::text FROM tollgate_schema_history ORDER BY applied_at, version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Flyway's dotted versions (`V1_5__`, `V1.10__`) apply in Flyway's order (numeric per part),
/// `1.0` and `1` are one version, and a dotted version below the highest applied is
/// out-of-order drift.
#[test]
fn flyway_dotted_versions_apply_in_flyway_order() {
    let database = scratch_database("e2e_flyway");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (x int);\n");
    write(dir.path(), "V1.10__c.sql", "CREATE TABLE c (x int);\n");
    write(dir.path(), "V1_9__b.sql", "CREATE TABLE b (x int);\n");
    write(dir.path(), "V2__d.sql", "CREATE TABLE d (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let applied: Vec<_> = findings(&out).into_iter().map(|f| f.2).collect();
    assert_eq!(applied.len(), 4, "{applied:?}");
    for v in ["V1__a", "V1.9__b", "V1.10__c", "V2__d"] {
        assert!(applied.iter().any(|m| m.starts_with(v)), "{v} not applied: {applied:?}");
    }
    let mut versions = recorded_versions(&database);
    versions.sort_by_key(|v| {
        tollgate_db::migrate::MigrationVersion::parse(v).expect("a recorded version")
    });
    assert_eq!(versions, ["1", "1.9", "1.10", "2"]);

    // A dotted version below the highest applied: drift, nothing applied.
    write(dir.path(), "V1_9_5__late.sql", "CREATE TABLE late (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let f = findings(&out);
    assert!(
        f.iter().any(|f| f.0 == "db/drift-out-of-order" && f.2.contains("V1.9.5 is pending")),
        "{f:?}"
    );
    assert!(!exists(&database, "late"));
    std::fs::remove_file(dir.path().join("V1_9_5__late.sql")).unwrap();

    // `1.0` is version 1: a duplicate of V1 in the source is an input error.
    write(dir.path(), "V1.0__again.sql", "SELECT 1;\n");
    let out = db(&["plan"], &database, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also used by"), "{}", text(&out));
}

/// A history table from before dotted versions (`version bigint`) keeps its type while only
/// integer versions are applied, and is widened to text — every row kept — for the first dotted
/// one.
#[test]
fn a_bigint_history_table_is_widened_for_the_first_dotted_version() {
    let database = scratch_database("e2e_flyway_widen");
    let dir = tempfile::tempdir().unwrap();
    let v1 = "CREATE TABLE a (x int);\n";
    write(dir.path(), "V1__a.sql", v1);
    let mut c = database.connect();
    c.batch_execute(&format!(
        "CREATE TABLE a (x int);
         CREATE TABLE tollgate_schema_history (
             version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(), duration_ms bigint NOT NULL,
             applied_by text NOT NULL);
         INSERT INTO tollgate_schema_history (version, name, checksum, duration_ms, applied_by)
             VALUES (1, 'a', '{}', 3, 'old@host');",
        sha256(v1)
    ))
    .unwrap();
    let column_type = |c: &mut postgres::Client| -> String {
        c.query_one(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = 'tollgate_schema_history' AND column_name = 'version'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    write(dir.path(), "V2__b.sql", "CREATE TABLE b (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(column_type(&mut c), "bigint", "integer versions keep the old column");

    write(dir.path(), "V2_1__c.sql", "CREATE TABLE c (x int);\n");
    let out = db(&["migrate"], &database, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(column_type(&mut c), "text");
    let rows: Vec<(String, String, String)> = c
        .query(
            "SELECT version, name, applied_by FROM tollgate_schema_history ORDER BY applied_at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("1", "a", "old@host")
    );
    assert_eq!(rows[2].0, "2.1");
    assert!(exists(&database, "c"));
}

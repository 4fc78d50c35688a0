//! `tollgate db backup|list|verify|retention|restore` against the real PostgreSQL that
//! `cargo xtask test` starts, with a local directory as the store.

use crate::support::{run, text, tollgate};
use std::path::Path;
use std::process::Output;
use tollgate_db::testing::{ScratchDb, scratch_database};

fn seeded(prefix: &str) -> ScratchDb {
    let db = scratch_database(prefix);
    db.connect()
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;",
        )
        .unwrap();
    db
}

fn db(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = tollgate(dir);
    cmd.arg("db").args(args).env_remove("SOURCE_DATE_EPOCH");
    run(&mut cmd)
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(output)))
}

fn findings(output: &Output) -> Vec<(String, String)> {
    json(output)["reports"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().into(), f["message"].as_str().unwrap().into()))
        .collect()
}

fn backup_id(output: &Output) -> String {
    let f = findings(output);
    assert_eq!(f[0].0, "db-backup/created", "{}", text(output));
    f[0].1.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn backup_list_verify_retention_restore() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let src = seeded("e2e_bk_src");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = db(
            dir.path(),
            &["backup", "--database-url", src.url(), "--store", store, "--report-format", "json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        ids.push(backup_id(&out));
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }

    let out = db(dir.path(), &["list", "--store", store, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = json(&out);
    let listed_ids: Vec<_> =
        listed.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed_ids, vec![ids[1].clone(), ids[0].clone()]);
    assert_eq!(listed[0]["status"], "complete");
    assert_eq!(listed[0]["database"], src.name.as_str());

    // Verify the older one with a full test restore: it becomes the newest verified backup.
    let out = db(
        dir.path(),
        &[
            "verify",
            "--store",
            store,
            &ids[0],
            "--database-url",
            src.url(),
            "--tier",
            "restore",
            "--query",
            "SELECT count(*) = 500 FROM items",
            "--report-format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let f = findings(&out);
    assert!(
        f.iter().any(|(r, m)| r == "db-verify/row-count" && m == "public.items: 500 rows"),
        "{f:?}"
    );
    assert!(f.iter().any(|(r, _)| r == "db-verify/query"), "{f:?}");

    // A custom check that does not hold fails the verification (and is not recorded as verified).
    let out = db(
        dir.path(),
        &[
            "verify",
            "--store",
            store,
            &ids[1],
            "--database-url",
            src.url(),
            "--tier",
            "restore",
            "--query",
            "SELECT count(*) = 0 FROM items",
            "--report-format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(findings(&out).iter().any(|(r, _)| r == "db-verify/query-failed"), "{}", text(&out));

    // Retention dry run: keep-last 1 would delete the older one, but it is the newest verified.
    let out = db(
        dir.path(),
        &[
            "retention",
            "--store",
            store,
            "--keep-last",
            "1",
            "--floor",
            "0",
            "--report-format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let f = findings(&out);
    assert!(f.iter().all(|(r, _)| r == "db-retention/keep"), "{f:?}");
    assert!(
        f.iter().any(|(_, m)| m.contains(&ids[0]) && m.contains("newest verified backup")),
        "{f:?}"
    );

    // A third backup, verified: now the first one goes, but only with --apply.
    let out = db(
        dir.path(),
        &["backup", "--database-url", src.url(), "--store", store, "--report-format", "json"],
    );
    let third = backup_id(&out);
    let out = db(
        dir.path(),
        &["verify", "--store", store, &third, "--database-url", src.url(), "--tier", "checksum"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let retention = [
        "retention",
        "--store",
        store,
        "--keep-last",
        "1",
        "--floor",
        "0",
        "--report-format",
        "json",
    ];
    let out = db(dir.path(), &retention);
    let f = findings(&out);
    let deletes: Vec<_> =
        f.iter().filter(|(r, _)| r == "db-retention/delete").map(|(_, m)| m.clone()).collect();
    assert_eq!(deletes.len(), 2, "{f:?}");
    assert_eq!(
        std::fs::read_dir(Path::new(store).join(&src.name)).unwrap().count(),
        6,
        "dry run deletes nothing"
    );
    let mut apply = retention.to_vec();
    apply.push("--apply");
    let out = db(dir.path(), &apply);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = db(dir.path(), &["list", "--store", store, "--json"]);
    let left: Vec<_> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, vec![third.clone()]);

    // Restore into an empty target, then refuse a non-empty one without --replace.
    let target = scratch_database("e2e_bk_target");
    let out =
        db(dir.path(), &["restore", "--store", store, &third, "--database-url", target.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let n: i64 = target.connect().query_one("SELECT count(*) FROM items", &[]).unwrap().get(0);
    assert_eq!(n, 500);
    let out =
        db(dir.path(), &["restore", "--store", store, &third, "--database-url", target.url()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"), "{}", text(&out));
    let out = db(
        dir.path(),
        &["restore", "--store", store, &third, "--database-url", target.url(), "--replace"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A pg_dump that writes output and then fails, and one older than the server.
fn fake_bindir(dir: &Path, script: &str) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["psql", "pg_restore"] {
        let real = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let path = bin.join("pg_dump");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

use std::process::Command;

#[test]
fn pg_dump_failing_mid_stream_leaves_nothing_complete() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let src = seeded("e2e_bk_fail");
    let bin = fake_bindir(
        dir.path(),
        "if [ \"$1\" = --version ]; then exec pg_dump --version; fi\n\
         head -c 12000000 /dev/zero\necho 'pg_dump: error: connection lost' >&2\nexit 1",
    );
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "backup", "--database-url", src.url(), "--store", store.to_str().unwrap()])
        .env("TOLLGATE_PG_BINDIR", &bin)
        .env("PATH", std::env::var("PATH").unwrap());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connection lost"), "{}", text(&out));
    let left: Vec<_> = walk(&store);
    assert!(left.is_empty(), "objects left behind: {left:?}");
}

#[test]
fn pg_dump_older_than_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let src = seeded("e2e_bk_old");
    let bin = fake_bindir(dir.path(), "echo 'pg_dump (PostgreSQL) 9.6.24'\nexit 0");
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "backup", "--database-url", src.url(), "--store", store.to_str().unwrap()])
        .env("TOLLGATE_PG_BINDIR", &bin);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump 9.6.24 is older than the server"), "{}", text(&out));
    assert!(walk(&store).is_empty());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// A backup killed with SIGKILL in the middle of its upload leaves the local store's staging
/// file (`<id>.dump#<n>`, hidden from the store's listing). `db list` shows it as staging;
/// `db retention --apply` keeps it while it may still be written and removes it once it has not
/// been written for the grace period — and never counts it towards the floor.
#[test]
fn killed_backup_leaves_a_staging_file_that_retention_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let store = store_dir.to_str().unwrap();
    let src = seeded("e2e_bk_kill");
    // A pg_dump that writes more than one upload part, then hangs until killed.
    let bin = fake_bindir(
        dir.path(),
        "if [ \"$1\" = --version ]; then exec pg_dump --version; fi\n\
         head -c 12000000 /dev/zero\nsleep 120",
    );
    let mut cmd = tollgate(dir.path());
    cmd.args(["db", "backup", "--database-url", src.url(), "--store", store])
        .env("TOLLGATE_PG_BINDIR", &bin)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let staged = loop {
        // The staging file exists from the start of the upload.
        let found = walk(&store_dir)
            .into_iter()
            .find(|p| p.file_name().unwrap().to_str().unwrap().contains(".dump#"));
        if let Some(p) = found {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no staging file appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: no destructor, no abort of the upload
    child.wait().unwrap();
    let _ = Command::new("pkill").args(["-f", &bin.join("pg_dump").display().to_string()]).status();
    assert!(staged.exists());

    let out = db(dir.path(), &["list", "--store", store, "--json"]);
    let listed = json(&out);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    assert_eq!(listed[0]["status"], "staging");
    assert_eq!(listed[0]["database"], src.name.as_str());
    let key = listed[0]["key"].as_str().unwrap();
    assert!(staged.ends_with(key), "{key} vs {}", staged.display());

    let retention = ["retention", "--store", store, "--keep-last", "1", "--apply"];
    let report = ["--report-format", "json"];
    let out = db(dir.path(), &[&retention[..], &report[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let f = findings(&out);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "db-retention/keep");
    assert!(f[0].1.contains("may still be running"), "{f:?}");
    assert!(staged.exists(), "removed within the grace period");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = db(dir.path(), &[&retention[..], &["--staging-grace", "1s"], &report[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let f = findings(&out);
    assert_eq!(f[0].0, "db-retention/deleted", "{f:?}");
    assert!(f[0].1.contains("staging file of an interrupted upload"), "{f:?}");
    assert!(!staged.exists(), "the staging file is still there");
    assert!(walk(&store_dir).is_empty(), "{:?}", walk(&store_dir));

    let out = db(dir.path(), &[&retention[..], &["--staging-grace", "soon"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

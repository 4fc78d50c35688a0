//! Database passwords stay secret: never on a command line (`/proc/<pid>/cmdline` is readable
//! by every local user), never in an error message, also for URLs that do not parse; and a
//! scratch server that cannot be reached or refuses the password is an infrastructure error
//! (exit 2), not a failed backup (exit 1).

use crate::support::{run, text, tollgate};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tollgate_db::testing::{PasswordRole, ScratchDb, password_role, scratch_database};

fn seeded(prefix: &str) -> ScratchDb {
    let db = scratch_database(prefix);
    db.connect()
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;",
        )
        .unwrap();
    db
}

/// `tollgate db ARGS` with the database URL in `TOLLGATE_DATABASE_URL` (not on our own
/// command line either) and the client tools taken from `bindir`.
fn db_with_env(dir: &Path, url: &str, bindir: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = tollgate(dir);
    cmd.arg("db").args(args).env_remove("SOURCE_DATE_EPOCH").env("TOLLGATE_DATABASE_URL", url);
    if let Some(bin) = bindir {
        cmd.env("TOLLGATE_PG_BINDIR", bin);
    }
    run(&mut cmd)
}

/// Wrappers of `pg_dump`, `psql` and `pg_restore` that append their own command line to
/// `log`, then run the real tool.
fn recording_bindir(dir: &Path, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["pg_dump", "psql", "pg_restore"] {
        let real =
            std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output();
        let real = String::from_utf8_lossy(&real.unwrap().stdout).trim().to_string();
        assert!(!real.is_empty(), "{tool} is not on PATH");
        let path = bin.join(tool);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"{tool} $*\" >> '{}'\nexec '{real}' \"$@\"\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// Samples every process's command line until stopped; keeps those containing `needle`.
struct CmdlineWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    samples: Arc<Mutex<usize>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CmdlineWatch {
    fn start(needle: &str) -> CmdlineWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let samples = Arc::new(Mutex::new(0));
        let (s, found, count, needle) =
            (Arc::clone(&stop), Arc::clone(&seen), Arc::clone(&samples), needle.to_owned());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
                    let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                    if line.contains(&needle) {
                        found.lock().unwrap().push(line);
                    }
                }
                *count.lock().unwrap() += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        CmdlineWatch { stop, seen, samples, thread: Some(thread) }
    }

    fn finish(mut self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        let seen = self.seen.lock().unwrap().clone();
        (seen, *self.samples.lock().unwrap())
    }
}

#[test]
fn no_command_line_holds_the_database_password() {
    // The role must authenticate with its password: a backup that works proves the password
    // reached libpq, the watch proves it did not go through any command line.
    let role: PasswordRole = password_role("e2e_pw");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let log = dir.path().join("argv.log");
    let bin = recording_bindir(dir.path(), &log);
    let src = seeded("e2e_pw_src");
    let target = scratch_database("e2e_pw_target");

    // The watch itself sees what it should.
    let probe = CmdlineWatch::start("tollgate-watch-probe");
    let mut child = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3", "tollgate-watch-probe"])
        .spawn()
        .unwrap();
    child.wait().unwrap();
    let (seen, _) = probe.finish();
    assert!(!seen.is_empty(), "the /proc watch misses processes");

    let watch = CmdlineWatch::start(&role.marker);
    let out = db_with_env(
        dir.path(),
        &role.url(&src.name),
        Some(&bin),
        &["backup", "--store", store, "--report-format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = report["reports"][0]["findings"][0]["message"].as_str().unwrap();
    let id = message.split_whitespace().nth(1).unwrap().to_owned();
    let out = db_with_env(
        dir.path(),
        &role.url("postgres"),
        Some(&bin),
        &["verify", "--store", store, &id, "--tier", "restore"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = db_with_env(
        dir.path(),
        &role.url(&target.name),
        Some(&bin),
        &["restore", "--store", store, &id],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (seen, samples) = watch.finish();
    assert!(samples > 10, "the watch sampled {samples} times");
    assert!(seen.is_empty(), "command lines holding the password: {seen:#?}");

    let argv = std::fs::read_to_string(&log).unwrap();
    for tool in ["pg_dump", "psql", "pg_restore"] {
        assert!(argv.lines().any(|l| l.starts_with(tool)), "{tool} never ran:\n{argv}");
    }
    assert!(!argv.contains(&role.marker), "a tool got the password as an argument:\n{argv}");
    let n: i64 = target.connect().query_one("SELECT count(*) FROM items", &[]).unwrap().get(0);
    assert_eq!(n, 50);
}

#[test]
fn a_malformed_url_never_echoes_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let src = seeded("e2e_pw_malformed");
    let out = db_with_env(dir.path(), src.url(), None, &["backup", "--store", store]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = tollgate_db::backup::list(&tollgate_db::store::Store::open(store).unwrap()).unwrap()
        [0]
    .id
    .clone();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("V1__a.sql"), "CREATE TABLE a (x int);").unwrap();
    let migrations = migrations.to_str().unwrap();

    let secret = "hunter2";
    let urls = [
        format!("postgres://u:{secret}@x@127.0.0.1:1/db"),
        format!("postgres://u:{secret}/x@127.0.0.1:1/db"),
        format!("postgres://u:{secret}%zz@127.0.0.1:1/db"),
        format!("postgres://u:{secret}?x@127.0.0.1:1/db"),
        format!("postgres://u:{secret}@127.0.0.1:notaport/db"),
        format!("postgresql//u:{secret}@127.0.0.1:1/db"),
        format!("postgres://127.0.0.1:1/db?password={secret}&bad"),
        format!("host=127.0.0.1 port=1 password={secret} dbname"),
        format!("host=127.0.0.1 port=1 password='{secret} dbname=x"),
    ];
    for url in &urls {
        for args in [
            vec!["backup", "--store", store],
            vec!["verify", "--store", store, &id, "--tier", "restore"],
            vec!["restore", "--store", store, &id],
            vec!["plan", "--dir", migrations],
            vec!["migrate", "--dir", migrations],
        ] {
            let out = db_with_env(dir.path(), url, None, &args);
            assert_eq!(out.status.code(), Some(2), "{url} {args:?}: {}", text(&out));
            assert!(
                !text(&out).contains(secret),
                "{url} {args:?} echoes the password: {}",
                text(&out)
            );
        }
    }
}

#[test]
fn an_unusable_scratch_server_is_an_infrastructure_error_not_a_failed_backup() {
    let role = password_role("e2e_pw_scratch");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let src = seeded("e2e_scratch_infra");
    let out = db_with_env(dir.path(), src.url(), None, &["backup", "--store", store]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let opened = tollgate_db::store::Store::open(store).unwrap();
    let id = tollgate_db::backup::list(&opened).unwrap()[0].id.clone();
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let verify = ["verify", "--store", store, id.as_str(), "--tier", "restore"];
    for (what, url) in [
        ("unreachable", format!("postgres://postgres@127.0.0.1:{closed_port}/postgres")),
        ("wrong password", role.url_with("postgres", "wrong-password")),
    ] {
        let out = db_with_env(dir.path(), &url, None, &verify);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("scratch server"), "{what}: {}", text(&out));
        assert!(!err.contains(&role.marker) && !err.contains("wrong-password"), "{err}");
        // Nothing is recorded against the backup.
        let info = tollgate_db::backup::find(&opened, &id).unwrap();
        assert!(info.verified.is_none(), "{what}: {:?}", info.verified);
    }
    let out = db_with_env(dir.path(), &role.url("postgres"), None, &verify);
    assert_eq!(out.status.code(), Some(0), "with the right password: {}", text(&out));
}

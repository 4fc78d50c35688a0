//! Test helpers: scratch databases on the PostgreSQL server `cargo xtask test` starts, and the
//! S3-compatible endpoint it starts. Compiled for tests and with the `testing` feature.
//!
//! No test is skipped because a server is missing: the helpers panic and say how to start one.

use std::sync::atomic::{AtomicU32, Ordering};

const HOW: &str = "run `cargo xtask test`, which starts PostgreSQL";

/// The server URL from `TOLLGATE_TEST_DATABASE_URL` (panics when unset).
pub fn server_url() -> String {
    std::env::var("TOLLGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| panic!("TOLLGATE_TEST_DATABASE_URL is not set: {HOW}"))
}

/// The S3-compatible endpoint from `TOLLGATE_TEST_S3_ENDPOINT` (panics when unset).
pub fn s3_endpoint() -> String {
    std::env::var("TOLLGATE_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("TOLLGATE_TEST_S3_ENDPOINT is not set: run `cargo xtask test`, which starts moto")
    })
}

/// Creates bucket `<name>-<pid>` on the S3-compatible test server (an unsigned `PUT /bucket`,
/// which moto accepts) and returns its name; panics with the server's answer otherwise.
pub fn create_bucket(name: &str) -> String {
    use std::io::{Read as _, Write as _};
    let endpoint = s3_endpoint();
    let bucket = format!("{name}-{}", std::process::id());
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(hostport)
        .unwrap_or_else(|e| panic!("cannot connect to {endpoint}: {e}"));
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_else(|e| panic!("create bucket {bucket}: {e}"));
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap_or_else(|e| panic!("create bucket {bucket}: {e}"));
    assert!(resp.starts_with("HTTP/1.1 200"), "create bucket {bucket}: {resp}");
    bucket
}

/// The group role whose members must log in with a password over TCP: `cargo xtask test`
/// puts `host all +tollgate_password_auth 127.0.0.1/32 scram-sha-256` first in `pg_hba.conf`.
pub const PASSWORD_AUTH_GROUP: &str = "tollgate_password_auth";

/// A superuser login role that the server makes authenticate with its password, dropped when
/// this value is dropped (drop the databases it owns first).
#[derive(Debug)]
pub struct PasswordRole {
    /// The role's name.
    pub name: String,
    /// Its password (contains `@` and `/`, which URLs must percent-encode).
    pub password: String,
    /// A part of the password that no message or command line may contain.
    pub marker: String,
    server: String,
}

impl PasswordRole {
    /// A URL of the test server for `database`, as this role with `password` (percent-encoded).
    pub fn url_with(&self, database: &str, password: &str) -> String {
        let encoded = password.replace('%', "%25").replace('@', "%40").replace('/', "%2F");
        let server = with_database(&self.server, database);
        let rest = server.split_once("://").map_or(server.as_str(), |(_, r)| r);
        let host = rest.split_once('@').map_or(rest, |(_, h)| h);
        format!("postgres://{}:{encoded}@{host}", self.name)
    }

    /// A URL of the test server for `database`, as this role with its password.
    pub fn url(&self, database: &str) -> String {
        self.url_with(database, &self.password)
    }
}

/// Creates a [`PasswordRole`] named `<prefix>_<pid>_<n>`; panics when the server would let it
/// in with a wrong password (a server not started by `cargo xtask test`).
pub fn password_role(prefix: &str) -> PasswordRole {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let server = server_url();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    let marker = format!("tgPW{}x{n}", std::process::id());
    let password = format!("{marker}@k/s");
    let mut admin = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {server}: {e}; {HOW}"));
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {PASSWORD_AUTH_GROUP} NOLOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
             CREATE ROLE \"{name}\" LOGIN SUPERUSER PASSWORD '{password}' IN ROLE {PASSWORD_AUTH_GROUP}"
        ))
        .unwrap_or_else(|e| panic!("CREATE ROLE {name}: {e}"));
    let role = PasswordRole { name, password, marker, server };
    let wrong = role.url_with("postgres", "not-the-password");
    assert!(
        postgres::Client::connect(&wrong, postgres::NoTls).is_err(),
        "the test server lets {} in with a wrong password: pg_hba.conf lacks the \
         +{PASSWORD_AUTH_GROUP} scram-sha-256 line; {HOW}",
        role.name
    );
    role
}

impl Drop for PasswordRole {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
        }
    }
}

/// A uniquely named database, dropped (with its connections) when this value is dropped.
#[derive(Debug)]
pub struct ScratchDb {
    /// The database's name.
    pub name: String,
    /// A connection URL for it.
    pub url: String,
    server: String,
}

impl ScratchDb {
    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to the database.
    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.url))
    }
}

/// Creates a database named `<prefix>_<pid>_<n>_<nanos>` on the test server.
pub fn scratch_database(prefix: &str) -> ScratchDb {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let server = server_url();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let prefix: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .take(30)
        .collect();
    let name = format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {server}: {e}; {HOW}"));
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let url = with_database(&server, &name);
    ScratchDb { name, url, server }
}

/// `url` with its database (path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database() {
        assert_eq!(with_database("postgres://u@h:1/postgres", "x"), "postgres://u@h:1/x");
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_database("postgres://u@h:1/a?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
    }

    #[test]
    fn scratch_database_exists_until_dropped() {
        let db = scratch_database("testing self");
        let mut client = db.connect();
        let name: String = client.query_one("SELECT current_database()", &[]).unwrap().get(0);
        assert_eq!(name, db.name);
        drop(client);
        let name = db.name.clone();
        drop(db);
        let mut admin = postgres::Client::connect(&server_url(), postgres::NoTls).unwrap();
        let n: i64 = admin
            .query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
    }
}

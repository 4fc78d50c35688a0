//! The store URL syntax shared by `tollgate db --store` and `tollgate evidence publish --store`.
//!
//! A store URL is `file:///dir`, a plain path, or
//! `s3://bucket[/prefix][?endpoint=http://host:port&region=R]`. [`StoreUrl::parse`] turns one into
//! plain data (a path, or bucket / prefix / endpoint / region / allow-http); each crate that
//! talks to a store builds its own `object_store` client from that value.
//!
//! Why here: both `tollgate-db` (backups) and `tollgate-evidence` (publishing) accept the same
//! URLs, and `tollgate-evidence` must not depend on `tollgate-db` (PostgreSQL, git2, age). The
//! syntax is shared vocabulary, like the configuration, so it lives in `tollgate-core`; it is
//! parsed by hand and adds no dependency (no `object_store`, no `url`) to core.
//!
//! [`S3Credentials`] is the explicit-credentials value a caller may pass instead of the process
//! environment (the operator's per-policy `credentialsSecretRef`).

use std::fmt;
use std::path::PathBuf;

/// The region used when neither the URL nor `AWS_REGION` / `AWS_DEFAULT_REGION` names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A local directory (`file:///dir` or a plain path), as given; not created or checked.
    Local(PathBuf),
    /// An S3 bucket, or a prefix in one.
    S3(S3Location),
}

/// Where in S3 a store lives, with every setting resolved (URL first, then the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket name (never empty).
    pub bucket: String,
    /// The key prefix without leading or trailing `/`; empty for the bucket root.
    pub prefix: String,
    /// A custom endpoint (`?endpoint=` or `AWS_ENDPOINT_URL`), for S3-compatible servers;
    /// always starting with `http://` or `https://`. `None` means AWS itself.
    pub endpoint: Option<String>,
    /// The region (`?region=`, `AWS_REGION`, `AWS_DEFAULT_REGION`, else [`DEFAULT_REGION`]).
    pub region: String,
    /// True when the endpoint is plain `http://` (local S3-compatible servers); clients must
    /// allow HTTP and use path-style requests then.
    pub allow_http: bool,
}

/// A store URL that could not be understood: the URL as given and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store URL {url:?}: {reason}")]
pub struct StoreUrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl StoreUrl {
    /// Parses `url`, reading `AWS_ENDPOINT_URL`, `AWS_REGION` and `AWS_DEFAULT_REGION` from the
    /// process environment for what the URL leaves out (empty variables count as unset).
    pub fn parse(url: &str) -> Result<StoreUrl, StoreUrlError> {
        StoreUrl::parse_with_env(url, |name| std::env::var(name).ok())
    }

    /// Like [`StoreUrl::parse`], with `env` answering for the environment variables, so the
    /// result does not depend on the process environment.
    pub fn parse_with_env(
        url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<StoreUrl, StoreUrlError> {
        let bad = |reason: String| StoreUrlError { url: url.to_owned(), reason };
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let Some(rest) = url.strip_prefix("s3://") else {
            let path = match url.strip_prefix("file://") {
                Some(p) => p,
                None if url.contains("://") => {
                    let scheme = url.split("://").next().unwrap_or_default();
                    return Err(bad(format!(
                        "unsupported scheme {scheme:?} (use s3://, file:// or a path)"
                    )));
                }
                None => url,
            };
            if path.is_empty() {
                return Err(bad("empty path".into()));
            }
            return Ok(StoreUrl::Local(PathBuf::from(path)));
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket name".into()));
        }
        let mut endpoint = None;
        let mut region = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name != "endpoint" && name != "region" {
                return Err(bad(format!("unknown query parameter {pair:?}")));
            }
            if value.is_empty() {
                return Err(bad(format!("query parameter {name:?} has no value")));
            }
            let slot = if name == "endpoint" { &mut endpoint } else { &mut region };
            if slot.replace(value.to_owned()).is_some() {
                return Err(bad(format!("query parameter {name:?} given twice")));
            }
        }
        let endpoint = match (endpoint, env("AWS_ENDPOINT_URL")) {
            (Some(e), _) => Some(checked_endpoint(e, "the endpoint parameter").map_err(bad)?),
            (None, Some(e)) => Some(checked_endpoint(e, "AWS_ENDPOINT_URL").map_err(bad)?),
            (None, None) => None,
        };
        let region = region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        Ok(StoreUrl::S3(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            allow_http: endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
            endpoint,
            region,
        }))
    }
}

/// `endpoint` if it is an `http(s)://` URL with a host; otherwise what is wrong, naming `from`.
fn checked_endpoint(endpoint: String, from: &str) -> Result<String, String> {
    let host = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://"));
    match host {
        Some(h) if !h.is_empty() && !h.starts_with('/') => Ok(endpoint),
        Some(_) => Err(format!("{from} {endpoint:?} has no host")),
        None => Err(format!("{from} {endpoint:?} is not an http:// or https:// URL")),
    }
}

/// Static S3 credentials given explicitly instead of read from the `AWS_*` environment.
///
/// `Debug` shows only the access key id; the secret and session token are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
    /// The session token of temporary credentials (`AWS_SESSION_TOKEN`).
    pub session_token: Option<String>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Environment variables for a test: name, value.
    type Vars<'a> = &'a [(&'a str, &'a str)];

    /// Parses with exactly the variables in `vars` set.
    fn parse(url: &str, vars: &[(&str, &str)]) -> Result<StoreUrl, StoreUrlError> {
        StoreUrl::parse_with_env(url, |name| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        })
    }

    fn s3(url: &str, vars: &[(&str, &str)]) -> S3Location {
        match parse(url, vars) {
            Ok(StoreUrl::S3(location)) => location,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn local_paths_and_file_urls() {
        assert_eq!(parse("file:///tmp/x", &[]), Ok(StoreUrl::Local("/tmp/x".into())));
        assert_eq!(parse("/tmp/x", &[]), Ok(StoreUrl::Local("/tmp/x".into())));
        assert_eq!(parse("rel/dir", &[]), Ok(StoreUrl::Local("rel/dir".into())));
    }

    #[test]
    fn s3_with_everything_in_the_url() {
        let url = "s3://bucket/a/b/?endpoint=http://127.0.0.1:9&region=eu-west-1";
        let vars = [("AWS_ENDPOINT_URL", "https://ignored"), ("AWS_REGION", "ignored")];
        assert_eq!(
            s3(url, &vars),
            S3Location {
                bucket: "bucket".into(),
                prefix: "a/b".into(),
                endpoint: Some("http://127.0.0.1:9".into()),
                region: "eu-west-1".into(),
                allow_http: true,
            }
        );
    }

    #[test]
    fn s3_settings_fall_back_to_the_environment_then_defaults() {
        let bare = s3("s3://b", &[]);
        assert_eq!(
            (bare.prefix.as_str(), bare.endpoint.as_deref(), bare.region.as_str()),
            ("", None, "us-east-1")
        );
        assert!(!bare.allow_http);
        let vars = [
            ("AWS_ENDPOINT_URL", "https://minio.example:9000"),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
        ];
        let from_env = s3("s3://b/p", &vars);
        assert_eq!(from_env.endpoint.as_deref(), Some("https://minio.example:9000"));
        assert_eq!(from_env.region, "ap-south-1");
        assert!(!from_env.allow_http, "https is not plain http");
        let both = [("AWS_REGION", "eu-north-1"), ("AWS_DEFAULT_REGION", "ap-south-1")];
        assert_eq!(s3("s3://b", &both).region, "eu-north-1", "AWS_REGION wins");
        let empty = [("AWS_ENDPOINT_URL", ""), ("AWS_REGION", "")];
        assert_eq!(s3("s3://b", &empty), bare, "empty variables count as unset");
    }

    /// Every refusal names the URL and says what is wrong.
    #[test]
    fn bad_urls_name_the_url_and_the_problem() {
        let cases: &[(&str, Vars, &str)] = &[
            ("", &[], "empty path"),
            ("file://", &[], "empty path"),
            ("gs://x", &[], "unsupported scheme \"gs\""),
            ("s3:///p", &[], "no bucket name"),
            ("s3://", &[], "no bucket name"),
            ("s3://b/p?x=1", &[], "unknown query parameter \"x=1\""),
            ("s3://b?endpoint", &[], "query parameter \"endpoint\" has no value"),
            ("s3://b?region=", &[], "query parameter \"region\" has no value"),
            ("s3://b?region=a&region=b", &[], "query parameter \"region\" given twice"),
            ("s3://b?endpoint=localhost:9000", &[], "is not an http:// or https:// URL"),
            ("s3://b?endpoint=http://", &[], "has no host"),
            ("s3://b", &[("AWS_ENDPOINT_URL", "ftp://h")], "AWS_ENDPOINT_URL \"ftp://h\""),
        ];
        for (url, vars, want) in cases {
            let err = parse(url, vars).unwrap_err();
            assert_eq!(err.url, *url);
            let shown = err.to_string();
            assert!(shown.starts_with(&format!("store URL {url:?}: ")), "{shown}");
            assert!(shown.contains(want), "{url}: {shown} lacks {want:?}");
        }
    }

    #[test]
    fn credentials_debug_hides_the_secret_and_token() {
        let c = S3Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "s3cr3t-value".into(),
            session_token: Some("t0ken-value".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("t0ken-value"), "{shown}");
    }
}

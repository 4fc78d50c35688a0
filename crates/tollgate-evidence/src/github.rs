//! GitHub REST access for change-management evidence ([`changes`]) and release assets
//! ([`release`]), through octocrab.
//!
//! octocrab supplies the HTTP client (hyper, rustls on ring), the base URI (api.github.com or a
//! GitHub Enterprise Server `https://host/api/v3`) and the token header; responses are read raw
//! (`execute`) so that this module sees status codes and headers: it follows `Link: rel="next"`
//! pagination, waits out rate limits (403/429 with `retry-after`, or `x-ratelimit-remaining: 0`
//! with `x-ratelimit-reset`) within a bounded total wait ([`GitHubSettings::max_rate_limit_wait`],
//! default 60 s), and retries transient 5xx answers a few times. Response bodies are decoded
//! into narrow types that hold only the fields the evidence needs, under GitHub's field names.
//!
//! The API is synchronous: a [`GitHub`] owns a current-thread tokio runtime and blocks on each
//! request, as tollgate-db does for object_store.
//!
//! **Architecture invariant:** the token is held as a `SecretString`; it is never logged, never
//! part of an error or a `Debug` output, and only sent to the API's own host (and the upload
//! host GitHub names for release assets).

pub mod changes;
pub mod release;

use std::fmt;
use std::time::Duration;

use octocrab::Octocrab;
use octocrab::secrecy::SecretString;
use serde::de::DeserializeOwned;

/// The public GitHub API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version requested (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";
/// The most pages read from one paginated list before giving up (a loop guard).
pub const MAX_PAGES: usize = 100;

/// Errors talking to GitHub. None of them carries the token.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// `GITHUB_API_URL` (or the given API URL) is not a usable URL.
    #[error("GitHub API URL {url:?}: {message}")]
    ApiUrl {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// `OWNER/NAME` is malformed.
    #[error("repository {repo:?}: expected OWNER/NAME")]
    RepoSlug {
        /// As given.
        repo: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("{method} {url}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// The request URL.
        url: String,
        /// The client's message.
        message: String,
    },
    /// GitHub rejected the credentials (401).
    #[error(
        "{method} {url}: GitHub answered 401 ({message}): the token in GITHUB_TOKEN is missing, \
         invalid or expired"
    )]
    Unauthorized {
        /// HTTP method.
        method: String,
        /// The request URL.
        url: String,
        /// GitHub's message.
        message: String,
    },
    /// The rate limit would need a longer wait than allowed.
    #[error(
        "{method} {url}: rate limited by GitHub; waiting {needed_secs} s more would exceed the \
         maximum total wait of {max_secs} s (already waited {waited_secs} s)"
    )]
    RateLimited {
        /// HTTP method.
        method: String,
        /// The request URL.
        url: String,
        /// Seconds already waited during this run.
        waited_secs: u64,
        /// Seconds GitHub asked to wait now.
        needed_secs: u64,
        /// The allowed total.
        max_secs: u64,
    },
    /// Any other unsuccessful status (after retries, for 5xx).
    #[error("{method} {url}: GitHub answered {status}: {message}")]
    Status {
        /// HTTP method.
        method: String,
        /// The request URL.
        url: String,
        /// The status code.
        status: u16,
        /// GitHub's `message` (or the body's start).
        message: String,
    },
    /// The answer is not the JSON shape expected.
    #[error("{url}: unexpected response body: {message}")]
    Body {
        /// The request URL.
        url: String,
        /// serde's message (line and column in the body).
        message: String,
    },
    /// A `Link: rel="next"` points away from the API base, or pagination does not end.
    #[error("{url}: pagination: {message}")]
    Pagination {
        /// The request URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A release's `upload_url` is not an absolute URL on the API's host or its upload host.
    #[error("{url}: release upload URL refused: {message}")]
    UploadUrl {
        /// The URL GitHub gave.
        url: String,
        /// Why.
        message: String,
    },
    /// No release has the tag.
    #[error("{repo}: no GitHub release with tag {tag:?}")]
    ReleaseNotFound {
        /// `OWNER/NAME`.
        repo: String,
        /// The tag.
        tag: String,
    },
    /// An asset of that name exists and is not provably the same file: never overwritten.
    #[error("release {tag}: asset {name:?} already exists and {reason}; refusing to overwrite it")]
    AssetExists {
        /// The release tag.
        tag: String,
        /// The asset name.
        name: String,
        /// How it differs (or why sameness cannot be shown).
        reason: String,
    },
    /// GitHub's answer to the upload does not describe the file sent.
    #[error("release {tag}: uploaded asset {name:?} does not match the file: {reason}")]
    UploadMismatch {
        /// The release tag.
        tag: String,
        /// The asset name.
        name: String,
        /// What differs.
        reason: String,
    },
    /// A local file could not be read.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
}

impl GitHubError {
    /// True for a refusal that is a gate outcome (exit 1: an asset would be overwritten) rather
    /// than an input, network or API error (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, GitHubError::AssetExists { .. })
    }
}

/// `OWNER/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepoSlug {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl std::str::FromStr for RepoSlug {
    type Err = GitHubError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match s.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => {
                Ok(RepoSlug { owner: owner.to_owned(), name: name.to_owned() })
            }
            _ => Err(GitHubError::RepoSlug { repo: s.to_owned() }),
        }
    }
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Where and how to reach GitHub.
#[derive(Clone)]
pub struct GitHubSettings {
    /// The REST API base (`https://api.github.com`, or `https://HOST/api/v3` for GHE).
    pub api_url: String,
    /// The token sent as `Authorization: Bearer …`; None sends no credentials.
    pub token: Option<SecretString>,
    /// The most time spent waiting for rate limits over the client's life.
    pub max_rate_limit_wait: Duration,
    /// How many times a 500/502/503/504 answer is retried.
    pub server_error_retries: u32,
    /// The first retry's delay; doubled for each further retry.
    pub server_error_backoff: Duration,
}

impl fmt::Debug for GitHubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubSettings")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("server_error_retries", &self.server_error_retries)
            .finish()
    }
}

impl GitHubSettings {
    /// Settings for `api_url` and `token` with the default limits (60 s of rate-limit waits,
    /// 3 retries of 5xx answers starting at 1 s).
    pub fn new(api_url: impl Into<String>, token: Option<String>) -> GitHubSettings {
        GitHubSettings {
            api_url: api_url.into(),
            token: token.filter(|t| !t.trim().is_empty()).map(|t| SecretString::from(t.trim())),
            max_rate_limit_wait: Duration::from_secs(60),
            server_error_retries: 3,
            server_error_backoff: Duration::from_secs(1),
        }
    }

    /// Settings from the environment: `GITHUB_API_URL` (default [`DEFAULT_API_URL`]) and
    /// `GITHUB_TOKEN`, as GitHub Actions sets them.
    pub fn from_env() -> GitHubSettings {
        let api_url = std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        GitHubSettings::new(api_url, std::env::var("GITHUB_TOKEN").ok())
    }
}

/// An answer read whole.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: String,
}

/// A connected client: octocrab plus the runtime that drives it.
pub struct GitHub {
    rt: tokio::runtime::Runtime,
    octo: Octocrab,
    /// The API base without a trailing slash, e.g. `https://ghe.example/api/v3`.
    base: String,
    settings: GitHubSettings,
    waited: std::cell::Cell<Duration>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub").field("base", &self.base).finish_non_exhaustive()
    }
}

impl GitHub {
    /// A client for `settings.api_url`; no request is made yet.
    pub fn connect(settings: GitHubSettings) -> Result<GitHub, GitHubError> {
        let base = settings.api_url.trim().trim_end_matches('/').to_owned();
        let bad = |message: String| GitHubError::ApiUrl { url: base.clone(), message };
        let uri: http::Uri = base.parse().map_err(|e| bad(format!("{e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(bad("expected an absolute http(s) URL".into()));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the async runtime: {e}")))?;
        let octo = build_octocrab(&rt, &base, &upload_base(&base), settings.token.clone())?;
        Ok(GitHub { rt, octo, base, settings, waited: std::cell::Cell::new(Duration::ZERO) })
    }

    /// The API base URL (no trailing slash).
    pub fn api_url(&self) -> &str {
        &self.base
    }

    /// Total time spent waiting for rate limits so far.
    pub fn rate_limit_waited(&self) -> Duration {
        self.waited.get()
    }

    /// GET `path` (relative to the API base, with its query): the reply, whatever its status
    /// except 401, rate limits and 5xx (handled by [`GitHub::send`]).
    pub(crate) fn get(&self, path: &str) -> Result<Reply, GitHubError> {
        self.send(&self.octo, http::Method::GET, path, None)
    }

    /// GET `path` and decode a successful answer; None for 404.
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, GitHubError> {
        let reply = self.get(path)?;
        if reply.status == 404 {
            return Ok(None);
        }
        expect_success("GET", path, &reply)?;
        decode(path, &reply.body).map(Some)
    }

    /// Every item of a paginated list starting at `path`, following `Link: rel="next"`;
    /// `items` takes one page's body apart. A 404 on the first page is an error naming it.
    pub(crate) fn get_all<T>(
        &self,
        path: &str,
        items: impl Fn(&str, &str) -> Result<Vec<T>, GitHubError>,
    ) -> Result<Vec<T>, GitHubError> {
        let mut all = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(page) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GitHubError::Pagination {
                    url: path.to_owned(),
                    message: format!("more than {MAX_PAGES} pages"),
                });
            }
            let reply = self.get(&page)?;
            expect_success("GET", &page, &reply)?;
            all.extend(items(&page, &reply.body)?);
            if let Some(link) = next_link(&reply.headers) {
                next = Some(self.relative(&page, &link)?);
            }
        }
        Ok(all)
    }

    /// A client for an absolute upload URL GitHub gave (a release's `upload_url`): its base is
    /// the URL's origin, so octocrab joins no API path (`/api/v3`) onto it and sends the token
    /// there. Only the API's own host and its upload host are accepted.
    pub(crate) fn uploader(&self, url: &str) -> Result<Octocrab, GitHubError> {
        let bad = |message: String| GitHubError::UploadUrl { url: url.to_owned(), message };
        let uri: http::Uri = url.parse().map_err(|e| bad(format!("not a URL: {e}")))?;
        let origin = match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => return Err(bad("not an absolute URL".into())),
        };
        let host_of = |u: &str| u.parse::<http::Uri>().ok().and_then(|u| u.authority().cloned());
        let allowed = [host_of(&self.base), host_of(&upload_base(&self.base))];
        if !allowed.contains(&uri.authority().cloned()) {
            return Err(bad(format!(
                "upload host is neither the API's nor its upload host ({})",
                self.base
            )));
        }
        build_octocrab(&self.rt, &origin, &origin, self.settings.token.clone())
    }

    /// The API-relative form of an absolute URL GitHub gave; refuses other hosts (the token
    /// must not follow a link elsewhere).
    fn relative(&self, from: &str, url: &str) -> Result<String, GitHubError> {
        match url.strip_prefix(&self.base) {
            Some(rest) if rest.starts_with('/') => Ok(rest.to_owned()),
            _ => Err(GitHubError::Pagination {
                url: from.to_owned(),
                message: format!("next page {url:?} is outside the API base {}", self.base),
            }),
        }
    }

    /// Sends one request with `client`, retrying per the settings: rate limits are waited out
    /// within the total budget, 500/502/503/504 retried with doubling delays. A 401 is
    /// [`GitHubError::Unauthorized`]; other statuses are returned to the caller.
    pub(crate) fn send(
        &self,
        client: &Octocrab,
        method: http::Method,
        target: &str,
        body: Option<(bytes::Bytes, &str)>,
    ) -> Result<Reply, GitHubError> {
        let mut server_errors = 0;
        loop {
            let reply = self.send_once(client, &method, target, body.clone())?;
            match reply.status {
                401 => {
                    return Err(GitHubError::Unauthorized {
                        method: method.to_string(),
                        url: self.display_url(target),
                        message: github_message(&reply.body),
                    });
                }
                403 | 429 => match rate_limit_wait(&reply.headers) {
                    Some(wait) => {
                        let waited = self.waited.get();
                        if waited + wait > self.settings.max_rate_limit_wait {
                            return Err(GitHubError::RateLimited {
                                method: method.to_string(),
                                url: self.display_url(target),
                                waited_secs: waited.as_secs(),
                                needed_secs: wait.as_secs(),
                                max_secs: self.settings.max_rate_limit_wait.as_secs(),
                            });
                        }
                        tracing::warn!(
                            url = %self.display_url(target),
                            wait_secs = wait.as_secs(),
                            "GitHub rate limit reached; waiting"
                        );
                        std::thread::sleep(wait);
                        self.waited.set(waited + wait);
                    }
                    None => return Ok(reply),
                },
                500 | 502 | 503 | 504 if server_errors < self.settings.server_error_retries => {
                    let delay = self.settings.server_error_backoff * 2u32.pow(server_errors);
                    server_errors += 1;
                    tracing::warn!(
                        url = %self.display_url(target),
                        status = reply.status,
                        attempt = server_errors,
                        "GitHub server error; retrying"
                    );
                    std::thread::sleep(delay);
                }
                _ => return Ok(reply),
            }
        }
    }

    fn send_once(
        &self,
        client: &Octocrab,
        method: &http::Method,
        target: &str,
        body: Option<(bytes::Bytes, &str)>,
    ) -> Result<Reply, GitHubError> {
        let transport = |message: String| GitHubError::Transport {
            method: method.to_string(),
            url: self.display_url(target),
            message,
        };
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(target)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION);
        let body = match body {
            Some((bytes, content_type)) => {
                request = request
                    .header(http::header::CONTENT_TYPE, content_type)
                    .header(http::header::CONTENT_LENGTH, bytes.len());
                octocrab::OctoBody::from(bytes)
            }
            None => octocrab::OctoBody::empty(),
        };
        let request = request.body(body).map_err(|e| transport(e.to_string()))?;
        self.rt.block_on(async {
            let response = client.execute(request).await.map_err(|e| transport(error_chain(&e)))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body =
                client.body_to_string(response).await.map_err(|e| transport(error_chain(&e)))?;
            Ok(Reply { status, headers, body })
        })
    }

    /// A request target as shown in messages: absolute URLs as they are, paths joined to the
    /// base. Never includes credentials (the token travels in a header only).
    fn display_url(&self, target: &str) -> String {
        if target.starts_with('/') { format!("{}{target}", self.base) } else { target.to_owned() }
    }
}

fn build_octocrab(
    rt: &tokio::runtime::Runtime,
    base: &str,
    upload: &str,
    token: Option<SecretString>,
) -> Result<Octocrab, GitHubError> {
    let bad =
        |e: octocrab::Error| GitHubError::ApiUrl { url: base.to_owned(), message: error_chain(&e) };
    let mut builder = Octocrab::builder()
        .base_uri(base)
        .map_err(bad)?
        .upload_uri(upload)
        .map_err(bad)?
        .set_connect_timeout(Some(Duration::from_secs(15)))
        .set_read_timeout(Some(Duration::from_secs(120)));
    if let Some(token) = token {
        builder = builder.personal_token(token);
    }
    // The hyper client is created inside the runtime it will run on.
    let _entered = rt.enter();
    builder.build().map_err(bad)
}

/// Where release assets are uploaded for an API base: uploads.github.com for github.com,
/// `https://HOST/api/uploads` for GHE's `https://HOST/api/v3`, else the API base itself.
fn upload_base(base: &str) -> String {
    if base == DEFAULT_API_URL {
        "https://uploads.github.com".to_owned()
    } else if let Some(host) = base.strip_suffix("/api/v3") {
        format!("{host}/api/uploads")
    } else {
        base.to_owned()
    }
}

/// A non-2xx answer as an error.
pub(crate) fn expect_success(method: &str, url: &str, reply: &Reply) -> Result<(), GitHubError> {
    if (200..300).contains(&reply.status) {
        Ok(())
    } else {
        Err(GitHubError::Status {
            method: method.to_owned(),
            url: url.to_owned(),
            status: reply.status,
            message: github_message(&reply.body),
        })
    }
}

/// Decodes a JSON body, naming the URL and serde's line/column on failure.
pub(crate) fn decode<T: DeserializeOwned>(url: &str, body: &str) -> Result<T, GitHubError> {
    serde_json::from_str(body)
        .map_err(|e| GitHubError::Body { url: url.to_owned(), message: e.to_string() })
}

/// GitHub's `{"message": …}`, or the start of a non-JSON body.
fn github_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    match serde_json::from_str::<Message>(body) {
        Ok(m) => m.message,
        Err(_) => body.chars().take(200).collect(),
    }
}

/// The `rel="next"` target of a `Link` header.
pub(crate) fn next_link(headers: &http::HeaderMap) -> Option<String> {
    headers.get_all(http::header::LINK).iter().filter_map(|v| v.to_str().ok()).find_map(|value| {
        value.split(',').find_map(|part| {
            let (target, params) = part.split_once(';')?;
            let is_next =
                params.split(';').any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
    })
}

/// How long a 403/429 asks to wait, if it is a rate limit: `retry-after` seconds (secondary
/// limits), or until `x-ratelimit-reset` when `x-ratelimit-remaining` is 0 (primary limit; at
/// least 1 s). None for a 403 that is not a rate limit (a permission error).
pub(crate) fn rate_limit_wait(headers: &http::HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()).unwrap_or(now);
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    None
}

/// An error with its sources, `: `-joined (octocrab's top-level messages are terse).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes one path segment (a branch name may hold `/`).
pub(crate) fn encode_path_segment(value: &str) -> String {
    encode_query_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::LINK,
            "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&headers).as_deref(), Some("https://api.github.com/x?page=2"));
        headers.insert(
            http::header::LINK,
            "<https://api.github.com/x?page=1>; rel=\"prev\"".parse().unwrap(),
        );
        assert_eq!(next_link(&headers), None);
    }

    #[test]
    fn rate_limit_headers() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(rate_limit_wait(&headers), None);
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(7)));
        let mut headers = http::HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.insert("x-ratelimit-reset", "0".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(1)));
        headers.insert("x-ratelimit-remaining", "12".parse().unwrap());
        assert_eq!(rate_limit_wait(&headers), None);
    }

    #[test]
    fn slugs_urls_and_redaction() {
        let slug: RepoSlug = "tollgate-dev/tollgate".parse().unwrap();
        assert_eq!(slug.to_string(), "tollgate-dev/tollgate");
        for bad in ["", "a", "a/", "/b", "a/b/c", "a/..", "a b/c"] {
            assert!(bad.parse::<RepoSlug>().is_err(), "{bad}");
        }
        assert_eq!(upload_base("https://api.github.com"), "https://uploads.github.com");
        assert_eq!(upload_base("https://ghe.example/api/v3"), "https://ghe.example/api/uploads");
        assert_eq!(encode_query_value("bundle v1.tar.gz"), "bundle%20v1.tar.gz");
        let settings = GitHubSettings::new("https://api.github.com", Some("ghp_secret".into()));
        assert!(!format!("{settings:?}").contains("ghp_secret"));
        assert!(GitHub::connect(GitHubSettings::new("not a url", None)).is_err());
    }
}

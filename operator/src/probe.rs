//! Environment health probes: one HTTP(S) GET per probe, judged against the
//! [`HealthProbe`] of an EnvironmentParity environment.
//!
//! Promises: [`Prober::probe`] never fails and never takes (much) longer than the probe's
//! timeout: every problem — no connection, a timeout, a wrong status, a slow answer, a body
//! that lacks the expected JSON value — is an unhealthy [`ProbeOutcome`] whose message says
//! which. Redirects are not followed; bodies are read up to [`MAX_BODY_BYTES`] (only when a
//! JSON check needs them). HTTPS is verified against the system's root certificates (the same
//! TLS stack as the Kubernetes client: rustls with ring).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::crd::parity::HealthProbe;

/// Most bytes of a body read for a JSON check.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Pooled HTTP and HTTPS clients for health probes (cheap to clone).
#[derive(Clone, Debug)]
pub struct Prober {
    http: Client<HttpConnector, Empty<Bytes>>,
    /// `None` when the system has no root certificates (HTTPS probes then fail, saying so).
    https: Option<Client<Https, Empty<Bytes>>>,
}

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Whether every check passed.
    pub healthy: bool,
    /// The answer's status, when an answer came.
    pub status_code: Option<u16>,
    /// Milliseconds from sending the request to the end of the answer (headers, and the body
    /// when read); absent when no answer came in time.
    pub latency_ms: Option<u64>,
    /// What was found (`200 in 12 ms`, `status 503, expected 200`, …).
    pub message: String,
}

impl ProbeOutcome {
    fn failed(status_code: Option<u16>, latency_ms: Option<u64>, message: String) -> Self {
        ProbeOutcome { healthy: false, status_code, latency_ms, message }
    }
}

impl Prober {
    /// Clients trusting the system's root certificates; without any (a minimal image), HTTPS
    /// probes fail with a message saying so and HTTP probes still work.
    pub fn new() -> Prober {
        let https = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
            Ok(builder) => Some(builder.https_only().enable_http1().build()),
            Err(e) => {
                tracing::warn!(error = %e, "no system root certificates: HTTPS probes will fail");
                None
            }
        };
        Prober {
            http: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            https: https.map(|c| Client::builder(TokioExecutor::new()).build(c)),
        }
    }

    /// Runs `probe` once: GET the URL within the timeout, then check status, latency budget
    /// and (when set) the JSON value.
    pub async fn probe(&self, probe: &HealthProbe) -> ProbeOutcome {
        let timeout = probe.timeout();
        match tokio::time::timeout(timeout, self.exchange(probe)).await {
            Ok(outcome) => outcome,
            Err(_) => ProbeOutcome::failed(
                None,
                None,
                format!("no answer within {} s", timeout.as_secs()),
            ),
        }
    }

    async fn exchange(&self, probe: &HealthProbe) -> ProbeOutcome {
        let uri: hyper::Uri = match probe.url.parse() {
            Ok(u) => u,
            Err(e) => return ProbeOutcome::failed(None, None, format!("not a URL: {e}")),
        };
        let request = match hyper::Request::get(uri)
            .header(hyper::header::USER_AGENT, "tollgate-operator")
            .body(Empty::<Bytes>::new())
        {
            Ok(r) => r,
            Err(e) => return ProbeOutcome::failed(None, None, format!("bad request: {e}")),
        };
        let start = Instant::now();
        let sent = if request.uri().scheme_str() == Some("https") {
            match &self.https {
                Some(client) => client.request(request).await,
                None => {
                    return ProbeOutcome::failed(
                        None,
                        None,
                        "no system root certificates to verify HTTPS".into(),
                    );
                }
            }
        } else {
            self.http.request(request).await
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return ProbeOutcome::failed(None, None, format!("cannot connect: {}", chain(&e)));
            }
        };
        let status = response.status().as_u16();
        let body = if probe.json.is_some() {
            match Limited::new(response.into_body(), MAX_BODY_BYTES).collect().await {
                Ok(b) => Some(b.to_bytes()),
                Err(e) => {
                    return ProbeOutcome::failed(
                        Some(status),
                        None,
                        format!("status {status}, reading the body: {e}"),
                    );
                }
            }
        } else {
            None
        };
        let latency = millis(start.elapsed());
        judge(probe, status, latency, body.as_deref())
    }
}

impl Default for Prober {
    fn default() -> Self {
        Prober::new()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The error and its sources, `: `-separated (hyper's top-level message alone says little).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Judges an answer (pure): status, then latency budget, then the JSON check.
pub fn judge(
    probe: &HealthProbe,
    status: u16,
    latency_ms: u64,
    body: Option<&[u8]>,
) -> ProbeOutcome {
    let fail = |m: String| ProbeOutcome::failed(Some(status), Some(latency_ms), m);
    let expected = probe.expected_status();
    if status != expected {
        return fail(format!("status {status}, expected {expected}"));
    }
    if let Some(budget) = probe.latency_budget_ms
        && latency_ms > u64::from(budget)
    {
        return fail(format!("{status} in {latency_ms} ms, over the budget of {budget} ms"));
    }
    if let Some(check) = &probe.json {
        let value: serde_json::Value = match serde_json::from_slice(body.unwrap_or_default()) {
            Ok(v) => v,
            Err(e) => return fail(format!("the body is not JSON: {e}")),
        };
        let Some(found) = value.pointer(&check.pointer) else {
            return fail(format!("the body has no {:?}", check.pointer));
        };
        let text = match found {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text != check.value {
            return fail(format!("{:?} is {text:?}, expected {:?}", check.pointer, check.value));
        }
    }
    ProbeOutcome {
        healthy: true,
        status_code: Some(status),
        latency_ms: Some(latency_ms),
        message: format!("{status} in {latency_ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::parity::JsonCheck;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn probe(url: String) -> HealthProbe {
        HealthProbe {
            url,
            expected_status: None,
            timeout_seconds: Some(2),
            latency_budget_ms: None,
            interval_seconds: None,
            json: None,
        }
    }

    /// A real HTTP/1.1 server on 127.0.0.1 answering every request with `status` and `body`
    /// after `delay`; returns its base URL.
    async fn serve(status: u16, body: &'static str, delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buf = vec![0_u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    tokio::time::sleep(delay).await;
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/healthz")
    }

    #[tokio::test]
    async fn a_200_is_healthy_with_its_latency() {
        let url = serve(200, "{}", Duration::ZERO).await;
        let out = Prober::new().probe(&probe(url)).await;
        assert!(out.healthy, "{out:?}");
        assert_eq!(out.status_code, Some(200));
        let ms = out.latency_ms.unwrap();
        assert_eq!(out.message, format!("200 in {ms} ms"));
    }

    #[tokio::test]
    async fn a_wrong_status_is_unhealthy_unless_expected() {
        let url = serve(503, "{}", Duration::ZERO).await;
        let out = Prober::new().probe(&probe(url.clone())).await;
        assert!(!out.healthy);
        assert_eq!(out.status_code, Some(503));
        assert_eq!(out.message, "status 503, expected 200");
        let mut p = probe(url);
        p.expected_status = Some(503);
        assert!(Prober::new().probe(&p).await.healthy);
    }

    #[tokio::test]
    async fn no_answer_within_the_timeout_is_unhealthy() {
        let url = serve(200, "{}", Duration::from_secs(30)).await;
        let mut p = probe(url);
        p.timeout_seconds = Some(1);
        let start = Instant::now();
        let out = Prober::new().probe(&p).await;
        assert!(start.elapsed() < Duration::from_secs(5), "the timeout holds");
        assert_eq!(out, ProbeOutcome::failed(None, None, "no answer within 1 s".into()));
    }

    #[tokio::test]
    async fn a_slow_answer_is_over_the_latency_budget() {
        let url = serve(200, "{}", Duration::from_millis(300)).await;
        let mut p = probe(url);
        p.latency_budget_ms = Some(100);
        let out = Prober::new().probe(&p).await;
        assert!(!out.healthy);
        assert!(out.latency_ms.unwrap() >= 300, "{out:?}");
        assert!(out.message.ends_with("over the budget of 100 ms"), "{}", out.message);
        p.latency_budget_ms = Some(5_000);
        assert!(Prober::new().probe(&p).await.healthy);
    }

    #[tokio::test]
    async fn the_json_value_must_match() {
        let url = serve(200, r#"{"status":"degraded","checks":{"db":true}}"#, Duration::ZERO).await;
        let mut p = probe(url);
        let prober = Prober::new();
        p.json = Some(JsonCheck { pointer: "/status".into(), value: "ok".into() });
        let out = prober.probe(&p).await;
        assert!(!out.healthy);
        assert_eq!(out.message, r#""/status" is "degraded", expected "ok""#);
        p.json = Some(JsonCheck { pointer: "/checks/db".into(), value: "true".into() });
        assert!(prober.probe(&p).await.healthy, "non-strings compare by their JSON text");
        p.json = Some(JsonCheck { pointer: "/missing".into(), value: "x".into() });
        assert_eq!(prober.probe(&p).await.message, r#"the body has no "/missing""#);
        let text = serve(200, "not json", Duration::ZERO).await;
        let mut q = probe(text);
        q.json = Some(JsonCheck { pointer: "/status".into(), value: "ok".into() });
        assert!(prober.probe(&q).await.message.starts_with("the body is not JSON"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unhealthy() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let out = Prober::new().probe(&probe(format!("http://{addr}/healthz"))).await;
        assert!(!out.healthy);
        assert_eq!((out.status_code, out.latency_ms), (None, None));
        assert!(out.message.starts_with("cannot connect"), "{}", out.message);
        assert!(out.message.to_lowercase().contains("refused"), "{}", out.message);
    }
}

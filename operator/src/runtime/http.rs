//! The operator's HTTP port: `/metrics` (OpenMetrics text), `/healthz` (200 while the process
//! runs) and `/readyz` (200 once [`Health::readiness`] is ok, 503 with the reason otherwise).
//! Anything but GET/HEAD is 405, any other path 404.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::RuntimeError;
use crate::metrics::{self, Metrics};

/// What `/readyz` reports: whether the API probe passed and whether the replica knows if it
/// leads.
#[derive(Debug, Default)]
pub struct Health {
    api_ready: AtomicBool,
    /// 0: unknown, 1: standby, 2: leader.
    leader: AtomicU8,
}

impl Health {
    /// Records that every tollgate.dev kind could be listed.
    pub fn set_api_ready(&self) {
        self.api_ready.store(true, Ordering::Release);
    }

    /// Records the current leader state (known from now on).
    pub fn set_leader(&self, leading: bool) {
        self.leader.store(if leading { 2 } else { 1 }, Ordering::Release);
    }

    /// Whether this replica currently runs the controllers.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire) == 2
    }

    /// `Ok(role)` when ready, otherwise what is still missing.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        if !self.api_ready.load(Ordering::Acquire) {
            return Err("the tollgate.dev kinds cannot be listed yet (CRDs installed? RBAC?)");
        }
        match self.leader.load(Ordering::Acquire) {
            0 => Err("leader election has not settled yet"),
            1 => Ok("standby"),
            _ => Ok("leader"),
        }
    }
}

type Body = Full<Bytes>;

fn text(code: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Answers one request to the operator's HTTP port.
fn respond(request: &Request<Incoming>, metrics: &Metrics, health: &Health) -> Response<Body> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "only GET\n".into());
    }
    match request.uri().path() {
        "/metrics" => text(StatusCode::OK, metrics::CONTENT_TYPE, metrics.render()),
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => match health.readiness() {
            Ok(role) => text(StatusCode::OK, PLAIN, format!("ok ({role})\n")),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("not ready: {why}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found\n".into()),
    }
}

/// Binds the HTTP port (separately from [`serve_http`], so bind errors surface before the
/// operator starts and tests can bind port 0).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, RuntimeError> {
    TcpListener::bind(addr).await.map_err(|cause| RuntimeError::Bind { addr, cause })
}

/// Serves `/metrics` (OpenMetrics text), `/healthz` (200 while the process runs) and `/readyz`
/// (200 when [`Health::readiness`] is ok, 503 with the reason otherwise) until `shutdown`
/// completes.
pub async fn serve_http(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else { continue };
        let (metrics, health) = (metrics.clone(), health.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = respond(&request, &metrics, &health);
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
        });
    }
}

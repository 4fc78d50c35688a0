//! Optional OTLP traces: the real `tollgate-operator run --otlp-endpoint` against the fake API
//! server (`support`, a stand-in for kube-apiserver over a real socket) exports its spans to a
//! tiny OTLP/HTTP collector on 127.0.0.1 (no OpenTelemetry Collector runs here; this one
//! answers the way the OTLP/HTTP specification says: 200 with an empty protobuf response).
//! The test decodes the export with the official protobuf types (`opentelemetry-proto`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

use crate::runtime::{KillOnDrop, kubeconfig_for, within};
use crate::support::FakeApiServer;

/// One POST the collector received.
#[derive(Debug, Clone)]
struct Export {
    path: String,
    content_type: Option<String>,
    body: Bytes,
}

/// Starts the collector on an ephemeral port; every request is recorded.
async fn start_collector() -> (SocketAddr, Arc<Mutex<Vec<Export>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let path = request.uri().path().to_owned();
                        let content_type = request
                            .headers()
                            .get(hyper::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = request.into_body().collect().await?.to_bytes();
                        log.lock().unwrap().push(Export { path, content_type, body });
                        Ok::<_, hyper::Error>(
                            hyper::Response::builder()
                                .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, received)
}

/// Span names per `service.name` in one export.
fn spans_by_service(export: &Export) -> Vec<(Option<String>, String)> {
    let request = ExportTraceServiceRequest::decode(export.body.as_ref())
        .unwrap_or_else(|e| panic!("the export to {} is not OTLP protobuf: {e}", export.path));
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans.resource.iter().flat_map(|r| &r.attributes).find_map(|kv| {
            match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if kv.key == "service.name" => Some(s.clone()),
                _ => None,
            }
        });
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push((service.clone(), span.name));
            }
        }
    }
    spans
}

/// With `--otlp-endpoint`, the operator exports its spans over OTLP/HTTP (protobuf) to
/// `<endpoint>/v1/traces` (a trailing `/` on the endpoint is not doubled): the reconcile of an
/// EnvironmentParity arrives as kube-runtime's `reconciling object` span of service
/// `tollgate-operator`, and SIGTERM still exits 0 with the exporter shut down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exports_reconcile_spans_over_otlp() {
    let (server, _) = FakeApiServer::start().await;
    crate::runtime::seed_drifting_parity(&server);
    let (collector, received) = start_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&server, dir.path());
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_tollgate-operator"))
            .args(["run", "--http-addr", "127.0.0.1:0", "--no-leader-election"])
            .arg("--otlp-endpoint")
            .arg(format!("http://{collector}/"))
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info")
            // Export every 100 ms instead of the default 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tollgate-operator"),
    );

    within("a reconcile span at the collector", async {
        loop {
            let exports = received.lock().unwrap().clone();
            if exports
                .iter()
                .flat_map(spans_by_service)
                .any(|(_, name)| name == "reconciling object")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let exports = received.lock().unwrap().clone();
    for export in &exports {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.content_type.as_deref(), Some("application/x-protobuf"));
        for (service, name) in spans_by_service(export) {
            assert_eq!(service.as_deref(), Some("tollgate-operator"), "span {name}");
        }
    }

    let pid = child.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = within("the binary to exit", async {
        loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

/// An endpoint that is no URL is refused at start-up with exit code 2 and a message naming
/// the flag and the traces URL, before any connection is made.
#[test]
fn an_invalid_otlp_endpoint_is_refused_with_exit_code_2() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate-operator"))
        .args(["run", "--otlp-endpoint", "http://no such host"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run tollgate-operator");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--otlp-endpoint: OTLP trace export to http://no such host/v1/traces"),
        "{stderr}"
    );
}

//! Telemetry of the operator process: the process-wide `tracing` subscriber (JSON lines or
//! text on stderr, filtered by `RUST_LOG`) and, optionally, every span exported over OTLP/HTTP
//! (protobuf bodies over the hyper client already in the tree; no gRPC).
//!
//! Promises: logs go to stderr only; the first subscriber installed in a process stays (a
//! second call, as in tests, changes nothing); with an OTLP endpoint, spans pass the same
//! `RUST_LOG` filter as log lines and are flushed by [`OtlpTraces::shutdown`].

/// Installs the process-wide tracing subscriber: JSON lines (`json`) or human-readable text,
/// filtered by `RUST_LOG` (default `info`).
pub fn init_logging(json: bool) {
    install_subscriber(json, None);
}

/// The path OTLP/HTTP collectors receive traces on, below the base endpoint.
pub const OTLP_TRACES_PATH: &str = "/v1/traces";

/// The OTLP traces URL for a base endpoint (as in `OTEL_EXPORTER_OTLP_ENDPOINT`):
/// `http://collector:4318` and `http://collector:4318/` both give
/// `http://collector:4318/v1/traces`.
pub fn otlp_traces_url(base: &str) -> String {
    format!("{}{OTLP_TRACES_PATH}", base.trim_end_matches('/'))
}

/// Trace export over OTLP/HTTP (protobuf bodies), installed by [`init_logging_and_traces`].
/// Spans are batched and sent from a task on the Tokio runtime; call [`OtlpTraces::shutdown`]
/// before the runtime stops so the last batch is sent.
#[derive(Debug)]
pub struct OtlpTraces {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    url: String,
}

/// Trace export could not be set up or flushed.
#[derive(Debug, thiserror::Error)]
#[error("OTLP trace export to {url}: {message}")]
pub struct OtlpError {
    /// The traces URL.
    pub url: String,
    /// Why.
    pub message: String,
}

impl OtlpTraces {
    /// Sends the spans still buffered and stops exporting. Blocks until the exporter task has
    /// finished, so call it outside async code while the (multi-threaded) runtime still runs.
    pub fn shutdown(self) -> Result<(), OtlpError> {
        self.provider.shutdown().map_err(|e| OtlpError { url: self.url, message: e.to_string() })
    }
}

/// [`init_logging`], plus, with `otlp_endpoint` (a base URL such as `http://collector:4318`),
/// every span (for example kube-runtime's `reconciling object`, one per reconcile) exported to
/// `<endpoint>/v1/traces` as OTLP/HTTP protobuf, with `service.name` `tollgate-operator`.
/// Batching follows the standard `OTEL_BSP_*` variables. Must be called inside a Tokio
/// runtime when an endpoint is given (the batch exporter runs as a task on it).
pub fn init_logging_and_traces(
    json: bool,
    otlp_endpoint: Option<&str>,
) -> Result<Option<OtlpTraces>, OtlpError> {
    let Some(base) = otlp_endpoint else {
        install_subscriber(json, None);
        return Ok(None);
    };
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    let url = otlp_traces_url(base);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .build()
        .map_err(|e| OtlpError { url: url.clone(), message: e.to_string() })?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("tollgate-operator")
                .build(),
        )
        .build();
    let tracer = provider.tracer("tollgate-operator");
    install_subscriber(json, Some(Box::new(tracing_opentelemetry::layer().with_tracer(tracer))));
    Ok(Some(OtlpTraces { provider, url }))
}

/// A layer of the process-wide subscriber.
type BoxedLayer = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The subscriber: the log lines on stderr and the optional OTLP layer, both filtered by
/// `RUST_LOG` (default `info`).
fn install_subscriber(json: bool, traces: Option<BoxedLayer>) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines: BoxedLayer = if json {
        Box::new(fmt.json().flatten_event(true).with_current_span(true))
    } else {
        Box::new(fmt)
    };
    let layers: Vec<BoxedLayer> = std::iter::once(lines).chain(traces).collect();
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers.with_filter(filter)).try_init();
}

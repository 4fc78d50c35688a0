//! The HTTP face of the fake API server: URL routing the way kube-apiserver lays out its paths,
//! query parameters, JSON bodies, and watches streamed as newline-delimited `WatchEvent`s.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use super::resources::{self, ApiError, ResourceInfo};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{
    Broadcast, Change, ChangeKind, Filter, PatchKind, RecordedRequest, State, Subresource,
};

/// The response body type: a whole JSON document or a watch stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// What every request handler shares.
pub struct Shared {
    /// The objects and their history.
    pub state: Mutex<State>,
    /// Bumped to end every open watch (server drop, or a test simulating a dropped connection).
    pub watch_epoch: watch::Sender<u64>,
}

impl Shared {
    /// Locks the state (a panic in another handler does not poison the tests' view).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn json_response(code: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn error_response(error: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &error.status())
}

/// A parsed resource URL.
struct Route {
    info: &'static ResourceInfo,
    /// `Some` for `/namespaces/{ns}/...` paths.
    namespace: Option<String>,
    name: Option<String>,
    sub: Subresource,
}

fn route(path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::no_route()),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if *plural != "status" && *plural != "finalize" => {
            (Some((*ns).to_owned()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        other => (None, other.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [plural] => (*plural, None, Subresource::Main),
        [plural, name] => (*plural, Some((*name).to_owned()), Subresource::Main),
        [plural, name, "status"] => (*plural, Some((*name).to_owned()), Subresource::Status),
        _ => return Err(ApiError::no_route()),
    };
    let info = resources::find(group, version, plural).ok_or_else(ApiError::no_route)?;
    if namespace.is_some() != info.namespaced && !(namespace.is_none() && name.is_none()) {
        return Err(ApiError::no_route());
    }
    Ok(Route { info, namespace, name, sub })
}

fn filter(route: &Route, params: &HashMap<String, String>) -> Result<Filter, ApiError> {
    Ok(Filter {
        namespace: route.namespace.clone(),
        labels: LabelSelector::parse(params.get("labelSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(params.get("fieldSelector").map_or("", String::as_str))
            .map_err(ApiError::bad_request)?,
    })
}

fn parse_json(body: &[u8], what: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the {what} body is not JSON (this fake API server reads JSON only, which is what kube sends): {e}"
        ))
    })
}

/// Handles one HTTP request.
pub async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let params: HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let content_type =
        parts.headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    shared.lock().requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        field_manager: params.get("fieldManager").cloned(),
    });
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!("reading the body: {e}"))));
        }
    };
    if path == "/version" {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0-tollgate-fake", "platform": "linux/amd64"}),
        ));
    }
    let result = dispatch(&shared, &parts.method, &path, &params, content_type.as_deref(), &body);
    Ok(match result {
        Ok(Reply::Json(code, value)) => json_response(code, &value),
        Ok(Reply::Watch(route, filter)) => watch_response(shared, route, filter, &params),
        Err(error) => error_response(&error),
    })
}

enum Reply {
    Json(StatusCode, Value),
    Watch(Route, Filter),
}

fn dispatch(
    shared: &Shared,
    method: &Method,
    path: &str,
    params: &HashMap<String, String>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let route = route(path)?;
    if params.contains_key("dryRun") {
        // Refused rather than ignored: a dry run that wrote would make tests lie.
        return Err(ApiError::bad_request("dryRun is not supported by the fake API server"));
    }
    let info = route.info;
    let ns = route.namespace.clone().unwrap_or_default();
    let field_manager = params.get("fieldManager").map(String::as_str);
    let ok = |value| Ok(Reply::Json(StatusCode::OK, value));
    match (method, route.name.as_deref()) {
        (&Method::GET, None) => {
            let filter = filter(&route, params)?;
            if matches!(params.get("watch").map(String::as_str), Some("true" | "1")) {
                return Ok(Reply::Watch(route, filter));
            }
            let limit = params.get("limit").and_then(|l| l.parse().ok());
            ok(shared.lock().list(
                info,
                &filter,
                limit,
                params.get("continue").map(String::as_str),
            )?)
        }
        (&Method::GET, Some(name)) => ok(shared.lock().get(info, &ns, name)?),
        (&Method::POST, None) if route.namespace.is_some() || !info.namespaced => {
            let value = parse_json(body, "create")?;
            let created =
                shared.lock().create(info, &ns, value, field_manager.unwrap_or("unknown"))?;
            Ok(Reply::Json(StatusCode::CREATED, created))
        }
        (&Method::PUT, Some(name)) => {
            let value = parse_json(body, "update")?;
            ok(shared.lock().replace(
                info,
                &ns,
                name,
                route.sub,
                value,
                field_manager.unwrap_or("unknown"),
            )?)
        }
        (&Method::PATCH, Some(name)) => {
            let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim();
            let kind = match media {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/json-patch+json" => PatchKind::Json,
                "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                    PatchKind::Apply { force: params.get("force").is_some_and(|f| f == "true") }
                }
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            let value = match kind {
                // An applied configuration is YAML (JSON is YAML too, and is what kube sends).
                PatchKind::Apply { .. } => serde_yaml_ng::from_slice(body).map_err(|e| {
                    ApiError::bad_request(format!("the applied configuration is not YAML: {e}"))
                })?,
                _ => parse_json(body, "patch")?,
            };
            ok(shared.lock().patch(info, &ns, name, route.sub, kind, value, field_manager)?)
        }
        (&Method::DELETE, Some(name)) if route.sub == Subresource::Main => {
            let options =
                if body.is_empty() { Value::Null } else { parse_json(body, "delete options")? };
            ok(shared.lock().delete(info, &ns, name, options.get("preconditions"))?)
        }
        (&Method::DELETE, None) if route.namespace.is_some() || !info.namespaced => {
            let filter = filter(&route, params)?;
            let mut state = shared.lock();
            let names: Vec<String> =
                state.objects(info, &filter).map(|(k, _)| k.name.clone()).collect();
            let mut items = Vec::new();
            for name in names {
                let result = state.delete(info, &ns, &name, None)?;
                if result.get("kind").and_then(Value::as_str) != Some("Status") {
                    items.push(result);
                }
            }
            let rv = state.resource_version().to_string();
            ok(json!({
                "kind": format!("{}List", info.kind),
                "apiVersion": info.api_version(),
                "metadata": {"resourceVersion": rv},
                "items": items,
            }))
        }
        (method, _) => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(info: &ResourceInfo, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata}),
    )
}

/// The watch event a change means for a watch with this filter (selector transitions turn
/// into ADDED / DELETED, as the real watch cache does).
fn event_for(info: &ResourceInfo, filter: &Filter, change: &Change) -> Option<Bytes> {
    if change.key.group != info.group || change.key.plural != info.plural {
        return None;
    }
    let now = filter.matches(&change.key, &change.new);
    let before = change.old.as_ref().is_some_and(|o| filter.matches(&change.key, o));
    let kind = match change.kind {
        ChangeKind::Added if now => "ADDED",
        ChangeKind::Modified if now && before => "MODIFIED",
        ChangeKind::Modified if now => "ADDED",
        ChangeKind::Modified if before => "DELETED",
        ChangeKind::Deleted if now || before => "DELETED",
        _ => return None,
    };
    Some(event_line(kind, &change.new))
}

fn watch_response(
    shared: Arc<Shared>,
    route: Route,
    filter: Filter,
    params: &HashMap<String, String>,
) -> Response<Body> {
    let info = route.info;
    let bookmarks = params.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let send_initial = params.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout =
        params.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
    let rv = params.get("resourceVersion").map(String::as_str).unwrap_or("");

    let (initial, mut changes, start_rv) = {
        let state = shared.lock();
        let changes = state.subscribe();
        let mut initial = Vec::new();
        if rv.is_empty() || rv == "0" || send_initial {
            for (_, object) in state.objects(info, &filter) {
                initial.push(event_line("ADDED", object));
            }
            if send_initial && bookmarks {
                initial.push(bookmark(info, state.resource_version(), true));
            }
        } else {
            let Ok(from) = rv.parse::<u64>() else {
                return error_response(&ApiError::bad_request(format!(
                    "invalid resourceVersion {rv:?}"
                )));
            };
            match state.changes_since(from) {
                Ok(backlog) => {
                    initial.extend(backlog.iter().filter_map(|c| event_for(info, &filter, c)));
                }
                Err(gone) => {
                    // The real server answers 200 and sends the 410 as an ERROR event.
                    initial.push(event_line("ERROR", &gone.status()));
                    let stream =
                        futures::stream::iter(initial.into_iter().map(|b| Ok(Frame::data(b))));
                    return Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/json")
                        .body(StreamBody::new(stream).boxed())
                        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()));
                }
            }
        }
        (initial, changes, state.resource_version())
    };

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut epoch = shared.watch_epoch.subscribe();
    epoch.mark_unchanged();
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            let line = tokio::select! {
                () = &mut deadline => return,
                _ = epoch.changed() => return,
                () = tx.closed() => return,
                received = changes.recv() => match received {
                    Ok(Broadcast::Change(change)) if change.rv > start_rv => event_for(info, &filter, &change),
                    Ok(Broadcast::Change(_)) => None,
                    Ok(Broadcast::Progress(rv)) if bookmarks => Some(bookmark(info, rv, false)),
                    Ok(Broadcast::Progress(_)) => None,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let gone = ApiError::expired("the watch fell behind; resume with a new list");
                        let _ = tx.send(event_line("ERROR", &gone.status())).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if let Some(line) = line
                && tx.send(line).await.is_err()
            {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(StreamBody::new(stream).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

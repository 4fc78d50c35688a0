//! The HTTP face of the fake API server: URL routing the way kube-apiserver lays out its paths,
//! query parameters, JSON bodies, and watches streamed as newline-delimited `WatchEvent`s.
//!
//! Responses are JSON. Like kube-apiserver, the server converts them to metadata only when the
//! `Accept` header asks for it (what `kube::Api::<PartialObjectMeta<K>>`, `Api::get_metadata`,
//! `Api::list_metadata` and `Api::watch_metadata` send):
//! `application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1` for one object and for every
//! object of a watch (`apiVersion: meta.k8s.io/v1`, `kind: PartialObjectMetadata`, only
//! `metadata`), `...;as=PartialObjectMetadataList;...` for a list (`kind:
//! PartialObjectMetadataList`, the list's `metadata` with resourceVersion and continue, items
//! as above). Asking for a list's metadata as `PartialObjectMetadata` (or the reverse) is 406
//! NotAcceptable, as in the real server; `Status` bodies (errors) are never converted. Other
//! conversions (`as=Table`) and media types (YAML, protobuf) are not served: when the `Accept`
//! header offers nothing else, the answer is 406.

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
    /// What tests asked the server to do to particular requests (hold them, fail them).
    pub rules: Mutex<Vec<RequestRule>>,
}

/// A test's instruction for the requests with one method and path.
#[derive(Debug)]
pub struct RequestRule {
    /// HTTP method, e.g. `PATCH`.
    pub method: String,
    /// URL path, exactly.
    pub path: String,
    /// What happens to them.
    pub action: RuleAction,
}

/// What a [`RequestRule`] does.
#[derive(Debug)]
pub enum RuleAction {
    /// The next `remaining` matching requests each wait until all of them have arrived, then
    /// proceed (one by one, under the state lock, in arrival order): a race made certain.
    Hold {
        /// Requests still to be held.
        remaining: usize,
        /// The barrier they meet at (sized to the number held).
        barrier: Arc<tokio::sync::Barrier>,
    },
    /// The next `remaining` matching requests get HTTP 500 without touching the state.
    Fail {
        /// Requests still to be failed.
        remaining: usize,
    },
}

enum RuleOutcome {
    Pass,
    Hold(Arc<tokio::sync::Barrier>),
    Fail,
}

impl Shared {
    fn rule_for(&self, method: &str, path: &str) -> RuleOutcome {
        let mut rules = self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut outcome = RuleOutcome::Pass;
        for rule in rules.iter_mut().filter(|r| r.method == method && r.path == path) {
            match &mut rule.action {
                RuleAction::Hold { remaining, barrier } if *remaining > 0 => {
                    *remaining -= 1;
                    outcome = RuleOutcome::Hold(barrier.clone());
                    break;
                }
                RuleAction::Fail { remaining } if *remaining > 0 => {
                    *remaining -= 1;
                    outcome = RuleOutcome::Fail;
                    break;
                }
                _ => {}
            }
        }
        rules.retain(|r| match &r.action {
            RuleAction::Hold { remaining, .. } | RuleAction::Fail { remaining } => *remaining > 0,
        });
        outcome
    }
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
    let accept = parts.headers.get("accept").and_then(|v| v.to_str().ok()).map(str::to_owned);
    shared.lock().requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        accept: accept.clone(),
        field_manager: params.get("fieldManager").cloned(),
        at: std::time::Instant::now(),
    });
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!("reading the body: {e}"))));
        }
    };
    match shared.rule_for(parts.method.as_str(), &path) {
        RuleOutcome::Pass => {}
        RuleOutcome::Hold(barrier) => {
            barrier.wait().await;
        }
        RuleOutcome::Fail => {
            return Ok(error_response(&ApiError::internal(format!(
                "injected failure of {} {path}",
                parts.method
            ))));
        }
    }
    if path == "/version" {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0-tollgate-fake", "platform": "linux/amd64"}),
        ));
    }
    let form = match negotiate(accept.as_deref()) {
        Ok(form) => form,
        Err(error) => return Ok(error_response(&error)),
    };
    let result =
        dispatch(&shared, &parts.method, &path, &params, content_type.as_deref(), form, &body);
    Ok(match result {
        Ok(Reply::Json(code, value)) => json_response(code, &shape(form, value)),
        Ok(Reply::Watch(route, filter)) => watch_response(shared, route, filter, &params, form),
        Err(error) => error_response(&error),
    })
}

/// What the `Accept` header asks the response body to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The stored object(s) as they are.
    Full,
    /// `as=PartialObjectMetadata;g=meta.k8s.io;v=v1`: one object's metadata (also each object
    /// of a watch).
    Metadata,
    /// `as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`: a list of object metadata.
    MetadataList,
}

/// The group/version of `PartialObjectMetadata` and `PartialObjectMetadataList`.
const META_V1: &str = "meta.k8s.io/v1";

fn not_acceptable(message: impl Into<String>) -> ApiError {
    ApiError { code: 406, reason: "NotAcceptable", message: message.into(), details: None }
}

/// Reads `Accept` the way kube-apiserver negotiates, over what this server can write: the first
/// alternative that is JSON (`application/json`, `application/*`, `*/*`) either plain or with
/// `as=PartialObjectMetadata` / `as=PartialObjectMetadataList` in `g=meta.k8s.io`, `v=v1`.
/// No header means plain JSON; nothing acceptable is 406 NotAcceptable.
fn negotiate(accept: Option<&str>) -> Result<Form, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Form::Full);
    };
    for alternative in accept.split(',') {
        let mut parts = alternative.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        if !matches!(media.as_str(), "application/json" | "application/*" | "*/*") {
            continue;
        }
        let params: HashMap<String, String> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
            .collect();
        let param = |key: &str| params.get(key).map(String::as_str);
        let meta_v1 = param("g") == Some("meta.k8s.io") && param("v") == Some("v1");
        match param("as") {
            None => return Ok(Form::Full),
            Some("PartialObjectMetadata") if meta_v1 => return Ok(Form::Metadata),
            Some("PartialObjectMetadataList") if meta_v1 => return Ok(Form::MetadataList),
            // Tables, meta.k8s.io/v1beta1: not served here; try the next alternative.
            Some(_) => {}
        }
    }
    Err(not_acceptable(format!(
        "none of the media types in Accept {accept:?} is served by this fake API server \
         (application/json, optionally as=PartialObjectMetadata or as=PartialObjectMetadataList \
         with g=meta.k8s.io;v=v1)"
    )))
}

/// Refuses a conversion that does not fit the response (checked before anything is done, so a
/// refused write writes nothing): the real server's messages.
fn check_form(form: Form, returns_list: bool) -> Result<(), ApiError> {
    match form {
        Form::Metadata if returns_list => Err(not_acceptable(
            "you requested PartialObjectMetadata, but the requested object is a list",
        )),
        Form::MetadataList if !returns_list => Err(not_acceptable(
            "you requested PartialObjectMetadataList, but the requested object is not a list",
        )),
        _ => Ok(()),
    }
}

/// One object's metadata as a `meta.k8s.io/v1` `PartialObjectMetadata`.
fn partial_object(object: &Value) -> Value {
    json!({
        "apiVersion": META_V1,
        "kind": "PartialObjectMetadata",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A response body in the asked form; `Status` bodies are never converted (nor by the real
/// server).
fn shape(form: Form, value: Value) -> Value {
    if form == Form::Full || value.get("kind").and_then(Value::as_str) == Some("Status") {
        return value;
    }
    match form {
        Form::MetadataList => {
            let items: Vec<Value> = value
                .get("items")
                .and_then(Value::as_array)
                .map(|items| items.iter().map(partial_object).collect())
                .unwrap_or_default();
            json!({
                "apiVersion": META_V1,
                "kind": "PartialObjectMetadataList",
                "metadata": value.get("metadata").cloned().unwrap_or_else(|| json!({})),
                "items": items,
            })
        }
        _ => partial_object(&value),
    }
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
    form: Form,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let route = route(path)?;
    if params.contains_key("dryRun") {
        // Refused rather than ignored: a dry run that wrote would make tests lie.
        return Err(ApiError::bad_request("dryRun is not supported by the fake API server"));
    }
    let watch = matches!(params.get("watch").map(String::as_str), Some("true" | "1"));
    let returns_list =
        route.name.is_none() && ((*method == Method::GET && !watch) || *method == Method::DELETE);
    check_form(form, returns_list)?;
    let info = route.info;
    let ns = route.namespace.clone().unwrap_or_default();
    let field_manager = params.get("fieldManager").map(String::as_str);
    let ok = |value| Ok(Reply::Json(StatusCode::OK, value));
    match (method, route.name.as_deref()) {
        (&Method::GET, None) => {
            let filter = filter(&route, params)?;
            if watch {
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

/// A watch event about an object, the object in the watch's form.
fn object_line(form: Form, kind: &str, object: &Value) -> Bytes {
    match form {
        Form::Full => event_line(kind, object),
        _ => event_line(kind, &partial_object(object)),
    }
}

fn bookmark(info: &ResourceInfo, form: Form, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    object_line(
        form,
        "BOOKMARK",
        &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata}),
    )
}

/// The watch event a change means for a watch with this filter (selector transitions turn
/// into ADDED / DELETED, as the real watch cache does).
fn event_for(info: &ResourceInfo, filter: &Filter, form: Form, change: &Change) -> Option<Bytes> {
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
    Some(object_line(form, kind, &change.new))
}

fn watch_response(
    shared: Arc<Shared>,
    route: Route,
    filter: Filter,
    params: &HashMap<String, String>,
    form: Form,
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
                initial.push(object_line(form, "ADDED", object));
            }
            if send_initial && bookmarks {
                initial.push(bookmark(info, form, state.resource_version(), true));
            }
        } else {
            let Ok(from) = rv.parse::<u64>() else {
                return error_response(&ApiError::bad_request(format!(
                    "invalid resourceVersion {rv:?}"
                )));
            };
            match state.changes_since(from) {
                Ok(backlog) => {
                    initial
                        .extend(backlog.iter().filter_map(|c| event_for(info, &filter, form, c)));
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
                    Ok(Broadcast::Change(change)) if change.rv > start_rv => event_for(info, &filter, form, &change),
                    Ok(Broadcast::Change(_)) => None,
                    Ok(Broadcast::Progress(rv)) if bookmarks => Some(bookmark(info, form, rv, false)),
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

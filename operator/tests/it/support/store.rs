//! The fake API server's state and the semantics of every write: resourceVersion, generation,
//! uid, status subresource, finalizers with deletionTimestamp, conflicts, server-side apply and
//! the change history that watches replay.
//!
//! Everything here is synchronous and runs under one mutex, so a write, its history entry and
//! its broadcast to live watches happen atomically (no watch can miss or reorder an event).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::fields::{self, Path};
use super::resources::{ApiError, ResourceInfo};
use super::selector::{FieldSelector, LabelSelector};

/// Where an object lives: its resource and its namespace/name (`namespace` is empty for
/// cluster-scoped kinds).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// API group.
    pub group: String,
    /// Plural resource name.
    pub plural: String,
    /// Namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The object was created.
    Added,
    /// The object was written.
    Modified,
    /// The object is gone.
    Deleted,
}

/// One committed change, as kept in the history and sent to watches.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// Resource and namespace/name of the object.
    pub key: Key,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The object before the change (for selector transitions in watches).
    pub old: Option<Value>,
    /// The object after the change (the last state, for deletions).
    pub new: Value,
}

/// What live watches receive, in commit order.
#[derive(Debug, Clone)]
pub enum Broadcast {
    /// A committed change.
    Change(Arc<Change>),
    /// Every change up to this resourceVersion has been broadcast.
    Progress(u64),
}

/// Whether an apply or update was done through `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subresource {
    /// The main resource.
    Main,
    /// The `/status` subresource.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Apply,
    Update,
}

/// One managedFields entry: a manager, how it wrote, through which subresource, and the
/// leaf fields it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Manager {
    name: String,
    operation: Operation,
    subresource: Subresource,
    api_version: String,
    fields: BTreeSet<Path>,
}

#[derive(Debug, Clone)]
struct Stored {
    value: Value,
    managers: Vec<Manager>,
}

/// A request to a collection: list or watch filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
}

impl Filter {
    /// Whether an object of `info` at `key` with this content passes the filter.
    pub fn matches(&self, key: &Key, object: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == key.namespace)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

/// How a PATCH body is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`, applied as a merge patch (no patch
    /// directives, lists replaced).
    Strategic,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/apply-patch+yaml` (server-side apply; YAML or JSON body).
    Apply {
        /// `force=true`: take ownership of conflicting fields.
        force: bool,
    },
}

/// One request as received, for assertions (e.g. "status was written exactly once").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// URL path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// `Content-Type` of the body, if any.
    pub content_type: Option<String>,
    /// The `Accept` header, if any (metadata-only requests ask for
    /// `application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`).
    pub accept: Option<String>,
    /// The `fieldManager` query parameter, if any.
    pub field_manager: Option<String>,
    /// When it arrived (for assertions on retry timing).
    pub at: std::time::Instant,
}

/// The whole server state.
#[derive(Debug)]
pub struct State {
    rv: u64,
    uids: u64,
    names: u64,
    objects: BTreeMap<Key, Stored>,
    history: VecDeque<Arc<Change>>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    history_limit: usize,
    tx: broadcast::Sender<Broadcast>,
    /// Every request received, in order.
    pub requests: Vec<RecordedRequest>,
}

fn now_rfc3339() -> String {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn meta(value: &Value, field: &str) -> Option<Value> {
    value.get("metadata").and_then(|m| m.get(field)).cloned()
}

fn meta_mut(value: &mut Value) -> &mut Map<String, Value> {
    if !value.get("metadata").is_some_and(Value::is_object) {
        value["metadata"] = Value::Object(Map::new());
    }
    value["metadata"].as_object_mut().expect("metadata was just made an object")
}

fn finalizers(value: &Value) -> BTreeSet<String> {
    value
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The object with the fields that change on every write (resourceVersion, managedFields)
/// removed: two writes that differ only there are no-ops.
fn comparable(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}

/// The object minus metadata and status: what `generation` counts changes of.
fn spec_part(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl State {
    /// An empty store; `tx` feeds live watches.
    pub fn new(tx: broadcast::Sender<Broadcast>, history_limit: usize) -> Self {
        Self {
            rv: 1,
            uids: 0,
            names: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 1,
            history_limit,
            tx,
            requests: Vec::new(),
        }
    }

    /// The current (newest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// A receiver of every broadcast after this moment.
    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.tx.subscribe()
    }

    /// Tells live watches that everything up to now has been sent (they may emit a BOOKMARK).
    pub fn broadcast_progress(&self) {
        let _ = self.tx.send(Broadcast::Progress(self.rv));
    }

    /// Forgets all history: watches resuming from any older resourceVersion get 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// The retained changes after `rv` for a watch resuming there, or 410 if some of them were
    /// compacted away.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted
            )));
        }
        Ok(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    /// A stored object.
    pub fn object(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key).map(|s| &s.value)
    }

    /// Every stored object of a resource passing `filter`, in key order.
    pub fn objects<'a>(
        &'a self,
        info: &'a ResourceInfo,
        filter: &'a Filter,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| k.group == info.group && k.plural == info.plural)
            .filter(move |(k, s)| filter.matches(k, &s.value))
            .map(|(k, s)| (k, &s.value))
    }

    fn key(info: &ResourceInfo, namespace: &str, name: &str) -> Key {
        Key {
            group: info.group.to_owned(),
            plural: info.plural.to_owned(),
            namespace: if info.namespaced { namespace.to_owned() } else { String::new() },
            name: name.to_owned(),
        }
    }

    /// GET one object.
    pub fn get(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.object(&Self::key(info, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(info, name))
    }

    /// LIST: the matching objects after the `continue` key, at most `limit` of them, with a
    /// continue token when more remain. Pages read the current state (the real server serves
    /// every page from the first page's snapshot).
    pub fn list(
        &self,
        info: &ResourceInfo,
        filter: &Filter,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Value, ApiError> {
        let after = match continue_token {
            Some(token) => {
                let (ns, name) = token.split_once('/').ok_or_else(|| {
                    ApiError::bad_request(format!("invalid continue token {token:?}"))
                })?;
                Some((ns.to_owned(), name.to_owned()))
            }
            None => None,
        };
        let mut items = Vec::new();
        let mut next = None;
        for (key, value) in self.objects(info, filter) {
            if after.as_ref().is_some_and(|(ns, name)| (&key.namespace, &key.name) <= (ns, name)) {
                continue;
            }
            if limit.is_some_and(|l| l > 0 && items.len() == l) {
                next = items.last().and_then(|v: &Value| {
                    let ns = v.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
                    let name = v.pointer("/metadata/name").and_then(Value::as_str)?;
                    Some(format!("{ns}/{name}"))
                });
                break;
            }
            items.push(value.clone());
        }
        let mut metadata = json!({"resourceVersion": self.rv.to_string()});
        if let Some(next) = next {
            metadata["continue"] = json!(next);
        }
        Ok(json!({
            "kind": format!("{}List", info.kind),
            "apiVersion": info.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    /// POST: create a new object (409 AlreadyExists when the name is taken).
    pub fn create(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        mut body: Value,
        field_manager: &str,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        let name = match meta(&body, "name").and_then(|n| n.as_str().map(str::to_owned)) {
            Some(name) if !name.is_empty() => name,
            _ => match meta(&body, "generateName").and_then(|n| n.as_str().map(str::to_owned)) {
                Some(prefix) if !prefix.is_empty() => {
                    self.names += 1;
                    format!("{prefix}{:05x}", self.names)
                }
                _ => {
                    return Err(ApiError::invalid(
                        info,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        self.check_namespace(info, namespace, &body, &name)?;
        let key = Self::key(info, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(info, &name));
        }
        if info.status_subresource
            && let Some(m) = body.as_object_mut()
        {
            m.remove("status");
        }
        self.fill_new_object(info, namespace, &name, &mut body);
        let mut managers = Vec::new();
        record_update(&mut managers, field_manager, Subresource::Main, info, None, &body);
        Ok(self.commit(info, key, None, body, managers))
    }

    /// Creates or replaces an object as a privileged writer (tests seeding state, or playing
    /// the kubelet / Job controller): status is kept, no preconditions are checked.
    pub fn upsert(&mut self, info: &ResourceInfo, mut body: Value) -> Result<Value, ApiError> {
        let namespace = meta(&body, "namespace")
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_default();
        let name = meta(&body, "name")
            .and_then(|n| n.as_str().map(str::to_owned))
            .ok_or_else(|| ApiError::bad_request("upsert needs metadata.name"))?;
        let key = Self::key(info, &namespace, &name);
        let old = self.objects.get(&key).cloned();
        match &old {
            Some(stored) => carry_server_metadata(&mut body, &stored.value),
            None => self.fill_new_object(info, &namespace, &name, &mut body),
        }
        let mut managers = old.as_ref().map(|s| s.managers.clone()).unwrap_or_default();
        record_update(
            &mut managers,
            "fake-api-server",
            Subresource::Main,
            info,
            old.as_ref().map(|s| &s.value),
            &body,
        );
        Ok(self.commit(info, key, old.as_ref(), body, managers))
    }

    /// PUT: replace the object (or only its status through `/status`); 409 Conflict when the
    /// body's resourceVersion is stale.
    pub fn replace(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        sub: Subresource,
        body: Value,
        field_manager: &str,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        let body_name = meta(&body, "name").and_then(|n| n.as_str().map(str::to_owned));
        if body_name.as_deref().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                body_name.unwrap_or_default()
            )));
        }
        self.check_namespace(info, namespace, &body, name)?;
        let key = Self::key(info, namespace, name);
        let old = self.objects.get(&key).cloned().ok_or_else(|| ApiError::not_found(info, name))?;
        check_resource_version(info, name, &body, &old.value)?;
        let new = self.shape_write(info, sub, &old.value, body);
        self.finish_update(info, key, old, new, sub, field_manager)
    }

    /// PATCH: merge, strategic merge (as merge), JSON patch or server-side apply.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        sub: Subresource,
        kind: PatchKind,
        body: Value,
        field_manager: Option<&str>,
    ) -> Result<Value, ApiError> {
        let key = Self::key(info, namespace, name);
        let old = self.objects.get(&key).cloned();
        if let PatchKind::Apply { force } = kind {
            let manager = field_manager.ok_or_else(|| {
                ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager")
            })?;
            return self.apply(info, namespace, name, sub, key, old, body, manager, force);
        }
        let old = old.ok_or_else(|| ApiError::not_found(info, name))?;
        let mut candidate = old.value.clone();
        match kind {
            PatchKind::Merge | PatchKind::Strategic => fields::merge(&mut candidate, &body),
            PatchKind::Json => {
                let patch: json_patch::Patch = serde_json::from_value(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                json_patch::patch(&mut candidate, &patch).map_err(|e| {
                    ApiError::invalid(
                        info,
                        name,
                        &format!("the JSON patch could not be applied: {e}"),
                    )
                })?;
            }
            PatchKind::Apply { .. } => unreachable!("handled above"),
        }
        check_resource_version(info, name, &candidate, &old.value)?;
        let new = self.shape_write(info, sub, &old.value, candidate);
        self.finish_update(info, key, old, new, sub, field_manager.unwrap_or("unknown"))
    }

    /// DELETE: with finalizers the object only gets a deletionTimestamp (and is removed when the
    /// last finalizer goes); without, it is removed now. Returns the object while deletion is
    /// pending, or a `Success` Status once it is gone.
    pub fn delete(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        preconditions: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let key = Self::key(info, namespace, name);
        let old = self.objects.get(&key).cloned().ok_or_else(|| ApiError::not_found(info, name))?;
        if let Some(pre) = preconditions {
            if let Some(uid) = pre.get("uid").and_then(Value::as_str)
                && meta(&old.value, "uid").as_ref().and_then(Value::as_str) != Some(uid)
            {
                return Err(ApiError::conflict(
                    info,
                    name,
                    "Precondition failed: UID in precondition does not match the UID of the object",
                ));
            }
            if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str)
                && meta(&old.value, "resourceVersion").as_ref().and_then(Value::as_str) != Some(rv)
            {
                return Err(ApiError::conflict(
                    info,
                    name,
                    "Precondition failed: ResourceVersion in precondition does not match the ResourceVersion of the object",
                ));
            }
        }
        if !finalizers(&old.value).is_empty() {
            if meta(&old.value, "deletionTimestamp").is_some() {
                return Ok(old.value);
            }
            let mut new = old.value.clone();
            let m = meta_mut(&mut new);
            m.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            let managers = old.managers.clone();
            return Ok(self.commit(info, key, Some(&old), new, managers));
        }
        self.remove(&key, old.value.clone());
        Ok(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": info.group,
                "kind": info.plural,
                "uid": meta(&old.value, "uid"),
            },
        }))
    }

    fn check_namespace(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        body: &Value,
        name: &str,
    ) -> Result<(), ApiError> {
        let body_ns = meta(body, "namespace").and_then(|n| n.as_str().map(str::to_owned));
        match body_ns {
            Some(ns) if info.namespaced && !ns.is_empty() && ns != namespace => {
                Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({ns}) does not match the namespace sent on the request ({namespace}) for {name}"
                )))
            }
            _ => Ok(()),
        }
    }

    fn fill_new_object(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        body: &mut Value,
    ) {
        self.uids += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", self.uids);
        body["apiVersion"] = json!(info.api_version());
        body["kind"] = json!(info.kind);
        let m = meta_mut(body);
        m.insert("name".into(), json!(name));
        if info.namespaced {
            m.insert("namespace".into(), json!(namespace));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(now_rfc3339()));
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        m.remove("resourceVersion");
        m.remove("managedFields");
        if info.status_subresource {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
        fold_string_data(info, body);
    }

    /// The object a main-resource or `/status` write asks for: server metadata from the stored
    /// object, status only through `/status`, everything else only through the main resource.
    fn shape_write(
        &self,
        info: &ResourceInfo,
        sub: Subresource,
        old: &Value,
        mut new: Value,
    ) -> Value {
        match sub {
            Subresource::Status => {
                let mut out = old.clone();
                match new.get("status") {
                    Some(status) => out["status"] = status.clone(),
                    None => {
                        if let Some(m) = out.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                out
            }
            Subresource::Main => {
                carry_server_metadata(&mut new, old);
                new["apiVersion"] = json!(info.api_version());
                new["kind"] = json!(info.kind);
                if info.status_subresource {
                    match old.get("status") {
                        Some(status) => new["status"] = status.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                fold_string_data(info, &mut new);
                new
            }
        }
    }

    fn finish_update(
        &mut self,
        info: &ResourceInfo,
        key: Key,
        old: Stored,
        new: Value,
        sub: Subresource,
        field_manager: &str,
    ) -> Result<Value, ApiError> {
        check_finalizers_during_deletion(info, &key.name, &old.value, &new)?;
        let mut managers = old.managers.clone();
        record_update(&mut managers, field_manager, sub, info, Some(&old.value), &new);
        Ok(self.commit(info, key, Some(&old), new, managers))
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        sub: Subresource,
        key: Key,
        old: Option<Stored>,
        applied: Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        if !applied.is_object() {
            return Err(ApiError::bad_request("the applied configuration must be an object"));
        }
        let api_version = applied.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = applied.get("kind").and_then(Value::as_str).unwrap_or("");
        if api_version.is_empty() || kind.is_empty() {
            return Err(ApiError::bad_request(
                "apiVersion and kind must be set in an applied configuration",
            ));
        }
        if api_version != info.api_version() || kind != info.kind {
            return Err(ApiError::bad_request(format!(
                "the applied configuration is a {api_version}/{kind}, not a {}/{}",
                info.api_version(),
                info.kind
            )));
        }
        if let Some(n) = meta(&applied, "name").and_then(|n| n.as_str().map(str::to_owned))
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        self.check_namespace(info, namespace, &applied, name)?;
        let (mut base, mut managers) = match &old {
            Some(stored) => {
                check_resource_version(info, name, &applied, &stored.value)?;
                (stored.value.clone(), stored.managers.clone())
            }
            None if sub == Subresource::Status => return Err(ApiError::not_found(info, name)),
            None => {
                let mut fresh = json!({});
                self.fill_new_object(info, namespace, name, &mut fresh);
                (fresh, Vec::new())
            }
        };
        let scope = match (sub, info.status_subresource) {
            (Subresource::Status, _) => Some(true),
            (Subresource::Main, true) => Some(false),
            (Subresource::Main, false) => None,
        };
        let content = fields::ownable(&applied, scope);
        let new_set = fields::field_set(&content);

        // Conflicts: another manager owns a field this apply sets to a different value.
        let mut conflicts = BTreeMap::<Path, BTreeSet<String>>::new();
        for other in managers.iter().filter(|m| m.name != manager) {
            for path in &new_set {
                // An applied empty object sets no value of its own (merging it changes nothing).
                if fields::get(&content, path)
                    .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
                {
                    continue;
                }
                let owned = other.fields.iter().any(|q| fields::overlaps(path, q));
                if owned && fields::get(&base, path) != fields::get(&content, path) {
                    conflicts.entry(path.clone()).or_default().insert(other.name.clone());
                }
            }
        }
        if !conflicts.is_empty() {
            if !force {
                return Err(apply_conflict(info, name, &conflicts));
            }
            for other in managers.iter_mut().filter(|m| m.name != manager) {
                other.fields.retain(|q| !conflicts.keys().any(|p| fields::overlaps(p, q)));
            }
        }

        // Fields this manager applied last time and no longer applies are removed, unless
        // another manager still owns them.
        let previous = managers
            .iter()
            .find(|m| m.name == manager && m.operation == Operation::Apply && m.subresource == sub)
            .map(|m| m.fields.clone())
            .unwrap_or_default();
        for path in previous.difference(&new_set) {
            let shared = managers
                .iter()
                .filter(|m| {
                    !(m.name == manager && m.operation == Operation::Apply && m.subresource == sub)
                })
                .any(|m| m.fields.iter().any(|q| fields::overlaps(path, q)));
            if !shared {
                fields::remove(&mut base, path);
            }
        }
        fields::merge(&mut base, &content);
        set_manager(&mut managers, manager, Operation::Apply, sub, info, new_set);
        fold_string_data(info, &mut base);
        if let Some(old) = &old {
            check_finalizers_during_deletion(info, name, &old.value, &base)?;
        }
        prune_missing(&mut managers, &base);
        Ok(self.commit(info, key, old.as_ref(), base, managers))
    }

    /// Stores the new state: a no-op when nothing changed; otherwise bumps resourceVersion (and
    /// generation on spec changes), records and broadcasts the change, and removes the object
    /// when it is being deleted and its last finalizer is gone.
    fn commit(
        &mut self,
        info: &ResourceInfo,
        key: Key,
        old: Option<&Stored>,
        mut new: Value,
        managers: Vec<Manager>,
    ) -> Value {
        if let Some(old) = old {
            if comparable(&old.value) == comparable(&new) && old.managers == managers {
                return old.value.clone();
            }
            if info.status_subresource && spec_part(&old.value) != spec_part(&new) {
                let generation =
                    meta(&old.value, "generation").and_then(|g| g.as_i64()).unwrap_or(0);
                meta_mut(&mut new).insert("generation".into(), json!(generation + 1));
            }
        }
        render_managed_fields(&mut new, &managers);
        if meta(&new, "deletionTimestamp").is_some() && finalizers(&new).is_empty() {
            self.remove(&key, new.clone());
            return new;
        }
        self.rv += 1;
        meta_mut(&mut new).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let kind = if old.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
        let change = Change {
            rv: self.rv,
            key: key.clone(),
            kind,
            old: old.map(|o| o.value.clone()),
            new: new.clone(),
        };
        self.objects.insert(key, Stored { value: new.clone(), managers });
        self.record(change);
        new
    }

    fn remove(&mut self, key: &Key, mut last: Value) {
        let old = self.objects.remove(key).map(|s| s.value);
        self.rv += 1;
        meta_mut(&mut last).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let change =
            Change { rv: self.rv, key: key.clone(), kind: ChangeKind::Deleted, old, new: last };
        self.record(change);
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        let _ = self.tx.send(Broadcast::Change(change));
    }
}

/// Copies what only the server sets (identity, timestamps, generation, deletion state) from the
/// stored object, dropping whatever the client sent there.
fn carry_server_metadata(new: &mut Value, old: &Value) {
    let fields = [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ];
    let m = meta_mut(new);
    m.remove("managedFields");
    for field in fields {
        match meta(old, field) {
            Some(v) => m.insert(field.into(), v),
            None => m.remove(field),
        };
    }
}

fn check_resource_version(
    info: &ResourceInfo,
    name: &str,
    body: &Value,
    current: &Value,
) -> Result<(), ApiError> {
    let wanted = meta(body, "resourceVersion").and_then(|v| v.as_str().map(str::to_owned));
    let actual = meta(current, "resourceVersion").and_then(|v| v.as_str().map(str::to_owned));
    match wanted {
        Some(w) if !w.is_empty() && Some(&w) != actual.as_ref() => Err(ApiError::conflict(
            info,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )),
        _ => Ok(()),
    }
}

fn check_finalizers_during_deletion(
    info: &ResourceInfo,
    name: &str,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    if meta(old, "deletionTimestamp").is_none() {
        return Ok(());
    }
    let before = finalizers(old);
    let added: Vec<_> = finalizers(new).difference(&before).cloned().collect();
    if added.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            info,
            name,
            &format!(
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
            ),
        ))
    }
}

/// Secrets: `stringData` is write-only and folded into base64 `data`, as the real server does.
fn fold_string_data(info: &ResourceInfo, object: &mut Value) {
    if info.kind != "Secret" || !info.group.is_empty() {
        return;
    }
    let Some(map) = object.as_object_mut() else { return };
    let Some(Value::Object(string_data)) = map.remove("stringData") else { return };
    let data = map.entry("data").or_insert_with(|| json!({}));
    for (key, value) in string_data {
        let text = value.as_str().unwrap_or_default();
        data[key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

fn set_manager(
    managers: &mut Vec<Manager>,
    name: &str,
    operation: Operation,
    sub: Subresource,
    info: &ResourceInfo,
    fields: BTreeSet<Path>,
) {
    managers.retain(|m| !(m.name == name && m.operation == operation && m.subresource == sub));
    if !fields.is_empty() {
        managers.push(Manager {
            name: name.to_owned(),
            operation,
            subresource: sub,
            api_version: info.api_version(),
            fields,
        });
    }
}

/// A non-apply write: the fields it changed move to `manager`'s Update entry (other managers
/// lose them, without conflicts, as in the real server).
fn record_update(
    managers: &mut Vec<Manager>,
    manager: &str,
    sub: Subresource,
    info: &ResourceInfo,
    old: Option<&Value>,
    new: &Value,
) {
    let empty = json!({});
    let old_content = fields::ownable(old.unwrap_or(&empty), None);
    let new_content = fields::ownable(new, None);
    let changed = fields::changed_paths(&old_content, &new_content);
    if changed.is_empty() {
        return;
    }
    for m in managers.iter_mut() {
        if !(m.name == manager && m.operation == Operation::Update && m.subresource == sub) {
            m.fields.retain(|q| !changed.iter().any(|p| fields::overlaps(p, q)));
        }
    }
    let mut mine = managers
        .iter()
        .find(|m| m.name == manager && m.operation == Operation::Update && m.subresource == sub)
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    mine.extend(changed.into_iter().filter(|p| fields::get(&new_content, p).is_some()));
    set_manager(managers, manager, Operation::Update, sub, info, mine);
    prune_missing(managers, new);
}

/// Drops ownership of fields that no longer exist, and managers left with nothing.
fn prune_missing(managers: &mut Vec<Manager>, object: &Value) {
    let content = fields::ownable(object, None);
    for m in managers.iter_mut() {
        m.fields.retain(|p| fields::get(&content, p).is_some());
    }
    managers.retain(|m| !m.fields.is_empty());
}

fn render_managed_fields(object: &mut Value, managers: &[Manager]) {
    let mut sorted: Vec<&Manager> = managers.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.name, a.operation, a.subresource).cmp(&(&b.name, b.operation, b.subresource))
    });
    let entries: Vec<Value> = sorted
        .into_iter()
        .map(|m| {
            let mut entry = json!({
                "manager": m.name,
                "operation": match m.operation { Operation::Apply => "Apply", Operation::Update => "Update" },
                "apiVersion": m.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields::fields_v1(&m.fields),
            });
            if m.subresource == Subresource::Status {
                entry["subresource"] = json!("status");
            }
            entry
        })
        .collect();
    let m = meta_mut(object);
    if entries.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), Value::Array(entries));
    }
}

fn apply_conflict(
    info: &ResourceInfo,
    name: &str,
    conflicts: &BTreeMap<Path, BTreeSet<String>>,
) -> ApiError {
    let mut causes = Vec::new();
    let mut lines = Vec::new();
    for (path, owners) in conflicts {
        let field = format!(".{}", path.join("."));
        for owner in owners {
            lines.push(format!("conflict with \"{owner}\": {field}"));
            causes.push(json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{owner}\""), "field": field}));
        }
    }
    let message = format!(
        "Apply failed with {} conflict{}: {}",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        lines.join(", ")
    );
    let mut error = ApiError::conflict(info, name, "");
    error.message = message;
    if let Some(details) = error.details.as_mut() {
        details["causes"] = Value::Array(causes);
    }
    error
}

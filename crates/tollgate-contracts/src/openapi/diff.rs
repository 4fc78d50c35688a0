//! Paths, operations, parameters, bodies, responses and security; schemas are in `schema`.

use super::Spec;
use super::load::{push_escaped, resolve_pointer, split_ref};
use super::rules;
use super::schema::{self, Ctx, Dir};
use crate::change::Change;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tollgate_core::Location;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// A value in one of a spec's documents, with the place it was found.
#[derive(Clone)]
pub(super) struct Node<'a> {
    spec: &'a Spec,
    doc: usize,
    pub(super) ptr: String,
    pub(super) v: &'a Value,
}

impl<'a> Node<'a> {
    fn root(spec: &'a Spec) -> Self {
        Node { spec, doc: 0, ptr: String::new(), v: &spec.docs[0].value }
    }

    /// Follows `$ref`s (a bounded number of hops, so reference loops end).
    pub(super) fn deref(mut self) -> Self {
        for _ in 0..32 {
            let Some(Value::String(r)) = self.v.get("$ref") else { break };
            let from = &self.spec.docs[self.doc].name;
            let Some((file, fragment)) = split_ref(from, r) else { break };
            let Some(&doc) = self.spec.index.get(&file) else { break };
            let Some(v) = resolve_pointer(&self.spec.docs[doc].value, &fragment) else { break };
            self = Node { spec: self.spec, doc, ptr: fragment, v };
        }
        self
    }

    /// The child at `key`, references followed.
    pub(super) fn get(&self, key: &str) -> Option<Node<'a>> {
        let v = self.v.get(key)?;
        let mut ptr = self.ptr.clone();
        ptr.push('/');
        push_escaped(&mut ptr, key);
        Some(Node { spec: self.spec, doc: self.doc, ptr, v }.deref())
    }

    /// The `i`th element of an array, references followed.
    pub(super) fn at(&self, i: usize) -> Option<Node<'a>> {
        let v = self.v.get(i)?;
        let ptr = format!("{}/{i}", self.ptr);
        Some(Node { spec: self.spec, doc: self.doc, ptr, v }.deref())
    }

    /// The entries of an object, references followed.
    pub(super) fn entries(&self) -> Vec<(&'a str, Node<'a>)> {
        match self.v {
            Value::Object(map) => {
                map.keys().filter_map(|k| Some((k.as_str(), self.get(k)?))).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The elements of an array, references followed.
    pub(super) fn items(&self) -> Vec<Node<'a>> {
        let n = self.v.as_array().map_or(0, Vec::len);
        (0..n).filter_map(|i| self.at(i)).collect()
    }

    pub(super) fn flag(&self, key: &str) -> bool {
        self.v.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    pub(super) fn str(&self, key: &str) -> Option<&'a str> {
        self.v.get(key).and_then(Value::as_str)
    }

    /// Identity of the place (document and pointer), for cycle detection.
    pub(super) fn key(&self) -> (usize, &str) {
        (self.doc, &self.ptr)
    }

    pub(super) fn location(&self) -> Location {
        Location::file(self.spec.docs[self.doc].name.clone()).at_pointer(self.ptr.clone())
    }
}

/// Collects changes; one per call to `report`.
pub(super) struct Out {
    pub(super) changes: Vec<Change>,
    today: String,
}

impl Out {
    pub(super) fn report(&mut self, rule: &str, subject: &str, message: String, at: &Node<'_>) {
        let Some(doc) = rules::find(rule) else {
            debug_assert!(false, "unknown rule {rule}");
            return;
        };
        self.changes.push(Change {
            rule: doc.id,
            level: doc.level,
            message: format!("{subject}: {message}"),
            subject: subject.to_string(),
            location: at.location(),
        });
    }
}

pub(super) fn diff(base: &Spec, rev: &Spec) -> Vec<Change> {
    let today = tollgate_core::time_source::now()
        .map(|t| tollgate_core::time_source::rfc3339(t).chars().take(10).collect())
        .unwrap_or_default();
    let mut out = Out { changes: Vec::new(), today };
    let (b, r) = (Node::root(base), Node::root(rev));
    let b_paths = paths_by_shape(&b);
    let r_paths = paths_by_shape(&r);
    for (shape, (b_path, b_item)) in &b_paths {
        match r_paths.get(shape) {
            None => removed_path(&mut out, b_path, b_item),
            Some((r_path, r_item)) => {
                for method in METHODS {
                    let subject = format!("{} {r_path}", method.to_uppercase());
                    match (b_item.get(method), r_item.get(method)) {
                        (Some(bo), Some(ro)) => {
                            let ops =
                                OpPair { b_root: &b, r_root: &r, b_item, r_item, b_path, r_path };
                            diff_operation(&mut out, &subject, &ops, &bo, &ro);
                        }
                        (Some(bo), None) => {
                            let subject = format!("{} {b_path}", method.to_uppercase());
                            removed_operation(&mut out, &subject, &bo, false);
                        }
                        (None, Some(ro)) => out.report(
                            "paths-operation-added",
                            &subject,
                            "operation added".into(),
                            &ro,
                        ),
                        (None, None) => {}
                    }
                }
            }
        }
    }
    for (shape, (r_path, r_item)) in &r_paths {
        if !b_paths.contains_key(shape) {
            out.report("paths-path-added", r_path, format!("path `{r_path}` added"), r_item);
        }
    }
    out.changes
}

/// Paths keyed by template shape: `/users/{id}` and `/users/{userId}` are the same path.
fn paths_by_shape<'a>(root: &Node<'a>) -> BTreeMap<String, (String, Node<'a>)> {
    let mut out = BTreeMap::new();
    if let Some(paths) = root.get("paths") {
        for (path, item) in paths.entries() {
            out.entry(shape(path)).or_insert((path.to_string(), item));
        }
    }
    out
}

fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches('/').to_string()
}

/// Whether removing this operation is allowed: deprecated and past any `x-sunset` date.
enum Removal {
    Undeprecated,
    BeforeSunset(String),
    AfterDeprecation,
}

fn removal(out: &Out, op: &Node<'_>) -> Removal {
    let sunset = op.str("x-sunset").map(|s| s.chars().take(10).collect::<String>());
    match sunset {
        Some(date) if !out.today.is_empty() && date > out.today => Removal::BeforeSunset(date),
        Some(_) => Removal::AfterDeprecation,
        None if op.flag("deprecated") => Removal::AfterDeprecation,
        None => Removal::Undeprecated,
    }
}

fn removed_path(out: &mut Out, path: &str, item: &Node<'_>) {
    let ops: Vec<_> = METHODS.iter().filter_map(|m| Some((*m, item.get(m)?))).collect();
    let all_retired = !ops.is_empty()
        && ops.iter().all(|(_, op)| matches!(removal(out, op), Removal::AfterDeprecation));
    if all_retired {
        for (method, op) in ops {
            let subject = format!("{} {path}", method.to_uppercase());
            removed_operation(out, &subject, &op, true);
        }
    } else {
        out.report("paths-path-removed", path, format!("path `{path}` removed"), item);
    }
}

fn removed_operation(out: &mut Out, subject: &str, op: &Node<'_>, path_gone: bool) {
    let what = if path_gone { "operation removed with its path" } else { "operation removed" };
    match removal(out, op) {
        Removal::Undeprecated => out.report(
            "paths-operation-removed",
            subject,
            format!("{what} without prior deprecation"),
            op,
        ),
        Removal::BeforeSunset(date) => out.report(
            "paths-operation-removed-before-sunset",
            subject,
            format!("{what} before its sunset date {date}"),
            op,
        ),
        Removal::AfterDeprecation => out.report(
            "paths-deprecated-operation-removed",
            subject,
            format!("deprecated {what}"),
            op,
        ),
    }
}

struct OpPair<'a, 'n> {
    b_root: &'n Node<'a>,
    r_root: &'n Node<'a>,
    b_item: &'n Node<'a>,
    r_item: &'n Node<'a>,
    b_path: &'n str,
    r_path: &'n str,
}

fn diff_operation<'a>(
    out: &mut Out,
    subject: &str,
    ops: &OpPair<'a, '_>,
    bo: &Node<'a>,
    ro: &Node<'a>,
) {
    if let Some(id) = bo.str("operationId")
        && ro.str("operationId") != Some(id)
    {
        let now = ro.str("operationId").map_or("none".into(), |n| format!("`{n}`"));
        let msg = format!("operationId `{id}` changed to {now}");
        out.report("paths-operation-id-changed", subject, msg, ro);
    }
    if !bo.flag("deprecated") && ro.flag("deprecated") {
        out.report("paths-operation-deprecated", subject, "operation deprecated".into(), ro);
    }
    diff_parameters(out, subject, ops, bo, ro);
    diff_request_body(out, subject, bo.get("requestBody"), ro.get("requestBody"), ro);
    diff_responses(out, subject, bo, ro);
    diff_security(out, subject, ops, bo, ro);
}

/// Parameters keyed by location and name; path parameters by position in the template,
/// since a renamed path variable is the same parameter.
fn parameters<'a>(
    path: &str,
    item: &Node<'a>,
    op: &Node<'a>,
) -> BTreeMap<(String, String), Node<'a>> {
    let vars: Vec<&str> =
        path.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(v, _)| v)).collect();
    let mut out = BTreeMap::new();
    for holder in [item, op] {
        let Some(list) = holder.get("parameters") else { continue };
        for p in list.items() {
            let (Some(name), Some(place)) = (p.str("name"), p.str("in")) else { continue };
            // OpenAPI: header parameters named Accept, Content-Type or Authorization are ignored.
            if place == "header"
                && ["accept", "content-type", "authorization"]
                    .contains(&name.to_ascii_lowercase().as_str())
            {
                continue;
            }
            let key = match place {
                "path" => match vars.iter().position(|v| *v == name) {
                    Some(i) => format!("#{i}"),
                    None => name.to_string(),
                },
                "header" => name.to_ascii_lowercase(),
                _ => name.to_string(),
            };
            out.insert((place.to_string(), key), p);
        }
    }
    out
}

fn param_schema<'a>(p: &Node<'a>) -> Option<Node<'a>> {
    if let Some(s) = p.get("schema") {
        return Some(s);
    }
    p.get("content")?.entries().into_iter().find_map(|(_, media)| media.get("schema"))
}

fn diff_parameters<'a>(
    out: &mut Out,
    subject: &str,
    ops: &OpPair<'a, '_>,
    bo: &Node<'a>,
    ro: &Node<'a>,
) {
    let bp = parameters(ops.b_path, ops.b_item, bo);
    let rp = parameters(ops.r_path, ops.r_item, ro);
    for (key, b) in &bp {
        let name = b.str("name").unwrap_or_default();
        let label = format!("{} parameter `{name}`", key.0);
        match rp.get(key) {
            None if b.flag("deprecated") => {
                let msg = format!("deprecated {label} removed");
                out.report("request-deprecated-parameter-removed", subject, msg, b)
            }
            None => out.report("request-parameter-removed", subject, format!("{label} removed"), b),
            Some(r) => {
                let b_req = b.flag("required") || key.0 == "path";
                let r_req = r.flag("required") || key.0 == "path";
                if !b_req && r_req {
                    out.report(
                        "request-parameter-became-required",
                        subject,
                        format!("{label} became required"),
                        r,
                    );
                } else if b_req && !r_req {
                    out.report(
                        "request-parameter-became-optional",
                        subject,
                        format!("{label} became optional"),
                        r,
                    );
                }
                if let (Some(bs), Some(rs)) = (param_schema(b), param_schema(r)) {
                    let r_name = r.str("name").unwrap_or(name);
                    let label = format!("{} parameter `{r_name}`", key.0);
                    schema::diff(out, subject, Ctx::Parameter, Dir::Request, &label, &bs, &rs);
                }
            }
        }
    }
    for (key, r) in &rp {
        if bp.contains_key(key) {
            continue;
        }
        let name = r.str("name").unwrap_or_default();
        let label = format!("{} parameter `{name}`", key.0);
        if r.flag("required") || key.0 == "path" {
            out.report(
                "request-parameter-added-required",
                subject,
                format!("required {label} added"),
                r,
            );
        } else {
            out.report("request-parameter-added", subject, format!("optional {label} added"), r);
        }
    }
}

fn diff_request_body<'a>(
    out: &mut Out,
    subject: &str,
    b: Option<Node<'a>>,
    r: Option<Node<'a>>,
    ro: &Node<'a>,
) {
    match (b, r) {
        (None, None) => {}
        (None, Some(r)) => {
            if r.flag("required") {
                let msg = "required request body added".into();
                out.report("request-body-added-required", subject, msg, &r);
            } else {
                out.report("request-body-added", subject, "request body added".into(), &r);
            }
        }
        (Some(b), None) => {
            let _ = ro;
            out.report("request-body-removed", subject, "request body removed".into(), &b);
        }
        (Some(b), Some(r)) => {
            if !b.flag("required") && r.flag("required") {
                let msg = "request body became required".into();
                out.report("request-body-became-required", subject, msg, &r);
            }
            let bc = content(&b);
            let rc = content(&r);
            for (media, bm) in &bc {
                match lookup_media(&rc, media) {
                    None => out.report(
                        "request-body-media-type-removed",
                        subject,
                        format!("request media type `{media}` no longer accepted"),
                        bm,
                    ),
                    Some(rm) => {
                        if let (Some(bs), Some(rs)) = (bm.get("schema"), rm.get("schema")) {
                            let label = "request body".to_string();
                            schema::diff(out, subject, Ctx::Body, Dir::Request, &label, &bs, &rs);
                        }
                    }
                }
            }
            for (media, rm) in &rc {
                if lookup_media(&bc, media).is_none() {
                    let msg = format!("request media type `{media}` added");
                    out.report("request-body-media-type-added", subject, msg, rm);
                }
            }
        }
    }
}

fn content<'a>(n: &Node<'a>) -> BTreeMap<String, Node<'a>> {
    n.get("content")
        .map(|c| c.entries().into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        .unwrap_or_default()
}

/// Media types match ignoring case and parameters (`; charset=utf-8`).
fn lookup_media<'m, 'a>(map: &'m BTreeMap<String, Node<'a>>, media: &str) -> Option<&'m Node<'a>> {
    let essence = |m: &str| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase();
    let want = essence(media);
    let top = want.split('/').next().unwrap_or_default().to_string();
    map.get(media)
        .or_else(|| map.iter().find(|(k, _)| essence(k) == want).map(|(_, v)| v))
        .or_else(|| map.get(&format!("{top}/*")))
        .or_else(|| map.get("*/*"))
}

fn diff_responses<'a>(out: &mut Out, subject: &str, bo: &Node<'a>, ro: &Node<'a>) {
    let b: BTreeMap<String, Node<'a>> = bo
        .get("responses")
        .map(|r| r.entries().into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect())
        .unwrap_or_default();
    let r: BTreeMap<String, Node<'a>> = ro
        .get("responses")
        .map(|r| r.entries().into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect())
        .unwrap_or_default();
    for (status, bn) in &b {
        let range = status.chars().next().map(|c| format!("{c}XX"));
        let rn = r.get(status).or_else(|| range.and_then(|x| r.get(&x)));
        let Some(rn) = rn else {
            let (rule, kind) = if status.starts_with('2') {
                ("response-success-status-removed", "success")
            } else {
                ("response-non-success-status-removed", "non-success")
            };
            out.report(rule, subject, format!("{kind} response status {status} removed"), bn);
            continue;
        };
        let bc = content(bn);
        let rc = content(rn);
        for (media, bm) in &bc {
            match lookup_media(&rc, media) {
                None => out.report(
                    "response-media-type-removed",
                    subject,
                    format!("response {status} media type `{media}` removed"),
                    bm,
                ),
                Some(rm) => {
                    if let (Some(bs), Some(rs)) = (bm.get("schema"), rm.get("schema")) {
                        let label = format!("response {status} body");
                        schema::diff(out, subject, Ctx::Response, Dir::Response, &label, &bs, &rs);
                    }
                }
            }
        }
        let bh = bn.get("headers").map(|h| h.entries()).unwrap_or_default();
        let rh = rn.get("headers").map(|h| h.entries()).unwrap_or_default();
        for (name, h) in &bh {
            match rh.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                None if h.flag("required") => {
                    let msg = format!("response {status} required header `{name}` removed");
                    out.report("response-required-header-removed", subject, msg, h);
                }
                None => {
                    let msg = format!("response {status} header `{name}` removed");
                    out.report("response-header-removed", subject, msg, h);
                }
                Some((_, r)) if h.flag("required") && !r.flag("required") => {
                    let msg = format!("response {status} header `{name}` became optional");
                    out.report("response-header-became-optional", subject, msg, r);
                }
                Some(_) => {}
            }
        }
    }
    for (status, rn) in &r {
        if !b.contains_key(status) {
            let msg = format!("response status {status} added");
            out.report("response-status-added", subject, msg, rn);
        }
    }
}

type Requirement = BTreeMap<String, BTreeSet<String>>;

/// The operation's effective security: its own `security`, else the document's.
fn security<'a>(root: &Node<'a>, op: &Node<'a>) -> (Vec<Requirement>, Option<Node<'a>>) {
    let node = op.get("security").or_else(|| root.get("security"));
    let reqs = node
        .as_ref()
        .map(|n| {
            n.items()
                .iter()
                .map(|alt| {
                    alt.entries()
                        .into_iter()
                        .map(|(scheme, scopes)| {
                            let scopes = scopes
                                .v
                                .as_array()
                                .map(|a| {
                                    a.iter().filter_map(Value::as_str).map(String::from).collect()
                                })
                                .unwrap_or_default();
                            (scheme.to_string(), scopes)
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    (reqs, node)
}

/// A client satisfying a base alternative keeps working when some revision alternative asks
/// for no scheme and no scope beyond it.
fn diff_security<'a>(
    out: &mut Out,
    subject: &str,
    ops: &OpPair<'a, '_>,
    bo: &Node<'a>,
    ro: &Node<'a>,
) {
    let (b, _) = security(ops.b_root, bo);
    let (r, r_node) = security(ops.r_root, ro);
    let open = |alts: &[Requirement]| alts.is_empty() || alts.iter().any(BTreeMap::is_empty);
    if open(&r) {
        return;
    }
    let at = r_node.unwrap_or_else(|| ro.clone());
    let names = |req: &Requirement| req.keys().cloned().collect::<Vec<_>>().join(" + ");
    if open(&b) {
        let wanted: Vec<String> = r.iter().map(names).collect();
        let msg = format!("security requirement added: {}", wanted.join(" or "));
        out.report("security-requirement-added", subject, msg, &at);
        return;
    }
    for alt in &b {
        let fits = |req: &Requirement| req.keys().all(|k| alt.contains_key(k));
        if r.iter().any(|req| fits(req) && req.iter().all(|(k, s)| s.is_subset(&alt[k]))) {
            continue;
        }
        if let Some(req) = r.iter().find(|req| fits(req)) {
            let added: Vec<String> = req
                .iter()
                .flat_map(|(k, s)| s.difference(&alt[k]).map(move |x| format!("{k}:{x}")))
                .collect();
            let msg = format!("security scope added: {}", added.join(", "));
            out.report("security-scope-added", subject, msg, &at);
        } else {
            let msg = format!("clients authenticating with {} now need more", names(alt));
            out.report("security-requirement-added", subject, msg, &at);
        }
        return;
    }
}

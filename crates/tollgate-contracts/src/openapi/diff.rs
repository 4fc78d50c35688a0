//! Paths, operations, parameters, bodies, responses and security; schemas are in `schema`.

use super::load::{push_escaped, resolve_pointer, split_ref};
use super::rules;
use super::schema::{self, Ctx, Dir};
use super::{Policy, Spec, Stability};
use crate::change::{Change, Level};
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

    /// The node at `tokens` below this one (object keys or array indices), references followed.
    pub(super) fn descend(&self, tokens: &[String]) -> Option<Node<'a>> {
        let mut node = self.clone();
        for t in tokens {
            node = match node.v {
                Value::Array(_) => node.at(t.parse().ok()?)?,
                _ => node.get(t)?,
            };
        }
        Some(node)
    }

    /// An unconstrained schema (`true`) standing where this node lacks `key`.
    pub(super) fn absent(&self, key: &str) -> Node<'a> {
        static ANY: Value = Value::Bool(true);
        let mut ptr = self.ptr.clone();
        ptr.push('/');
        push_escaped(&mut ptr, key);
        Node { spec: self.spec, doc: self.doc, ptr, v: &ANY }
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
    policy: Policy,
}

impl Out {
    /// An empty collector with the same clock and policy (for changes judged afterwards).
    fn scratch(&self) -> Out {
        Out { changes: Vec::new(), today: self.today.clone(), policy: self.policy.clone() }
    }

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

pub(super) fn diff(base: &Spec, rev: &Spec, policy: &Policy) -> Vec<Change> {
    let today = tollgate_core::time_source::now()
        .map(|t| tollgate_core::time_source::rfc3339(t).chars().take(10).collect())
        .unwrap_or_default();
    let mut out = Out { changes: Vec::new(), today, policy: policy.clone() };
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
                            let mut scratch = out.scratch();
                            diff_operation(&mut scratch, &subject, &ops, &bo, &ro);
                            let changes = scratch.changes;
                            judge_stability(&mut out, &subject, &bo, &ro, changes);
                        }
                        (Some(bo), None) => {
                            let subject = format!("{} {b_path}", method.to_uppercase());
                            let mut scratch = out.scratch();
                            removed_operation(&mut scratch, &subject, &bo, false);
                            let changes = scratch.changes;
                            judge_stability(&mut out, &subject, &bo, &bo, changes);
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
        if !b_paths.contains_key(shape) && has_operations(r_item) {
            out.report("paths-path-added", r_path, format!("path `{r_path}` added"), r_item);
        }
    }
    diff_webhooks(&mut out, &b, &r);
    out.changes
}

fn has_operations(item: &Node<'_>) -> bool {
    METHODS.iter().any(|m| item.get(m).is_some())
}

fn stability(op: &Node<'_>) -> Stability {
    op.str("x-stability-level").and_then(Stability::parse).unwrap_or(Stability::Stable)
}

/// `x-stability-level`: stability may only increase, and below `stable` breaking changes are
/// allowed (lowered to info with a note).
fn judge_stability(
    out: &mut Out,
    subject: &str,
    bo: &Node<'_>,
    ro: &Node<'_>,
    mut changes: Vec<Change>,
) {
    let (before, after) = (stability(bo), stability(ro));
    if after < before {
        let msg = format!("stability decreased from `{}` to `{}`", before.as_str(), after.as_str());
        out.report("paths-stability-decreased", subject, msg, ro);
    }
    if before < Stability::Stable {
        for change in changes.iter_mut().filter(|c| c.level > Level::Info) {
            change.level = Level::Info;
            change.message.push_str(&format!(
                " (allowed: the operation's stability is `{}`)",
                before.as_str()
            ));
        }
    }
    out.changes.extend(changes);
}

/// Webhooks (OpenAPI 3.1) are requests the API sends: their receivers read the request body
/// and write the response, so each operation is compared with base and revision swapped.
fn diff_webhooks<'a>(out: &mut Out, b: &Node<'a>, r: &Node<'a>) {
    let hooks = |root: &Node<'a>| -> BTreeMap<String, Node<'a>> {
        root.get("webhooks")
            .map(|w| w.entries().into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            .unwrap_or_default()
    };
    let (bw, rw) = (hooks(b), hooks(r));
    for (name, bi) in &bw {
        let Some(ri) = rw.get(name) else {
            if has_operations(bi) {
                let msg = format!("webhook `{name}` removed: receivers no longer get its calls");
                out.report("webhook-removed", name, msg, bi);
            }
            continue;
        };
        for method in METHODS {
            let subject = format!("webhook {name} {}", method.to_uppercase());
            match (bi.get(method), ri.get(method)) {
                (Some(bo), Some(ro)) => {
                    let ops = OpPair {
                        b_root: r,
                        r_root: b,
                        b_item: ri,
                        r_item: bi,
                        b_path: name,
                        r_path: name,
                    };
                    let mut scratch = out.scratch();
                    diff_operation(&mut scratch, &subject, &ops, &ro, &bo);
                    let breaking: Vec<&Change> =
                        scratch.changes.iter().filter(|c| c.level == Level::Error).collect();
                    if let Some(first) = breaking.first() {
                        let what = first
                            .message
                            .strip_prefix(&format!("{subject}: "))
                            .unwrap_or(&first.message);
                        let msg = format!(
                            "receivers written for the base break ({} change(s); compared from the receiver's side: {what})",
                            breaking.len()
                        );
                        out.report("webhook-changed", &subject, msg, &ro);
                    } else if !scratch.changes.is_empty() {
                        let msg = "changed compatibly for receivers".to_string();
                        out.report("webhook-changed-compatibly", &subject, msg, &ro);
                    }
                }
                (Some(bo), None) => {
                    let msg = "webhook operation removed".to_string();
                    out.report("webhook-removed", &subject, msg, &bo);
                }
                (None, Some(ro)) => {
                    out.report("webhook-added", &subject, "webhook operation added".into(), &ro);
                }
                (None, None) => {}
            }
        }
    }
    for (name, ri) in &rw {
        if !bw.contains_key(name) && has_operations(ri) {
            out.report("webhook-added", name, format!("webhook `{name}` added"), ri);
        }
    }
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
    // A path item without operations offered nothing to call.
    if ops.is_empty() {
        return;
    }
    // Operations below `stable` may go without deprecation: judge each on its own.
    if ops.iter().any(|(_, op)| stability(op) < Stability::Stable) {
        for (method, op) in ops {
            let subject = format!("{} {path}", method.to_uppercase());
            let mut scratch = out.scratch();
            removed_operation(&mut scratch, &subject, &op, true);
            let changes = scratch.changes;
            judge_stability(out, &subject, &op, &op, changes);
        }
        return;
    }
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

/// A newly set `x-sunset` on a deprecated operation must leave the minimum notice its
/// stability level is owed (`[contracts.sunset_notice]`), counted from the run's date.
fn check_sunset_notice(out: &mut Out, subject: &str, bo: &Node<'_>, ro: &Node<'_>) {
    let Some(date) = ro.str("x-sunset") else { return };
    let newly = !bo.flag("deprecated") || bo.str("x-sunset") != Some(date);
    if !ro.flag("deprecated") || !newly {
        return;
    }
    let parse = |d: &str| crate::exceptions::parse_date(&d.chars().take(10).collect::<String>());
    let (Some(sunset), Some(today)) = (parse(date), parse(&out.today)) else { return };
    let level = stability(ro);
    let need = i64::from(out.policy.notice_days(level));
    let days = (sunset - today).whole_days();
    if days < need {
        let msg = format!(
            "sunset date {date} is {days} day(s) away; `{}` operations need {need} days of notice",
            level.as_str()
        );
        out.report("paths-sunset-too-soon", subject, msg, ro);
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
    check_sunset_notice(out, subject, bo, ro);
    diff_parameters(out, subject, ops, bo, ro);
    diff_request_body(out, subject, bo.get("requestBody"), ro.get("requestBody"));
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
    // A path parameter whose name is not in the template (a rename done in one place only)
    // stands for the first template variable no parameter names, in order.
    let named: Vec<String> = [item, op]
        .iter()
        .filter_map(|h| h.get("parameters"))
        .flat_map(|l| l.items())
        .filter(|p| p.str("in") == Some("path"))
        .filter_map(|p| p.str("name").map(String::from))
        .collect();
    let mut free_vars = (0..vars.len())
        .filter(|i| !named.iter().any(|n| n == vars[*i]))
        .collect::<Vec<_>>()
        .into_iter();
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
                "path" => match vars.iter().position(|v| *v == name).or_else(|| free_vars.next()) {
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

/// A parameter's effective `style` and `explode` (the defaults depend on where it is).
fn style(p: &Node<'_>, place: &str) -> (String, bool) {
    let default = if matches!(place, "query" | "cookie") { "form" } else { "simple" };
    let style = p.str("style").unwrap_or(default).to_string();
    let explode = p.v.get("explode").and_then(Value::as_bool).unwrap_or(style == "form");
    (style, explode)
}

fn show_style((style, explode): &(String, bool)) -> String {
    format!("style `{style}`{}", if *explode { " exploded" } else { "" })
}

fn is_scalar(schema: &Node<'_>) -> bool {
    matches!(schema.str("type"), Some("string" | "integer" | "number" | "boolean"))
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
                let r_name = r.str("name").unwrap_or(name);
                let label = format!("{} parameter `{r_name}`", key.0);
                let (b_style, r_style) = (style(b, &key.0), style(r, &key.0));
                if b_style != r_style {
                    let msg = format!(
                        "{label} serialisation changed from {} to {}",
                        show_style(&b_style),
                        show_style(&r_style)
                    );
                    out.report("request-parameter-style-changed", subject, msg, r);
                }
                if let (Some(bs), Some(rs)) = (param_schema(b), param_schema(r)) {
                    let (bd, rd) = (bs.v.get("default"), rs.v.get("default"));
                    if let (Some(bd), Some(rd)) = (bd, rd)
                        && bd != rd
                    {
                        let msg = format!("{label} default changed from {bd} to {rd}");
                        out.report("request-parameter-default-changed", subject, msg, &rs);
                    }
                    // `?a=x` is also the form/explode serialisation of the array `[x]`: a
                    // scalar that became an array of it is a generalisation.
                    let rs = match rs.get("items") {
                        Some(items)
                            if r_style == ("form".to_string(), true)
                                && is_scalar(&bs)
                                && rs.str("type") == Some("array") =>
                        {
                            items
                        }
                        _ => rs,
                    };
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

fn diff_request_body<'a>(out: &mut Out, subject: &str, b: Option<Node<'a>>, r: Option<Node<'a>>) {
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
                    Some(rm) => match (bm.get("schema"), rm.get("schema")) {
                        (Some(bs), Some(rs)) => {
                            let label = "request body".to_string();
                            let loose = !is_json(media);
                            schema::diff_loose(
                                out,
                                subject,
                                Ctx::Body,
                                Dir::Request,
                                &label,
                                &bs,
                                &rs,
                                loose,
                            );
                        }
                        (None, Some(rs)) if !crate::keywords::is_trivial(rs.v) => {
                            let msg = format!("request media type `{media}` now has a schema");
                            out.report("request-body-schema-added", subject, msg, &rs);
                        }
                        _ => {}
                    },
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

/// The structured-syntax family of a media type: `json` for `application/json` and any
/// `…/…+json`, likewise `xml`.
fn family(media: &str) -> Option<&'static str> {
    let essence = media.split(';').next().unwrap_or(media).trim().to_ascii_lowercase();
    let sub = essence.split_once('/').map(|(_, s)| s.to_string())?;
    if sub == "json" || sub.ends_with("+json") {
        Some("json")
    } else if sub == "xml" || sub.ends_with("+xml") {
        Some("xml")
    } else {
        None
    }
}

/// Whether a body of this media type is JSON (types and formats are observable), as opposed
/// to XML, form data or text, whose serialisation carries strings only.
fn is_json(media: &str) -> bool {
    family(media) == Some("json") || media.trim() == "*/*"
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
            // `application/json` renamed to `application/problem+json` (or back) is the same
            // JSON to a client: match within the structured-syntax family when the exact
            // type is gone and the family has a type new to the revision.
            let renamed = || {
                let fam = family(media)?;
                rc.iter()
                    .find(|(k, _)| family(k) == Some(fam) && lookup_media(&bc, k).is_none())
                    .map(|(_, v)| v)
            };
            match lookup_media(&rc, media).or_else(renamed) {
                None => out.report(
                    "response-media-type-removed",
                    subject,
                    format!("response {status} media type `{media}` removed"),
                    bm,
                ),
                Some(rm) => {
                    if let (Some(bs), Some(rs)) = (bm.get("schema"), rm.get("schema")) {
                        let label = format!("response {status} body");
                        let loose = !is_json(media);
                        schema::diff_loose(
                            out,
                            subject,
                            Ctx::Response,
                            Dir::Response,
                            &label,
                            &bs,
                            &rs,
                            loose,
                        );
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
                Some((_, r)) => {
                    if let (Some(bs), Some(rs)) = (param_schema(h), param_schema(r)) {
                        let label = format!("response {status} header `{name}`");
                        schema::diff(out, subject, Ctx::Response, Dir::Response, &label, &bs, &rs);
                    }
                }
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

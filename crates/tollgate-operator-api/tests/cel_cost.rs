//! The CRDs' validation rules (`x-kubernetes-validations`) must stay within the API server's CEL
//! cost budget, and every string and list a rule touches must be bounded (`maxLength`,
//! `maxItems`, `maxProperties`), or the API server estimates it from the request size limit and
//! may refuse the CRD.
//!
//! The estimate follows the static cost model of cel-go's `checker/cost.go` as Kubernetes
//! applies it (`apiextensions-apiserver` validation at CRD create/update):
//! - identifiers and field selections cost 1, a presence test (`has`) 1, literals 0;
//! - a function call costs 1 plus its arguments, except the sized ones: `startsWith`/`endsWith`
//!   0.1 × the argument's length, `contains` (0.1 × length)², string `+` 0.1 × the result
//!   length, string comparison and equality 0.1 × the shorter operand's maximum size (1 for
//!   scalars), `matches` 0.1 × (length + 1) × 0.25 × the pattern's length, `in` the list's size,
//!   `split` (Kubernetes' strings extension) 0.1 × the length;
//! - `&&`/`||` the sum of both sides, `?:` the condition plus the dearer branch;
//! - a macro over a list or map (`all`, `exists`, `exists_one`, `filter`, `map`) the range's
//!   maximum size × (the predicate + the macro's own step: 3 for the boolean macros — the
//!   accumulator read and the loop condition — and 13 for `filter`/`map`, which build a list);
//! - the rule's cost is multiplied by how often it can run: the product of the `maxItems` /
//!   `maxProperties` of every list and map above it.
//!
//! Limits (Kubernetes source, `apiextensions-apiserver` and `apiserver/pkg/apis/cel`):
//! [`PER_CALL_LIMIT`] for one evaluation of one rule, [`STATIC_ESTIMATED_COST_LIMIT`] for one
//! rule times its cardinality, [`STATIC_ESTIMATED_CRD_COST_LIMIT`] for the sum over one CRD.
//! An unbounded string or list under a rule fails the test outright (Kubernetes would estimate
//! it from the 3 MiB request limit instead).
//!
//! The parser covers the CEL the CRDs use (identifiers, literals, selections, calls, macros,
//! operators, `?:`, list literals, indexing); a construct or function it does not know fails the
//! test with its name, so a new rule cannot slip through unestimated.

use std::collections::BTreeMap;

use serde_json::Value;
use tollgate_operator_api::crd;

/// Most cost one evaluation of one rule may have at run time (`PerCallLimit`).
const PER_CALL_LIMIT: u64 = 1_000_000;
/// Most estimated cost of one rule times its cardinality (`StaticEstimatedCostLimit`).
const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// Most estimated cost of all rules of one CRD (`StaticEstimatedCRDCostLimit`).
const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;

// ---------------------------------------------------------------------------------------------
// Types and sizes from the schema.

/// What the estimator knows of a value: its kind and maximum size.
#[derive(Debug, Clone)]
enum Ty {
    /// A string of at most `max` characters (`None`: unbounded).
    Str(Option<u64>),
    /// A list of at most `max` items.
    List(Option<u64>, Box<Ty>),
    /// A map (`additionalProperties`) of at most `max` entries.
    Map(Option<u64>, Box<Ty>),
    /// An object with these properties.
    Object(BTreeMap<String, Ty>),
    /// A number, boolean or anything of size 1.
    Scalar,
}

fn ty_of(schema: &Value) -> Ty {
    let max = |k: &str| schema.get(k).and_then(Value::as_u64);
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => {
            // An enum bounds the length by its longest value (as Kubernetes estimates it).
            let from_enum = schema.get("enum").and_then(Value::as_array).map(|values| {
                values.iter().filter_map(Value::as_str).map(|s| s.len() as u64).max().unwrap_or(0)
            });
            Ty::Str(max("maxLength").or(from_enum))
        }
        Some("array") => Ty::List(max("maxItems"), Box::new(ty_of(&schema["items"]))),
        Some("object") => match schema.get("properties").and_then(Value::as_object) {
            Some(props) => Ty::Object(props.iter().map(|(k, v)| (k.clone(), ty_of(v))).collect()),
            None => match schema.get("additionalProperties").filter(|v| v.is_object()) {
                Some(values) => Ty::Map(max("maxProperties"), Box::new(ty_of(values))),
                None => Ty::Object(BTreeMap::new()),
            },
        },
        _ => Ty::Scalar,
    }
}

/// The maximum size CEL's estimator uses: a string's length, a list's or map's entry count.
fn size(ty: &Ty, what: &str) -> Result<u64, String> {
    match ty {
        Ty::Str(Some(n)) | Ty::List(Some(n), _) | Ty::Map(Some(n), _) => Ok(*n),
        Ty::Str(None) => Err(format!("{what}: a string without maxLength")),
        Ty::List(None, _) => Err(format!("{what}: a list without maxItems")),
        Ty::Map(None, _) => Err(format!("{what}: a map without maxProperties")),
        Ty::Object(_) | Ty::Scalar => Ok(1),
    }
}

/// The size an equality walks: strings by length, containers by their contents.
fn deep_size(ty: &Ty, what: &str) -> Result<u64, String> {
    Ok(match ty {
        Ty::Str(_) => size(ty, what)?,
        Ty::List(_, item) | Ty::Map(_, item) => {
            size(ty, what)?.saturating_mul(deep_size(item, what)?.max(1))
        }
        Ty::Object(props) => {
            let mut sum = 0_u64;
            for (name, p) in props {
                sum = sum.saturating_add(deep_size(p, &format!("{what}.{name}"))?);
            }
            sum.max(1)
        }
        Ty::Scalar => 1,
    })
}

// ---------------------------------------------------------------------------------------------
// A parser for the CEL the rules use.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Punct(&'static str),
}

fn tokens(src: &str) -> Result<Vec<Tok>, String> {
    const PUNCT: [&str; 22] = [
        "==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", ".", ",", "?", ":", "!", "<", ">",
        "+", "-", "*", "/", "%",
    ];
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Int(text.parse().map_err(|e| format!("{text}: {e}"))?));
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated string in {src}")),
                    Some('\\') => {
                        s.push(*chars.get(i + 1).ok_or("a dangling escape")?);
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        s.push(*other);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let p = PUNCT
                .iter()
                .find(|p| rest.starts_with(**p))
                .ok_or_else(|| format!("unexpected {c:?} in {src}"))?;
            out.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    Ident(String),
    Str(String),
    Scalar,
    List(Vec<Expr>),
    Select(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call(Option<Box<Expr>>, String, Vec<Expr>),
    Unary(Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) { Ok(()) } else { Err(format!("expected {p} at token {}", self.at)) }
    }
    fn expr(&mut self) -> Result<Expr, String> {
        let c = self.binary(0)?;
        if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            return Ok(Expr::Ternary(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }
    fn binary(&mut self, level: usize) -> Result<Expr, String> {
        const LEVELS: [&[&str]; 5] = [
            &["||"],
            &["&&"],
            &["==", "!=", "<", "<=", ">", ">=", "in"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            let op = LEVELS[level].iter().find(|op| match self.peek() {
                Some(Tok::Punct(p)) => p == *op,
                Some(Tok::Ident(i)) => i == *op,
                _ => false,
            });
            let Some(op) = op else { return Ok(lhs) };
            self.at += 1;
            let rhs = self.binary(level + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") || self.eat("-") {
            return Ok(Expr::Unary(Box::new(self.unary()?)));
        }
        self.member()
    }
    fn args(&mut self) -> Result<Vec<Expr>, String> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }
    fn member(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return Err("a field name after '.'".into());
                };
                self.at += 1;
                e = if self.eat("(") {
                    Expr::Call(Some(Box::new(e)), name, self.args()?)
                } else {
                    Expr::Select(Box::new(e), name)
                };
            } else if self.eat("[") {
                let i = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(i));
            } else {
                return Ok(e);
            }
        }
    }
    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self.peek().cloned().ok_or("an unexpected end")?;
        self.at += 1;
        Ok(match tok {
            Tok::Str(s) => Expr::Str(s),
            Tok::Int(_) => Expr::Scalar,
            Tok::Ident(i) if matches!(i.as_str(), "true" | "false" | "null") => Expr::Scalar,
            Tok::Ident(name) => {
                if self.eat("(") {
                    Expr::Call(None, name, self.args()?)
                } else {
                    Expr::Ident(name)
                }
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Expr::List(items)
            }
            Tok::Punct(p) => return Err(format!("unexpected {p}")),
        })
    }
}

fn parse(rule: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: tokens(rule)?, at: 0 };
    let e = p.expr()?;
    if p.at != p.toks.len() {
        return Err(format!("trailing input at token {} of `{rule}`", p.at));
    }
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// The estimate.

const STRING_TRAVERSAL: f64 = 0.1;
const REGEX_LENGTH: f64 = 0.25;

fn factor(n: u64, f: f64) -> u64 {
    (n as f64 * f).ceil() as u64
}

struct Estimator {
    vars: Vec<(String, Ty)>,
}

impl Estimator {
    fn var(&self, name: &str) -> Result<Ty, String> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| format!("unknown variable {name}"))
    }

    /// (worst-case cost, type of the result); a value read from the object must be bounded.
    fn cost(&mut self, e: &Expr) -> Result<(u64, Ty), String> {
        let (c, ty) = self.cost_of(e)?;
        if matches!(e, Expr::Ident(_) | Expr::Select(..) | Expr::Index(..)) {
            size(&ty, "a value the rule reads")?;
        }
        Ok((c, ty))
    }

    fn cost_of(&mut self, e: &Expr) -> Result<(u64, Ty), String> {
        Ok(match e {
            Expr::Ident(name) => (1, self.var(name)?),
            Expr::Str(s) => (0, Ty::Str(Some(s.chars().count() as u64))),
            Expr::Scalar => (0, Ty::Scalar),
            Expr::List(items) => {
                let mut c = 10;
                let mut item = Ty::Scalar;
                for i in items {
                    let (ic, it) = self.cost(i)?;
                    c += ic;
                    item = it;
                }
                (c, Ty::List(Some(items.len() as u64), Box::new(item)))
            }
            Expr::Select(target, field) => {
                let (c, t) = self.cost(target)?;
                let ty = match t {
                    Ty::Object(props) => props
                        .get(field)
                        .cloned()
                        .ok_or_else(|| format!("no field {field} in the schema"))?,
                    Ty::Map(_, v) => *v,
                    other => return Err(format!("select .{field} on {other:?}")),
                };
                (c + 1, ty)
            }
            Expr::Index(target, index) => {
                let (c, t) = self.cost(target)?;
                let (ic, _) = self.cost(index)?;
                let ty = match t {
                    Ty::List(_, item) | Ty::Map(_, item) => *item,
                    other => return Err(format!("index into {other:?}")),
                };
                (c + ic + 1, ty)
            }
            Expr::Unary(x) => {
                let (c, t) = self.cost(x)?;
                (c + 1, t)
            }
            Expr::Ternary(c, a, b) => {
                let (cc, _) = self.cost(c)?;
                let (ac, at) = self.cost(a)?;
                let (bc, _) = self.cost(b)?;
                (cc + ac.max(bc), at)
            }
            Expr::Binary(op, l, r) => {
                let (lc, lt) = self.cost(l)?;
                let (rc, rt) = self.cost(r)?;
                let args = lc + rc;
                match *op {
                    "&&" | "||" => (args, Ty::Scalar),
                    "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                        let smallest =
                            deep_size(&lt, "an operand")?.min(deep_size(&rt, "an operand")?);
                        (args + factor(smallest, STRING_TRAVERSAL).max(1), Ty::Scalar)
                    }
                    "in" => (args + size(&rt, "the list of `in`")?, Ty::Scalar),
                    "+" => match (&lt, &rt) {
                        (Ty::Str(_), Ty::Str(_)) => {
                            let n = size(&lt, "a + operand")? + size(&rt, "a + operand")?;
                            (args + factor(n, STRING_TRAVERSAL), Ty::Str(Some(n)))
                        }
                        (Ty::List(a, item), Ty::List(b, _)) => {
                            let n = a.zip(*b).map(|(a, b)| a + b);
                            (args + 1, Ty::List(n, item.clone()))
                        }
                        _ => (args + 1, Ty::Scalar),
                    },
                    _ => (args + 1, Ty::Scalar),
                }
            }
            Expr::Call(None, name, args) if name == "has" => {
                let [Expr::Select(operand, _)] = args.as_slice() else {
                    return Err("has() takes a field selection".into());
                };
                let (c, _) = self.cost(operand)?;
                (c + 1, Ty::Scalar)
            }
            Expr::Call(Some(target), name, args)
                if matches!(name.as_str(), "all" | "exists" | "exists_one" | "filter" | "map") =>
            {
                let (tc, tt) = self.cost(target)?;
                let (n, item) = match &tt {
                    Ty::List(_, item) | Ty::Map(_, item) => (size(&tt, "a macro's range")?, item),
                    other => return Err(format!("{name} over {other:?}")),
                };
                let [Expr::Ident(var), body] = args.as_slice() else {
                    return Err(format!("{name}(var, predicate) expected"));
                };
                // Over a map the variable is the key: a string as long as the map allows.
                let var_ty =
                    if matches!(tt, Ty::Map(..)) { Ty::Str(None) } else { (**item).clone() };
                self.vars.push((var.clone(), var_ty));
                let body_cost = self.cost(body);
                self.vars.pop();
                let (bc, bt) = body_cost?;
                let step = if matches!(name.as_str(), "filter" | "map") { 13 } else { 3 };
                let result = match name.as_str() {
                    "filter" => tt.clone(),
                    "map" => Ty::List(Some(n), Box::new(bt)),
                    _ => Ty::Scalar,
                };
                (tc + 1 + n.saturating_mul(bc + step), result)
            }
            Expr::Call(target, name, args) => {
                let (tc, tt) = match target {
                    Some(t) => {
                        let (c, ty) = self.cost(t)?;
                        (c, Some(ty))
                    }
                    None => (0, None),
                };
                let mut ac = 0;
                let mut ats = Vec::new();
                for a in args {
                    let (c, t) = self.cost(a)?;
                    ac += c;
                    ats.push(t);
                }
                let base = tc + ac;
                let subject = tt.as_ref().or(ats.first());
                let len = |t: Option<&Ty>, what: &str| -> Result<u64, String> {
                    size(t.ok_or_else(|| format!("{name}: no {what}"))?, what)
                };
                match name.as_str() {
                    "size" => (base + 1, Ty::Scalar),
                    "startsWith" | "endsWith" => {
                        (base + factor(len(ats.first(), "argument")?, STRING_TRAVERSAL), Ty::Scalar)
                    }
                    "contains" => {
                        let s = factor(len(subject, "string")?, STRING_TRAVERSAL);
                        let sub = factor(len(ats.first(), "argument")?, STRING_TRAVERSAL);
                        (base + s * sub, Ty::Scalar)
                    }
                    "matches" => {
                        let s = factor(len(subject, "string")? + 1, STRING_TRAVERSAL);
                        let re = factor(len(ats.last(), "pattern")?, REGEX_LENGTH);
                        (base + s * re, Ty::Scalar)
                    }
                    "split" => {
                        let n = len(subject, "string")?;
                        (
                            base + factor(n, STRING_TRAVERSAL),
                            Ty::List(Some(n + 1), Box::new(Ty::Str(Some(n)))),
                        )
                    }
                    "lowerAscii" | "upperAscii" | "trim" => {
                        let n = len(subject, "string")?;
                        (base + factor(n, STRING_TRAVERSAL), Ty::Str(Some(n)))
                    }
                    "int" | "string" | "bool" | "double" | "uint" => (base + 1, Ty::Scalar),
                    other => return Err(format!("the estimator does not know `{other}`")),
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Rules where they sit.

#[derive(Debug)]
struct Placed {
    kind: String,
    path: String,
    rule: String,
    /// How often the rule can run per object: product of the enclosing lists' and maps' bounds.
    cardinality: Result<u64, String>,
    ty: Ty,
}

fn collect(
    kind: &str,
    path: &str,
    schema: &Value,
    card: Result<u64, String>,
    out: &mut Vec<Placed>,
) {
    if let Some(rules) = schema.get("x-kubernetes-validations").and_then(Value::as_array) {
        for r in rules {
            out.push(Placed {
                kind: kind.to_owned(),
                path: if path.is_empty() { "/".into() } else { path.to_owned() },
                rule: r["rule"].as_str().expect("a rule is a string").to_owned(),
                cardinality: card.clone(),
                ty: ty_of(schema),
            });
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            collect(kind, &format!("{path}/{name}"), sub, card.clone(), out);
        }
    }
    let within = |bound: &str| {
        let n = schema.get(bound).and_then(Value::as_u64);
        card.clone().and_then(|c| {
            n.map(|n| c.saturating_mul(n))
                .ok_or_else(|| format!("{path}: no {bound} above a validation rule"))
        })
    };
    if let Some(items) = schema.get("items") {
        let below = within("maxItems");
        collect(kind, &format!("{path}/*"), items, below, out);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        let below = within("maxProperties");
        collect(kind, &format!("{path}/*"), values, below, out);
    }
}

fn schema_of(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    serde_json::to_value(
        crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()),
    )
    .expect("the schema as JSON")
}

/// The estimated cost of one rule on a node of type `ty` (per evaluation).
fn estimate(rule: &str, ty: &Ty) -> Result<u64, String> {
    let expr = parse(rule)?;
    let mut e =
        Estimator { vars: vec![("self".into(), ty.clone()), ("oldSelf".into(), ty.clone())] };
    Ok(e.cost(&expr)?.0)
}

/// Every problem with the rules of one schema: unbounded data, or a cost over a limit.
fn problems(kind: &str, schema: &Value) -> (Vec<String>, u64) {
    let mut placed = Vec::new();
    collect(kind, "", schema, Ok(1), &mut placed);
    let mut out = Vec::new();
    let mut total = 0_u64;
    for p in &placed {
        let at = format!("{} {} `{}`", p.kind, p.path, p.rule);
        let cost = match estimate(&p.rule, &p.ty) {
            Ok(c) => c,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                continue;
            }
        };
        let card = match &p.cardinality {
            Ok(c) => *c,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                continue;
            }
        };
        if cost > PER_CALL_LIMIT {
            out.push(format!("{at}: costs {cost} per call, over {PER_CALL_LIMIT}"));
        }
        let rule_total = cost.saturating_mul(card);
        if rule_total > STATIC_ESTIMATED_COST_LIMIT {
            out.push(format!(
                "{at}: costs {cost} × {card} runs = {rule_total}, over {STATIC_ESTIMATED_COST_LIMIT}"
            ));
        }
        total = total.saturating_add(rule_total);
    }
    if total > STATIC_ESTIMATED_CRD_COST_LIMIT {
        out.push(format!("{kind}: all rules cost {total}, over {STATIC_ESTIMATED_CRD_COST_LIMIT}"));
    }
    (out, total)
}

#[test]
fn every_rule_is_bounded_and_within_the_cost_budget() {
    let mut all = Vec::new();
    let mut rules = 0;
    for crd in crd::all() {
        let schema = schema_of(&crd);
        let kind = crd.spec.names.kind.clone();
        let mut placed = Vec::new();
        collect(&kind, "", &schema, Ok(1), &mut placed);
        rules += placed.len();
        let (problems, total) = problems(&kind, &schema);
        assert!(total > 0 || placed.is_empty(), "{kind}: rules cost something");
        all.extend(problems);
    }
    assert!(rules >= 12, "the CRDs carry their rules");
    assert!(all.is_empty(), "CEL rules over budget or unbounded:\n{}", all.join("\n"));
}

#[test]
fn the_estimate_follows_the_cost_model() {
    let s = |n| Ty::Str(Some(n));
    // startsWith: the variable (1) + 0.1 × the prefix length, rounded up.
    assert_eq!(estimate("self.startsWith('s3://')", &s(100)).unwrap(), 2);
    // matches: 1 + ceil(0.1 × 65) × ceil(0.25 × 16).
    assert_eq!(estimate("self.matches('^[0-9a-f]{64}$')", &s(64)).unwrap(), 1 + 7 * 4);
    // all over 10 items of 512 characters: 1 + 1 + 10 × (1 + ceil(51.2) + 3).
    let list = Ty::List(Some(10), Box::new(s(512)));
    assert_eq!(estimate("self.all(p, p.startsWith('/'))", &list).unwrap(), 2 + 10 * (1 + 1 + 3));
    // Nested macros multiply.
    let obj = |t: Ty| Ty::Object(BTreeMap::from([("xs".to_owned(), t)]));
    let names =
        Ty::List(Some(100), Box::new(Ty::Object(BTreeMap::from([("n".to_owned(), s(10))]))));
    let nested =
        estimate("self.xs.all(a, self.xs.exists_one(b, b.n == a.n))", &obj(names)).unwrap();
    assert!(nested > 100 * 100, "O(n²): {nested}");
}

#[test]
fn unbounded_or_too_costly_rules_are_reported() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('/')"}]},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 10},
                     "x-kubernetes-validations": [{"rule": "self.all(t, t != '')"}]},
            "many": {"type": "array", "maxItems": 100000,
                     "items": {"type": "string", "maxLength": 100000},
                     "x-kubernetes-validations": [{"rule": "self.all(a, self.exists(b, a.contains(b)))"}]},
            "rows": {"type": "array",
                     "items": {"type": "object", "properties": {"n": {"type": "integer"}},
                               "x-kubernetes-validations": [{"rule": "self.n > 0"}]}},
            "odd": {"type": "string", "maxLength": 5,
                    "x-kubernetes-validations": [{"rule": "self.reverse() == 'x'"}]}
        }
    });
    let (problems, _) = problems("Test", &schema);
    let text = problems.join("\n");
    assert_eq!(problems.len(), 7, "{text}");
    assert!(text.contains("/url `self.startsWith('/')`"), "{text}");
    assert!(text.contains("a list without maxItems"), "{text}");
    assert!(text.contains("per call, over 1000000\n"), "{text}");
    assert!(text.contains("runs = "), "{text}");
    assert!(text.contains("Test: all rules cost"), "{text}");
    assert!(text.contains("/rows: no maxItems above a validation rule"), "{text}");
    assert!(text.contains("does not know `reverse`"), "{text}");
}

#[test]
fn status_conditions_are_a_map_list_keyed_by_type() {
    for crd in crd::all() {
        let schema = schema_of(&crd);
        let kind = &crd.spec.names.kind;
        let conditions = &schema["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}: {conditions}");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], serde_json::json!(["type"]), "{kind}");
        let item = &conditions["items"];
        assert_eq!(
            item["properties"]["status"]["enum"],
            serde_json::json!(["True", "False", "Unknown"]),
            "{kind}: {item}"
        );
        let required: Vec<&str> =
            item["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(required.contains(&"type"), "{kind}: a map key must be required");
        assert!(conditions["maxItems"].as_u64().is_some(), "{kind}: conditions are bounded");
    }
}

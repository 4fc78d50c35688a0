//! The side-by-side with graphql-inspector: runs `@graphql-inspector/core` under `node` and
//! matches its changes with ours by element and kind. Shared by `examples/graphql_diff.rs`
//! (`compare`) and the contract tests (when `TOLLGATE_GRAPHQL_INSPECTOR` names a
//! `node_modules` directory holding `@graphql-inspector/core` and `graphql`).

use std::collections::BTreeMap;
use tollgate_contracts::change::{Change, Level};

/// Prints graphql-inspector's changes as JSON lines (`type`, `level`, `meta`, `message`).
/// `default` applies its CLI's default rule (`simplifyChanges`); `precise` applies none and
/// drops only what lies inside an added type, field, input field, enum value, directive or
/// applied directive, and the `@deprecated(reason:)` argument changes a deprecation change
/// already states (`simplifyChanges` matches by path and also drops changes beside an
/// addition: a second union member, a removed directive location, every field change of an
/// object that gained an interface).
const INSPECTOR: &str = r"
const fs = require('fs');
const { buildSchema } = require('graphql');
const { diff, DiffRule } = require('@graphql-inspector/core');
const load = p => buildSchema(fs.readFileSync(p, 'utf8'));
const [mode, oldPath, newPath] = process.argv.slice(-3);
const rules = mode === 'default' ? [DiffRule.simplifyChanges] : [];
diff(load(oldPath), load(newPath), rules).then(changes => {
  const additions = new Set(['TYPE_ADDED', 'FIELD_ADDED', 'INPUT_FIELD_ADDED', 'ENUM_VALUE_ADDED', 'DIRECTIVE_ADDED']);
  const added = changes.filter(c => additions.has(c.type));
  const wraps = changes.filter(c => c.type.includes('DEPRECATION') ||
    (c.type.startsWith('DIRECTIVE_USAGE_') && c.type.endsWith('_ADDED') && c.type !== 'DIRECTIVE_USAGE_ARGUMENT_ADDED'));
  const under = (c, a) => c.path && (c.path === a.path || c.path.startsWith(a.path + '.'));
  const inside = c => added.some(a => a !== c && under(c, a)) ||
    wraps.some(w => w !== c && c.path && c.path.startsWith(w.path + '.'));
  for (const c of changes) {
    if (mode === 'precise' && inside(c)) continue;
    console.log(JSON.stringify({ type: c.type, level: c.criticality.level, meta: c.meta, message: c.message }));
  }
});
";

/// One side's verdicts: (kind, element) -> levels, with the messages that gave them.
type Verdicts = BTreeMap<(String, String), Vec<(Level, String)>>;

/// How to run graphql-inspector: as its CLI does, or without `simplifyChanges` (see `INSPECTOR`).
#[derive(Clone, Copy)]
pub enum Mode {
    Default,
    Precise,
}

/// One element and kind on which the two disagree, with what each side said.
pub struct Disagreement {
    pub kind: String,
    pub element: String,
    pub ours: Option<Level>,
    pub theirs: Option<Level>,
    pub messages: Vec<String>,
}

/// The outcome of one side-by-side.
pub struct Comparison {
    pub ours: usize,
    pub inspector: usize,
    /// Elements and kinds both report, by the class both give.
    pub agree: BTreeMap<Level, usize>,
    /// Reported by both at different classes, or by one side only.
    pub disagree: Vec<Disagreement>,
}

impl Comparison {
    /// No verdict differs: same class wherever both report, and whatever only one side reports
    /// is safe (a safe extra changes no verdict).
    pub fn verdicts_agree(&self) -> bool {
        self.disagree.iter().all(|d| match (d.ours, d.theirs) {
            (Some(a), Some(b)) => a == b,
            (Some(l), None) | (None, Some(l)) => l == Level::Info,
            (None, None) => true,
        })
    }

    /// The agreement table and every disagreement, as text.
    pub fn render(&self) -> String {
        let name = |l: Option<Level>| match l {
            Some(Level::Error) => "breaking",
            Some(Level::Warning) => "dangerous",
            Some(Level::Info) => "safe",
            None => "-",
        };
        let mut out = format!(
            "tollgate: {} changes; graphql-inspector: {} changes\n",
            self.ours, self.inspector
        );
        let agreed: usize = self.agree.values().sum();
        out += &format!("compared by element and kind: {}\n", agreed + self.disagree.len());
        for level in [Level::Error, Level::Warning, Level::Info] {
            let n = self.agree.get(&level).copied().unwrap_or(0);
            out += &format!("  agree {:<9} {n}\n", name(Some(level)));
        }
        let count = |f: fn(&Disagreement) -> bool| self.disagree.iter().filter(|d| f(d)).count();
        out += &format!(
            "  class differs {}; only graphql-inspector {}; only tollgate {}\n",
            count(|d| d.ours.is_some() && d.theirs.is_some()),
            count(|d| d.ours.is_none()),
            count(|d| d.theirs.is_none()),
        );
        for d in &self.disagree {
            out += &format!(
                "    {} {}: tollgate {}, graphql-inspector {}\n",
                d.kind,
                d.element,
                name(d.ours),
                name(d.theirs)
            );
            for m in &d.messages {
                out += &format!("      {m}\n");
            }
        }
        out
    }
}

/// Runs graphql-inspector (`node` with `NODE_PATH=modules`) on two SDL files and compares its
/// changes with `ours` (the diff of the same files).
pub fn compare(
    mode: Mode,
    modules: &str,
    old: &str,
    new: &str,
    ours: &[Change],
) -> Result<Comparison, String> {
    let mode = match mode {
        Mode::Default => "default",
        Mode::Precise => "precise",
    };
    let output = std::process::Command::new("node")
        .arg("-e")
        .arg(INSPECTOR)
        .arg(mode)
        .arg(old)
        .arg(new)
        .env("NODE_PATH", modules)
        .output()
        .map_err(|e| format!("node: {e}"))?;
    if !output.status.success() {
        return Err(format!("graphql-inspector: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let mut theirs = Verdicts::new();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut inspector = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let change: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("graphql-inspector output: {e}"))?;
        inspector += 1;
        let key = inspector_key(&change)
            .ok_or_else(|| format!("unmapped graphql-inspector change: {line}"))?;
        let level = match change["level"].as_str() {
            Some("BREAKING") => Level::Error,
            Some("DANGEROUS") => Level::Warning,
            _ => Level::Info,
        };
        let message = format!(
            "graphql-inspector: {} {}",
            str_at(&change, "type"),
            str_at(&change, "message")
        );
        theirs.entry(key).or_default().push((level, message));
    }
    let mut mine = Verdicts::new();
    for c in ours {
        let message = format!("tollgate: {} {}", c.rule, c.message);
        mine.entry(our_key(c)).or_default().push((c.level, message));
    }
    // A change's verdict is the worst level reported for its element and kind on that side.
    let worst = |v: &[(Level, String)]| v.iter().map(|(l, _)| *l).max();
    let mut comparison =
        Comparison { ours: ours.len(), inspector, agree: BTreeMap::new(), disagree: Vec::new() };
    let keys: std::collections::BTreeSet<_> = mine.keys().chain(theirs.keys()).collect();
    for key in keys {
        let (m, t) = (mine.get(key), theirs.get(key));
        let (ours, theirs_level) = (m.and_then(|v| worst(v)), t.and_then(|v| worst(v)));
        if let (Some(a), Some(b)) = (ours, theirs_level)
            && a == b
        {
            *comparison.agree.entry(a).or_default() += 1;
            continue;
        }
        let messages =
            m.into_iter().chain(t).flat_map(|v| v.iter().map(|(_, msg)| msg.clone())).collect();
        comparison.disagree.push(Disagreement {
            kind: key.0.clone(),
            element: key.1.clone(),
            ours,
            theirs: theirs_level,
            messages,
        });
    }
    Ok(comparison)
}

fn str_at<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Our change's kind (the rule family) and element, in the form `inspector_key` builds.
fn our_key(c: &Change) -> (String, String) {
    let rule = c.rule.strip_prefix("graphql/").unwrap_or(c.rule);
    let pointer = c.location.pointer.clone().unwrap_or_default();
    let segments: Vec<&str> = pointer.split('/').collect();
    let after = |key: &str| {
        segments.iter().position(|s| *s == key).and_then(|i| segments.get(i + 1)).copied()
    };
    let directive = after("directives").unwrap_or("");
    let kind = match rule {
        "field-type-changed" | "field-type-changed-safe" => "field-type",
        "argument-required-added" | "argument-optional-added" => "argument-added",
        "argument-type-changed" | "argument-type-changed-safe" => "argument-type",
        "argument-default-changed" => "argument-default",
        "input-field-required-added"
        | "input-field-optional-added"
        | "input-field-with-default-added" => "input-field-added",
        "input-field-type-changed" | "input-field-type-changed-safe" => "input-field-type",
        "input-field-default-changed" => "input-field-default",
        "object-interface-added" | "interface-interface-added" => "interface-added",
        "object-interface-removed" | "interface-interface-removed" => "interface-removed",
        "type-kind-changed" => "type-kind",
        "description-changed" => "description",
        "deprecation-added" | "deprecation-removed" | "deprecation-reason-changed" => "deprecation",
        "schema-root-added" | "schema-root-changed" => "schema-root",
        "directive-location-added" | "directive-location-removed" => "directive-location",
        "directive-argument-required-added" | "directive-argument-optional-added" => {
            "directive-argument-added"
        }
        "directive-argument-type-changed" | "directive-argument-type-changed-safe" => {
            "directive-argument-type"
        }
        "directive-argument-default-changed" => "directive-argument-default",
        "directive-repeatable-added" | "directive-repeatable-removed" => "directive-repeatable",
        "directive-usage-added" | "directive-usage-removed" | "one-of-added" | "one-of-removed" => {
            return ("directive-usage".into(), format!("{}@{directive}", c.subject));
        }
        "directive-usage-argument-added"
        | "directive-usage-argument-removed"
        | "directive-usage-argument-changed" => {
            let arg = after("arguments").unwrap_or("");
            return ("directive-usage-argument".into(), format!("{}@{directive}.{arg}", c.subject));
        }
        other => other,
    };
    let element = if kind == "directive-location" {
        format!("{}|{}", c.subject, segments.last().copied().unwrap_or(""))
    } else {
        c.subject.clone()
    };
    (kind.to_string(), element)
}

/// graphql-inspector's change type and meta as (kind, element) in our subjects' form:
/// `Type`, `Type.field`, `Type.field(arg:)`, `@directive`, `@directive(arg:)`, `schema.query`.
fn inspector_key(change: &serde_json::Value) -> Option<(String, String)> {
    let ty = change["type"].as_str()?;
    let m = &change["meta"];
    let s = |key: &str| m[key].as_str().unwrap_or("").to_string();
    let dot = |a: &str, b: &str| format!("{}.{}", s(a), s(b));
    let arg = |t: &str, f: &str, a: &str| format!("{}.{}({}:)", s(t), s(f), s(a));
    let dir = |d: &str| format!("@{}", s(d));
    let dir_arg = |d: &str, a: &str| format!("@{}({}:)", s(d), s(a));
    let key = |kind: &str, element: String| Some((kind.to_string(), element));
    match ty {
        "TYPE_ADDED" => key("type-added", s("addedTypeName")),
        "TYPE_REMOVED" => key("type-removed", s("removedTypeName")),
        "TYPE_KIND_CHANGED" => key("type-kind", s("typeName")),
        "TYPE_DESCRIPTION_CHANGED" | "TYPE_DESCRIPTION_ADDED" | "TYPE_DESCRIPTION_REMOVED" => {
            key("description", s("typeName"))
        }
        "FIELD_ADDED" => key("field-added", dot("typeName", "addedFieldName")),
        "FIELD_REMOVED" => key("field-removed", dot("typeName", "removedFieldName")),
        "FIELD_TYPE_CHANGED" => key("field-type", dot("typeName", "fieldName")),
        "FIELD_DESCRIPTION_CHANGED" | "FIELD_DESCRIPTION_ADDED" | "FIELD_DESCRIPTION_REMOVED" => {
            key("description", dot("typeName", "fieldName"))
        }
        "FIELD_DEPRECATION_ADDED"
        | "FIELD_DEPRECATION_REMOVED"
        | "FIELD_DEPRECATION_REASON_CHANGED"
        | "FIELD_DEPRECATION_REASON_ADDED"
        | "FIELD_DEPRECATION_REASON_REMOVED" => key("deprecation", dot("typeName", "fieldName")),
        "FIELD_ARGUMENT_ADDED" => {
            key("argument-added", arg("typeName", "fieldName", "addedArgumentName"))
        }
        "FIELD_ARGUMENT_REMOVED" => {
            key("argument-removed", arg("typeName", "fieldName", "removedFieldArgumentName"))
        }
        "FIELD_ARGUMENT_TYPE_CHANGED" => {
            key("argument-type", arg("typeName", "fieldName", "argumentName"))
        }
        "FIELD_ARGUMENT_DEFAULT_CHANGED" => {
            key("argument-default", arg("typeName", "fieldName", "argumentName"))
        }
        "FIELD_ARGUMENT_DESCRIPTION_CHANGED" => {
            key("description", arg("typeName", "fieldName", "argumentName"))
        }
        "INPUT_FIELD_ADDED" => key("input-field-added", dot("inputName", "addedInputFieldName")),
        "INPUT_FIELD_REMOVED" => key("input-field-removed", dot("inputName", "removedFieldName")),
        "INPUT_FIELD_TYPE_CHANGED" => key("input-field-type", dot("inputName", "inputFieldName")),
        "INPUT_FIELD_DEFAULT_VALUE_CHANGED" => {
            key("input-field-default", dot("inputName", "inputFieldName"))
        }
        "INPUT_FIELD_DESCRIPTION_ADDED"
        | "INPUT_FIELD_DESCRIPTION_REMOVED"
        | "INPUT_FIELD_DESCRIPTION_CHANGED" => {
            key("description", dot("inputName", "inputFieldName"))
        }
        "ENUM_VALUE_ADDED" => key("enum-value-added", dot("enumName", "addedEnumValueName")),
        "ENUM_VALUE_REMOVED" => key("enum-value-removed", dot("enumName", "removedEnumValueName")),
        "ENUM_VALUE_DESCRIPTION_CHANGED" => key("description", dot("enumName", "enumValueName")),
        "ENUM_VALUE_DEPRECATION_REASON_CHANGED"
        | "ENUM_VALUE_DEPRECATION_REASON_ADDED"
        | "ENUM_VALUE_DEPRECATION_REASON_REMOVED" => {
            key("deprecation", dot("enumName", "enumValueName"))
        }
        "UNION_MEMBER_ADDED" => {
            key("union-member-added", dot("unionName", "addedUnionMemberTypeName"))
        }
        "UNION_MEMBER_REMOVED" => {
            key("union-member-removed", dot("unionName", "removedUnionMemberTypeName"))
        }
        "OBJECT_TYPE_INTERFACE_ADDED" => {
            key("interface-added", dot("objectTypeName", "addedInterfaceName"))
        }
        "OBJECT_TYPE_INTERFACE_REMOVED" => {
            key("interface-removed", dot("objectTypeName", "removedInterfaceName"))
        }
        "SCHEMA_QUERY_TYPE_CHANGED" => key("schema-root", "schema.query".into()),
        "SCHEMA_MUTATION_TYPE_CHANGED" => key("schema-root", "schema.mutation".into()),
        "SCHEMA_SUBSCRIPTION_TYPE_CHANGED" => key("schema-root", "schema.subscription".into()),
        "DIRECTIVE_ADDED" => key("directive-added", dir("addedDirectiveName")),
        "DIRECTIVE_REMOVED" => key("directive-removed", dir("removedDirectiveName")),
        "DIRECTIVE_DESCRIPTION_CHANGED" => key("description", dir("directiveName")),
        "DIRECTIVE_LOCATION_ADDED" => key(
            "directive-location",
            format!("{}|{}", dir("directiveName"), s("addedDirectiveLocation")),
        ),
        "DIRECTIVE_LOCATION_REMOVED" => key(
            "directive-location",
            format!("{}|{}", dir("directiveName"), s("removedDirectiveLocation")),
        ),
        "DIRECTIVE_ARGUMENT_ADDED" => {
            key("directive-argument-added", dir_arg("directiveName", "addedDirectiveArgumentName"))
        }
        "DIRECTIVE_ARGUMENT_REMOVED" => key(
            "directive-argument-removed",
            dir_arg("directiveName", "removedDirectiveArgumentName"),
        ),
        "DIRECTIVE_ARGUMENT_DESCRIPTION_CHANGED" => {
            key("description", dir_arg("directiveName", "directiveArgumentName"))
        }
        "DIRECTIVE_ARGUMENT_DEFAULT_VALUE_CHANGED" => {
            key("directive-argument-default", dir_arg("directiveName", "directiveArgumentName"))
        }
        "DIRECTIVE_ARGUMENT_TYPE_CHANGED" => {
            key("directive-argument-type", dir_arg("directiveName", "directiveArgumentName"))
        }
        "DIRECTIVE_REPEATABLE_ADDED" | "DIRECTIVE_REPEATABLE_REMOVED" => {
            key("directive-repeatable", dir("directiveName"))
        }
        "DIRECTIVE_USAGE_ARGUMENT_ADDED" | "DIRECTIVE_USAGE_ARGUMENT_REMOVED" => {
            let element = usage_parent(m);
            let name = s("directiveName");
            if name == "deprecated" {
                return key("deprecation", element);
            }
            let arg = if ty.ends_with("ADDED") {
                s("addedArgumentName")
            } else {
                s("removedArgumentName")
            };
            key("directive-usage-argument", format!("{element}@{name}.{arg}"))
        }
        usage if usage.starts_with("DIRECTIVE_USAGE_") => {
            let element = match usage.trim_end_matches("_ADDED").trim_end_matches("_REMOVED") {
                "DIRECTIVE_USAGE_ARGUMENT_DEFINITION" => {
                    arg("typeName", "fieldName", "argumentName")
                }
                "DIRECTIVE_USAGE_INPUT_FIELD_DEFINITION" => {
                    dot("inputObjectName", "inputFieldName")
                }
                "DIRECTIVE_USAGE_INPUT_OBJECT" => s("inputObjectName"),
                "DIRECTIVE_USAGE_INTERFACE" => s("interfaceName"),
                "DIRECTIVE_USAGE_OBJECT" => s("objectName"),
                "DIRECTIVE_USAGE_ENUM" => s("enumName"),
                "DIRECTIVE_USAGE_FIELD_DEFINITION" | "DIRECTIVE_USAGE_FIELD" => {
                    dot("typeName", "fieldName")
                }
                "DIRECTIVE_USAGE_UNION_MEMBER" => s("unionName"),
                "DIRECTIVE_USAGE_ENUM_VALUE" => dot("enumName", "enumValueName"),
                "DIRECTIVE_USAGE_SCHEMA" => "schema".to_string(),
                "DIRECTIVE_USAGE_SCALAR" => s("scalarName"),
                _ => return None,
            };
            let name = if usage.ends_with("_ADDED") {
                s("addedDirectiveName")
            } else {
                s("removedDirectiveName")
            };
            if name == "deprecated" {
                return key("deprecation", element);
            }
            key("directive-usage", format!("{element}@{name}"))
        }
        _ => None,
    }
}

/// The element an applied directive's argument change belongs to.
fn usage_parent(m: &serde_json::Value) -> String {
    let s = |key: &str| m[key].as_str().map(str::to_string);
    let Some(ty) = s("parentTypeName") else { return "schema".to_string() };
    match (s("parentFieldName"), s("parentArgumentName"), s("parentEnumValueName")) {
        (Some(f), Some(a), _) => format!("{ty}.{f}({a}:)"),
        (Some(f), None, _) => format!("{ty}.{f}"),
        (None, _, Some(v)) => format!("{ty}.{v}"),
        _ => ty,
    }
}

//! Diffs two SDL files and prints one line per change; compares the verdicts with
//! graphql-inspector's (the side-by-side).
//!
//! - `graphql_diff generate <dir>` writes the benchmark's generated pair (`old.graphql`,
//!   `new.graphql`) and the realistic pair (`realistic-old.graphql`, `realistic-new.graphql`).
//! - `graphql_diff <old> <new>` prints the changes and exits 1 when any breaks.
//! - `graphql_diff compare [--precise] <node_modules> <old> <new>` runs `@graphql-inspector/core`
//!   (installed in `<node_modules>` with `graphql`; `node` on the PATH) as its CLI does (the
//!   `simplifyChanges` rule) or, with `--precise`, without that rule but leaving out what lies
//!   inside added elements; matches its changes with ours by element and kind, prints agreement
//!   per class and every disagreement, and exits 1 when a verdict class differs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use tollgate_contracts::change::{Change, Level};
use tollgate_contracts::graphql;

#[path = "../benches/support/realistic_gen.rs"]
mod realistic_gen;
#[path = "../benches/support/schema_gen.rs"]
mod schema_gen;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "generate" => {
            let dir = Path::new(dir);
            let write = |name: &str, text: String| std::fs::write(dir.join(name), text);
            if let Err(e) = write("old.graphql", schema_gen::schema(false))
                .and(write("new.graphql", schema_gen::schema(true)))
                .and(write("realistic-old.graphql", realistic_gen::schema(false)))
                .and(write("realistic-new.graphql", realistic_gen::schema(true)))
            {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        [cmd, modules, old, new] if cmd == "compare" => match compare("default", modules, old, new)
        {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        [cmd, flag, modules, old, new] if cmd == "compare" && flag == "--precise" => {
            match compare("precise", modules, old, new) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
        [old, new] => {
            let changes = match load_and_diff(old, new) {
                Ok(changes) => changes,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            for c in &changes {
                println!("{:?} {} {} {}", c.level, c.rule, c.subject, c.message);
            }
            let breaking = changes.iter().filter(|c| c.level == Level::Error).count();
            println!("{} changes, {breaking} breaking", changes.len());
            if breaking > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        _ => {
            eprintln!(
                "usage: graphql_diff <old.graphql> <new.graphql> | graphql_diff generate <dir> | graphql_diff compare [--precise] <node_modules> <old.graphql> <new.graphql>"
            );
            ExitCode::from(2)
        }
    }
}

fn load_and_diff(old: &str, new: &str) -> Result<Vec<Change>, String> {
    let base = graphql::load(Path::new(old)).map_err(|e| e.to_string())?;
    let revision = graphql::load(Path::new(new)).map_err(|e| e.to_string())?;
    Ok(graphql::diff(&base, &revision))
}

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

fn compare(mode: &str, modules: &str, old: &str, new: &str) -> Result<bool, String> {
    let ours = load_and_diff(old, new)?;
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
    let mut inspector_count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let change: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("graphql-inspector output: {e}"))?;
        inspector_count += 1;
        let (kind, element) = inspector_key(&change)
            .ok_or_else(|| format!("unmapped graphql-inspector change: {line}"))?;
        let level = match change["level"].as_str() {
            Some("BREAKING") => Level::Error,
            Some("DANGEROUS") => Level::Warning,
            _ => Level::Info,
        };
        let message = format!("{} {}", str_at(&change, "type"), str_at(&change, "message"));
        theirs.entry((kind, element)).or_default().push((level, message));
    }
    let mut mine = Verdicts::new();
    for c in &ours {
        let message = format!("{} {}", c.rule, c.message);
        mine.entry(our_key(c)).or_default().push((c.level, message));
    }
    Ok(report(&mine, &theirs, ours.len(), inspector_count))
}

/// Prints the agreement table and each disagreement; `true` when every verdict agrees.
fn report(mine: &Verdicts, theirs: &Verdicts, ours: usize, inspector: usize) -> bool {
    let name = |l: Level| match l {
        Level::Error => "breaking",
        Level::Warning => "dangerous",
        Level::Info => "safe",
    };
    // A change's verdict is the worst level reported for its element and kind on that side.
    let worst = |v: &[(Level, String)]| v.iter().map(|(l, _)| *l).max().unwrap_or(Level::Info);
    let mut agree: BTreeMap<Level, usize> = BTreeMap::new();
    let mut differ = Vec::new();
    let mut only_theirs = Vec::new();
    let mut only_mine = Vec::new();
    for (key, t) in theirs {
        match mine.get(key) {
            Some(m) if worst(m) == worst(t) => *agree.entry(worst(t)).or_default() += 1,
            Some(m) => differ.push((key, worst(m), worst(t), m, t)),
            None => only_theirs.push((key, t)),
        }
    }
    for (key, m) in mine {
        if !theirs.contains_key(key) {
            only_mine.push((key, m));
        }
    }
    println!("tollgate: {ours} changes; graphql-inspector: {inspector} changes");
    println!("compared by element and kind: {} on either side", theirs.len() + only_mine.len());
    for level in [Level::Error, Level::Warning, Level::Info] {
        println!("  agree {:<9} {}", name(level), agree.get(&level).copied().unwrap_or(0));
    }
    println!("  class differs   {}", differ.len());
    for ((kind, element), m, t, mm, tt) in &differ {
        println!("    {kind} {element}: tollgate {}, graphql-inspector {}", name(*m), name(*t));
        for (_, msg) in mm.iter() {
            println!("      tollgate: {msg}");
        }
        for (_, msg) in tt.iter() {
            println!("      graphql-inspector: {msg}");
        }
    }
    println!("  only graphql-inspector {}", only_theirs.len());
    for ((kind, element), t) in &only_theirs {
        println!("    {kind} {element}: {}", name(worst(t)));
        for (_, msg) in t.iter() {
            println!("      graphql-inspector: {msg}");
        }
    }
    println!("  only tollgate   {}", only_mine.len());
    for ((kind, element), m) in &only_mine {
        println!("    {kind} {element}: {}", name(worst(m)));
        for (_, msg) in m.iter() {
            println!("      tollgate: {msg}");
        }
    }
    // Safe-only extras on one side do not change a verdict; a missed or different class does.
    differ.is_empty()
        && only_theirs.iter().all(|(_, t)| worst(t) == Level::Info)
        && only_mine.iter().all(|(_, m)| worst(m) == Level::Info)
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

//! `go.mod` with the `go.sum` beside it.
//!
//! `go.mod` gives the module path (the application root), the `go` and `toolchain` versions
//! (root properties `tollgate:go:version`, `tollgate:go:toolchain`), `require` directives
//! (single-line and parenthesised, `// indirect` marks), `replace` and `exclude`. `go.sum`
//! gives each module's `h1:` hash: base64 of a SHA-256, recorded as that SHA-256 in hex (as
//! cyclonedx-gomod does) with property `tollgate:go:hash` = `h1`.
//!
//! A `replace` with a directory keeps the required module, with source `path+<dir>`; a
//! `replace` with another module makes the replacement the component, with property
//! `tollgate:go:replaces` = `<old path>@<required version>`. The root depends on its direct
//! requirements; `go.mod` has no graph, so indirect requirements (property
//! `tollgate:go:indirect` = `true`) get no incoming edge. Every requirement not replaced by a
//! directory needs a `go.sum` line (module or `/go.mod` hash), else [`SbomError::OutOfSync`]
//! names the `go.mod` line.

use crate::catalog::{SourceFile, purl};
use crate::error::Place;
use crate::{Component, ComponentKind, Ecosystem, Hash, HashAlgorithm, Inventory, SbomError};
use base64::Engine as _;
use std::collections::HashMap;
use std::path::Path;

/// One `require` directive.
struct Require {
    path: String,
    version: String,
    indirect: bool,
    line: usize,
}

/// What a module is replaced by.
enum Replacement {
    /// A local directory.
    Dir(String),
    /// Another module version.
    Module(String, String),
}

/// One `replace` directive.
struct Replace {
    old_path: String,
    old_version: Option<String>,
    new: Replacement,
}

#[derive(Default)]
struct GoMod {
    module: Option<String>,
    go: Option<(String, usize)>,
    toolchain: Option<String>,
    requires: Vec<Require>,
    replaces: Vec<Replace>,
    excludes: Vec<String>,
}

/// What `go.sum` says about one module version.
#[derive(Default)]
struct SumEntry {
    /// SHA-256 (hex) of the module zip, from its `h1:` line.
    zip: Option<String>,
}

const VERBS: &[&str] = &[
    "module",
    "go",
    "toolchain",
    "godebug",
    "require",
    "exclude",
    "replace",
    "retract",
    "tool",
    "ignore",
];
const BLOCK_VERBS: &[&str] =
    &["godebug", "require", "exclude", "replace", "retract", "tool", "ignore"];

/// Catalogues one `go.mod` (and the `go.sum` beside it).
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    let gomod = parse_go_mod(&source)?;

    let sum_path = lockfile.with_file_name("go.sum");
    let sums = if sum_path.is_file() {
        let sum = SourceFile::read(root, &sum_path)?;
        inventory.inputs.insert(sum.relative.clone(), sum.digest.clone());
        Some(parse_go_sum(&sum)?)
    } else {
        None
    };

    let module = gomod
        .module
        .clone()
        .ok_or_else(|| SbomError::malformed(Place::file(&source.path), "no module directive"))?;
    let mut app = go_component(&module, "", &source.relative);
    app.kind = ComponentKind::Application;
    if let Some((go, _)) = &gomod.go {
        app.properties.insert("tollgate:go:version".into(), go.clone());
    }
    if let Some(toolchain) = &gomod.toolchain {
        app.properties.insert("tollgate:go:toolchain".into(), toolchain.clone());
    }
    if !gomod.excludes.is_empty() {
        app.properties.insert("tollgate:go:excludes".into(), gomod.excludes.join(","));
    }
    let app_ref = app.bom_ref.clone();
    inventory.add(app);

    let mut replace_exact: HashMap<(&str, &str), &Replacement> = HashMap::new();
    let mut replace_any: HashMap<&str, &Replacement> = HashMap::new();
    for r in &gomod.replaces {
        match &r.old_version {
            Some(v) => replace_exact.insert((&r.old_path, v), &r.new),
            None => replace_any.insert(&r.old_path, &r.new),
        };
    }

    for req in &gomod.requires {
        let replacement = replace_exact
            .get(&(req.path.as_str(), req.version.as_str()))
            .or_else(|| replace_any.get(req.path.as_str()))
            .copied();
        let (path, version, dir) = match replacement {
            None => (req.path.as_str(), req.version.as_str(), None),
            Some(Replacement::Dir(d)) => (req.path.as_str(), req.version.as_str(), Some(d)),
            Some(Replacement::Module(p, v)) => (p.as_str(), v.as_str(), None),
        };
        let mut c = go_component(path, version, &source.relative);
        if let Some(dir) = dir {
            c.source = Some(format!("path+{dir}"));
        } else {
            // Without its go.sum line the module is still required: it is listed, unhashed.
            let entry = match &sums {
                None => {
                    crate::catalog::drift::report(SbomError::OutOfSync {
                        place: source.at_line(req.line),
                        manifest: source.path.clone(),
                        message: format!(
                            "go.sum is missing; {} {} needs a hash",
                            req.path, req.version
                        ),
                    })?;
                    None
                }
                Some(sums) => {
                    let entry = sums.get(&(path.to_owned(), version.to_owned()));
                    if entry.is_none() {
                        let what = if path == req.path {
                            format!("{path} {version}")
                        } else {
                            format!("{path} {version} (replacing {} {})", req.path, req.version)
                        };
                        crate::catalog::drift::report(SbomError::OutOfSync {
                            place: source.at_line(req.line),
                            manifest: source.path.clone(),
                            message: format!("{what} has no go.sum line"),
                        })?;
                    }
                    entry
                }
            };
            if let Some(hex) = entry.and_then(|e| e.zip.as_ref()) {
                c.hashes = vec![Hash { algorithm: HashAlgorithm::Sha256, hex: hex.clone() }];
                c.properties.insert("tollgate:go:hash".into(), "h1".into());
            }
        }
        if path != req.path {
            c.properties
                .insert("tollgate:go:replaces".into(), format!("{}@{}", req.path, req.version));
        }
        if req.indirect {
            c.properties.insert("tollgate:go:indirect".into(), "true".into());
        } else {
            inventory.depend(&app_ref, &c.bom_ref);
        }
        inventory.add(c);
    }
    inventory.normalize();
    Ok(inventory)
}

/// A Go module component. Its name is the full module path, as published (`go get` takes it,
/// and `github.com/AlecAivazis/survey/v2` is not `v2`); the purl splits it at the last `/`
/// into namespace and name and applies the golang type's case rules (through `packageurl`).
fn go_component(path: &str, version: &str, found_in: &str) -> Component {
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, path),
    };
    let mut p = purl("golang", namespace, name, version, &[]);
    if version.is_empty() {
        p = p.strip_suffix('@').map(str::to_owned).unwrap_or(p);
    }
    let mut c = Component::new(Ecosystem::Go, None, path, version, p);
    c.found_in.insert(found_in.to_owned());
    c
}

fn parse_go_mod(source: &SourceFile) -> Result<GoMod, SbomError> {
    let mut gomod = GoMod::default();
    let mut block: Option<(String, usize)> = None;
    for (i, raw) in source.text.lines().enumerate() {
        let line = i + 1;
        let bad = |m: String| SbomError::malformed(source.at_line(line), m);
        let (code, comment) = split_comment(raw);
        let tokens = tokenize(code).map_err(bad)?;
        let Some(first) = tokens.first() else {
            continue;
        };
        let indirect = comment.is_some_and(|c| {
            let c = c.trim();
            c == "indirect" || c.starts_with("indirect;")
        });
        if let Some((verb, _)) = &block {
            if tokens.len() == 1 && first == ")" {
                block = None;
                continue;
            }
            directive(&mut gomod, verb, &tokens, indirect, line).map_err(bad)?;
            continue;
        }
        let verb = first.as_str();
        if !VERBS.contains(&verb) {
            return Err(bad(format!("unknown directive `{verb}`")));
        }
        if tokens.get(1).is_some_and(|t| t == "(") {
            if !BLOCK_VERBS.contains(&verb) {
                return Err(bad(format!("`{verb}` cannot open a block")));
            }
            match tokens.len() {
                2 => block = Some((verb.to_owned(), line)),
                3 if tokens[2] == ")" => {}
                _ => return Err(bad(format!("unexpected text after `{verb} (`"))),
            }
            continue;
        }
        directive(&mut gomod, verb, &tokens[1..], indirect, line).map_err(bad)?;
    }
    if let Some((verb, line)) = block {
        return Err(SbomError::malformed(
            source.at_line(line),
            format!("`{verb} (` block is never closed"),
        ));
    }
    if let Some((go, line)) = &gomod.go {
        let major = go.split('.').next().unwrap_or_default();
        if major != "1" {
            return Err(SbomError::UnsupportedVersion {
                place: source.at_line(*line),
                what: "go.mod go directive",
                version: go.clone(),
                supported: "1.x",
            });
        }
    }
    Ok(gomod)
}

fn directive(
    gomod: &mut GoMod,
    verb: &str,
    args: &[String],
    indirect: bool,
    line: usize,
) -> Result<(), String> {
    match verb {
        "module" => {
            let [path] = args else { return Err("usage: module path".into()) };
            check_path(path)?;
            gomod.module = Some(path.clone());
        }
        "go" => {
            let [v] = args else { return Err("usage: go 1.N".into()) };
            let numeric = v.split('.').take(3).all(|p| {
                let digits = p.find(|c: char| !c.is_ascii_digit()).map_or(p, |i| &p[..i]);
                !digits.is_empty()
            });
            if !numeric {
                return Err(format!("invalid go version `{v}`"));
            }
            gomod.go = Some((v.clone(), line));
        }
        "toolchain" => {
            let [t] = args else { return Err("usage: toolchain name".into()) };
            gomod.toolchain = Some(t.clone());
        }
        "require" => {
            let [path, version] = args else {
                return Err("usage: require module/path v1.2.3".into());
            };
            check_path(path)?;
            check_version(version)?;
            gomod.requires.push(Require {
                path: path.clone(),
                version: version.clone(),
                indirect,
                line,
            });
        }
        "exclude" => {
            let [path, version] = args else {
                return Err("usage: exclude module/path v1.2.3".into());
            };
            check_path(path)?;
            check_version(version)?;
            gomod.excludes.push(format!("{path}@{version}"));
        }
        "replace" => {
            let arrow = args
                .iter()
                .position(|a| a == "=>")
                .ok_or("usage: replace module/path [v1.2.3] => other/module v1.4.5 | ./dir")?;
            let (old, new) = (&args[..arrow], &args[arrow + 1..]);
            let (old_path, old_version) = match old {
                [p] => (p, None),
                [p, v] => {
                    check_version(v)?;
                    (p, Some(v.clone()))
                }
                _ => {
                    return Err(
                        "replace needs a module path (and optional version) before =>".into()
                    );
                }
            };
            check_path(old_path)?;
            let new = match new {
                [dir] if is_directory_path(dir) => Replacement::Dir(dir.clone()),
                [_] => {
                    return Err("replacement module without version must be a directory path \
                                (rooted or starting with ./ or ../)"
                        .into());
                }
                [p, v] => {
                    check_path(p)?;
                    check_version(v)?;
                    Replacement::Module(p.clone(), v.clone())
                }
                _ => {
                    return Err(
                        "replace needs a module and version, or a directory, after =>".into()
                    );
                }
            };
            gomod.replaces.push(Replace { old_path: old_path.clone(), old_version, new });
        }
        // Nothing in these changes what is built from the module graph we report.
        "retract" | "godebug" | "tool" | "ignore" => {}
        other => return Err(format!("unknown directive `{other}`")),
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.starts_with('-') || path == "=>" || path == "(" || path == ")" {
        Err(format!("invalid module path `{path}`"))
    } else {
        Ok(())
    }
}

fn check_version(version: &str) -> Result<(), String> {
    if version.len() > 1 && version.starts_with('v') {
        Ok(())
    } else {
        Err(format!("invalid module version `{version}`"))
    }
}

/// As `modfile.IsDirectoryPath`: rooted, or starting with `./` or `../` (either slash).
fn is_directory_path(p: &str) -> bool {
    let b = p.as_bytes();
    p == "."
        || p == ".."
        || ["./", ".\\", "../", "..\\", "/", "\\"].iter().any(|s| p.starts_with(s))
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'/' | b'\\'))
}

/// Splits off a `//` comment that is not inside a quoted string.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => quote = Some(c),
            None if c == '/' && chars.peek().is_some_and(|(_, n)| *n == '/') => {
                return (&line[..i], Some(&line[i + 2..]));
            }
            None => {}
        }
    }
    (line, None)
}

/// Whitespace-separated tokens; `"…"` and `` `…` `` strings are unquoted; `(`, `)` and `=>`
/// stand alone.
fn tokenize(code: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted string".into()),
                    Some(ch) if ch == c => break,
                    Some('\\') if c == '"' => match chars.next() {
                        Some(e @ ('"' | '\\')) => s.push(e),
                        Some(e) => return Err(format!("unsupported escape `\\{e}`")),
                        None => return Err("unterminated quoted string".into()),
                    },
                    Some(ch) => s.push(ch),
                }
            }
            tokens.push(s);
        } else if c == '(' || c == ')' {
            chars.next();
            tokens.push(c.to_string());
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' || ch == '`' {
                    break;
                }
                s.push(ch);
                chars.next();
                if s.ends_with("=>") {
                    break;
                }
            }
            match s.strip_suffix("=>") {
                Some(before) if !before.is_empty() => {
                    tokens.push(before.to_owned());
                    tokens.push("=>".to_owned());
                }
                _ => tokens.push(s),
            }
        }
    }
    Ok(tokens)
}

fn parse_go_sum(source: &SourceFile) -> Result<HashMap<(String, String), SumEntry>, SbomError> {
    let mut sums: HashMap<(String, String), SumEntry> = HashMap::new();
    for (i, raw) in source.text.lines().enumerate() {
        let bad = |m: String| SbomError::malformed(source.at_line(i + 1), m);
        let fields: Vec<&str> = raw.split_whitespace().collect();
        let [path, version, hash] = fields.as_slice() else {
            if fields.is_empty() {
                continue;
            }
            return Err(bad("expected `module version hash`".into()));
        };
        let (version, gomod) = match version.strip_suffix("/go.mod") {
            Some(v) => (v, true),
            None => (*version, false),
        };
        check_version(version).map_err(&bad)?;
        let hex = match hash.strip_prefix("h1:") {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| bad(format!("`{hash}` is not an h1 hash")))?;
                Some(hex::encode(bytes))
            }
            None if hash.contains(':') => None, // a future hash algorithm: keep the line
            None => return Err(bad(format!("`{hash}` is not a hash"))),
        };
        let entry = sums.entry(((*path).to_owned(), version.to_owned())).or_default();
        if !gomod && entry.zip.is_none() {
            entry.zip = hex;
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/go-basic");

    fn run() -> Inventory {
        let root = Path::new(FIXTURE);
        catalog(root, &root.join("go.mod")).unwrap()
    }

    /// The fixture in a temporary directory, `go.mod` and `go.sum` edited (`None`: no go.sum).
    fn altered(
        mod_edit: impl Fn(&str) -> String,
        sum_edit: impl Fn(&str) -> Option<String>,
    ) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let read = |n: &str| std::fs::read_to_string(Path::new(FIXTURE).join(n)).unwrap();
        std::fs::write(dir.path().join("go.mod"), mod_edit(&read("go.mod"))).unwrap();
        if let Some(sum) = sum_edit(&read("go.sum")) {
            std::fs::write(dir.path().join("go.sum"), sum).unwrap();
        }
        dir
    }

    fn err_of(dir: &tempfile::TempDir) -> SbomError {
        catalog(dir.path(), &dir.path().join("go.mod")).unwrap_err()
    }

    fn line_of(dir: &tempfile::TempDir, file: &str, needle: &str) -> usize {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn components_purls_and_edges() {
        let inv = run();
        let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            refs,
            [
                "pkg:golang/example.com/tollgate/gofixture",
                "pkg:golang/example.com/tollgate/localmod@v0.0.0-00010101000000-000000000000",
                "pkg:golang/github.com/golang-jwt/jwt@v3.2.2%2Bincompatible",
                "pkg:golang/github.com/google/uuid@v1.6.0",
                "pkg:golang/github.com/inconshreveable/mousetrap@v1.1.0",
                "pkg:golang/github.com/spf13/cobra@v1.8.0",
                "pkg:golang/github.com/spf13/pflag@v1.0.5",
            ]
        );
        let root = "pkg:golang/example.com/tollgate/gofixture";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [root]);
        assert_eq!(
            inv.dependencies[root].iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "pkg:golang/example.com/tollgate/localmod@v0.0.0-00010101000000-000000000000",
                "pkg:golang/github.com/golang-jwt/jwt@v3.2.2%2Bincompatible",
                "pkg:golang/github.com/google/uuid@v1.6.0",
                "pkg:golang/github.com/spf13/cobra@v1.8.0",
            ]
        );
        let incoming = |r: &str| inv.dependencies.values().filter(|d| d.contains(r)).count();
        assert_eq!(incoming("pkg:golang/github.com/spf13/pflag@v1.0.5"), 0);
        let app = inv.get(root).unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!(app.properties["tollgate:go:version"], "1.21");
        assert_eq!(app.properties["tollgate:go:toolchain"], "go1.22.4");
        assert_eq!(app.properties["tollgate:go:excludes"], "github.com/spf13/pflag@v1.0.6");
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["go.mod", "go.sum"]);
    }

    /// The name keeps the published case and the whole path; the purl follows the golang
    /// type's rules (namespace lowercased, major-version suffix as the name).
    #[test]
    fn names_are_full_module_paths_and_purls_follow_the_type_rules() {
        let c = go_component("github.com/AlecAivazis/survey/v2", "v2.3.7", "go.mod");
        assert_eq!(c.name, "github.com/AlecAivazis/survey/v2");
        assert_eq!(c.full_name(), "github.com/AlecAivazis/survey/v2");
        assert_eq!(c.purl, "pkg:golang/github.com/alecaivazis/survey/v2@v2.3.7");
        let bare = go_component("rsc.io", "v1.0.0", "go.mod");
        assert_eq!(
            (bare.name.as_str(), bare.purl.as_str()),
            ("rsc.io", "pkg:golang/rsc.io@v1.0.0")
        );
    }

    #[test]
    fn hashes_replacements_and_indirect_marks() {
        let inv = run();
        let uuid = inv.get("pkg:golang/github.com/google/uuid@v1.6.0").unwrap();
        assert_eq!(uuid.namespace, None);
        assert_eq!(uuid.name, "github.com/google/uuid");
        assert_eq!(
            uuid.hashes,
            [Hash {
                algorithm: HashAlgorithm::Sha256,
                hex: "348bda24330eb231c0f27d630212d2833ac0cf2d4782bfa136b6f9edefbde05d".into()
            }]
        );
        assert_eq!(uuid.properties["tollgate:go:hash"], "h1");
        assert!(uuid.found_in.contains("go.mod"));
        let jwt = inv.get("pkg:golang/github.com/golang-jwt/jwt@v3.2.2%2Bincompatible").unwrap();
        assert_eq!(
            jwt.properties["tollgate:go:replaces"],
            "github.com/dgrijalva/jwt-go@v3.2.0+incompatible"
        );
        assert_eq!(
            jwt.hashes[0].hex,
            "21f575d8af3100a02766a757573099f933a36e867691e2e0f357977d6dcefa86"
        );
        let local = inv
            .get("pkg:golang/example.com/tollgate/localmod@v0.0.0-00010101000000-000000000000")
            .unwrap();
        assert_eq!(local.source.as_deref(), Some("path+./localmod"));
        assert!(local.hashes.is_empty());
        let pflag = inv.get("pkg:golang/github.com/spf13/pflag@v1.0.5").unwrap();
        assert_eq!(pflag.properties["tollgate:go:indirect"], "true");
        assert!(!uuid.properties.contains_key("tollgate:go:indirect"));
    }

    #[test]
    fn require_without_go_sum_line_is_out_of_sync() {
        let dir = altered(
            |m| m.to_owned(),
            |s| {
                Some(
                    s.lines().filter(|l| !l.contains("google/uuid")).collect::<Vec<_>>().join("\n"),
                )
            },
        );
        let err = err_of(&dir);
        let SbomError::OutOfSync { place, message, .. } = &err else { panic!("{err}") };
        assert!(message.contains("github.com/google/uuid v1.6.0"), "{message}");
        assert_eq!(place.line, Some(line_of(&dir, "go.mod", "github.com/google/uuid")));
        assert!(place.path.ends_with("go.mod"));

        // A replacement is looked up under the module that replaces it.
        let dir = altered(
            |m| m.to_owned(),
            |s| {
                Some(s.lines().filter(|l| !l.contains("golang-jwt")).collect::<Vec<_>>().join("\n"))
            },
        );
        let err = err_of(&dir);
        assert!(err.to_string().contains("replacing github.com/dgrijalva/jwt-go"), "{err}");
    }

    #[test]
    fn missing_go_sum_is_out_of_sync() {
        let dir = altered(|m| m.to_owned(), |_| None);
        let err = err_of(&dir);
        let SbomError::OutOfSync { place, message, .. } = &err else { panic!("{err}") };
        assert!(message.contains("go.sum is missing"), "{message}");
        assert_eq!(place.line, Some(line_of(&dir, "go.mod", "dgrijalva")));
    }

    #[test]
    fn malformed_directives_name_their_line() {
        for (edit, needle) in [
            ("github.com/google/uuid v1.6.0", "github.com/google/uuid"),
            ("frobnicate github.com/x v1.0.0", "frobnicate"),
            ("replace github.com/x => github.com/y", "replace github.com/x"),
            ("require \"github.com/x v1.0.0", "require \"github.com/x"),
        ] {
            let dir = altered(
                |m| {
                    if edit.starts_with("github.com/google") {
                        m.replace("\tgithub.com/google/uuid v1.6.0\n", "\tgithub.com/google/uuid\n")
                    } else {
                        format!("{m}{edit}\n")
                    }
                },
                |s| Some(s.to_owned()),
            );
            let err = err_of(&dir);
            let SbomError::Malformed { place, .. } = &err else { panic!("{edit}: {err}") };
            assert_eq!(place.line, Some(line_of(&dir, "go.mod", needle)), "{edit}: {err}");
        }
    }

    #[test]
    fn truncated_go_mod_names_the_open_block() {
        let dir = altered(
            |m| m[..m.find("\tgithub.com/google/uuid").unwrap()].to_owned(),
            |s| Some(s.to_owned()),
        );
        let err = err_of(&dir);
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert!(message.contains("never closed"), "{message}");
        assert_eq!(place.line, Some(line_of(&dir, "go.mod", "require (")));
    }

    #[test]
    fn malformed_go_sum_names_its_line() {
        for bad in ["github.com/x v1.0.0\n", "github.com/x v1.0.0 h1:!!!notbase64\n"] {
            let dir = altered(|m| m.to_owned(), |s| Some(format!("{s}{bad}")));
            let err = err_of(&dir);
            let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
            assert!(place.path.ends_with("go.sum"));
            assert_eq!(place.line, Some(15), "{err}");
        }
    }

    #[test]
    fn unknown_go_version_is_unsupported() {
        let dir = altered(|m| m.replace("go 1.21\n", "go 2.0\n"), |s| Some(s.to_owned()));
        let err = err_of(&dir);
        let SbomError::UnsupportedVersion { place, version, .. } = &err else { panic!("{err}") };
        assert_eq!(version, "2.0");
        assert_eq!(place.line, Some(line_of(&dir, "go.mod", "go 2.0")));
    }

    #[test]
    fn lexer_handles_comments_quotes_and_arrows() {
        assert_eq!(split_comment("a \"//x\" // c"), ("a \"//x\" ", Some(" c")));
        assert_eq!(tokenize("replace a=>b v1.0.0").unwrap(), ["replace", "a", "=>", "b", "v1.0.0"]);
        assert_eq!(tokenize("require (").unwrap(), ["require", "("]);
        assert_eq!(tokenize("`raw/path` \"q\\\"x\"").unwrap(), ["raw/path", "q\"x"]);
        assert!(
            is_directory_path("../x") && is_directory_path("C:\\x") && !is_directory_path("x/y")
        );
    }
}

//! `requirements*.txt` in pip's requirements-file format.
//!
//! Lines are joined at trailing backslashes and stripped of comments the way pip does it.
//! Understood: `name[extras]==version ; marker` with `--hash=algo:hex` options, unpinned
//! requirements (listed with an empty version and `tollgate:python:unpinned` = `true`;
//! versions are never guessed), `name @ URL`, bare URLs and paths (VCS, archives, local
//! directories; the name from `#egg=`, the archive's file name or the last path segment),
//! `-e`/`--editable`, `-r`/`--requirement` includes (resolved relative to the including file;
//! a file already read is not read again, so cycles end), `-c` constraints (not read), and
//! the global options pip accepts. `--index-url` becomes the `source` of every registry
//! requirement, as pip applies it to the whole run.
//!
//! A requirements file has no graph: the root is an application named after the directory
//! holding the file, and it depends on every requirement. `found_in` names the file a
//! requirement was written in. With one hash a requirement gets it as its component hash;
//! all hashes (pip lists one per wheel and sdist, without saying which) are kept in the
//! `tollgate:python:hashes` property.

use super::common::{component, is_ignored_hash, normalize, parse_hash, pypi_purl, split_name};
use crate::catalog::SourceFile;
use crate::error::Place;
use crate::{Component, ComponentKind, Ecosystem, Hash, Inventory, SbomError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One requirement as read.
#[derive(Debug, Default)]
struct Requirement {
    name: String,
    version: String,
    unpinned: bool,
    url: Option<String>,
    editable: bool,
    extras: Vec<String>,
    marker: Option<String>,
    hashes: Vec<Hash>,
    found_in: String,
}

/// Everything collected while reading a file and its includes.
#[derive(Default)]
struct Reader {
    visited: HashSet<PathBuf>,
    requirements: Vec<Requirement>,
    index_url: Option<String>,
    inventory: Inventory,
}

/// Catalogues one requirements file (and the files it includes).
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let mut reader = Reader::default();
    reader.read(root, lockfile)?;
    let Reader { requirements, index_url, mut inventory, .. } = reader;

    let top = super::super::source::relative_name(root, lockfile);
    let dir_name = std::fs::canonicalize(lockfile)
        .ok()
        .and_then(|p| {
            p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "requirements".to_owned());
    let mut app = Component::new(Ecosystem::Python, None, &dir_name, "", pypi_purl(&dir_name, ""));
    app.kind = ComponentKind::Application;
    app.found_in.insert(top);
    let app_ref = app.bom_ref.clone();
    inventory.add(app);

    for req in requirements {
        let mut c = component(&req.name, &req.version, &req.found_in);
        match &req.url {
            Some(url) => c.source = Some(url.clone()),
            None => c.source.clone_from(&index_url),
        }
        if req.unpinned {
            c.properties.insert("tollgate:python:unpinned".into(), "true".into());
        }
        if req.editable {
            c.properties.insert("tollgate:python:editable".into(), "true".into());
        }
        if !req.extras.is_empty() {
            c.properties.insert("tollgate:python:extras".into(), req.extras.join(","));
        }
        if let Some(marker) = &req.marker {
            c.properties.insert("tollgate:python:marker".into(), marker.clone());
        }
        if !req.hashes.is_empty() {
            let all: Vec<String> =
                req.hashes.iter().map(|h| format!("{}:{}", alg_name(h), h.hex)).collect();
            c.properties.insert("tollgate:python:hashes".into(), all.join(" "));
        }
        if let [only] = req.hashes.as_slice() {
            c.hashes = vec![only.clone()];
        }
        if c.bom_ref != app_ref {
            inventory.depend(&app_ref, &c.bom_ref);
        }
        inventory.add(c);
    }
    inventory.normalize();
    Ok(inventory)
}

fn alg_name(h: &Hash) -> &'static str {
    match h.algorithm {
        crate::HashAlgorithm::Sha1 => "sha1",
        crate::HashAlgorithm::Sha256 => "sha256",
        crate::HashAlgorithm::Sha384 => "sha384",
        crate::HashAlgorithm::Sha512 => "sha512",
    }
}

impl Reader {
    fn read(&mut self, root: &Path, path: &Path) -> Result<(), SbomError> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !self.visited.insert(key) {
            tracing::debug!(path = %path.display(), "requirements file already read; skipping");
            return Ok(());
        }
        let source = SourceFile::read(root, path)?;
        self.inventory.inputs.insert(source.relative.clone(), source.digest.clone());
        for (line, text) in logical_lines(&source.text) {
            self.line(root, &source, line, &text)?;
        }
        Ok(())
    }

    fn line(
        &mut self,
        root: &Path,
        source: &SourceFile,
        line: usize,
        text: &str,
    ) -> Result<(), SbomError> {
        let place = || source.at_line(line);
        // pip: the requirement is every token before the first one starting with `-`.
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let split = tokens.iter().position(|t| t.starts_with('-')).unwrap_or(tokens.len());
        let (args, opts) = tokens.split_at(split);
        let options = parse_options(opts).map_err(|m| SbomError::malformed(place(), m))?;

        if args.is_empty() {
            for (opt, value) in options {
                match opt {
                    "requirement" => {
                        if value.contains("://") {
                            return Err(SbomError::malformed(
                                place(),
                                format!("remote requirements file `{value}` is not read"),
                            ));
                        }
                        let base = source.path.parent().unwrap_or(Path::new(""));
                        let included = base.join(&value);
                        if !included.is_file() {
                            return Err(SbomError::malformed(
                                place(),
                                format!("included file `{value}` does not exist"),
                            ));
                        }
                        self.read(root, &included)?;
                    }
                    "index-url" if self.index_url.is_none() => {
                        self.index_url = Some(value.trim_end_matches('/').to_owned());
                    }
                    "editable" => {
                        let mut req = url_requirement(&value, place)?;
                        req.editable = true;
                        req.found_in.clone_from(&source.relative);
                        self.requirements.push(req);
                    }
                    "hash" => {
                        return Err(SbomError::malformed(place(), "--hash without a requirement"));
                    }
                    _ => {}
                }
            }
            return Ok(());
        }

        let spec = args.join(" ");
        let mut req = if looks_like_url_or_path(args[0]) {
            url_requirement(&spec, place)?
        } else {
            pep508_requirement(&spec, place)?
        };
        for (opt, value) in options {
            match opt {
                "hash" => match parse_hash(&value) {
                    Some(h) => req.hashes.push(h),
                    None if is_ignored_hash(&value) => {}
                    None => {
                        return Err(SbomError::malformed(
                            place(),
                            format!("unreadable hash `{value}`"),
                        ));
                    }
                },
                "global-option" | "config-settings" | "install-option" => {}
                other => {
                    return Err(SbomError::malformed(
                        place(),
                        format!("option --{other} is not allowed on a requirement line"),
                    ));
                }
            }
        }
        req.found_in.clone_from(&source.relative);
        self.requirements.push(req);
        Ok(())
    }
}

/// Joins continuation lines and strips comments as pip does; yields (first line, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut first = 0;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let emit = |line: usize, s: &str, out: &mut Vec<(usize, String)>| {
        let s = strip_comment(s).trim();
        if !s.is_empty() {
            out.push((line, s.to_owned()));
        }
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let comment_only = line.trim_start().starts_with('#');
        if !line.ends_with('\\') || comment_only {
            if buf.is_empty() {
                emit(n, line, &mut out);
            } else {
                if !comment_only {
                    buf.push_str(line);
                }
                emit(first, &buf, &mut out);
                buf.clear();
            }
        } else {
            if buf.is_empty() {
                first = n;
            }
            buf.push_str(line.trim_end_matches('\\'));
        }
    }
    if !buf.is_empty() {
        emit(first, &buf, &mut out);
    }
    out
}

/// Cuts a `#` comment that starts the line or follows whitespace (pip's `(^|\s+)#.*$`).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Options as (long name, value); value empty for flags.
fn parse_options(tokens: &[&str]) -> Result<Vec<(&'static str, String)>, String> {
    // (short, long, takes a value)
    const KNOWN: &[(&str, &str, bool)] = &[
        ("-r", "requirement", true),
        ("-c", "constraint", true),
        ("-e", "editable", true),
        ("-i", "index-url", true),
        ("", "extra-index-url", true),
        ("", "no-index", false),
        ("-f", "find-links", true),
        ("", "no-binary", true),
        ("", "only-binary", true),
        ("", "prefer-binary", false),
        ("", "require-hashes", false),
        ("", "pre", false),
        ("", "trusted-host", true),
        ("", "use-feature", true),
        ("", "hash", true),
        ("", "global-option", true),
        ("-C", "config-settings", true),
        ("", "install-option", true),
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        i += 1;
        let (entry, inline) = if let Some(long) = token.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            (KNOWN.iter().find(|k| k.1 == name), inline)
        } else {
            let short = token.get(..2).unwrap_or(token);
            let rest = token.get(2..).filter(|r| !r.is_empty());
            (KNOWN.iter().find(|k| !k.0.is_empty() && k.0 == short), rest)
        };
        let Some(&(_, long, takes_value)) = entry else {
            return Err(format!("unknown option `{token}`"));
        };
        let value = if !takes_value {
            if inline.is_some() {
                return Err(format!("option --{long} takes no value"));
            }
            String::new()
        } else if let Some(v) = inline {
            v.to_owned()
        } else if let Some(v) = tokens.get(i) {
            i += 1;
            (*v).to_owned()
        } else {
            return Err(format!("option --{long} needs a value"));
        };
        out.push((long, unquote(&value).to_owned()));
    }
    Ok(out)
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

fn looks_like_url_or_path(first: &str) -> bool {
    first.contains("://")
        || ["git+", "hg+", "svn+", "bzr+", "file:", ".", "/", "~"]
            .iter()
            .any(|p| first.starts_with(p))
        || is_archive(first)
}

fn is_archive(s: &str) -> bool {
    [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"].iter().any(|e| s.ends_with(e))
}

/// `name[extras] specifiers ; marker` or `name[extras] @ url ; marker`.
fn pep508_requirement(spec: &str, place: impl Fn() -> Place) -> Result<Requirement, SbomError> {
    let bad = |m: String| SbomError::malformed(place(), m);
    let (name, rest) =
        split_name(spec).ok_or_else(|| bad(format!("`{spec}` is not a requirement")))?;
    let mut req = Requirement { name: name.to_owned(), ..Requirement::default() };
    let mut rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('[') {
        let end = inner.find(']').ok_or_else(|| bad(format!("unclosed extras in `{spec}`")))?;
        for extra in inner[..end].split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if split_name(extra).is_none_or(|(n, r)| !r.is_empty() || n.is_empty()) {
                return Err(bad(format!("bad extra `{extra}` in `{spec}`")));
            }
            req.extras.push(normalize(extra));
        }
        rest = inner[end + 1..].trim_start();
    }
    if let Some(url) = rest.strip_prefix('@') {
        let (url, marker) = split_url_marker(url.trim());
        if url.is_empty() {
            return Err(bad(format!("`{spec}` has an empty URL")));
        }
        req.marker = marker.map(|m| check_marker(m, &bad)).transpose()?;
        apply_url(&mut req, url);
        return Ok(req);
    }
    let (specifiers, marker) = match rest.split_once(';') {
        Some((s, m)) => (s.trim(), Some(m)),
        None => (rest.trim(), None),
    };
    req.marker = marker.map(|m| check_marker(m, &bad)).transpose()?;
    let specifiers =
        specifiers.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(specifiers).trim();
    let mut pins = Vec::new();
    let mut count = 0;
    if !specifiers.is_empty() {
        for clause in specifiers.split(',').map(str::trim) {
            let op = ["===", "==", "!=", "~=", "<=", ">=", "<", ">"]
                .into_iter()
                .find(|op| clause.starts_with(op))
                .ok_or_else(|| bad(format!("`{clause}` is not a version specifier")))?;
            let version = clause[op.len()..].trim();
            let ok = !version.is_empty()
                && version.chars().all(|c| c.is_ascii_alphanumeric() || "._-+!*".contains(c));
            if !ok {
                return Err(bad(format!("`{clause}` has no valid version")));
            }
            count += 1;
            if (op == "==" || op == "===") && !version.contains('*') {
                pins.push(version);
            }
        }
    }
    match (count, pins.as_slice()) {
        (1, [version]) => req.version = (*version).to_owned(),
        _ => req.unpinned = true,
    }
    Ok(req)
}

fn check_marker(marker: &str, bad: &impl Fn(String) -> SbomError) -> Result<String, SbomError> {
    let m = marker.trim();
    if m.is_empty() {
        Err(bad("empty environment marker after `;`".into()))
    } else {
        Ok(m.to_owned())
    }
}

/// A URL's marker follows `; ` (a `;` inside a URL is not a separator).
fn split_url_marker(s: &str) -> (&str, Option<&str>) {
    match s.find("; ").or_else(|| s.find(" ;")) {
        Some(i) => (s[..i].trim(), Some(s[i + 1..].trim_start_matches(';'))),
        None => (s.trim(), None),
    }
}

/// A bare URL or path (also `-e` values): name from `#egg=`, the archive name or the last
/// path segment.
fn url_requirement(spec: &str, place: impl Fn() -> Place) -> Result<Requirement, SbomError> {
    let bad = |m: String| SbomError::malformed(place(), m);
    let (url, marker) = split_url_marker(spec);
    let mut req = Requirement {
        marker: marker.map(|m| check_marker(m, &bad)).transpose()?,
        ..Requirement::default()
    };
    // A local path may carry extras: `./pkg[test]`.
    let mut url = url;
    if let Some(open) = url.rfind('[').filter(|_| url.ends_with(']') && !url.contains("://")) {
        req.extras = url[open + 1..url.len() - 1]
            .split(',')
            .map(|e| normalize(e.trim()))
            .filter(|e| !e.is_empty())
            .collect();
        url = &url[..open];
    }
    let (base, fragment) = url.split_once('#').unwrap_or((url, ""));
    let egg = fragment.split('&').find_map(|kv| kv.strip_prefix("egg="));
    let last = base.trim_end_matches('/').rsplit('/').next().unwrap_or(base);
    let name = match egg {
        Some(egg) => egg.split('[').next().unwrap_or(egg).to_owned(),
        None => {
            let stem = last.split('@').next().unwrap_or(last);
            let stem = stem.strip_suffix(".git").unwrap_or(stem);
            if let Some(wheel) = stem.strip_suffix(".whl") {
                wheel.split('-').next().unwrap_or(wheel).to_owned()
            } else if let Some(archive) = archive_stem(stem) {
                archive.rsplit_once('-').map_or(archive, |(n, _)| n).to_owned()
            } else {
                stem.to_owned()
            }
        }
    };
    if split_name(&name).is_none_or(|(n, r)| !r.is_empty() || n.is_empty()) {
        return Err(bad(format!("cannot tell the project name of `{spec}` (add #egg=name)")));
    }
    req.name = name;
    apply_url(&mut req, url);
    Ok(req)
}

fn archive_stem(file: &str) -> Option<&str> {
    [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"].iter().find_map(|e| file.strip_suffix(e))
}

/// Sets `url` (as `Component.source`), the version an archive's file name states, and a
/// `#sha256=` fragment hash.
fn apply_url(req: &mut Requirement, url: &str) {
    let (base, fragment) = url.split_once('#').unwrap_or((url, ""));
    for kv in fragment.split('&') {
        if let Some((alg, hex)) = kv.split_once('=')
            && let Some(h) = parse_hash(&format!("{alg}:{hex}"))
        {
            req.hashes.push(h);
        }
    }
    let file = base.rsplit('/').next().unwrap_or(base);
    let prefix = format!("{}-", normalize(&req.name));
    let normalized_file = file.replace('_', "-").to_ascii_lowercase();
    if let Some(after) = normalized_file.strip_prefix(&prefix) {
        let start = file.len() - after.len();
        let tail = &file[start..];
        let version = if let Some(wheel) = tail.strip_suffix(".whl") {
            wheel.split('-').next()
        } else {
            archive_stem(tail)
        };
        if let Some(v) = version.filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit())) {
            req.version = v.to_owned();
        }
    }
    let is_vcs = ["git+", "hg+", "svn+", "bzr+"].iter().any(|p| base.starts_with(p));
    req.url = Some(if is_vcs {
        // pip writes the revision as `@rev` after the path; Tollgate's form is `#rev`.
        let path_start = base.find("://").map_or(0, |i| i + 3);
        let path_start = base[path_start..].find('/').map_or(base.len(), |i| path_start + i);
        match base[path_start..].rfind('@') {
            Some(at) => format!("{}#{}", &base[..path_start + at], &base[path_start + at + 1..]),
            None => base.to_owned(),
        }
    } else if base.contains("://") || base.starts_with("file:") {
        base.to_owned()
    } else {
        format!("path+{base}")
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashAlgorithm;

    const FIXTURE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/python-requirements");

    fn run(file: &str) -> Inventory {
        let root = Path::new(FIXTURE);
        catalog(root, &root.join(file)).unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn generated_file_with_hashes_and_index() {
        let inv = run("requirements.txt");
        let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            refs,
            [
                "pkg:pypi/colorama@0.4.6",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/python-dateutil@2.9.0.post0",
                "pkg:pypi/python-requirements",
                "pkg:pypi/six@1.17.0",
            ]
        );
        let root = "pkg:pypi/python-requirements";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [root]);
        assert_eq!(inv.get(root).unwrap().kind, ComponentKind::Application);
        assert_eq!(inv.dependencies[root].len(), 4);
        let colorama = inv.get("pkg:pypi/colorama@0.4.6").unwrap();
        assert_eq!(colorama.source.as_deref(), Some("https://pypi.org/simple"));
        assert_eq!(colorama.properties["tollgate:python:marker"], "sys_platform == 'win32'");
        assert_eq!(
            colorama.properties["tollgate:python:hashes"],
            "sha256:08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44 \
             sha256:4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb285fc6"
        );
        assert!(colorama.hashes.is_empty(), "two files, so no single component hash");
        assert!(colorama.found_in.contains("requirements.txt"));
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["requirements.txt"]);
    }

    #[test]
    fn hand_written_file_with_every_line_form() {
        let inv = run("requirements-dev.txt");
        let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            refs,
            [
                "pkg:pypi/click",
                "pkg:pypi/colorama@0.4.6",
                "pkg:pypi/flask-cors@5.0.0",
                "pkg:pypi/iniconfig@2.1.0",
                "pkg:pypi/localpkg",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/pytest",
                "pkg:pypi/python-dateutil@2.9.0.post0",
                "pkg:pypi/python-requirements",
                "pkg:pypi/requests@2.32.3",
                "pkg:pypi/six@1.17.0",
            ]
        );
        assert_eq!(inv.dependencies["pkg:pypi/python-requirements"].len(), 10);
        assert_eq!(
            inv.inputs.keys().collect::<Vec<_>>(),
            ["requirements-dev.txt", "requirements.txt"]
        );

        let ini = inv.get("pkg:pypi/iniconfig@2.1.0").unwrap();
        assert_eq!(ini.hashes.len(), 1);
        assert_eq!(ini.hashes[0].algorithm, HashAlgorithm::Sha256);
        assert_eq!(
            ini.hashes[0].hex,
            "9deba5723312380e77435581c6bf4935c94cbfab9b1ed33ef8d238ea168eb760"
        );
        assert_eq!(ini.source.as_deref(), Some("https://pypi.org/simple"));
        assert!(ini.found_in.contains("requirements-dev.txt"));

        let flask = inv.get("pkg:pypi/flask-cors@5.0.0").unwrap();
        assert_eq!(flask.name, "Flask_Cors");
        assert_eq!(flask.properties["tollgate:python:extras"], "testing");
        assert_eq!(flask.properties["tollgate:python:marker"], "python_version >= \"3.8\"");

        let pytest = inv.get("pkg:pypi/pytest").unwrap();
        assert_eq!(pytest.version, "");
        assert_eq!(pytest.properties["tollgate:python:unpinned"], "true");

        let local = inv.get("pkg:pypi/localpkg").unwrap();
        assert_eq!(local.source.as_deref(), Some("path+./localpkg"));
        assert_eq!(local.properties["tollgate:python:editable"], "true");
        assert!(!local.properties.contains_key("tollgate:python:unpinned"));

        let requests = inv.get("pkg:pypi/requests@2.32.3").unwrap();
        assert!(requests.source.as_deref().unwrap().ends_with("requests-2.32.3-py3-none-any.whl"));
        assert_eq!(
            requests.hashes[0].hex,
            "70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"
        );

        let click = inv.get("pkg:pypi/click").unwrap();
        assert_eq!(click.source.as_deref(), Some("git+https://github.com/pallets/click.git#8.1.7"));
        // The included file's requirements are found in the included file.
        assert!(inv.get("pkg:pypi/six@1.17.0").unwrap().found_in.contains("requirements.txt"));
    }

    #[test]
    fn include_cycles_end() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "requirements-a.txt", "-r requirements-b.txt\nsix==1.17.0\n");
        write(dir.path(), "requirements-b.txt", "-r ./requirements-a.txt\nidna==3.10\n");
        let inv = catalog(dir.path(), &dir.path().join("requirements-a.txt")).unwrap();
        assert_eq!(inv.components.len(), 3);
        assert_eq!(inv.inputs.len(), 2);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, line) in [
            ("six==1.17.0\n\n==1.0\n", 3),
            ("# c\nsix==1.17.0 \\\n  --hash=sha256:abc\n", 2),
            ("six==1.17.0\n--frobnicate\n", 2),
            ("six[extra==1.0\n", 1),
            ("six=>1.0\n", 1),
            ("six==1.0 ;\n", 1),
            ("-r missing.txt\n", 1),
        ] {
            let p = write(dir.path(), "requirements.txt", text);
            let err = catalog(dir.path(), &p).unwrap_err();
            let SbomError::Malformed { place, .. } = &err else { panic!("{text:?}: {err}") };
            assert_eq!(place.line, Some(line), "{text:?}: {err}");
            assert!(place.path.ends_with("requirements.txt"), "{err}");
        }
    }

    #[test]
    fn comments_continuations_and_pins() {
        let text = "\u{feff}# top\r\nA.B_c == 1.0 \\\n    --hash=sha256:9deba5723312380e77435581c6bf4935c94cbfab9b1ed33ef8d238ea168eb760 # c\nd>=1,<2\ne===2.0\nf==1.*\n";
        let lines = logical_lines(text);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].0, 2);
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "requirements.txt", text);
        let inv = catalog(dir.path(), &p).unwrap();
        assert!(inv.get("pkg:pypi/a-b-c@1.0").is_some());
        assert!(inv.get("pkg:pypi/e@2.0").is_some());
        for unpinned in ["pkg:pypi/d", "pkg:pypi/f"] {
            assert_eq!(inv.get(unpinned).unwrap().properties["tollgate:python:unpinned"], "true");
        }
    }
}

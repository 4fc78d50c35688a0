//! The one fixture convention every spec kind follows, and the runner that checks it.
//!
//! A case is a directory `tests/fixtures/<kind>/<group>/<case>/` holding `base.<ext>`,
//! `revision.<ext>`, the kind's extra inputs (jsonschema's `mode`) and `expected.txt`: what the
//! diff reports, one change a line as `<level> <rule> <subject> @ <location>` in the diff's own
//! order, or a single `error: …` line when an input does not load; empty means no change.
//!
//! `<group>` is a rule id without its `<kind>/` prefix, or one of the kind's topics (cases about
//! loading or walking specs rather than one rule). A case's name starts with what it expects of
//! the group's rule: `fail`, `warn` or `info` (reported at that level) or `pass` (not reported
//! at the rule's default level). In a topic the prefix speaks of the whole case: `fail` reports
//! an error, `warn` a warning but no error, `info` only infos, `pass` neither error nor warning.
//!
//! Adding a case is adding a directory: `UPDATE_EXPECT=1 cargo test -p tollgate-contracts`
//! writes every `expected.txt`. Without it a missing or different expectation fails the test,
//! as do a case missing an input, a stray file, an empty group and an empty tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tollgate_contracts::ContractError;
use tollgate_contracts::change::{Change, Level, RuleDoc};

/// What a kind's inputs produce: its changes, or the load error the expectation pins.
pub type Outcome = Result<Vec<Change>, ContractError>;

/// One spec kind: its inputs, how to diff them and the rules its fixtures must cover.
pub struct Kind {
    /// The directory under `tests/fixtures/` and the rule id prefix.
    pub name: &'static str,
    /// Extensions `base` and `revision` may have, in order of preference.
    pub extensions: &'static [&'static str],
    /// Further files every case holds.
    pub extra_inputs: &'static [&'static str],
    /// Diffs one case; `Err` says the case itself is unusable (e.g. an unknown mode).
    pub diff: fn(&Inputs) -> Result<Outcome, String>,
    /// The kind's rule table.
    pub rules: &'static [RuleDoc],
    /// Groups named after no rule.
    pub topics: &'static [&'static str],
    /// Rule ids allowed to lack a group with a reporting and a `pass` case.
    pub uncovered: &'static [&'static str],
}

/// One input file of a case, named as the diff sees it (`base.yaml`).
pub struct Input {
    /// The file name within the case directory.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// Everything a case holds, read before diffing.
pub struct Inputs {
    /// The case directory, for inputs that reference other files.
    pub dir: PathBuf,
    /// The spec before the change.
    pub base: Input,
    /// The spec after the change.
    pub revision: Input,
    /// The kind's extra inputs by file name.
    pub extra: BTreeMap<&'static str, String>,
}

impl Inputs {
    /// The text of one of the kind's extra inputs.
    pub fn extra(&self, name: &str) -> &str {
        &self.extra[name]
    }
}

/// `tests/fixtures/<kind>`.
pub fn root(kind: &Kind) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind.name)
}

/// Runs every case of `kind` and compares it with its expectation; panics listing every failure.
pub fn assert_fixtures(kind: &Kind) {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    if let Err(failures) = run(kind, &root(kind), update) {
        panic!("{} fixtures:\n{failures}", kind.name);
    }
}

/// Checks that `kind`'s cases cover its rules; panics listing every gap.
pub fn assert_coverage(kind: &Kind) {
    if let Err(gaps) = coverage(kind, &root(kind)) {
        panic!("{} rule coverage:\n{gaps}", kind.name);
    }
}

/// Checks `kind`'s rule table: ids unique and prefixed with the kind, every rule described.
pub fn assert_rule_table(kind: &Kind) {
    let prefix = format!("{}/", kind.name);
    let mut seen = BTreeSet::new();
    for rule in kind.rules {
        assert!(rule.id.starts_with(&prefix), "{} lacks the `{prefix}` prefix", rule.id);
        assert!(seen.insert(rule.id), "{} is listed twice", rule.id);
        assert!(!rule.description.is_empty(), "{} has no description", rule.id);
    }
}

/// Runs every case under `root` (a kind's directory); with `update`, writes the expectations.
/// Returns how many cases passed, or every failure, one a line, naming its directory.
pub fn run(kind: &Kind, root: &Path, update: bool) -> Result<usize, String> {
    let mut failures = Vec::new();
    let cases = discover(root, &mut failures);
    for case in &cases {
        if let Err(failure) = run_case(kind, &case.dir, update) {
            failures.push(failure);
        }
    }
    if failures.is_empty() { Ok(cases.len()) } else { Err(failures.join("\n")) }
}

fn run_case(kind: &Kind, dir: &Path, update: bool) -> Result<(), String> {
    let inputs = read_inputs(kind, dir)?;
    let actual = render(&(kind.diff)(&inputs).map_err(|e| format!("{}: {e}", dir.display()))?);
    let path = dir.join("expected.txt");
    if update {
        return std::fs::write(&path, &actual).map_err(|e| format!("{}: {e}", path.display()));
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{}: no expected.txt (UPDATE_EXPECT=1 writes what the diff reports)",
                dir.display()
            ));
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{}:\n--- expected\n{expected}--- actual\n{actual}", dir.display()))
    }
}

/// Reads a case's inputs; a missing one is named in the error.
fn read_inputs(kind: &Kind, dir: &Path) -> Result<Inputs, String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("{}: cannot read {name}: {e}", dir.display()))
    };
    let spec = |stem: &str| {
        let name = find_input(dir, stem, kind.extensions).ok_or_else(|| {
            format!("{}: missing {stem}.{{{}}}", dir.display(), kind.extensions.join(","))
        })?;
        let text = read(&name)?;
        Ok::<_, String>(Input { name, text })
    };
    let mut extra = BTreeMap::new();
    for &name in kind.extra_inputs {
        extra.insert(name, read(name)?);
    }
    Ok(Inputs { dir: dir.to_path_buf(), base: spec("base")?, revision: spec("revision")?, extra })
}

/// The name of `<stem>.<ext>` in `dir` for the first of `extensions` that exists.
pub fn find_input(dir: &Path, stem: &str, extensions: &[&str]) -> Option<String> {
    extensions.iter().map(|ext| format!("{stem}.{ext}")).find(|name| dir.join(name).is_file())
}

/// What `expected.txt` holds for an outcome.
fn render(outcome: &Outcome) -> String {
    match outcome {
        Ok(changes) => changes
            .iter()
            .map(|c| format!("{} {} {} @ {}\n", level_name(c.level), c.rule, c.subject, c.location))
            .collect(),
        Err(e) => format!("error: {e}\n"),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

/// A case directory and where it sits.
struct Case {
    dir: PathBuf,
    group: String,
    name: String,
}

/// The cases under a kind's directory, sorted; layout problems go to `failures`.
fn discover(root: &Path, failures: &mut Vec<String>) -> Vec<Case> {
    let mut cases = Vec::new();
    let groups = match subdirectories(root, failures) {
        Ok(groups) => groups,
        Err(e) => {
            failures.push(format!("{}: cannot read the fixture tree: {e}", root.display()));
            return cases;
        }
    };
    for group in groups {
        let dirs = match subdirectories(&group, failures) {
            Ok(dirs) => dirs,
            Err(e) => {
                failures.push(format!("{}: {e}", group.display()));
                continue;
            }
        };
        if dirs.is_empty() {
            failures.push(format!("{}: a group without case directories", group.display()));
        }
        for dir in dirs {
            cases.push(Case { group: file_name(&group), name: file_name(&dir), dir });
        }
    }
    if cases.is_empty() && failures.is_empty() {
        failures.push(format!("{}: no fixture cases (moved or emptied?)", root.display()));
    }
    cases
}

/// The subdirectories of `dir`, sorted; a file there goes to `failures` (cases are directories).
fn subdirectories(dir: &Path, failures: &mut Vec<String>) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if file_name(&path).starts_with('.') {
            continue;
        }
        if path.is_dir() {
            dirs.push(path);
        } else {
            failures.push(format!("{}: a stray file; cases are directories", path.display()));
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// What a case's name promises.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Promise {
    Reports(Level),
    Pass,
}

fn promise(case: &str) -> Option<Promise> {
    if case.starts_with("pass") {
        return Some(Promise::Pass);
    }
    [Level::Error, Level::Warning, Level::Info]
        .into_iter()
        .find(|&level| case.starts_with(prefix_for(level)))
        .map(Promise::Reports)
}

/// One line of an expectation: the level and rule (`None` for a load error, at `Error`).
fn parse_expected(text: &str) -> Vec<(Level, Option<&str>)> {
    text.lines()
        .filter_map(|line| {
            if line.starts_with("error: ") {
                return Some((Level::Error, None));
            }
            let mut words = line.split(' ');
            let level = match words.next()? {
                "info" => Level::Info,
                "warning" => Level::Warning,
                "error" => Level::Error,
                _ => return None,
            };
            Some((level, words.next()))
        })
        .collect()
}

/// Checks the cases under `root` against `kind`'s rules: each case keeps the promise of its
/// name, each rule is reported by some case and has a group with a reporting and a `pass` case
/// (or is allow-listed in `kind.uncovered`), and every topic and allow-list entry is still used.
pub fn coverage(kind: &Kind, root: &Path) -> Result<(), String> {
    let mut gaps = Vec::new();
    let cases = discover(root, &mut gaps);
    let prefix = format!("{}/", kind.name);
    let rules: BTreeMap<&str, Level> =
        kind.rules.iter().map(|r| (r.id.strip_prefix(&prefix).unwrap_or(r.id), r.level)).collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut promises: BTreeMap<String, BTreeSet<Promise>> = BTreeMap::new();
    let mut texts = Vec::new();
    for case in &cases {
        match std::fs::read_to_string(case.dir.join("expected.txt")) {
            Ok(text) => texts.push((case, text)),
            Err(e) => gaps.push(format!("{}: expected.txt: {e}", case.dir.display())),
        }
    }
    for (case, text) in &texts {
        let lines = parse_expected(text);
        reported.extend(lines.iter().filter_map(|(_, rule)| *rule));
        let label = format!("{}/{}", case.group, case.name);
        let Some(promise) = promise(&case.name) else {
            gaps.push(format!("{label}: the name starts with none of fail, warn, info, pass"));
            continue;
        };
        let problem = if let Some(&default) = rules.get(case.group.as_str()) {
            let id = format!("{prefix}{}", case.group);
            let at = |level| lines.iter().any(|&(l, r)| l == level && r == Some(id.as_str()));
            match promise {
                Promise::Reports(level) if !at(level) => {
                    Some(format!("does not report {id} at {}", level_name(level)))
                }
                Promise::Pass if at(default) => {
                    Some(format!("reports {id} at {}, its default level", level_name(default)))
                }
                _ => None,
            }
        } else if kind.topics.contains(&case.group.as_str()) {
            let worst = lines.iter().map(|&(l, _)| l).max();
            let name = |level: Option<Level>| level.map_or("nothing", level_name);
            match promise {
                Promise::Reports(level) if worst != Some(level) => {
                    Some(format!("reports at worst {}, not {}", name(worst), level_name(level)))
                }
                Promise::Pass if worst > Some(Level::Info) => {
                    Some(format!("reports at {}", name(worst)))
                }
                _ => None,
            }
        } else {
            gaps.push(format!("{}: names no rule and is not a topic", case.group));
            continue;
        };
        if let Some(problem) = problem {
            gaps.push(format!("{label}: {problem}"));
        }
        promises.entry(case.group.clone()).or_default().insert(promise);
    }
    for (&short, &level) in &rules {
        let id = format!("{prefix}{short}");
        if !reported.contains(id.as_str()) {
            gaps.push(format!("{id}: no case reports it"));
        }
        let group = promises.get(short);
        let covered = group
            .is_some_and(|p| p.contains(&Promise::Reports(level)) && p.contains(&Promise::Pass));
        let allowed = kind.uncovered.contains(&id.as_str());
        if !covered && !allowed {
            gaps.push(format!(
                "{short}: needs a `{}*` and a `pass*` case (or an entry in the uncovered list)",
                prefix_for(level)
            ));
        }
        if covered && allowed {
            gaps.push(format!("{id}: covered now, drop it from the uncovered list"));
        }
    }
    for id in kind.uncovered {
        if !kind.rules.iter().any(|r| r.id == *id) {
            gaps.push(format!("{id}: in the uncovered list but not a rule"));
        }
    }
    for topic in kind.topics {
        if !cases.iter().any(|c| c.group == *topic) {
            gaps.push(format!("{topic}: a topic without cases"));
        }
    }
    if gaps.is_empty() { Ok(()) } else { Err(gaps.join("\n")) }
}

fn prefix_for(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warn",
        Level::Error => "fail",
    }
}

/// The runner and the coverage check on a toy kind in temporary trees: every broken layout fails.
#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_contracts::change::rule;

    /// Reports every line of the revision that the base lacks.
    const LINES: Kind = Kind {
        name: "lines",
        extensions: &["lines"],
        extra_inputs: &["mode"],
        diff: lines_added,
        rules: &[rule("lines/line-added", Level::Error, "lines", "both", "A line was added.")],
        topics: &[],
        uncovered: &[],
    };

    fn lines_added(inputs: &Inputs) -> Result<Outcome, String> {
        if inputs.extra("mode").trim() != "strict" {
            return Err(format!("mode: unknown `{}`", inputs.extra("mode").trim()));
        }
        let base: BTreeSet<&str> = inputs.base.text.lines().collect();
        Ok(Ok(inputs
            .revision
            .text
            .lines()
            .filter(|line| !base.contains(line))
            .map(|line| Change {
                rule: "lines/line-added",
                level: Level::Error,
                message: format!("`{line}` was added"),
                subject: line.to_string(),
                location: tollgate_core::Location::file(inputs.revision.name.clone()),
            })
            .collect()))
    }

    const ADDED: &str = "error lines/line-added b @ revision.lines\n";

    /// Writes `files` (name, text) into `root/<case>/`.
    fn case(root: &Path, case: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = root.join(case);
        std::fs::create_dir_all(&dir).expect("create case");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("write fixture");
        }
        dir
    }

    /// A case where the revision adds the line `b`, expecting `expected`.
    fn complete(expected: &str) -> Vec<(&'static str, &str)> {
        vec![
            ("base.lines", "a\n"),
            ("revision.lines", "a\nb\n"),
            ("mode", "strict\n"),
            ("expected.txt", expected),
        ]
    }

    fn without<'a>(name: &str, expected: &'a str) -> Vec<(&'static str, &'a str)> {
        complete(expected).into_iter().filter(|(n, _)| *n != name).collect()
    }

    #[test]
    fn a_complete_tree_passes_and_counts_its_cases() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/fail", &complete(ADDED));
        case(tmp.path(), "line-added/pass", &complete(ADDED));
        std::fs::write(tmp.path().join("line-added/pass/revision.lines"), "a\n").expect("write");
        std::fs::write(tmp.path().join("line-added/pass/expected.txt"), "").expect("write");
        assert_eq!(run(&LINES, tmp.path(), false), Ok(2));
        assert_eq!(coverage(&LINES, tmp.path()), Ok(()));
    }

    #[test]
    fn a_missing_expectation_fails_naming_the_case() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = case(tmp.path(), "line-added/fail", &without("expected.txt", ""));
        let err = run(&LINES, tmp.path(), false).expect_err("no expected.txt");
        assert!(err.contains(&format!("{}: no expected.txt", dir.display())), "{err}");
    }

    #[test]
    fn update_writes_a_missing_expectation() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = case(tmp.path(), "line-added/fail", &without("expected.txt", ""));
        assert_eq!(run(&LINES, tmp.path(), true), Ok(1));
        assert_eq!(std::fs::read_to_string(dir.join("expected.txt")).expect("written"), ADDED);
        assert_eq!(run(&LINES, tmp.path(), false), Ok(1));
    }

    #[test]
    fn a_wrong_expectation_fails_showing_both() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/fail", &complete(""));
        let err = run(&LINES, tmp.path(), false).expect_err("wrong expectation");
        assert!(err.contains("line-added/fail:\n--- expected\n--- actual\nerror"), "{err}");
    }

    #[test]
    fn a_missing_input_fails_naming_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/no-revision", &without("revision.lines", ADDED));
        case(tmp.path(), "line-added/no-mode", &without("mode", ADDED));
        let err = run(&LINES, tmp.path(), false).expect_err("missing inputs");
        assert!(err.contains("no-revision: missing revision.{lines}"), "{err}");
        assert!(err.contains("no-mode: cannot read mode"), "{err}");
    }

    #[test]
    fn an_unusable_extra_input_fails_the_case() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = case(tmp.path(), "line-added/fail", &complete(ADDED));
        std::fs::write(dir.join("mode"), "lenient").expect("write");
        let err = run(&LINES, tmp.path(), true).expect_err("bad mode");
        assert!(err.contains("fail: mode: unknown `lenient`"), "{err}");
    }

    #[test]
    fn an_empty_or_missing_tree_fails() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let err = run(&LINES, tmp.path(), false).expect_err("empty tree");
        assert!(err.contains("no fixture cases"), "{err}");
        let err = run(&LINES, &tmp.path().join("moved"), false).expect_err("missing tree");
        assert!(err.contains("cannot read the fixture tree"), "{err}");
        std::fs::create_dir(tmp.path().join("line-added")).expect("mkdir");
        let err = run(&LINES, tmp.path(), false).expect_err("empty group");
        assert!(err.contains("a group without case directories"), "{err}");
    }

    #[test]
    fn stray_files_fail() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/fail", &complete(ADDED));
        std::fs::write(tmp.path().join("line-added/expected.txt"), ADDED).expect("write");
        let err = run(&LINES, tmp.path(), false).expect_err("stray file");
        assert!(err.contains("line-added/expected.txt: a stray file"), "{err}");
    }

    #[test]
    fn coverage_holds_case_names_to_their_promise() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/fail", &complete(""));
        case(tmp.path(), "line-added/pass", &complete(ADDED));
        case(tmp.path(), "line-added/odd", &complete(""));
        let err = coverage(&LINES, tmp.path()).expect_err("broken promises");
        assert!(
            err.contains("line-added/fail: does not report lines/line-added at error"),
            "{err}"
        );
        assert!(err.contains("line-added/pass: reports lines/line-added at error"), "{err}");
        assert!(err.contains("line-added/odd: the name starts with none of"), "{err}");
    }

    #[test]
    fn coverage_wants_both_sides_of_every_rule() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/fail", &complete(ADDED));
        let err = coverage(&LINES, tmp.path()).expect_err("no pass case");
        assert!(err.contains("line-added: needs a `fail*` and a `pass*` case"), "{err}");
        let allowed = Kind { uncovered: &["lines/line-added"], ..LINES };
        assert_eq!(coverage(&allowed, tmp.path()), Ok(()));
    }

    #[test]
    fn coverage_reports_unknown_groups_and_stale_lists() {
        let tmp = tempfile::tempdir().expect("tempdir");
        case(tmp.path(), "line-added/fail", &complete(ADDED));
        case(tmp.path(), "line-added/pass", &complete(""));
        std::fs::write(tmp.path().join("line-added/pass/revision.lines"), "a\n").expect("write");
        case(tmp.path(), "line-renamed/fail", &complete(ADDED));
        let stale = Kind {
            topics: &["parse"],
            uncovered: &["lines/line-added", "lines/line-removed"],
            ..LINES
        };
        let err = coverage(&stale, tmp.path()).expect_err("stale entries");
        assert!(err.contains("line-renamed: names no rule and is not a topic"), "{err}");
        assert!(err.contains("parse: a topic without cases"), "{err}");
        assert!(err.contains("lines/line-added: covered now"), "{err}");
        assert!(err.contains("lines/line-removed: in the uncovered list but not a rule"), "{err}");
    }
}

//! Generators for the SBOM benchmark inputs, shared by `benches/catalog.rs` and
//! `examples/gen_bench_trees.rs` (which writes the same trees to disk for the side-by-side runs
//! in `benches/compare.sh`).
//!
//! Everything is deterministic for a given seed: no clock, no network, no randomness from the
//! operating system.
//!
//! - [`write_cargo_workspace`] writes a Cargo workspace: workspace members under `crates/` and
//!   path packages under the excluded `vendor/` directory, wired as a DAG of normal, build, dev,
//!   optional, target-specific and renamed dependencies; [`generate_lockfile`] then has Cargo
//!   itself write `Cargo.lock` (`cargo generate-lockfile --offline`: path packages need no
//!   network).
//! - [`write_npm_project`] writes a `package.json` and a lockfileVersion 3 `package-lock.json`
//!   shaped the way npm writes one: hoisted packages with nested `node_modules` duplicates where
//!   versions conflict, scoped packages, `dev` / `optional` / `devOptional` flags computed from
//!   the graph, sha512 `integrity`, registry `resolved` URLs, licences, platform packages
//!   reached through `optionalDependencies`, peer dependencies and two workspace members.

// Each user of this module uses a different part of it.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::process::Command;

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const WORDS: [&str; 40] = [
    "acorn", "amber", "arrow", "atlas", "basil", "beacon", "birch", "bolt", "cinder", "comet",
    "coral", "delta", "ember", "fable", "falcon", "fern", "flint", "frost", "garnet", "glade",
    "harbor", "hazel", "iris", "jasper", "juniper", "kestrel", "lark", "lumen", "maple", "meadow",
    "nimbus", "onyx", "orbit", "pebble", "quartz", "raven", "sable", "tide", "vertex", "willow",
];
const ROLES: [&str; 24] = [
    "async", "buf", "cache", "codec", "config", "crypto", "diff", "encoding", "fmt", "fs", "hash",
    "http", "io", "json", "lexer", "log", "macro", "net", "parse", "pool", "regex", "rpc", "sync",
    "time",
];
const SUFFIXES: [&str; 8] = ["", "-core", "-derive", "-sys", "-utils", "-types", "-impl", "-rt"];

/// `count` distinct lowercase package names, in a shuffled but deterministic order.
fn unique_names(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::with_capacity(count);
    while names.len() < count {
        let name = format!("{}-{}{}", rng.pick(&WORDS), rng.pick(&ROLES), rng.pick(&SUFFIXES));
        if seen.insert(name.clone()) {
            names.push(name);
        } else if seen.len() > WORDS.len() * ROLES.len() * SUFFIXES.len() / 2 {
            // The pool is thin: disambiguate rather than spin.
            let name = format!("{name}-{}", names.len());
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
    }
    names
}

fn write(path: &Path, text: &str) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

// ---------------------------------------------------------------------------------------------
// Cargo.

/// Shape of the generated Cargo workspace.
#[derive(Debug, Clone)]
pub struct CargoSpec {
    /// Workspace members (`crates/<name>`).
    pub members: usize,
    /// Path packages outside the workspace (`vendor/<name>`, excluded).
    pub path_packages: usize,
    /// Seed for names, versions and the dependency graph.
    pub seed: u64,
}

impl Default for CargoSpec {
    fn default() -> CargoSpec {
        CargoSpec { members: 100, path_packages: 1900, seed: 0x5b0a_2000 }
    }
}

/// What [`write_cargo_workspace`] wrote.
#[derive(Debug, Clone, Default)]
pub struct CargoStats {
    /// Packages (members + path packages).
    pub packages: usize,
    /// Workspace members.
    pub members: usize,
    /// Declared dependencies, by kind: normal, build, dev.
    pub edges: [usize; 3],
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CargoDep {
    Normal,
    Optional,
    Target(&'static str),
    Build,
    Dev,
}

struct CargoPackage {
    name: String,
    version: (u64, u64, u64),
    /// Whether it defines an `std` feature others may ask for.
    has_std: bool,
    deps: BTreeMap<usize, CargoDep>,
}

const CARGO_LICENSES: [&str; 9] = [
    "MIT OR Apache-2.0",
    "MIT OR Apache-2.0",
    "MIT OR Apache-2.0",
    "MIT/Apache-2.0",
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "Unlicense OR MIT",
    "Zlib",
];
const TARGETS: [&str; 4] =
    ["cfg(unix)", "cfg(windows)", "cfg(target_os = \"linux\")", "cfg(target_arch = \"wasm32\")"];

/// Writes the workspace (manifests and empty `src/lib.rs` files) under `dir`. Run
/// [`generate_lockfile`] afterwards for `Cargo.lock`.
pub fn write_cargo_workspace(dir: &Path, spec: &CargoSpec) -> io::Result<CargoStats> {
    let mut rng = Rng::new(spec.seed);
    let total = spec.members + spec.path_packages;
    let names = unique_names(&mut rng, total);
    // Indices 0..path_packages are vendored path packages in dependency order; the members come
    // last and may depend on anything before them.
    let mut packages: Vec<CargoPackage> = Vec::with_capacity(total);
    let mut orphans: Vec<usize> = Vec::new(); // packages nothing depends on (yet) normally
    for (i, name) in names.into_iter().enumerate() {
        let is_member = i >= spec.path_packages;
        let version = if is_member {
            (0, 9, 0) // `version.workspace = true`
        } else if rng.chance(30) {
            (1 + rng.below(3) as u64, rng.below(30) as u64, rng.below(20) as u64)
        } else {
            (0, rng.below(30) as u64, rng.below(20) as u64)
        };
        let mut deps: BTreeMap<usize, CargoDep> = BTreeMap::new();
        if i > 0 {
            let wanted = if is_member {
                4 + rng.below(9)
            } else if rng.chance(25) {
                0
            } else {
                1 + rng.below(6)
            };
            // Every package needs a normal dependent to be locked: adopt pending orphans first.
            let adopt = if is_member {
                let members_left = total - i;
                orphans.len().div_ceil(members_left)
            } else {
                usize::from(!orphans.is_empty() && rng.chance(80))
            };
            for _ in 0..adopt {
                if orphans.is_empty() {
                    break;
                }
                let at = rng.below(orphans.len());
                deps.insert(orphans.swap_remove(at), CargoDep::Normal);
            }
            while deps.len() < wanted.min(i) {
                // Popular low-level crates get picked far more often, as on crates.io.
                let to = if rng.chance(40) { rng.below(i.min(60)) } else { rng.below(i) };
                if deps.contains_key(&to) {
                    continue;
                }
                let roll = rng.below(100);
                let kind = match roll {
                    0..=69 => CargoDep::Normal,
                    70..=76 => CargoDep::Optional,
                    77..=82 => CargoDep::Target(TARGETS[rng.below(TARGETS.len())]),
                    83..=90 => CargoDep::Build,
                    // Cargo locks the dev-dependencies of workspace members only.
                    _ if is_member => CargoDep::Dev,
                    _ => CargoDep::Normal,
                };
                deps.insert(to, kind);
            }
        }
        if !is_member {
            orphans.push(i);
        }
        packages.push(CargoPackage { name, version, has_std: rng.chance(60), deps });
    }
    assert!(orphans.is_empty(), "every path package has a dependent");

    // Popular vendored crates are declared once in `[workspace.dependencies]`.
    let shared: BTreeSet<usize> = (0..spec.path_packages.min(40)).collect();
    let mut root = String::from(
        "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\nexclude = [\"vendor\"]\n\n\
         [workspace.package]\nversion = \"0.9.0\"\nedition = \"2021\"\nlicense = \"Apache-2.0\"\n\
         authors = [\"Bench Platform Team <platform@bench.example>\"]\n\
         repository = \"https://git.bench.example/platform/monorepo\"\nrust-version = \"1.82\"\n\n\
         [workspace.dependencies]\n",
    );
    for &i in &shared {
        let p = &packages[i];
        let _ = writeln!(
            root,
            "{} = {{ path = \"vendor/{}\", version = \"{}\" }}",
            p.name,
            p.name,
            requirement(p.version)
        );
    }
    write(&dir.join("Cargo.toml"), &root)?;

    let mut stats = CargoStats { packages: total, members: spec.members, ..CargoStats::default() };
    for (i, p) in packages.iter().enumerate() {
        let is_member = i >= spec.path_packages;
        let own_dir = if is_member {
            dir.join("crates").join(&p.name)
        } else {
            dir.join("vendor").join(&p.name)
        };
        let mut text = String::new();
        let _ = writeln!(text, "[package]\nname = \"{}\"", p.name);
        let description = format!(
            "The {} layer of the {} stack: {} helpers.",
            p.name.split('-').nth(1).unwrap_or("core"),
            p.name.split('-').next().unwrap_or("bench"),
            p.name.replace('-', " ")
        );
        if is_member {
            text.push_str(
                "version.workspace = true\nedition.workspace = true\nlicense.workspace = true\n\
                 authors.workspace = true\nrepository.workspace = true\n\
                 rust-version.workspace = true\npublish = false\n",
            );
            let _ = writeln!(text, "description = \"{description}\"");
        } else {
            let (major, minor, patch) = p.version;
            let _ = writeln!(text, "version = \"{major}.{minor}.{patch}\"\nedition = \"2021\"");
            if rng.chance(4) {
                text.push_str("license-file = \"LICENSE\"\n");
                write(
                    &own_dir.join("LICENSE"),
                    "Copyright (c) the authors. All rights reserved. Internal use only.\n",
                )?;
            } else {
                let _ = writeln!(text, "license = \"{}\"", rng.pick(&CARGO_LICENSES));
            }
            let owner = rng.pick(&WORDS);
            let _ = writeln!(
                text,
                "authors = [\"{} Maintainers <{owner}@example.org>\"]\ndescription = \"\"\"\n{description}\n\"\"\"\nrepository = \"https://github.com/{owner}/{}\"",
                capitalise(owner),
                p.name
            );
            if rng.chance(30) {
                let _ = writeln!(text, "homepage = \"https://{}.example.org\"", p.name);
            }
            let _ = writeln!(
                text,
                "keywords = [\"{}\", \"{}\"]\ncategories = [\"development-tools\"]",
                p.name.split('-').next().unwrap_or("bench"),
                p.name.split('-').nth(1).unwrap_or("core")
            );
        }
        let mut features = String::from("\n[features]\n");
        if p.has_std {
            features.push_str("default = [\"std\"]\nstd = []\n");
        }
        let mut sections: BTreeMap<String, String> = BTreeMap::new();
        for (&to, &kind) in &p.deps {
            let dep = &packages[to];
            let section = match kind {
                CargoDep::Normal | CargoDep::Optional => "dependencies".to_owned(),
                CargoDep::Target(cfg) => format!("target.'{cfg}'.dependencies"),
                CargoDep::Build => "build-dependencies".to_owned(),
                CargoDep::Dev => "dev-dependencies".to_owned(),
            };
            stats.edges[match kind {
                CargoDep::Build => 1,
                CargoDep::Dev => 2,
                _ => 0,
            }] += 1;
            let to_member = to >= spec.path_packages;
            let path = match (is_member, to_member) {
                (true, true) | (false, false) => format!("../{}", dep.name),
                (true, false) => format!("../../vendor/{}", dep.name),
                (false, true) => unreachable!("path packages never depend on members"),
            };
            let mut attrs = Vec::new();
            let mut key = dep.name.clone();
            if is_member && shared.contains(&to) && kind != CargoDep::Optional {
                attrs.push("workspace = true".to_owned());
            } else {
                if rng.chance(5) {
                    // A renamed dependency: the lockfile knows it by its real name.
                    key = format!("{}_{}", dep.name.replace('-', "_"), "renamed");
                    attrs.push(format!("package = \"{}\"", dep.name));
                }
                attrs.push(format!("path = \"{path}\""));
                if !to_member {
                    attrs.push(format!("version = \"{}\"", requirement(dep.version)));
                }
            }
            if dep.has_std && rng.chance(20) && !attrs.iter().any(|a| a.starts_with("workspace")) {
                attrs.push("default-features = false".to_owned());
                attrs.push("features = [\"std\"]".to_owned());
            }
            if kind == CargoDep::Optional {
                attrs.push("optional = true".to_owned());
                let _ = writeln!(features, "{key} = [\"dep:{key}\"]");
            }
            let _ = writeln!(
                sections.entry(section).or_default(),
                "{key} = {{ {} }}",
                attrs.join(", ")
            );
        }
        for (section, body) in &sections {
            let _ = write!(text, "\n[{section}]\n{body}");
        }
        if features.len() > "\n[features]\n".len() {
            text.push_str(&features);
        }
        write(&own_dir.join("Cargo.toml"), &text)?;
        write(&own_dir.join("src/lib.rs"), "")?;
    }
    Ok(stats)
}

fn requirement((major, minor, _): (u64, u64, u64)) -> String {
    format!("{major}.{minor}")
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// Runs `cargo generate-lockfile --offline` in `dir` (the Cargo running the benchmark, when
/// there is one: `$CARGO`).
pub fn generate_lockfile(dir: &Path) -> io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["generate-lockfile", "--offline", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .current_dir(dir)
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "cargo generate-lockfile failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// npm.

/// Shape of the generated npm project.
#[derive(Debug, Clone)]
pub struct NpmSpec {
    /// Installed packages (`node_modules/…` entries, nested duplicates included).
    pub packages: usize,
    /// Share of the installed packages that are nested duplicates, in percent.
    pub nested_percent: usize,
    /// Seed for names, versions and the dependency graph.
    pub seed: u64,
}

impl Default for NpmSpec {
    fn default() -> NpmSpec {
        NpmSpec { packages: 5000, nested_percent: 12, seed: 0x5b0a_5000 }
    }
}

/// What [`write_npm_project`] wrote.
#[derive(Debug, Clone, Default)]
pub struct NpmStats {
    /// Installed packages (`node_modules/…` entries that are not links).
    pub packages: usize,
    /// Of those, nested under another package's `node_modules`.
    pub nested: usize,
    /// Scoped packages (`@scope/name`).
    pub scoped: usize,
    /// Entries flagged `dev`, `optional`, `devOptional`.
    pub flagged: [usize; 3],
    /// Edges (`dependencies`, `optionalDependencies`, `peerDependencies` of installed packages).
    pub edges: usize,
    /// Installed packages nothing reaches from the project (0 unless the generator is broken).
    pub unreachable: usize,
}

const SCOPES: [&str; 10] = [
    "@babel",
    "@types",
    "@aws-sdk",
    "@smithy",
    "@jest",
    "@octokit",
    "@emotion",
    "@radix-ui",
    "@nx",
    "@vitest",
];
const NPM_LICENSES: [&str; 12] = [
    "MIT",
    "MIT",
    "MIT",
    "MIT",
    "MIT",
    "ISC",
    "ISC",
    "Apache-2.0",
    "BSD-3-Clause",
    "BSD-2-Clause",
    "(MIT OR CC0-1.0)",
    "0BSD",
];
const PLATFORMS: [(&str, &str, &str); 6] = [
    ("linux-x64-gnu", "linux", "x64"),
    ("linux-arm64-gnu", "linux", "arm64"),
    ("darwin-x64", "darwin", "x64"),
    ("darwin-arm64", "darwin", "arm64"),
    ("win32-x64-msvc", "win32", "x64"),
    ("freebsd-x64", "freebsd", "x64"),
];

#[derive(Default)]
struct NpmEntry {
    name: String,
    version: (u64, u64, u64),
    /// Index of the top-level name (names are ordered: a package depends on lower ones).
    name_index: usize,
    deps: BTreeSet<String>,
    optional_deps: BTreeSet<String>,
    peer_deps: BTreeSet<String>,
    platform: Option<(&'static str, &'static str)>,
}

/// Writes `package.json`, `package-lock.json` and two workspace members under `dir`.
pub fn write_npm_project(dir: &Path, spec: &NpmSpec) -> io::Result<NpmStats> {
    let mut rng = Rng::new(spec.seed);
    let nested_count = spec.packages * spec.nested_percent / 100;
    let top_count = spec.packages - nested_count;
    // Native packages with per-platform builds reached through `optionalDependencies`.
    let natives = 4.min(top_count / 50);
    let platform_count = natives * PLATFORMS.len();
    let plain_count = top_count - platform_count;

    // Names: platform packages first (leaves), then the rest in dependency order.
    let mut names: Vec<String> = Vec::with_capacity(top_count);
    let mut seen = HashSet::new();
    for family in WORDS.iter().take(natives) {
        for (platform, _, _) in PLATFORMS {
            names.push(format!("@native-{family}/{platform}"));
        }
    }
    while names.len() < top_count {
        let base = format!("{}-{}", rng.pick(&WORDS), rng.pick(&ROLES));
        let name = match rng.below(100) {
            0..=15 => format!("{}/{}", rng.pick(&SCOPES), base),
            16..=30 => format!("{}{}", rng.pick(&WORDS), rng.pick(&["js", "ify", "er", "ly", ""])),
            _ => format!(
                "{base}{}",
                rng.pick(&["", "", "-core", "-plugin", "-loader", "-utils", "-parser"])
            ),
        };
        if seen.insert(name.clone()) {
            names.push(name);
        }
    }

    let mut entries: BTreeMap<String, NpmEntry> = BTreeMap::new();
    let mut top_keys: Vec<String> = Vec::with_capacity(top_count);
    for (i, name) in names.iter().enumerate() {
        let major = if rng.chance(20) { 0 } else { 1 + rng.below(12) as u64 };
        let mut entry = NpmEntry {
            name: name.clone(),
            version: (major, rng.below(25) as u64, rng.below(15) as u64),
            name_index: i,
            ..NpmEntry::default()
        };
        if i < platform_count {
            let (_, os, cpu) = PLATFORMS[i % PLATFORMS.len()];
            entry.platform = Some((os, cpu));
        }
        let key = format!("node_modules/{name}");
        top_keys.push(key.clone());
        entries.insert(key, entry);
    }

    // Nested duplicates: another major of a (popular) package under a package that needs it.
    let mut nested_keys: Vec<String> = Vec::new();
    let mut attempts = 0;
    while nested_keys.len() < nested_count {
        attempts += 1;
        assert!(attempts < nested_count * 100, "cannot place nested packages");
        let n = platform_count
            + if rng.chance(60) {
                rng.below((plain_count / 10).max(1))
            } else {
                rng.below(plain_count)
            };
        // Usually under a top-level package, sometimes one level deeper.
        if n + 1 >= top_count {
            continue;
        }
        let parent = if !nested_keys.is_empty() && rng.chance(15) {
            nested_keys[rng.below(nested_keys.len())].clone()
        } else {
            top_keys[n + 1 + rng.below(top_count - n - 1)].clone()
        };
        let parent_index = entries[&parent].name_index;
        if parent_index <= n || parent_index < platform_count {
            continue;
        }
        let key = format!("{parent}/node_modules/{}", names[n]);
        if entries.contains_key(&key) {
            continue;
        }
        let shadowed = resolve(&entries, &parent, &names[n]).expect("top-level names resolve");
        let other = entries[&shadowed].version.0;
        let major = if other == 0 || rng.chance(60) { other + 1 } else { other - 1 };
        let version = (major, rng.below(25) as u64, rng.below(15) as u64);
        if entries.get_mut(&parent).map(|p| p.deps.insert(names[n].clone())) != Some(true) {
            continue; // it already depends on that name through the top level
        }
        entries.insert(
            key.clone(),
            NpmEntry { name: names[n].clone(), version, name_index: n, ..NpmEntry::default() },
        );
        nested_keys.push(key);
    }

    // Dependencies. Every plain top-level package gets a dependent ("orphans" are adopted).
    // Names are banded: low-level packages everyone uses, run-time libraries, then development
    // tooling (bundlers, test runners, linters) that the project reaches through
    // `devDependencies`.
    let shared_end = platform_count + plain_count * 4 / 10;
    let tooling_start = platform_count + plain_count * 7 / 10;
    // Orphans wait in two pools so that tooling does not adopt run-time libraries.
    let mut pools: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for i in platform_count..top_count {
        let orphans = &mut pools[usize::from(i >= tooling_start)];
        let key = &top_keys[i];
        let wanted = match rng.below(100) {
            0..=34 => 0,
            35..=89 => 1 + rng.below(6),
            _ => 8 + rng.below(20),
        };
        let lower = i - platform_count;
        let mut deps: Vec<String> = Vec::new();
        if lower > 0 {
            let adopt = 1 + usize::from(rng.chance(25));
            for _ in 0..adopt.min(orphans.len()) {
                let at = rng.below(orphans.len());
                let adopted = orphans[at];
                // Adopting through a nested name would reach the duplicate, not the orphan.
                if !entries[key].deps.contains(&names[adopted]) {
                    orphans.swap_remove(at);
                    deps.push(names[adopted].clone());
                }
            }
            for _ in 0..wanted.min(lower) {
                let to = if i > tooling_start && rng.chance(60) {
                    // Build and test tooling mostly depends on other tooling.
                    tooling_start + rng.below(i - tooling_start)
                } else if i >= tooling_start {
                    platform_count + rng.below(shared_end - platform_count)
                } else if rng.chance(50) {
                    platform_count + rng.below(lower.min(80))
                } else {
                    platform_count + rng.below(lower)
                };
                deps.push(names[to].clone());
            }
        }
        orphans.push(i);
        let entry = entries.get_mut(key).expect("top-level entry");
        entry.deps.extend(deps);
        if i >= top_count.saturating_sub(top_count / 5) && rng.chance(4) && lower > 100 {
            let peer = names[platform_count + rng.below(40)].clone();
            if !entry.deps.contains(&peer) {
                entry.peer_deps.insert(peer);
            }
        }
    }
    for key in &nested_keys {
        let n = entries[key].name_index;
        let lower = n.saturating_sub(platform_count);
        let count = if lower == 0 || rng.chance(40) { 0 } else { 1 + rng.below(4) };
        for _ in 0..count.min(lower) {
            let to = platform_count + rng.below(lower);
            let name = names[to].clone();
            entries.get_mut(key).expect("nested entry").deps.insert(name);
        }
    }
    // Native packages: a plain package per native family pulls its platform builds optionally.
    for n in 0..natives {
        let holder = top_keys[platform_count + plain_count / 3 + n * 7].clone();
        let entry = entries.get_mut(&holder).expect("holder");
        for p in 0..PLATFORMS.len() {
            entry.optional_deps.insert(names[n * PLATFORMS.len() + p].clone());
        }
    }

    // The project and its workspace members.
    let mut root_prod: BTreeSet<String> = BTreeSet::new();
    let mut root_dev: BTreeSet<String> = BTreeSet::new();
    let mut root_optional: BTreeSet<String> = BTreeSet::new();
    // Optional run-time extras: the last run-time packages, which nothing else requires.
    let extras = tooling_start - 3..tooling_start;
    root_optional.extend(extras.clone().map(|i| names[i].clone()));
    pools[0].retain(|o| !extras.contains(o));
    root_prod.extend(pools[0].iter().map(|&o| names[o].clone()));
    root_dev.extend(pools[1].iter().map(|&o| names[o].clone()));
    for _ in 0..30 {
        root_prod.insert(names[extras.start - 1 - rng.below(plain_count / 5)].clone());
    }
    for _ in 0..40 {
        let name = names[top_count - 1 - rng.below(plain_count / 5)].clone();
        if !root_prod.contains(&name) {
            root_dev.insert(name);
        }
    }
    let members: Vec<(String, BTreeSet<String>, BTreeSet<String>)> = (0..2)
        .map(|m| {
            let name = format!("@bench/{}", ["web", "server"][m]);
            let mut prod = BTreeSet::new();
            let mut dev = BTreeSet::new();
            for _ in 0..6 {
                prod.insert(
                    names[platform_count + rng.below(extras.start - platform_count)].clone(),
                );
            }
            for _ in 0..3 {
                let name = names[tooling_start + rng.below(top_count - tooling_start)].clone();
                if !prod.contains(&name) {
                    dev.insert(name);
                }
            }
            (name, prod, dev)
        })
        .collect();

    // npm's flags: reachability from the project through normal, optional and dev edges.
    let edges_of = |key: &str, optional: bool| -> Vec<String> {
        let e = &entries[key];
        let names: Vec<&String> = if optional {
            e.optional_deps.iter().collect()
        } else {
            e.deps.iter().chain(&e.peer_deps).collect()
        };
        names.into_iter().filter_map(|n| resolve(&entries, key, n)).collect()
    };
    let reach = |starts: Vec<String>, with_optional: bool| -> HashSet<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack = starts;
        while let Some(key) = stack.pop() {
            if !seen.insert(key.clone()) {
                continue;
            }
            stack.extend(edges_of(&key, false));
            if with_optional {
                stack.extend(edges_of(&key, true));
            }
        }
        seen
    };
    let from_root = |set: &BTreeSet<String>| -> Vec<String> {
        set.iter().filter_map(|n| resolve(&entries, "", n)).collect()
    };
    let tree = &entries;
    let member_prod: Vec<String> = members
        .iter()
        .flat_map(|(m, prod, _)| {
            let folder = member_folder(m);
            prod.iter().filter_map(move |n| resolve(tree, &folder, n)).collect::<Vec<_>>()
        })
        .collect();
    let member_dev: Vec<String> = members
        .iter()
        .flat_map(|(m, _, dev)| {
            let folder = member_folder(m);
            dev.iter().filter_map(move |n| resolve(tree, &folder, n)).collect::<Vec<_>>()
        })
        .collect();
    let prod_starts: Vec<String> = from_root(&root_prod).into_iter().chain(member_prod).collect();
    let dev_starts: Vec<String> = from_root(&root_dev).into_iter().chain(member_dev).collect();
    let prod_only = reach(prod_starts.clone(), false);
    let non_dev = reach(prod_starts.into_iter().chain(from_root(&root_optional)).collect(), true);
    let dev_normal = reach(dev_starts.clone(), false);
    let dev_all = reach(dev_starts, true);

    let mut stats = NpmStats {
        packages: entries.len(),
        nested: nested_keys.len(),
        scoped: entries.values().filter(|e| e.name.starts_with('@')).count(),
        ..NpmStats::default()
    };
    let mut packages = Map::new();
    let root_license = "UNLICENSED";
    let mut root_entry = json!({
        "name": "bench-app",
        "version": "1.0.0",
        "license": root_license,
        "workspaces": ["packages/*"],
    });
    let range_map = |from: &str, set: &BTreeSet<String>, rng: &mut Rng| -> Value {
        let mut m = Map::new();
        for n in set {
            let version = resolve(&entries, from, n).map_or((1, 0, 0), |k| entries[&k].version);
            m.insert(n.clone(), range(version, rng).into());
        }
        Value::Object(m)
    };
    let mut manifest_ranges: Vec<(&str, Value)> = Vec::new();
    for (field, set) in [
        ("dependencies", &root_prod),
        ("devDependencies", &root_dev),
        ("optionalDependencies", &root_optional),
    ] {
        if !set.is_empty() {
            let ranges = range_map("", set, &mut rng);
            root_entry[field] = ranges.clone();
            manifest_ranges.push((field, ranges));
        }
    }
    packages.insert(String::new(), root_entry);
    let mut member_manifests = Vec::new();
    for (name, prod, dev) in &members {
        let folder = member_folder(name);
        let mut entry = json!({ "name": name, "version": "1.0.0", "license": root_license });
        let mut manifest =
            json!({ "name": name, "version": "1.0.0", "private": true, "license": root_license });
        for (field, set) in [("dependencies", prod), ("devDependencies", dev)] {
            if !set.is_empty() {
                let ranges = range_map(&folder, set, &mut rng);
                entry[field] = ranges.clone();
                manifest[field] = ranges;
            }
        }
        packages.insert(folder.clone(), entry);
        packages
            .insert(format!("node_modules/{name}"), json!({ "resolved": folder, "link": true }));
        member_manifests.push((folder, manifest));
    }
    for (key, e) in &entries {
        let (major, minor, patch) = e.version;
        let version = format!("{major}.{minor}.{patch}");
        let base = e.name.rsplit('/').next().unwrap_or(&e.name);
        let mut o = Map::new();
        o.insert("version".into(), version.clone().into());
        o.insert(
            "resolved".into(),
            format!("https://registry.npmjs.org/{}/-/{base}-{version}.tgz", e.name).into(),
        );
        let digest = Sha512::digest(format!("{}@{version}", e.name).as_bytes());
        o.insert(
            "integrity".into(),
            format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(digest)).into(),
        );
        let (in_prod, in_non_dev) = (prod_only.contains(key), non_dev.contains(key));
        if !in_non_dev && !dev_all.contains(key) {
            stats.unreachable += 1;
        }
        if !in_prod {
            if !in_non_dev {
                o.insert("dev".into(), true.into());
                stats.flagged[0] += 1;
                if !dev_normal.contains(key) && dev_all.contains(key) {
                    o.insert("optional".into(), true.into());
                }
            } else if dev_normal.contains(key) {
                o.insert("devOptional".into(), true.into());
                stats.flagged[2] += 1;
            } else {
                o.insert("optional".into(), true.into());
                stats.flagged[1] += 1;
            }
        }
        if rng.chance(97) {
            o.insert("license".into(), (*rng.pick(&NPM_LICENSES)).into());
        }
        for (field, set) in [("dependencies", &e.deps), ("optionalDependencies", &e.optional_deps)]
        {
            if !set.is_empty() {
                o.insert(field.into(), range_map(key, set, &mut rng));
                stats.edges += set.len();
            }
        }
        if !e.peer_deps.is_empty() {
            o.insert("peerDependencies".into(), range_map(key, &e.peer_deps, &mut rng));
            stats.edges += e.peer_deps.len();
        }
        if let Some((os, cpu)) = e.platform {
            o.insert("os".into(), json!([os]));
            o.insert("cpu".into(), json!([cpu]));
            o.insert("engines".into(), json!({ "node": ">= 10" }));
        } else if rng.chance(40) {
            o.insert("engines".into(), json!({ "node": format!(">={}", 6 + rng.below(14)) }));
        }
        if rng.chance(6) {
            o.insert("bin".into(), json!({ base: format!("bin/{base}.js") }));
        }
        if rng.chance(10) {
            o.insert(
                "funding".into(),
                json!({ "url": format!("https://github.com/sponsors/{base}") }),
            );
        }
        if rng.chance(2) {
            o.insert("hasInstallScript".into(), true.into());
        }
        if rng.chance(1) {
            o.insert("deprecated".into(), "This version is no longer supported.".into());
        }
        packages.insert(key.clone(), Value::Object(o));
    }
    let lock = json!({
        "name": "bench-app",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": true,
        "packages": packages,
    });
    let mut manifest = json!({
        "name": "bench-app",
        "version": "1.0.0",
        "private": true,
        "license": root_license,
        "workspaces": ["packages/*"],
    });
    for (field, ranges) in manifest_ranges {
        manifest[field] = ranges;
    }
    write(&dir.join("package-lock.json"), &pretty(&lock))?;
    write(&dir.join("package.json"), &pretty(&manifest))?;
    for (folder, manifest) in member_manifests {
        write(&dir.join(folder).join("package.json"), &pretty(&manifest))?;
    }
    Ok(stats)
}

fn member_folder(name: &str) -> String {
    format!("packages/{}", name.rsplit('/').next().unwrap_or(name))
}

/// Node's resolution of `name` from the package installed at `from` (`""` for the project).
fn resolve(entries: &BTreeMap<String, NpmEntry>, from: &str, name: &str) -> Option<String> {
    let mut dir = from.to_owned();
    loop {
        let candidate = if dir.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{dir}/node_modules/{name}")
        };
        if entries.contains_key(&candidate) {
            return Some(candidate);
        }
        if dir.is_empty() {
            return None;
        }
        // Up one package: strip the last `node_modules/<name>` (or a folder like `packages/x`).
        dir = match dir.rfind("/node_modules/") {
            Some(i) => dir[..i].to_owned(),
            None => String::new(),
        };
    }
}

/// A range the version satisfies, in the styles package authors write.
fn range((major, minor, patch): (u64, u64, u64), rng: &mut Rng) -> String {
    match rng.below(100) {
        0..=74 => format!("^{major}.{minor}.0"),
        75..=84 => format!("~{major}.{minor}.{patch}"),
        85..=94 => format!("{major}.{minor}.{patch}"),
        _ => format!(">={major}.{minor}.0 <{}", major + 1),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------------
// pnpm.

/// Writes `package.json` and a lockfileVersion 9.0 `pnpm-lock.yaml` under `dir` the way pnpm 9
/// writes one: `packages` entries with flow-mapping `resolution` and `engines`, `snapshots` with
/// block `dependencies`; every package is a direct dependency of the root, each of them also
/// depends on up to three earlier ones. Returns the number of packages. Wide, never deep: the
/// file grows with `packages` while its nesting stays at four levels.
pub fn write_pnpm_project(dir: &Path, packages: usize, seed: u64) -> io::Result<usize> {
    let mut rng = Rng::new(seed);
    let names = unique_names(&mut rng, packages);
    let versions: Vec<String> = names
        .iter()
        .map(|_| format!("{}.{}.{}", rng.below(20), rng.below(30), rng.below(10)))
        .collect();
    let mut manifest = Map::new();
    let mut lock = String::from(
        "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .:\n    dependencies:\n",
    );
    for (name, version) in names.iter().zip(&versions) {
        manifest.insert(name.clone(), Value::String(format!("^{version}")));
        let _ = write!(
            lock,
            "      {name}:\n        specifier: ^{version}\n        version: {version}\n"
        );
    }
    lock.push_str("\npackages:\n\n");
    for (name, version) in names.iter().zip(&versions) {
        let digest = Sha512::digest(format!("{name}@{version}"));
        let integrity = base64::engine::general_purpose::STANDARD.encode(digest);
        let _ = write!(
            lock,
            "  {name}@{version}:\n    resolution: {{integrity: sha512-{integrity}}}\n    engines: {{node: '>={}'}}\n\n",
            rng.below(20)
        );
    }
    lock.push_str("snapshots:\n\n");
    for (i, (name, version)) in names.iter().zip(&versions).enumerate() {
        let _ = write!(lock, "  {name}@{version}:");
        let deps: BTreeSet<usize> = (0..3.min(i)).map(|_| rng.below(i)).collect();
        if deps.is_empty() {
            lock.push_str(" {}\n\n");
            continue;
        }
        lock.push_str("\n    dependencies:\n");
        for d in deps {
            let _ = writeln!(lock, "      {}: {}", names[d], versions[d]);
        }
        lock.push('\n');
    }
    let package = json!({
        "name": "pnpm-bench",
        "version": "1.0.0",
        "private": true,
        "dependencies": Value::Object(manifest),
    });
    write(&dir.join("package.json"), &pretty(&package))?;
    write(&dir.join("pnpm-lock.yaml"), &lock)?;
    Ok(names.len())
}

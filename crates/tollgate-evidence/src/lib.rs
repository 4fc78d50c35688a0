//! Evidence bundles: every file of a release run directory in one reproducible `.tar.gz`, with
//! a hash manifest (`manifest.json`) signed as a DSSE envelope (`manifest.dsse.json`).
//!
//! Archive layout: `manifest.json` first, `manifest.dsse.json` second, then the run directory's
//! directories and files in sorted order at their paths relative to the run directory. Entries
//! have mtime `SOURCE_DATE_EPOCH` (or 0), uid/gid 0, empty owner names, mode 0644 (files) or
//! 0755 (directories); the gzip header carries no file name and no mtime. The same inputs give
//! a byte-identical archive.
//!
//! [`verify`] reads the archive once, streaming: the signature over the manifest first, then
//! every file's size, SHA-256 and SHA-512 as it passes; unsafe paths, links and special files
//! are rejected. Bundles are `.tar.gz` (`.tgz`) or `.tar.zst` (`.tzst`), chosen by file name.
//!
//! **Architecture invariant:** no printing; files are streamed, never loaded whole (only the
//! manifest and its envelope are read into memory, capped at [`MAX_MANIFEST_BYTES`]).

pub mod controls;
mod error;
pub mod git_range;
pub mod github;
pub mod gitlab;
mod hasher;
pub mod oscal;
pub mod publish;
pub mod report;

pub use controls::{
    CatalogCoverage, ControlCoverage, Coverage, EvidenceKind, Mapping, classify, coverage,
};
pub use error::EvidenceError;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tollgate_attest::dsse::{self, Envelope};
use tollgate_attest::keys::{SigningKey, VerifyingKey};

use hasher::{Hasher, Sha256Writer};

/// The manifest's file name in the archive.
pub const MANIFEST: &str = "manifest.json";
/// The DSSE envelope over the manifest, in the archive.
pub const MANIFEST_DSSE: &str = "manifest.dsse.json";
/// The DSSE payload type of the manifest.
pub const PAYLOAD_TYPE: &str = "application/vnd.tollgate.evidence-manifest+json";
/// The manifest schema version this crate writes and reads.
pub const SCHEMA_VERSION: &str = "2";
/// The largest manifest or envelope accepted when reading a bundle.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// Which release run this is the evidence of.
    pub release: ReleaseIdentity,
    /// Who and what produced the bundle, and with which configuration and policy set.
    pub producer: Producer,
    /// The control catalogs the files were mapped to (ids, in order).
    pub catalogs: Vec<String>,
    /// Every file, sorted by path.
    pub files: Vec<FileEntry>,
}

/// What produced a bundle: the tool, and digests of the inputs that decided its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Producer {
    /// The tool and its version.
    pub tool: Tool,
    /// SHA-256 of the effective configuration (`tollgate.toml` over the defaults), serialized
    /// as compact JSON with keys in declaration order and maps sorted.
    pub config_sha256: String,
    /// SHA-256 of the policy set: the catalogs in use and the kind → control mapping, plus
    /// the path and SHA-256 of every file of the repository's `policies/` directory
    /// ([`controls::Mapping::policy_json`]).
    pub policy_sha256: String,
    /// The `policies/` files in the policy set (path relative to the repository root, SHA-256),
    /// sorted by path; empty when the repository has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyFile>,
}

/// One policy file in the policy set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    /// Path relative to the repository root (`policies/release.rego`).
    pub path: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// The release run a bundle is the evidence of (from `release.json` when present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseIdentity {
    /// The run id (`release.json` `runId`, else the run directory's name).
    pub run_id: String,
    /// When the run started (RFC 3339), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// `go` or `no-go`, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// The tool that built the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `tollgate`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Path in the archive (relative, `/`-separated).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Lowercase hex SHA-512.
    pub sha512: String,
    /// IANA media type guessed from the name.
    pub media_type: String,
    /// What the file is evidence of ([`classify`]; `export` for generated documents).
    pub kind: EvidenceKind,
    /// The qualified control ids it supports (`soc2:CC8.1`), sorted by catalog (in the
    /// shipped order) then naturally by control id ([`controls::qualified_cmp`]).
    pub controls: Vec<String>,
}

impl Manifest {
    /// The manifest as it is written and signed: pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Total size of the files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The coverage of the manifest's catalogs by its files' recorded controls.
    pub fn coverage(&self) -> Coverage {
        controls::coverage_of(
            &self.catalogs,
            self.files.iter().map(|f| (f.path.as_str(), f.controls.as_slice())),
        )
    }
}

/// What [`build`] wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The signed manifest.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
    /// SHA-256 of the archive.
    pub archive_sha256: String,
}

/// What [`verify`] checked, and [`show`] read.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
}

/// The entry mtime: `SOURCE_DATE_EPOCH` when set, else 0.
pub fn source_date_epoch() -> Result<u64, EvidenceError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => {
            value.trim().parse::<u64>().map_err(|_| EvidenceError::SourceDateEpoch { value })
        }
        Err(_) => Ok(0),
    }
}

/// A bundle's compression, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.tar.gz` / `.tgz`: gzip (no file name, mtime 0 in the header).
    TarGz,
    /// `.tar.zst` / `.tzst`: zstd level 3 with a content checksum.
    TarZst,
}

/// The format `path`'s name says (`.tar.gz`, `.tgz`, `.tar.zst`, `.tzst`).
pub fn format_of(path: &Path) -> Result<Format, EvidenceError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Ok(Format::TarGz)
    } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
        Ok(Format::TarZst)
    } else {
        Err(EvidenceError::UnsupportedFormat { path: path.to_owned() })
    }
}

enum Compressor<W: Write> {
    Gz(flate2::write::GzEncoder<W>),
    Zst(zstd::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    fn new(format: Format, writer: W) -> std::io::Result<Self> {
        Ok(match format {
            Format::TarGz => Compressor::Gz(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(writer, Compression::default()),
            ),
            Format::TarZst => {
                let mut encoder = zstd::Encoder::new(writer, 3)?;
                encoder.include_checksum(true)?;
                Compressor::Zst(encoder)
            }
        })
    }

    fn finish(self) -> std::io::Result<W> {
        match self {
            Compressor::Gz(e) => e.finish(),
            Compressor::Zst(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Compressor::Gz(e) => e.write(buf),
            Compressor::Zst(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Compressor::Gz(e) => e.flush(),
            Compressor::Zst(e) => e.flush(),
        }
    }
}

enum Decompressor {
    Gz(flate2::bufread::GzDecoder<BufReader<File>>),
    Zst(zstd::Decoder<'static, BufReader<File>>),
}

impl Read for Decompressor {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Decompressor::Gz(d) => d.read(buf),
            Decompressor::Zst(d) => d.read(buf),
        }
    }
}

/// An archive entry: its path and where its bytes come from.
struct Item {
    name: String,
    source: Source,
}

enum Source {
    Dir,
    Disk(PathBuf),
    Generated(Vec<u8>),
}

/// Walks `dir` depth-first, entries of each directory sorted by name (bytes).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<Item>) -> Result<(), EvidenceError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| EvidenceError::io(dir, e))? {
        let entry = entry.map_err(|e| EvidenceError::io(dir, e))?;
        entries.push(entry);
    }
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(EvidenceError::RunDir {
                path,
                message: "file name is not UTF-8; it cannot be named in the manifest".into(),
            });
        };
        if name.contains('\\') {
            return Err(EvidenceError::RunDir { path, message: "file name contains '\\'".into() });
        }
        let archive_name = format!("{prefix}{name}");
        if prefix.is_empty() && (name == MANIFEST || name == MANIFEST_DSSE) {
            return Err(EvidenceError::RunDir {
                path,
                message: format!("{name} is reserved for the bundle's own manifest"),
            });
        }
        let meta = std::fs::symlink_metadata(&path).map_err(|e| EvidenceError::io(&path, e))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            out.push(Item { name: archive_name.clone(), source: Source::Dir });
            walk(&path, &format!("{archive_name}/"), out)?;
        } else if kind.is_file() {
            out.push(Item { name: archive_name, source: Source::Disk(path) });
        } else {
            return Err(EvidenceError::RunDir {
                path,
                message: "is a symbolic link or special file; bundles hold regular files only"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Size, SHA-256 and SHA-512 of the file at `path`.
fn hash_file(hasher: &mut Hasher, path: &Path) -> Result<(u64, String, String), EvidenceError> {
    let mut file = File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    hasher.hash(&mut file).map_err(|e| EvidenceError::io(path, e))
}

/// SHA-256 of the file at `path` (lowercase hex).
fn sha256_file(path: &Path) -> Result<String, EvidenceError> {
    let file = File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    let mut writer = Sha256Writer::new(std::io::sink());
    std::io::copy(&mut BufReader::with_capacity(hasher::CHUNK, file), &mut writer)
        .map_err(|e| EvidenceError::io(path, e))?;
    Ok(writer.finish())
}

/// The media type for an archive path.
pub fn media_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ends = |s: &str| name.ends_with(s);
    if ends(".sigstore.json") {
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    } else if ends(".dsse.json") {
        "application/vnd.dsse.envelope.v1+json"
    } else if name.starts_with("cyclonedx") && ends(".json") {
        "application/vnd.cyclonedx+json"
    } else if name.starts_with("spdx") && ends(".json") {
        "application/spdx+json"
    } else if ends(".sarif") || ends(".sarif.json") {
        "application/sarif+json"
    } else if ends(".json") {
        "application/json"
    } else if ends(".xml") {
        "application/xml"
    } else if ends(".pub") || ends(".pem") {
        "application/x-pem-file"
    } else if ends(".md") {
        "text/markdown"
    } else if ends(".html") {
        "text/html"
    } else if ends(".txt") || ends(".log") {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

fn release_identity(run_dir: &Path) -> Result<ReleaseIdentity, EvidenceError> {
    let fallback = run_dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let path = run_dir.join("release.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ReleaseIdentity { run_id: fallback, started: None, verdict: None });
        }
        Err(e) => return Err(EvidenceError::io(path, e)),
    };
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| EvidenceError::RunDir {
            path: path.clone(),
            message: format!("not JSON: line {}, column {}: {e}", e.line(), e.column()),
        })?;
    let field = |name: &str| doc.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(ReleaseIdentity {
        run_id: field("runId").unwrap_or(fallback),
        started: field("started"),
        verdict: field("verdict"),
    })
}

fn header(kind: tar::EntryType, size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// A document [`build`] generates into the bundle (OSCAL, GitLab release evidence, the HTML
/// report): its archive path and the function that makes its bytes from the [`Generation`].
/// It is listed in the manifest like every file, with kind `export`. Adding one is a line:
/// `BuildOptions::new(version).document(GeneratedDocument::new("report.html", render))` with
/// `render: fn(&Generation<'_>) -> Result<Vec<u8>, EvidenceError>`.
pub struct GeneratedDocument {
    /// Path in the archive (relative, `/`-separated); must not exist in the run directory.
    pub path: String,
    generate: Box<GenerateFn>,
}

type GenerateFn = dyn Fn(&Generation<'_>) -> Result<Vec<u8>, EvidenceError> + Send + Sync;

impl GeneratedDocument {
    /// A document at `path` made by `generate`, which must be deterministic (same
    /// [`Generation`], same bytes).
    pub fn new(
        path: impl Into<String>,
        generate: impl Fn(&Generation<'_>) -> Result<Vec<u8>, EvidenceError> + Send + Sync + 'static,
    ) -> Self {
        GeneratedDocument { path: path.into(), generate: Box::new(generate) }
    }

    /// The documents every bundle carries: [`oscal::ASSESSMENT_RESULTS`],
    /// [`gitlab::RELEASE_EVIDENCE`] and [`report::REPORT_HTML`].
    pub fn defaults() -> Vec<GeneratedDocument> {
        vec![
            GeneratedDocument::new(report::REPORT_HTML, report::generate),
            GeneratedDocument::new(oscal::ASSESSMENT_RESULTS, oscal::generate),
            GeneratedDocument::new(gitlab::RELEASE_EVIDENCE, gitlab::generate),
        ]
    }
}

/// What a [`GeneratedDocument`] is made from: the run directory and what the manifest says of
/// its files. Generated documents do not see each other.
#[derive(Debug, Clone, Copy)]
pub struct Generation<'a> {
    /// The run directory being bundled (generators may read its files).
    pub run_dir: &'a Path,
    /// The release identity.
    pub release: &'a ReleaseIdentity,
    /// The producer block of the manifest.
    pub producer: &'a Producer,
    /// The run directory's files (not the generated documents), sorted by path.
    pub files: &'a [FileEntry],
    /// The mapping in use.
    pub mapping: &'a Mapping,
    /// Coverage of the mapping's catalogs by `files`.
    pub coverage: &'a Coverage,
    /// The bundle's timestamp: `SOURCE_DATE_EPOCH` or 0 (seconds since the Unix epoch).
    pub source_date_epoch: u64,
}

/// How [`build`] bundles: the tool version for the manifest, the effective configuration
/// (its `[evidence]` section decides the mapping; the whole of it is digested into the
/// manifest), the repository's `policies/` directory, and the generated documents.
pub struct BuildOptions {
    /// Recorded as the producer's tool version.
    pub tool_version: String,
    /// The effective configuration.
    pub config: tollgate_core::Config,
    /// The configuration file, to name it in errors (default `tollgate.toml`).
    pub config_path: PathBuf,
    /// A `policies/` directory whose files join the policy set digest (`None`: no policies).
    pub policies_dir: Option<PathBuf>,
    /// Documents generated into the bundle (default: [`GeneratedDocument::defaults`]).
    pub documents: Vec<GeneratedDocument>,
}

impl BuildOptions {
    /// Default configuration, no policies, the default generated documents.
    pub fn new(tool_version: impl Into<String>) -> Self {
        BuildOptions {
            tool_version: tool_version.into(),
            config: tollgate_core::Config::default(),
            config_path: PathBuf::from(tollgate_core::config::CONFIG_FILE),
            policies_dir: None,
            documents: GeneratedDocument::defaults(),
        }
    }

    /// Uses `config`, loaded from `path` (named in mapping errors).
    pub fn config(mut self, config: tollgate_core::Config, path: impl Into<PathBuf>) -> Self {
        self.config = config;
        self.config_path = path.into();
        self
    }

    /// Digests every file under `dir` into the policy set, when `dir` is a directory (paths
    /// are recorded as `<dir name>/<path in dir>`, e.g. `policies/release.rego`).
    pub fn policies_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.policies_dir = Some(dir.into());
        self
    }

    /// Adds a generated document, replacing a default one at the same path (e.g. a custom
    /// `report.html`).
    pub fn document(mut self, document: GeneratedDocument) -> Self {
        self.documents.retain(|d| d.path != document.path);
        self.documents.push(document);
        self
    }
}

/// Lets callers that only know the tool version pass it alone (the signature `build` had
/// before it took options): default configuration and mapping, default documents.
impl From<&str> for BuildOptions {
    /// [`BuildOptions::new`] with this tool version.
    fn from(tool_version: &str) -> Self {
        BuildOptions::new(tool_version)
    }
}

/// The policy files under `dir`, as (path relative to `dir`'s parent, SHA-256), sorted.
fn policy_files(dir: &Path) -> Result<Vec<PolicyFile>, EvidenceError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let prefix = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut items = Vec::new();
    walk(dir, &format!("{prefix}/"), &mut items)?;
    let mut files = Vec::new();
    for item in items {
        if let Source::Disk(path) = &item.source {
            let sha256 = sha256_file(path)?;
            files.push(PolicyFile { path: item.name, sha256 });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Bundles the run directory `run_dir` into `output` (`.tar.gz` or `.tar.zst`), signing the
/// manifest with `key`. Every file gets its evidence kind and controls from the mapping of
/// `options.config`; the generated documents are added (kind `export`). The archive is
/// written to a temporary file next to `output` and renamed into place.
pub fn build(
    run_dir: &Path,
    key: &SigningKey,
    output: &Path,
    options: impl Into<BuildOptions>,
) -> Result<Built, EvidenceError> {
    let options = options.into();
    let format = format_of(output)?;
    let mtime = source_date_epoch()?;
    let mapping = Mapping::from_config(&options.config.evidence, &options.config_path)?;
    let meta = std::fs::metadata(run_dir).map_err(|e| EvidenceError::io(run_dir, e))?;
    if !meta.is_dir() {
        return Err(EvidenceError::RunDir {
            path: run_dir.to_owned(),
            message: "not a directory".into(),
        });
    }
    let mut items = Vec::new();
    walk(run_dir, "", &mut items)?;
    for document in &options.documents {
        if let Some(item) = items.iter().find(|i| {
            i.name == document.path
                || (document.path.starts_with(&format!("{}/", i.name))
                    && !matches!(i.source, Source::Dir))
        }) {
            return Err(EvidenceError::RunDir {
                path: run_dir.join(&item.name),
                message: format!(
                    "{} is reserved for the bundle's generated {}",
                    item.name, document.path
                ),
            });
        }
    }
    let mut hasher = Hasher::new().map_err(|e| EvidenceError::io(run_dir, e))?;
    let mut files = Vec::new();
    for item in &items {
        if let Source::Disk(disk) = &item.source {
            let (size, sha256, sha512) = hash_file(&mut hasher, disk)?;
            let kind = classify(&item.name);
            files.push(FileEntry {
                path: item.name.clone(),
                size,
                sha256,
                sha512,
                media_type: media_type(&item.name).to_owned(),
                kind,
                controls: mapping.controls(kind).to_vec(),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let policies = match &options.policies_dir {
        Some(dir) => policy_files(dir)?,
        None => Vec::new(),
    };
    let policy_digests: Vec<(String, String)> =
        policies.iter().map(|p| (p.path.clone(), p.sha256.clone())).collect();
    let config_json = serde_json::to_vec(&options.config).unwrap_or_default();
    let producer = Producer {
        tool: Tool { name: "tollgate".to_owned(), version: options.tool_version.clone() },
        config_sha256: hex::encode(Sha256::digest(&config_json)),
        policy_sha256: mapping.policy_sha256(&policy_digests),
        policies,
    };
    let release = release_identity(run_dir)?;
    let coverage = controls::coverage_of(
        &mapping.catalogs,
        files.iter().map(|f| (f.path.as_str(), f.controls.as_slice())),
    );
    let generation = Generation {
        run_dir,
        release: &release,
        producer: &producer,
        files: &files,
        mapping: &mapping,
        coverage: &coverage,
        source_date_epoch: mtime,
    };
    let mut generated = Vec::new();
    for document in &options.documents {
        let bytes = (document.generate)(&generation)?;
        let hashes =
            hasher.hash(&mut bytes.as_slice()).map_err(|e| EvidenceError::io(&document.path, e))?;
        generated.push((document.path.clone(), bytes, hashes));
    }
    for (path, bytes, (size, sha256, sha512)) in generated {
        // Each parent directory is an entry of its own, as for the run directory's files.
        for (end, _) in path.match_indices('/') {
            let dir = &path[..end];
            if !items.iter().any(|i| i.name == dir) {
                items.push(Item { name: dir.to_owned(), source: Source::Dir });
            }
        }
        files.push(FileEntry {
            path: path.clone(),
            size,
            sha256,
            sha512,
            media_type: media_type(&path).to_owned(),
            kind: EvidenceKind::Export,
            controls: mapping.controls(EvidenceKind::Export).to_vec(),
        });
        items.push(Item { name: path, source: Source::Generated(bytes) });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // Depth-first, each directory's entries sorted by name: component-wise order.
    items.sort_by(|a, b| a.name.split('/').cmp(b.name.split('/')));
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION.to_owned(),
        release,
        producer,
        catalogs: mapping.catalogs.clone(),
        files,
    };
    let manifest_bytes = manifest.to_bytes();
    let envelope = dsse::sign(PAYLOAD_TYPE, &manifest_bytes, key);
    let envelope_bytes = envelope.to_json().into_bytes();
    let sizes: BTreeMap<&str, u64> =
        manifest.files.iter().map(|f| (f.path.as_str(), f.size)).collect();

    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let temp =
        tempfile::NamedTempFile::new_in(&parent).map_err(|e| EvidenceError::io(&parent, e))?;
    let out_err = |e: std::io::Error| EvidenceError::io(output, e);
    drop(hasher);
    // The archive's SHA-256 is taken as it is written, not by reading it back.
    let writer = BufWriter::with_capacity(
        256 * 1024,
        Sha256Writer::new(temp.as_file().try_clone().map_err(out_err)?),
    );
    let mut tar = tar::Builder::new(Compressor::new(format, writer).map_err(out_err)?);
    for (name, bytes) in [(MANIFEST, &manifest_bytes), (MANIFEST_DSSE, &envelope_bytes)] {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644, mtime);
        tar.append_data(&mut h, name, bytes.as_slice()).map_err(out_err)?;
    }
    for item in &items {
        match &item.source {
            Source::Dir => {
                let mut h = header(tar::EntryType::Directory, 0, 0o755, mtime);
                tar.append_data(&mut h, format!("{}/", item.name), std::io::empty())
                    .map_err(out_err)?;
            }
            Source::Generated(bytes) => {
                let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644, mtime);
                tar.append_data(&mut h, &item.name, bytes.as_slice()).map_err(out_err)?;
            }
            Source::Disk(disk) => {
                let size = sizes.get(item.name.as_str()).copied().unwrap_or(0);
                let file = File::open(disk).map_err(|e| EvidenceError::io(disk, e))?;
                let actual = file.metadata().map_err(|e| EvidenceError::io(disk, e))?.len();
                if actual != size {
                    return Err(EvidenceError::RunDir {
                        path: disk.clone(),
                        message: format!(
                            "changed while bundling ({size} bytes hashed, now {actual})"
                        ),
                    });
                }
                let mut h = header(tar::EntryType::Regular, size, 0o644, mtime);
                tar.append_data(
                    &mut h,
                    &item.name,
                    BufReader::with_capacity(256 * 1024, file).take(size),
                )
                .map_err(|e| EvidenceError::io(disk, e))?;
            }
        }
    }
    let gz = tar.into_inner().map_err(out_err)?;
    let writer = gz.finish().map_err(out_err)?;
    let archive_sha256 = writer.into_inner().map_err(|e| out_err(e.into_error()))?.finish();
    temp.as_file().sync_all().map_err(out_err)?;
    temp.persist(output).map_err(|e| EvidenceError::io(output, e.error))?;
    Ok(Built {
        manifest_sha256: hex::encode(Sha256::digest(&manifest_bytes)),
        manifest,
        archive_sha256,
    })
}

/// Checks an entry's type and path; returns the path (without a trailing `/` for directories)
/// and whether it is a directory.
fn check_entry<R: Read>(
    bundle: &Path,
    entry: &tar::Entry<'_, R>,
) -> Result<(String, bool), EvidenceError> {
    let raw = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let kind = entry.header().entry_type();
    let link = || {
        entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default()
    };
    let b = || bundle.to_owned();
    match kind {
        tar::EntryType::Regular | tar::EntryType::Directory => {}
        tar::EntryType::Symlink => {
            return Err(EvidenceError::Symlink { bundle: b(), entry: name, target: link() });
        }
        tar::EntryType::Link => {
            return Err(EvidenceError::Hardlink { bundle: b(), entry: name, target: link() });
        }
        other => {
            let kind = match other {
                tar::EntryType::Char => "character device".to_owned(),
                tar::EntryType::Block => "block device".to_owned(),
                tar::EntryType::Fifo => "FIFO".to_owned(),
                other => format!("special entry (tar type {:?})", other.as_byte() as char),
            };
            return Err(EvidenceError::SpecialFile { bundle: b(), entry: name, kind });
        }
    }
    if std::str::from_utf8(&raw).is_err() {
        return Err(EvidenceError::UnsafePath { bundle: b(), entry: name, reason: "not UTF-8" });
    }
    if name.starts_with('/') {
        return Err(EvidenceError::AbsolutePath { bundle: b(), entry: name });
    }
    let is_dir = kind == tar::EntryType::Directory;
    let trimmed = if is_dir { name.strip_suffix('/').unwrap_or(&name) } else { name.as_str() };
    if trimmed.split('/').any(|c| c == "..") {
        return Err(EvidenceError::PathTraversal { bundle: b(), entry: name });
    }
    if trimmed.contains('\\') {
        return Err(EvidenceError::UnsafePath {
            bundle: b(),
            entry: name,
            reason: "contains '\\'",
        });
    }
    if trimmed.is_empty() || trimmed.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(EvidenceError::UnsafePath {
            bundle: b(),
            entry: name,
            reason: "empty or '.' component",
        });
    }
    Ok((trimmed.to_owned(), is_dir))
}

type Archive = tar::Archive<Decompressor>;

fn open(bundle: &Path) -> Result<Archive, EvidenceError> {
    let format = format_of(bundle)?;
    let file = File::open(bundle).map_err(|e| EvidenceError::io(bundle, e))?;
    let reader = BufReader::with_capacity(256 * 1024, file);
    let decoder = match format {
        Format::TarGz => Decompressor::Gz(flate2::bufread::GzDecoder::new(reader)),
        Format::TarZst => Decompressor::Zst(
            zstd::Decoder::with_buffer(reader).map_err(|e| corrupt(bundle, None, &e))?,
        ),
    };
    Ok(tar::Archive::new(decoder))
}

fn corrupt(bundle: &Path, after: Option<&str>, e: &std::io::Error) -> EvidenceError {
    EvidenceError::Corrupt {
        bundle: bundle.to_owned(),
        after: after.map(str::to_owned),
        message: e.to_string(),
    }
}

/// Reads the next entry, which must be the regular file `expected`, whole (capped).
fn read_small<R: Read>(
    bundle: &Path,
    entries: &mut tar::Entries<'_, R>,
    expected: &'static str,
    index: usize,
    after: Option<&str>,
) -> Result<Vec<u8>, EvidenceError> {
    let Some(entry) = entries.next() else {
        return Err(EvidenceError::ManifestMissing {
            bundle: bundle.to_owned(),
            expected,
            index,
            found: "the end of the archive".into(),
        });
    };
    let mut entry = entry.map_err(|e| corrupt(bundle, after, &e))?;
    let (name, is_dir) = check_entry(bundle, &entry)?;
    if name != expected || is_dir {
        return Err(EvidenceError::ManifestMissing {
            bundle: bundle.to_owned(),
            expected,
            index,
            found: format!("{name:?}"),
        });
    }
    if entry.size() > MAX_MANIFEST_BYTES {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: expected,
            message: format!(
                "{} bytes is more than the {MAX_MANIFEST_BYTES} accepted",
                entry.size()
            ),
        });
    }
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| corrupt(bundle, Some(expected), &e))?;
    Ok(bytes)
}

fn parse_manifest(bundle: &Path, bytes: &[u8]) -> Result<Manifest, EvidenceError> {
    // The version first, so an older or newer manifest is named as such rather than by the
    // first field this version does not know.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Versioned {
        schema_version: Option<serde_json::Value>,
    }
    if let Ok(Versioned { schema_version }) = serde_json::from_slice::<Versioned>(bytes)
        && schema_version.as_ref().and_then(|v| v.as_str()) != Some(SCHEMA_VERSION)
    {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST,
            message: format!(
                "/schemaVersion is {}; this tollgate reads {SCHEMA_VERSION:?} (manifest schema \
                 version {SCHEMA_VERSION}; rebuild the bundle with a matching tollgate)",
                schema_version.map_or("missing".to_owned(), |v| v.to_string())
            ),
        });
    }
    let manifest: Manifest =
        serde_json::from_slice(bytes).map_err(|e| EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST,
            message: format!("line {}, column {}: {e}", e.line(), e.column()),
        })?;
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST,
            message: format!(
                "/schemaVersion is {:?}; this tollgate reads {SCHEMA_VERSION:?}",
                manifest.schema_version
            ),
        });
    }
    Ok(manifest)
}

/// Verifies `bundle` with `key`, offline, reading it once: the signature over the manifest, and
/// every file's path, type, size, SHA-256 and SHA-512; no extra, duplicate or missing files.
pub fn verify(bundle: &Path, key: &VerifyingKey) -> Result<Summary, EvidenceError> {
    let mut archive = open(bundle)?;
    let mut entries = archive.entries().map_err(|e| corrupt(bundle, None, &e))?;
    let manifest_bytes = read_small(bundle, &mut entries, MANIFEST, 0, None)?;
    let envelope_bytes = read_small(bundle, &mut entries, MANIFEST_DSSE, 1, Some(MANIFEST))?;
    let envelope_text =
        String::from_utf8(envelope_bytes).map_err(|_| EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST_DSSE,
            message: "not UTF-8".into(),
        })?;
    let envelope = Envelope::from_json(Path::new(MANIFEST_DSSE), &envelope_text).map_err(|e| {
        EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST_DSSE,
            message: e.to_string(),
        }
    })?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST_DSSE,
            message: format!(
                "payloadType is {:?}, expected {PAYLOAD_TYPE:?}",
                envelope.payload_type
            ),
        });
    }
    let payload = dsse::verify_envelope(&envelope, key).map_err(|e| {
        EvidenceError::BadSignature { bundle: bundle.to_owned(), message: e.to_string() }
    })?;
    if payload != manifest_bytes {
        return Err(EvidenceError::ManifestTampered { bundle: bundle.to_owned() });
    }
    let manifest = parse_manifest(bundle, &payload)?;
    let mut expected: BTreeMap<&str, (&FileEntry, bool)> =
        manifest.files.iter().map(|f| (f.path.as_str(), (f, false))).collect();
    let mut last = MANIFEST_DSSE.to_owned();
    let mut hasher = Hasher::new().map_err(|e| EvidenceError::io(bundle, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(bundle, Some(&last), &e))?;
        let (name, is_dir) = check_entry(bundle, &entry)?;
        if is_dir {
            last = name;
            continue;
        }
        let Some((want, seen)) = expected.get_mut(name.as_str()) else {
            return Err(EvidenceError::ExtraFile { bundle: bundle.to_owned(), entry: name });
        };
        if *seen {
            return Err(EvidenceError::DuplicateFile { bundle: bundle.to_owned(), entry: name });
        }
        *seen = true;
        let (size, sha256, sha512) =
            hasher.hash(&mut entry).map_err(|e| corrupt(bundle, Some(&last), &e))?;
        if size != want.size {
            return Err(EvidenceError::SizeMismatch {
                bundle: bundle.to_owned(),
                entry: name,
                expected: want.size,
                found: size,
            });
        }
        for (algorithm, found, wanted) in
            [("sha256", sha256, &want.sha256), ("sha512", sha512, &want.sha512)]
        {
            if found != *wanted {
                return Err(EvidenceError::DigestMismatch {
                    bundle: bundle.to_owned(),
                    entry: name,
                    algorithm,
                    expected: wanted.clone(),
                    found,
                });
            }
        }
        last = name;
    }
    let missing: Vec<String> =
        expected.iter().filter(|(_, (_, seen))| !seen).map(|(p, _)| (*p).to_owned()).collect();
    finish_stream(bundle, archive, &last)?;
    if let Some(first) = missing.first() {
        return Err(EvidenceError::MissingFile {
            bundle: bundle.to_owned(),
            entry: first.clone(),
            more: missing.len() - 1,
        });
    }
    let manifest_sha256 = hex::encode(Sha256::digest(&manifest_bytes));
    Ok(Summary { manifest, manifest_sha256 })
}

/// Reads what follows the tar end-of-archive marker: it must be zero padding, then the gzip
/// trailer (whose CRC and length are checked here), then nothing.
fn finish_stream(bundle: &Path, archive: Archive, last: &str) -> Result<(), EvidenceError> {
    let mut decoder = archive.into_inner();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = decoder.read(&mut buf).map_err(|e| corrupt(bundle, Some(last), &e))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(EvidenceError::Corrupt {
                bundle: bundle.to_owned(),
                after: Some(last.to_owned()),
                message: "data after the end of the tar archive".into(),
            });
        }
    }
    // zstd's decoder reads every frame to the end of the file; gzip's stops after one member.
    let Decompressor::Gz(decoder) = decoder else {
        return Ok(());
    };
    let mut rest = decoder.into_inner();
    let n = rest.read(&mut buf).map_err(|e| EvidenceError::io(bundle, e))?;
    if n > 0 {
        return Err(EvidenceError::Corrupt {
            bundle: bundle.to_owned(),
            after: Some(last.to_owned()),
            message: "data after the end of the gzip stream".into(),
        });
    }
    Ok(())
}

/// Reads a bundle's manifest (its first entry) without verifying anything.
pub fn show(bundle: &Path) -> Result<Summary, EvidenceError> {
    let mut archive = open(bundle)?;
    let mut entries = archive.entries().map_err(|e| corrupt(bundle, None, &e))?;
    let bytes = read_small(bundle, &mut entries, MANIFEST, 0, None)?;
    let manifest = parse_manifest(bundle, &bytes)?;
    Ok(Summary { manifest, manifest_sha256: hex::encode(Sha256::digest(&bytes)) })
}

#[cfg(test)]
mod tests;

//! Building a bundle: [`build`] and its [`BuildOptions`]. Every file of the run directory is
//! hashed and mapped to controls, the generated documents are added, the manifest is signed,
//! and the archive is written to a temporary file next to the output and renamed into place.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tollgate_attest::dsse;
use tollgate_attest::keys::SigningKey;

use crate::archive::{Compressor, header};
use crate::gate::EvidenceConfig;
use crate::hasher::{Hasher, Sha256Writer};
use crate::walk::{Item, Source, hash_file, sha256_file, walk};
use crate::{
    EvidenceError, EvidenceKind, FileEntry, GeneratedDocument, Generation, MANIFEST, MANIFEST_DSSE,
    Manifest, Mapping, PAYLOAD_TYPE, PolicyFile, Producer, ReleaseIdentity, SCHEMA_VERSION, Tool,
    classify, controls, format_of, media_type, source_date_epoch,
};

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

/// How [`build`] bundles: the tool version for the manifest, the effective configuration
/// (its `[evidence]` section decides the mapping; the whole of it, as the caller serialized
/// it, is digested into the manifest), the repository's `policies/` directory, and the
/// generated documents.
pub struct BuildOptions {
    /// Recorded as the producer's tool version.
    pub tool_version: String,
    /// The `[evidence]` section of the effective configuration.
    pub evidence: EvidenceConfig,
    /// The whole effective configuration as JSON, digested into the manifest
    /// (`producer.configSha256`); `{}` when no configuration is given.
    pub config_json: Vec<u8>,
    /// The configuration file, to name it in errors (default `tollgate.toml`).
    pub config_path: PathBuf,
    /// A `policies/` directory whose files join the policy set digest (`None`: no policies).
    pub policies_dir: Option<PathBuf>,
    /// Documents generated into the bundle (default: [`GeneratedDocument::defaults`]).
    pub documents: Vec<GeneratedDocument>,
}

impl BuildOptions {
    /// Default `[evidence]` section, an empty configuration digest, no policies, the default
    /// generated documents.
    pub fn new(tool_version: impl Into<String>) -> Self {
        BuildOptions {
            tool_version: tool_version.into(),
            evidence: EvidenceConfig::default(),
            config_json: b"{}".to_vec(),
            config_path: PathBuf::from(tollgate_core::config::CONFIG_FILE),
            policies_dir: None,
            documents: GeneratedDocument::defaults(),
        }
    }

    /// Uses the `[evidence]` section `evidence` of the configuration loaded from `path` (named
    /// in mapping errors), whose whole effective form is `config_json`.
    pub fn config(
        mut self,
        evidence: EvidenceConfig,
        config_json: Vec<u8>,
        path: impl Into<PathBuf>,
    ) -> Self {
        self.evidence = evidence;
        self.config_json = config_json;
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

/// Bundles the run directory `run_dir` into `output` (`.tar.gz` or `.tar.zst`), signing the
/// manifest with `key`. Every file gets its evidence kind and controls from the mapping of
/// `options.evidence`; the generated documents are added (kind `export`). The archive is
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
    let mapping = Mapping::from_config(&options.evidence, &options.config_path)?;
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
    let producer = Producer {
        tool: Tool { name: "tollgate".to_owned(), version: options.tool_version.clone() },
        config_sha256: hex::encode(Sha256::digest(&options.config_json)),
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
    // Only the directories that hold a file: verification rejects any other (the manifest
    // lists files, so an empty directory could not be told from an injected one).
    items.retain(|i| {
        !matches!(i.source, Source::Dir)
            || files
                .iter()
                .any(|f| f.path.strip_prefix(i.name.as_str()).is_some_and(|r| r.starts_with('/')))
    });
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

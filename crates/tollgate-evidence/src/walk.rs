//! The run directory as archive entries: a depth-first walk, each directory's entries sorted
//! by name, that admits only directories and regular files with UTF-8 names; and the hashing
//! of the files it finds. Files are streamed, never read whole.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::hasher::{self, Hasher, Sha256Writer};
use crate::{EvidenceError, MANIFEST, MANIFEST_DSSE};

/// An archive entry: its path and where its bytes come from.
pub(crate) struct Item {
    pub(crate) name: String,
    pub(crate) source: Source,
}

pub(crate) enum Source {
    Dir,
    Disk(PathBuf),
    Generated(Vec<u8>),
}

/// Walks `dir` depth-first, entries of each directory sorted by name (bytes).
pub(crate) fn walk(dir: &Path, prefix: &str, out: &mut Vec<Item>) -> Result<(), EvidenceError> {
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
pub(crate) fn hash_file(
    hasher: &mut Hasher,
    path: &Path,
) -> Result<(u64, String, String), EvidenceError> {
    let mut file = File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    hasher.hash(&mut file).map_err(|e| EvidenceError::io(path, e))
}

/// SHA-256 of the file at `path` (lowercase hex).
pub(crate) fn sha256_file(path: &Path) -> Result<String, EvidenceError> {
    let file = File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    let mut writer = Sha256Writer::new(std::io::sink());
    std::io::copy(&mut BufReader::with_capacity(hasher::CHUNK, file), &mut writer)
        .map_err(|e| EvidenceError::io(path, e))?;
    Ok(writer.finish())
}

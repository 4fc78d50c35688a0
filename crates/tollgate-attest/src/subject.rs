//! Subjects: the artifacts a statement is about, each with its SHA-256 and SHA-512 digests.
//!
//! Hashing is the expensive part of attesting gigabytes of artifacts, so it is done once per
//! file: one read stream feeds both digests, with 1 MiB buffers. Files are hashed in parallel on
//! every core; when there are fewer files than cores, each file's two digests run on two threads
//! in a pipeline (the reader computes SHA-256 while a helper computes SHA-512 of the previous
//! chunk), so a single large file still uses two cores.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};

use crate::AttestError;

/// Read buffer size: large enough that system-call overhead vanishes next to hashing.
const BUFFER_SIZE: usize = 1 << 20;

/// One artifact in an in-toto statement: a name and its digests.
///
/// `digest` maps algorithm names as in-toto spells them (`"sha256"`, `"sha512"`) to lowercase
/// hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's name: a file name, or a `/`-separated path relative to the directory
    /// that was given.
    pub name: String,
    /// Algorithm -> lowercase hex digest.
    pub digest: BTreeMap<String, String>,
}

/// A file to hash and the subject name it gets.
#[derive(Debug, Clone)]
struct NamedFile {
    name: String,
    path: PathBuf,
}

/// Subjects for `paths`: each file by its file name, each directory walked recursively with
/// names relative to it (`/`-separated), sorted by name.
///
/// Symbolic links to files are followed; symbolic links to directories are not descended
/// into (so a link cycle cannot make the walk endless). The same file given twice appears
/// once; two different files that would get the same name are an error, since a verifier could
/// not tell them apart.
pub fn subjects_for_paths(paths: &[PathBuf]) -> Result<Vec<Subject>, AttestError> {
    let files = collect_files(paths)?;
    let digests = hash_files(&files)?;
    Ok(files
        .into_iter()
        .zip(digests)
        .map(|(file, digest)| Subject { name: file.name, digest })
        .collect())
}

/// The SHA-256 and SHA-512 digests of one file (keys `"sha256"`, `"sha512"`, lowercase hex),
/// read once.
pub fn hash_file(path: &Path) -> Result<BTreeMap<String, String>, AttestError> {
    let split = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    hash_one(path, split)
}

/// The subject name of `path` relative to `base`, `/`-separated.
fn relative_name(base: &Path, path: &Path) -> Result<String, AttestError> {
    let relative = path.strip_prefix(base).unwrap_or(path);
    let mut parts = Vec::new();
    for component in relative.components() {
        let part = component.as_os_str().to_str().ok_or_else(|| {
            AttestError::malformed(path, "the file name is not UTF-8, so it cannot name a subject")
        })?;
        parts.push(part);
    }
    Ok(parts.join("/"))
}

fn collect_files(paths: &[PathBuf]) -> Result<Vec<NamedFile>, AttestError> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|e| AttestError::io(path, e))?;
        let mut found = Vec::new();
        if metadata.is_dir() {
            walk(path, path, &mut found)?;
        } else {
            let name = path
                .file_name()
                .ok_or_else(|| AttestError::malformed(path, "not a file or directory"))?;
            let name = name.to_str().ok_or_else(|| {
                AttestError::malformed(
                    path,
                    "the file name is not UTF-8, so it cannot name a subject",
                )
            })?;
            found.push(NamedFile { name: name.to_owned(), path: path.clone() });
        }
        for file in found {
            match by_name.get(&file.name) {
                None => {
                    by_name.insert(file.name, file.path);
                }
                Some(existing) if same_file(existing, &file.path) => {}
                Some(existing) => {
                    return Err(AttestError::DuplicateSubject {
                        name: file.name,
                        first: existing.clone(),
                        second: file.path,
                    });
                }
            }
        }
    }
    Ok(by_name.into_iter().map(|(name, path)| NamedFile { name, path }).collect())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<NamedFile>) -> Result<(), AttestError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AttestError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| AttestError::io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| AttestError::io(&path, e))?;
        if file_type.is_dir() {
            walk(base, &path, out)?;
        } else if file_type.is_file() {
            out.push(NamedFile { name: relative_name(base, &path)?, path });
        } else if file_type.is_symlink() {
            // Follow links to files; leave links to directories (and dangling links) alone.
            match std::fs::metadata(&path) {
                Ok(target) if target.is_file() => {
                    out.push(NamedFile { name: relative_name(base, &path)?, path });
                }
                Ok(_) => {
                    tracing::debug!(path = %path.display(), "not following a directory link");
                }
                Err(e) => return Err(AttestError::io(&path, e)),
            }
        }
    }
    Ok(())
}

/// Hashes every file, in parallel, returning digests in the order of `files`.
fn hash_files(files: &[NamedFile]) -> Result<Vec<BTreeMap<String, String>>, AttestError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // With fewer files than cores, give each file two threads (one per digest).
    let split = cores > 1 && files.len() < cores;
    let workers = cores.min(files.len()).max(1);
    if workers == 1 {
        return files.iter().map(|f| hash_one(&f.path, split)).collect();
    }
    type Digests = Result<BTreeMap<String, String>, AttestError>;
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Digests>> = (0..files.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Digests)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let result = hash_one(&file.path, split);
                        let failed = result.is_err();
                        mine.push((i, result));
                        if failed {
                            // Stop handing out work: the first error wins anyway.
                            next.store(files.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for (i, result) in done.into_iter().flatten() {
        results[i] = Some(result);
    }
    let mut digests = Vec::with_capacity(files.len());
    for (file, result) in files.iter().zip(results) {
        match result {
            Some(Ok(d)) => digests.push(d),
            Some(Err(e)) => return Err(e),
            // Skipped because another file failed, or a worker panicked: report the file.
            None => {
                return Err(AttestError::io(
                    &file.path,
                    std::io::Error::other("not hashed: another file failed first"),
                ));
            }
        }
    }
    Ok(digests)
}

fn digests(sha256: Sha256, sha512: Sha512) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sha256".to_owned(), hex::encode(sha256.finalize())),
        ("sha512".to_owned(), hex::encode(sha512.finalize())),
    ])
}

/// Reads from `file` until `buf` is full or the file ends; returns the number of bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn hash_one(path: &Path, split: bool) -> Result<BTreeMap<String, String>, AttestError> {
    let mut file = File::open(path).map_err(|e| AttestError::io(path, e))?;
    if split {
        hash_pipelined(path, &mut file)
    } else {
        let mut sha256 = Sha256::new();
        let mut sha512 = Sha512::new();
        let mut buf = vec![0u8; BUFFER_SIZE];
        loop {
            let n = fill(&mut file, &mut buf).map_err(|e| AttestError::io(path, e))?;
            if n == 0 {
                break;
            }
            sha256.update(&buf[..n]);
            sha512.update(&buf[..n]);
        }
        Ok(digests(sha256, sha512))
    }
}

/// One file, two threads: this one reads and computes SHA-256; a helper computes SHA-512 of
/// each chunk after it, and hands the buffer back for reuse.
fn hash_pipelined(path: &Path, file: &mut File) -> Result<BTreeMap<String, String>, AttestError> {
    let (to_helper, from_reader) = mpsc::sync_channel::<(Vec<u8>, usize)>(2);
    let (to_reader, returned) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let helper = scope.spawn(move || {
            let mut sha512 = Sha512::new();
            for (buf, n) in from_reader {
                sha512.update(&buf[..n]);
                // The reader may have finished; then the buffer is simply dropped.
                let _ = to_reader.send(buf);
            }
            sha512
        });
        let mut sha256 = Sha256::new();
        let mut spare = 3usize;
        let read_result: Result<(), AttestError> = (|| {
            loop {
                let mut buf = match returned.try_recv() {
                    Ok(buf) => buf,
                    Err(_) if spare > 0 => {
                        spare -= 1;
                        vec![0u8; BUFFER_SIZE]
                    }
                    Err(_) => returned.recv().map_err(|_| {
                        AttestError::io(path, std::io::Error::other("hashing thread stopped"))
                    })?,
                };
                let n = fill(file, &mut buf).map_err(|e| AttestError::io(path, e))?;
                if n == 0 {
                    return Ok(());
                }
                sha256.update(&buf[..n]);
                to_helper.send((buf, n)).map_err(|_| {
                    AttestError::io(path, std::io::Error::other("hashing thread stopped"))
                })?;
            }
        })();
        drop(to_helper);
        let sha512 = helper
            .join()
            .map_err(|_| AttestError::io(path, std::io::Error::other("hashing thread panicked")))?;
        read_result?;
        Ok(digests(sha256, sha512))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digests_match_known_values_in_both_modes() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let abc = dir.path().join("abc");
        std::fs::write(&abc, b"abc").unwrap();
        for split in [false, true] {
            let d = hash_one(&empty, split).unwrap();
            assert_eq!(d["sha256"], EMPTY_SHA256);
            let d = hash_one(&abc, split).unwrap();
            assert_eq!(
                d["sha256"],
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            assert_eq!(
                d["sha512"],
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            );
        }
    }

    #[test]
    fn large_file_pipelined_equals_sequential() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        // Not a multiple of the buffer size, so the last chunk is short.
        let data: Vec<u8> = (0..(3 * BUFFER_SIZE + 12345)).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        let expected = hex::encode(Sha256::digest(&data));
        assert_eq!(hash_one(&big, true).unwrap()["sha256"], expected);
        assert_eq!(hash_one(&big, false).unwrap(), hash_one(&big, true).unwrap());
        assert_eq!(hash_file(&big).unwrap()["sha512"], hex::encode(Sha512::digest(&data)));
    }

    #[test]
    fn directories_are_walked_with_relative_slash_names_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().join("dist");
        std::fs::create_dir_all(dist.join("sub/deeper")).unwrap();
        std::fs::write(dist.join("b.txt"), b"b").unwrap();
        std::fs::write(dist.join("a.txt"), b"a").unwrap();
        std::fs::write(dist.join("sub/deeper/c.bin"), b"c").unwrap();
        let single = dir.path().join("app");
        std::fs::write(&single, b"app").unwrap();
        let subjects = subjects_for_paths(&[dist.clone(), single]).unwrap();
        let names: Vec<_> = subjects.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "app", "b.txt", "sub/deeper/c.bin"]);
        for s in &subjects {
            assert_eq!(s.digest.keys().collect::<Vec<_>>(), ["sha256", "sha512"]);
        }
    }

    #[test]
    fn many_files_hash_in_parallel_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..40 {
            std::fs::write(dir.path().join(format!("f{i:02}")), format!("content {i}")).unwrap();
        }
        let subjects = subjects_for_paths(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(subjects.len(), 40);
        for (i, s) in subjects.iter().enumerate() {
            assert_eq!(s.name, format!("f{i:02}"));
            assert_eq!(s.digest["sha256"], hex::encode(Sha256::digest(format!("content {i}"))));
        }
    }

    #[test]
    fn same_file_twice_is_one_subject_but_a_name_clash_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("one/app");
        let b = dir.path().join("two/app");
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        std::fs::write(&a, b"1").unwrap();
        std::fs::write(&b, b"2").unwrap();
        assert_eq!(subjects_for_paths(&[a.clone(), a.clone()]).unwrap().len(), 1);
        let err = subjects_for_paths(&[a, b]).unwrap_err();
        assert!(matches!(err, AttestError::DuplicateSubject { ref name, .. } if name == "app"));
        assert!(err.to_string().contains("two artifacts are both named \"app\""));
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = subjects_for_paths(&[PathBuf::from("/nonexistent/artifact.tar")]).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/artifact.tar: "), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn links_to_files_are_followed_links_to_directories_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d/x"), b"x").unwrap();
        std::os::unix::fs::symlink(root.join("d/x"), root.join("link-to-x")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("d/loop")).unwrap();
        let names: Vec<_> =
            subjects_for_paths(&[root]).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["d/x", "link-to-x"]);
    }
}

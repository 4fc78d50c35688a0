//! Reading spec files without leaving the spec's root: what a `$ref` may make us read.
//!
//! A spec is untrusted input: a `$ref` can name any path. Referenced files are read only when
//! their canonical path (symlinks resolved) lies inside the root directory, when they are
//! regular files (no devices, fifos, sockets, kernel pseudo-files) and when they hold at most
//! [`MAX_SPEC_FILE_BYTES`]; reads stop one byte past the limit, so a file that grows while it
//! is read (or never ends) cannot exhaust memory.

use crate::error::ContractError;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest spec file (or file a spec references) that is read: 16 MiB.
pub const MAX_SPEC_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Kernel pseudo-filesystems: their files claim to be regular but are views of the system.
const PSEUDO_FILESYSTEMS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// A directory that referenced files must stay inside, canonicalised once.
#[derive(Debug, Clone)]
pub struct RefRoot {
    dir: PathBuf,
}

impl RefRoot {
    /// The root at `dir`, which must exist and be a directory.
    pub fn new(dir: &Path) -> Result<RefRoot, ContractError> {
        // `Path::new("")` (a bare file name's parent) means the working directory.
        let given = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let io = |cause| ContractError::Io { file: given.to_path_buf(), cause };
        let dir = std::fs::canonicalize(given).map_err(io)?;
        if !std::fs::metadata(&dir).map_err(io)?.is_dir() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the $ref root is not a directory",
            )));
        }
        Ok(RefRoot { dir })
    }

    /// The canonical root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The text of `path` (relative to the working directory, or absolute) when it is a
    /// regular UTF-8 file inside the root of at most [`MAX_SPEC_FILE_BYTES`]; otherwise why not.
    pub fn read(&self, path: &Path) -> Result<String, String> {
        let shown = path.display();
        let canonical =
            std::fs::canonicalize(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        if !canonical.starts_with(&self.dir) {
            return Err(format!(
                "`{shown}` is outside the spec's root directory {} (pass a wider root to allow it)",
                self.dir.display()
            ));
        }
        if PSEUDO_FILESYSTEMS.iter().any(|fs| canonical.starts_with(fs)) {
            return Err(format!("`{shown}` is not a regular file"));
        }
        let checked =
            std::fs::metadata(&canonical).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        if !checked.is_file() {
            return Err(format!("`{shown}` is not a regular file"));
        }
        let file = open_no_block(&canonical).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        // The path may have been swapped between the check and the open: judge what was opened.
        let opened = file.metadata().map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        if !opened.is_file() || !same_file(&checked, &opened) {
            return Err(format!("`{shown}` changed while it was being opened"));
        }
        read_bounded(file).map_err(|e| format!("`{shown}` {e}"))
    }
}

/// The text of a spec file the user named (pipes such as `<(git show …)` allowed), read up to
/// [`MAX_SPEC_FILE_BYTES`].
pub fn read_limited(path: &Path) -> std::io::Result<String> {
    let file = File::open(path)?;
    read_bounded(file)
        .map_err(|message| std::io::Error::new(std::io::ErrorKind::InvalidData, message))
}

/// Reads at most one byte past the limit, so the size check needs no trust in metadata.
fn read_bounded(file: File) -> Result<String, String> {
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_SPEC_FILE_BYTES {
        return Err(format!(
            "is larger than the {} MiB limit for spec files",
            MAX_SPEC_FILE_BYTES / (1024 * 1024)
        ));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())
}

/// Opens for reading without blocking: a fifo swapped in after the check must not hang us.
#[cfg(unix)]
fn open_no_block(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_no_block(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("sub/a.yaml"), "a: 1\n").unwrap();
        let root = RefRoot::new(tmp.path()).unwrap();
        assert_eq!(root.read(&tmp.path().join("sub/../sub/a.yaml")).unwrap(), "a: 1\n");
    }

    #[test]
    fn refuses_the_root_itself_and_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = RefRoot::new(tmp.path()).unwrap();
        assert!(root.read(tmp.path()).unwrap_err().contains("not a regular file"));
        assert!(root.read(&tmp.path().join("nope.yaml")).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn a_root_that_is_a_file_is_an_input_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), "").unwrap();
        assert!(RefRoot::new(&tmp.path().join("f")).is_err());
        assert!(RefRoot::new(&tmp.path().join("missing")).is_err());
    }

    #[test]
    fn a_pseudo_filesystem_is_refused_even_inside_the_root() {
        let root = RefRoot::new(Path::new("/")).unwrap();
        let err = root.read(Path::new("/proc/self/environ")).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let err = root.read(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn non_utf8_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("bin"), [0xff, 0xfe]).unwrap();
        let root = RefRoot::new(tmp.path()).unwrap();
        assert!(root.read(&tmp.path().join("bin")).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn read_limited_stops_past_the_limit() {
        let err = read_limited(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("larger than the 16 MiB limit"), "{err}");
    }
}

//! The run directory: `<out_dir>/<run-id>/` holds every stage's output and report, and the
//! evidence bundle goes beside it as `<out_dir>/<run-id>.evidence.tar.gz`.
//!
//! Stages write into a hidden `<out_dir>/.<run-id>.partial/` that is renamed into place only
//! when every stage ran: an input error leaves no half-written run directory behind. Creating
//! that directory reserves the run id: two runs started in the same second (or under one
//! `SOURCE_DATE_EPOCH`) get different ids, and neither touches the other's files. A partial
//! directory left by an interrupted run is never deleted on a guess; its id is skipped.

use std::path::{Path, PathBuf};

/// Where one release run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// `20240501T120000Z`, with `-2`, `-3`… when taken.
    pub run_id: String,
    /// Where the stages write while the run is in progress (created, empty).
    pub partial: PathBuf,
    /// Where the run directory ends up.
    pub path: PathBuf,
    /// The evidence bundle, beside the run directory.
    pub bundle: PathBuf,
}

impl RunDir {
    /// Reserves the next free run id under `out_dir` for a run started at `timestamp`
    /// (RFC 3339) by creating its partial directory; an id whose run directory, bundle or
    /// partial directory exists is taken.
    pub fn reserve(out_dir: &Path, timestamp: &str) -> std::io::Result<RunDir> {
        std::fs::create_dir_all(out_dir)?;
        let base: String = timestamp.chars().filter(|c| *c != '-' && *c != ':').collect();
        for n in 1_u32.. {
            let run_id = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            let run = RunDir {
                partial: out_dir.join(format!(".{run_id}.partial")),
                path: out_dir.join(&run_id),
                bundle: out_dir.join(format!("{run_id}.evidence.tar.gz")),
                run_id,
            };
            if run.path.exists() || run.bundle.exists() {
                continue;
            }
            match std::fs::create_dir(&run.partial) {
                Ok(()) => return Ok(run),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free run id"))
    }

    /// Moves the finished run into place.
    pub fn commit(&self) -> std::io::Result<()> {
        std::fs::rename(&self.partial, &self.path)
    }

    /// Removes what this failed run wrote: its partial directory and its bundle.
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.partial);
        let _ = std::fs::remove_file(&self.bundle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_come_from_the_timestamp_and_skip_taken_ones() {
        let out = tempfile::tempdir().unwrap();
        let at = "2024-05-01T12:00:00Z";
        let first = RunDir::reserve(out.path(), at).unwrap();
        assert_eq!(first.run_id, "20240501T120000Z");
        assert_eq!(first.bundle, out.path().join("20240501T120000Z.evidence.tar.gz"));
        assert!(first.partial.is_dir());
        // A run in progress holds its id: a second run started in the same second gets -2,
        // and the first run's files are untouched.
        std::fs::write(first.partial.join("sbom.json"), b"{}").unwrap();
        let second = RunDir::reserve(out.path(), at).unwrap();
        assert_eq!(second.run_id, "20240501T120000Z-2");
        assert!(first.partial.join("sbom.json").is_file());
        first.commit().unwrap();
        std::fs::write(out.path().join("20240501T120000Z-3.evidence.tar.gz"), b"x").unwrap();
        assert_eq!(RunDir::reserve(out.path(), at).unwrap().run_id, "20240501T120000Z-4");
    }

    #[test]
    fn a_discarded_run_leaves_nothing() {
        let out = tempfile::tempdir().unwrap();
        let run = RunDir::reserve(out.path(), "2024-05-01T12:00:00Z").unwrap();
        std::fs::write(run.partial.join("sbom.json"), b"{}").unwrap();
        std::fs::write(&run.bundle, b"half").unwrap();
        run.discard();
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    }
}

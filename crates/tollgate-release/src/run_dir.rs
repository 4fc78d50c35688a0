//! The run directory: `<out_dir>/<run-id>/` holds every stage's output and report, and the
//! evidence bundle goes beside it as `<out_dir>/<run-id>.evidence.tar.gz`.
//!
//! Stages write into a hidden `<out_dir>/.<run-id>.partial/` that is renamed into place only
//! when every stage ran: an input error leaves no half-written run directory behind.

use std::path::{Path, PathBuf};

/// Where one release run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// `20240501T120000Z`, with `-2`, `-3`… when taken.
    pub run_id: String,
    /// Where the stages write while the run is in progress.
    pub partial: PathBuf,
    /// Where the run directory ends up.
    pub path: PathBuf,
    /// The evidence bundle, beside the run directory.
    pub bundle: PathBuf,
}

impl RunDir {
    /// The next free run directory under `out_dir` for a run started at `timestamp` (RFC 3339).
    pub fn next(out_dir: &Path, timestamp: &str) -> RunDir {
        let run_id = run_id(out_dir, timestamp);
        RunDir {
            partial: out_dir.join(format!(".{run_id}.partial")),
            path: out_dir.join(&run_id),
            bundle: out_dir.join(format!("{run_id}.evidence.tar.gz")),
            run_id,
        }
    }

    /// Creates the (empty) partial directory, clearing one left by an interrupted run.
    pub fn create(&self) -> std::io::Result<()> {
        if self.partial.exists() {
            std::fs::remove_dir_all(&self.partial)?;
        }
        std::fs::create_dir_all(&self.partial)
    }

    /// Moves the finished run into place.
    pub fn commit(&self) -> std::io::Result<()> {
        std::fs::rename(&self.partial, &self.path)
    }

    /// Removes what a failed run wrote: the partial directory and the bundle.
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.partial);
        let _ = std::fs::remove_file(&self.bundle);
    }
}

/// `20240501T120000Z`, with `-2`, `-3`… when that directory or bundle already exists.
fn run_id(out_dir: &Path, timestamp: &str) -> String {
    let base: String = timestamp.chars().filter(|c| *c != '-' && *c != ':').collect();
    let mut id = base.clone();
    let mut n = 1;
    while out_dir.join(&id).exists() || out_dir.join(format!("{id}.evidence.tar.gz")).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_come_from_the_timestamp_and_skip_taken_ones() {
        let out = tempfile::tempdir().unwrap();
        let first = RunDir::next(out.path(), "2024-05-01T12:00:00Z");
        assert_eq!(first.run_id, "20240501T120000Z");
        assert_eq!(first.bundle, out.path().join("20240501T120000Z.evidence.tar.gz"));
        first.create().unwrap();
        first.commit().unwrap();
        let second = RunDir::next(out.path(), "2024-05-01T12:00:00Z");
        assert_eq!(second.run_id, "20240501T120000Z-2");
        std::fs::write(&second.bundle, b"x").unwrap();
        assert_eq!(RunDir::next(out.path(), "2024-05-01T12:00:00Z").run_id, "20240501T120000Z-3");
    }

    #[test]
    fn a_discarded_run_leaves_nothing() {
        let out = tempfile::tempdir().unwrap();
        let run = RunDir::next(out.path(), "2024-05-01T12:00:00Z");
        run.create().unwrap();
        std::fs::write(run.partial.join("sbom.json"), b"{}").unwrap();
        std::fs::write(&run.bundle, b"half").unwrap();
        run.discard();
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    }
}

//! Where results go: files (atomically) or standard output.

use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// Writes `text` to `path` atomically, or to standard output when `path` is `None`.
pub fn emit(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(path) => tollgate_core::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")
        }
    }
}

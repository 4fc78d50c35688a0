//! Stage progress: spinners on a terminal, plain lines in CI or when piped.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;
use tollgate_core::Verdict;

/// Shows one line per stage.
pub struct Progress {
    fancy: bool,
}

/// A running stage.
pub struct StageProgress {
    name: String,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Spinners when stderr is a terminal and `CI` is unset; plain lines otherwise.
    pub fn new() -> Progress {
        let fancy = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress { fancy }
    }

    /// Announces a stage.
    pub fn start(&self, name: &str) -> StageProgress {
        if self.fancy {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(100));
            StageProgress { name: name.to_owned(), bar: Some(bar) }
        } else {
            eprintln!("[{name}] started");
            StageProgress { name: name.to_owned(), bar: None }
        }
    }
}

impl StageProgress {
    /// Ends the stage with its verdict and duration.
    pub fn finish(self, verdict: Verdict, duration_ms: u64) {
        let line = format!("[{}] {} in {duration_ms} ms", self.name, verdict);
        match self.bar {
            Some(bar) => bar.finish_with_message(line),
            None => eprintln!("{line}"),
        }
    }

    /// Ends the stage with an error.
    pub fn fail(self) {
        let line = format!("[{}] error", self.name);
        match self.bar {
            Some(bar) => bar.abandon_with_message(line),
            None => eprintln!("{line}"),
        }
    }
}

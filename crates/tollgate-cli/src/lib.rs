//! The `tollgate` command line: argument parsing, progress, output and exit codes.
//!
//! **API boundary:** this crate decides how things are shown and which exit code a run gets;
//! the library crates only return values. Exit codes: 0 pass / go, 1 a gate failed / no-go,
//! 2 usage or input error.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod output;
mod progress;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;
use tollgate_core::Verdict;

/// Parses `args` (program name first), runs the command and returns its exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap uses 0 for --help/--version and 2 for usage errors, as we do.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    init_tracing(cli.verbose);
    match commands::run(cli.command) {
        Ok(Verdict::Pass) => ExitCode::SUCCESS,
        Ok(Verdict::Fail) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, `outer: inner: …`.
///
/// The convention this relies on: a library error carries its cause in its own message and
/// does not also return it from `source()` (the field is named `cause`, not `source`), so the
/// chain holds only what the message lacks — the CLI's own `anyhow` context and the error under
/// it. A cause whose text the line already carries is still left out, for third-party errors
/// (object_store, walkdir, tempfile) that do both.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::describe;
    use std::io::{Error, ErrorKind};
    use std::path::PathBuf;

    fn os_error() -> Error {
        Error::from_raw_os_error(13)
    }

    /// Every library error that wraps an I/O error shows the OS error once, whether printed by
    /// `describe`, by anyhow's `{:#}` (the operator's logs) or by any other chain printer.
    #[test]
    fn library_errors_carry_their_cause_once() {
        let path = PathBuf::from("p");
        let errors: Vec<anyhow::Error> = vec![
            tollgate_core::ConfigError::Read { path: path.clone(), cause: os_error() }.into(),
            tollgate_attest::AttestError::io(&path, os_error()).into(),
            tollgate_attest::verify::VerifyError::Io { path: path.clone(), cause: os_error() }
                .into(),
            tollgate_sbom::SbomError::io(&path, os_error()).into(),
            tollgate_contracts::ContractError::Io { file: path.clone(), cause: os_error() }.into(),
            tollgate_contracts::gate::GateError::AtRef {
                reference: "v1".into(),
                cause: Box::new(tollgate_contracts::ContractError::Io {
                    file: path.clone(),
                    cause: os_error(),
                }),
            }
            .into(),
            tollgate_evidence::EvidenceError::Io { path: path.clone(), cause: os_error() }.into(),
            tollgate_evidence::publish::PublishError::Io { path: path.clone(), cause: os_error() }
                .into(),
            tollgate_evidence::github::GitHubError::Io { path: path.clone(), cause: os_error() }
                .into(),
            tollgate_evidence::report::ReportError::Io { path: path.clone(), cause: os_error() }
                .into(),
            tollgate_evidence::gate::StageError::Write { path: path.clone(), cause: os_error() }
                .into(),
            tollgate_operator_api::manifests::ManifestError::Io {
                path: path.clone(),
                cause: os_error(),
            }
            .into(),
            tollgate_db::store::StoreError::Io { url: "file:///s".into(), cause: os_error() }
                .into(),
            tollgate_release::ReleaseError::Io {
                path: path.clone(),
                message: "cannot write",
                cause: os_error(),
            }
            .into(),
            tollgate_release::ReleaseError::Stage {
                stage: tollgate_release::Stage::Sbom,
                cause: Box::new(tollgate_sbom::SbomError::io(&path, os_error())),
            }
            .into(),
            // An io::Error wrapping another error (tempfile's PathError does this).
            tollgate_sbom::SbomError::io(
                &path,
                Error::new(ErrorKind::PermissionDenied, os_error()),
            )
            .into(),
        ];
        for error in errors {
            for shown in [describe(&error), format!("{error:#}"), format!("{error:?}")] {
                assert_eq!(shown.matches("(os error 13)").count(), 1, "{shown}");
            }
        }
    }

    #[test]
    fn context_and_its_cause_are_joined_once() {
        let error = anyhow::Error::from(os_error()).context("p: cannot read");
        assert!(describe(&error).starts_with("p: cannot read: "));
        assert_eq!(describe(&error).matches("(os error 13)").count(), 1);
    }
}

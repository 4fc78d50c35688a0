//! The command-line grammar (clap). Commands and flags follow the command contract in
//! `docs/architecture.md`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tollgate_core::ReportFormat;
use tollgate_sbom::format::{CycloneDxVersion, SbomFormat};

/// Tollgate: prove a release is ready — SBOMs, dependency and contract gates, signed evidence.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); TOLLGATE_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every release stage, write target/tollgate/<run-id>/, print go / no-go.
    Release(ReleaseArgs),
    /// Configuration (tollgate.toml).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Generate an SBOM for a source tree, or compare SBOMs.
    Sbom(SbomArgs),
}

/// `tollgate release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Repository root to release.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Where run directories go (default: `[release] out_dir`, target/tollgate).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `tollgate config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration: defaults overlaid with tollgate.toml.
    Show {
        /// Repository root holding tollgate.toml.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

/// `tollgate sbom [PATH]` or `tollgate sbom diff|baseline`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SbomArgs {
    /// `diff` or `baseline`; without one, generate an SBOM.
    #[command(subcommand)]
    pub command: Option<SbomCommand>,
    /// What to generate.
    #[command(flatten)]
    pub generate: SbomGenerateArgs,
}

/// `tollgate sbom [PATH]` options.
#[derive(Debug, Args)]
pub struct SbomGenerateArgs {
    /// A directory to scan (honouring .gitignore), or one or more lockfiles.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "cyclonedx-json", value_parser = parse_sbom_format)]
    pub format: SbomFormat,
    /// CycloneDX specification version.
    #[arg(long, default_value = "1.6", value_parser = parse_spec_version)]
    pub spec_version: CycloneDxVersion,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// SBOM subcommands.
#[derive(Debug, Subcommand)]
pub enum SbomCommand {
    /// Compare two SBOMs (CycloneDX or SPDX JSON) and report the changes as a gate.
    Diff(SbomDiffArgs),
    /// Write the committed baseline SBOMs (sbom/), or check they are current with --check.
    Baseline(SbomBaselineArgs),
}

/// `tollgate sbom diff OLD NEW`.
#[derive(Debug, Args)]
pub struct SbomDiffArgs {
    /// The earlier SBOM.
    pub old: PathBuf,
    /// The later SBOM.
    pub new: PathBuf,
    /// Repository root holding tollgate.toml ([sbom.diff] severities).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate sbom baseline [--check]`.
#[derive(Debug, Args)]
pub struct SbomBaselineArgs {
    /// Repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Do not write: exit 1 if the committed baseline differs from what would be written.
    #[arg(long)]
    pub check: bool,
}

/// `--report-format` and `--report`, shared by every gate command.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How to render the gate report.
    #[arg(long, default_value = "human", value_parser = parse_report_format)]
    pub report_format: ReportFormat,
    /// Write the rendered report here (atomically) instead of standard output.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

fn parse_sbom_format(s: &str) -> Result<SbomFormat, String> {
    s.parse()
}

fn parse_spec_version(s: &str) -> Result<CycloneDxVersion, String> {
    s.parse()
}

fn parse_report_format(s: &str) -> Result<ReportFormat, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sbom_path_and_subcommands_coexist() {
        let cli =
            Cli::try_parse_from(["tollgate", "sbom", "some/dir", "--format", "spdx-json"]).unwrap();
        let Command::Sbom(args) = cli.command else { panic!("not sbom") };
        assert!(args.command.is_none());
        assert_eq!(args.generate.paths, [PathBuf::from("some/dir")]);
        assert_eq!(args.generate.format, SbomFormat::SpdxJson);
        let cli = Cli::try_parse_from([
            "tollgate",
            "sbom",
            "diff",
            "a.json",
            "b.json",
            "--report-format",
            "sarif",
        ])
        .unwrap();
        let Command::Sbom(SbomArgs { command: Some(SbomCommand::Diff(d)), .. }) = cli.command
        else {
            panic!("not diff")
        };
        assert_eq!(d.report.report_format, ReportFormat::Sarif);
    }

    #[test]
    fn bad_spec_version_is_a_usage_error() {
        let err = Cli::try_parse_from(["tollgate", "sbom", "--spec-version", "1.2"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}

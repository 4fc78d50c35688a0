//! `tollgate db migrate|plan|status --database-url URL --dir DIR`: versioned SQL migrations.
//!
//! Exit codes: 0 applied / nothing to do / clean plan; 1 refused (drift, unapproved destructive
//! statements, an approval for another plan); 2 unreadable source, unreachable database, lock
//! timeout, or a migration that failed (and was rolled back).

use crate::cli::DbMigrateArgs;
use anyhow::Context;
use std::time::Instant;
use tollgate_core::{Finding, Verdict, time_source};
use tollgate_db::gate;
use tollgate_db::migrate::{self, MigrateError, Migration, Options, Plan};

fn load(args: &DbMigrateArgs) -> anyhow::Result<Vec<Migration>> {
    let source = &args.source;
    let migrations = match (&source.dir, &source.configmap, &source.git_repo, &source.git_commit) {
        (Some(dir), ..) => migrate::from_dir(dir)?,
        (_, Some(file), ..) => {
            let yaml = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read", file.display()))?;
            migrate::from_configmap_yaml(&yaml, &file.display().to_string())?
        }
        (_, _, Some(repo), Some(commit)) => {
            migrate::from_git(repo, commit, source.git_path.as_deref().unwrap_or(""))?
        }
        _ => anyhow::bail!("give --dir, --configmap, or --git-repo with --git-commit"),
    };
    Ok(migrations)
}

fn report(
    gate: &str,
    args: &DbMigrateArgs,
    migrations: &[Migration],
    findings: Vec<Finding>,
    start: (Instant, String),
) -> anyhow::Result<Verdict> {
    let duration = start.0.elapsed().as_millis() as u64;
    let report = gate::migration_report(gate, migrations, findings, start.1, duration);
    super::sbom::emit_report(&args.report, &report)
}

fn start() -> anyhow::Result<(Instant, String)> {
    Ok((Instant::now(), time_source::rfc3339(time_source::now()?)))
}

fn allowed(args: &DbMigrateArgs, plan: &Plan) -> bool {
    args.allow_destructive || args.approve.as_deref() == Some(plan.hash.as_str())
}

/// `tollgate db plan`: pending migrations, plan hash, destructive statements, drift.
pub fn plan(args: &DbMigrateArgs) -> anyhow::Result<Verdict> {
    let start = start()?;
    let migrations = load(args)?;
    let plan = migrate::plan(&args.database.database_url, &migrations)?;
    let findings = gate::plan_findings(&plan, allowed(args, &plan));
    report("db plan", args, &migrations, findings, start)
}

/// `tollgate db status`: applied, pending, drift.
pub fn status(args: &DbMigrateArgs) -> anyhow::Result<Verdict> {
    let start = start()?;
    let migrations = load(args)?;
    let plan = migrate::plan(&args.database.database_url, &migrations)?;
    report("db status", args, &migrations, gate::status_findings(&plan), start)
}

/// `tollgate db migrate`: apply what is pending.
pub fn migrate(args: &DbMigrateArgs) -> anyhow::Result<Verdict> {
    let start = start()?;
    let migrations = load(args)?;
    let options = Options {
        lock_timeout: args.lock_timeout,
        statement_timeout: args.statement_timeout,
        allow_destructive: args.allow_destructive,
        approve: args.approve.clone(),
        applied_by: None,
    };
    match migrate::migrate(&args.database.database_url, &migrations, &options) {
        Ok(outcome) => {
            report("db migrate", args, &migrations, gate::migrated_findings(&outcome), start)
        }
        Err(MigrateError::Drift(plan)) => {
            eprintln!("error: migration drift: nothing applied");
            report("db migrate", args, &migrations, plan.findings(allowed(args, &plan)), start)
        }
        Err(e @ (MigrateError::Destructive { .. } | MigrateError::ApprovalMismatch { .. })) => {
            eprintln!("error: {e}");
            let plan = migrate::plan(&args.database.database_url, &migrations)?;
            let mismatch = match &e {
                MigrateError::ApprovalMismatch { given, actual } => {
                    Some((given.as_str(), actual.as_str()))
                }
                _ => None,
            };
            let findings = gate::refused_findings(&plan, mismatch);
            report("db migrate", args, &migrations, findings, start)
        }
        Err(e) => Err(e.into()),
    }
}

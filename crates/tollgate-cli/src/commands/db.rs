//! `tollgate db migrate|plan|status --database-url URL --dir DIR`: versioned SQL migrations.
//!
//! Exit codes: 0 applied / nothing to do / clean plan; 1 refused (drift, unapproved destructive
//! statements, an approval for another plan); 2 unreadable source, unreachable database, lock
//! timeout, or a migration that failed (and was rolled back).

use crate::cli::DbMigrateArgs;
use anyhow::Context;
use std::time::Instant;
use tollgate_core::{Finding, GateInput, GateReport, Location, Severity, Verdict, time_source};
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

fn inputs(migrations: &[Migration]) -> Vec<GateInput> {
    migrations
        .iter()
        .map(|m| GateInput {
            name: m.origin.clone(),
            digest: tollgate_core::Digest::sha256(m.sql.as_bytes()),
        })
        .collect()
}

fn hash_finding(plan: &Plan) -> Finding {
    Finding::new(
        "db/plan-hash",
        Severity::Info,
        format!("plan {} ({} pending)", plan.hash, plan.pending.len()),
    )
    .about("plan")
}

fn report(
    gate: &str,
    args: &DbMigrateArgs,
    migrations: &[Migration],
    findings: Vec<Finding>,
    start: (Instant, String),
) -> anyhow::Result<Verdict> {
    let report = GateReport::new(
        gate,
        inputs(migrations),
        findings,
        Severity::Error,
        start.1,
        start.0.elapsed().as_millis() as u64,
    );
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
    let mut findings = plan.findings(allowed(args, &plan));
    findings.push(hash_finding(&plan));
    report("db plan", args, &migrations, findings, start)
}

/// `tollgate db status`: applied, pending, drift.
pub fn status(args: &DbMigrateArgs) -> anyhow::Result<Verdict> {
    let start = start()?;
    let migrations = load(args)?;
    let plan = migrate::plan(&args.database.database_url, &migrations)?;
    // Destructive statements are the plan's business; status reports state.
    let mut findings: Vec<Finding> =
        plan.findings(true).into_iter().filter(|f| f.rule != "db/destructive").collect();
    for a in &plan.applied {
        findings.push(
            Finding::new(
                "db/applied",
                Severity::Info,
                format!(
                    "V{}__{} applied {} by {} in {} ms",
                    a.version, a.name, a.applied_at, a.applied_by, a.duration_ms
                ),
            )
            .about(format!("V{}", a.version)),
        );
    }
    findings.push(hash_finding(&plan));
    report("db status", args, &migrations, findings, start)
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
            let mut findings: Vec<Finding> = outcome
                .plan
                .destructive()
                .map(|d| {
                    Finding::new(
                        "db/destructive",
                        Severity::Warning,
                        format!("{} (approved): {}", d.kind, d.statement),
                    )
                    .at(Location::file(d.origin.clone()).at_line(d.line))
                    .about(format!("V{}", d.version))
                })
                .collect();
            for a in &outcome.applied {
                findings.push(
                    Finding::new(
                        "db/applied",
                        Severity::Info,
                        format!("V{}__{} applied in {} ms", a.version, a.name, a.duration_ms),
                    )
                    .about(format!("V{}", a.version)),
                );
            }
            if outcome.applied.is_empty() {
                findings.push(
                    Finding::new("db/up-to-date", Severity::Info, "nothing to apply: up to date")
                        .about("database"),
                );
            }
            if outcome.lock_contended {
                findings.push(
                    Finding::new(
                        "db/lock-wait",
                        Severity::Info,
                        format!(
                            "waited {} ms for another run's migration lock",
                            outcome.lock_wait_ms
                        ),
                    )
                    .about("database"),
                );
            }
            report("db migrate", args, &migrations, findings, start)
        }
        Err(MigrateError::Drift(plan)) => {
            eprintln!("error: migration drift: nothing applied");
            report("db migrate", args, &migrations, plan.findings(allowed(args, &plan)), start)
        }
        Err(e @ (MigrateError::Destructive { .. } | MigrateError::ApprovalMismatch { .. })) => {
            eprintln!("error: {e}");
            let plan = migrate::plan(&args.database.database_url, &migrations)?;
            let mut findings = plan.findings(false);
            if let MigrateError::ApprovalMismatch { given, actual } = &e {
                findings.push(
                    Finding::new(
                        "db/approval-mismatch",
                        Severity::Error,
                        format!("--approve {given} does not match the plan {actual}"),
                    )
                    .about("plan"),
                );
            }
            findings.push(hash_finding(&plan));
            report("db migrate", args, &migrations, findings, start)
        }
        Err(e) => Err(e.into()),
    }
}

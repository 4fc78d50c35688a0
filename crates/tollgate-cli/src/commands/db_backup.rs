//! `tollgate db backup|list|retention|verify|restore`: backups in an object store.
//!
//! Exit codes: 0 done / verified / retention applied; 1 verification failed (gate `db-verify`);
//! 2 unreachable store or database, failed `pg_dump`, bad key, refused restore target.

use crate::cli::{
    DbBackupArgs, DbListArgs, DbRestoreArgs, DbRetentionArgs, DbVerifyArgs, VerifyTierArg,
};
use std::time::Instant;
use tollgate_core::Verdict;
use tollgate_core::time_source;
use tollgate_db::backup::{self, BackupOptions, BackupStatus};
use tollgate_db::restore::{self, Tier, VerifyOptions};
use tollgate_db::retention::RetentionPolicy;
use tollgate_db::store::Store;

fn open(url: &str) -> anyhow::Result<Store> {
    Ok(Store::open(url)?)
}

/// `tollgate db backup`.
pub fn backup(args: &DbBackupArgs) -> anyhow::Result<Verdict> {
    let clock = Instant::now();
    let started = time_source::rfc3339(time_source::now()?);
    let store = open(&args.store)?;
    let info = backup::backup(
        &store,
        &BackupOptions {
            database_url: args.database.database_url.clone(),
            recipients: args.recipients.clone(),
        },
    )?;
    let report = tollgate_db::gate::backup_report(
        &store,
        &info,
        started,
        clock.elapsed().as_millis() as u64,
    );
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate db list`.
pub fn list(args: &DbListArgs) -> anyhow::Result<Verdict> {
    let store = open(&args.store)?;
    let backups = backup::list(&store)?;
    let text = if args.json {
        let mut v = serde_json::to_value(&backups)?;
        if let Some(items) = v.as_array_mut() {
            for (item, b) in items.iter_mut().zip(&backups) {
                item["status"] = serde_json::to_value(b.status)?;
            }
        }
        format!("{}\n", serde_json::to_string_pretty(&v)?)
    } else {
        let mut t = format!(
            "{:<24} {:<24} {:<10} {:>12} {:<9} {:<8} {}\n",
            "ID", "DATABASE", "STATUS", "SIZE", "SCHEMA", "VERIFIED", "KEY"
        );
        for b in &backups {
            t.push_str(&format!(
                "{:<24} {:<24} {:<10} {:>12} {:<9} {:<8} {}\n",
                b.id,
                b.database,
                match b.status {
                    BackupStatus::Complete => "complete",
                    BackupStatus::Incomplete => "incomplete",
                    BackupStatus::Staging => "staging",
                },
                b.size,
                b.schema_version.as_deref().unwrap_or("-"),
                match &b.verified {
                    None => "-",
                    Some(v) => v.claim().unwrap_or("failed"),
                },
                b.key
            ));
        }
        if backups.is_empty() {
            t.push_str("(no backups)\n");
        }
        t
    };
    crate::output::emit(None, &text)?;
    Ok(Verdict::Pass)
}

/// `tollgate db retention`: a dry run unless `--apply`.
pub fn retention(args: &DbRetentionArgs) -> anyhow::Result<Verdict> {
    let clock = Instant::now();
    let now = time_source::now()?;
    let n = |v: Option<u32>| v.unwrap_or(0) as usize;
    let policy = RetentionPolicy {
        keep_last: n(args.keep_last),
        keep_hourly: n(args.keep_hourly),
        keep_daily: n(args.keep_daily),
        keep_weekly: n(args.keep_weekly),
        keep_monthly: n(args.keep_monthly),
        keep_yearly: n(args.keep_yearly),
        floor: args.floor.map_or(1, |f| f as usize),
        staging_grace_secs: args
            .staging_grace
            .map_or(tollgate_db::retention::DEFAULT_STAGING_GRACE_SECS, |d| d.as_secs()),
    };
    if [
        args.keep_last,
        args.keep_hourly,
        args.keep_daily,
        args.keep_weekly,
        args.keep_monthly,
        args.keep_yearly,
    ]
    .iter()
    .all(Option::is_none)
    {
        anyhow::bail!(
            "no retention rule given: pass at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly"
        );
    }
    let store = open(&args.store)?;
    let report = tollgate_db::gate::retention(&store, &policy, now, args.apply, clock)?;
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate db verify`.
pub fn verify(args: &DbVerifyArgs) -> anyhow::Result<Verdict> {
    let store = open(&args.store)?;
    let info = backup::find(&store, &args.backup_id)?;
    let identities = match &args.identity {
        Some(path) => restore::load_identities(path)?,
        None => Vec::new(),
    };
    let tier = match args.tier {
        VerifyTierArg::Checksum => Tier::Checksum,
        VerifyTierArg::Toc => Tier::Toc,
        VerifyTierArg::Restore => Tier::Restore,
    };
    let report = restore::verify(
        &store,
        &info,
        &VerifyOptions {
            tier,
            database_url: Some(args.database.database_url.clone()),
            identities,
            queries: args.queries.clone(),
            record: true,
        },
    )?;
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate db restore`.
pub fn restore(args: &DbRestoreArgs) -> anyhow::Result<Verdict> {
    let store = open(&args.store)?;
    let info = backup::find(&store, &args.backup_id)?;
    let identities = match &args.identity {
        Some(path) => restore::load_identities(path)?,
        None => Vec::new(),
    };
    let done = restore::restore_into(
        &store,
        &info,
        &args.database.database_url,
        args.replace,
        &identities,
    )?;
    crate::output::emit(
        None,
        &format!(
            "restored backup {} of {} ({} user tables{})\n",
            info.id,
            info.database,
            done.tables,
            if done.replaced { ", replacing existing objects" } else { "" }
        ),
    )?;
    Ok(Verdict::Pass)
}

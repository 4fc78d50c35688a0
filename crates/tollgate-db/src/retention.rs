//! GFS (grandfather-father-son) retention selection. Pure: no I/O, no clock.
//!
//! For each database, complete backups are ordered newest first. `keep_last` keeps the N newest;
//! each period rule (`keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly`)
//! keeps the newest backup in each of the N most recent UTC buckets (hour, day, ISO week, month,
//! year) that hold a backup. Then three guards apply, whatever the rules say:
//!
//! - the newest verified backup of a database (the newest whose latest verification passed,
//!   [`is_verified`]) is always kept;
//! - a database never goes below `floor` kept restorable backups: complete ones whose latest
//!   verification did not fail (incomplete entries and backups known to be broken do not count);
//! - a backup that is incomplete, or whose time is unknown or in the future, is kept: nothing is
//!   deleted on a guess.
//!
//! The staging file of an interrupted upload ([`BackupStatus::Staging`]) is not a backup: it is
//! deleted once it has not been written for `staging_grace_secs` (a running upload keeps it
//! fresh), and kept before that.

use crate::backup::{BackupInfo, BackupStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use tollgate_core::time_source::rfc3339;

/// The default grace period of staging files: a day without a write.
pub const DEFAULT_STAGING_GRACE_SECS: u64 = 24 * 3600;

fn default_staging_grace() -> u64 {
    DEFAULT_STAGING_GRACE_SECS
}

/// How many backups to keep, per database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Keep the N newest backups.
    pub keep_last: usize,
    /// Keep the newest backup of each of the N most recent hours (UTC) with a backup.
    pub keep_hourly: usize,
    /// The same per UTC day.
    pub keep_daily: usize,
    /// The same per ISO week.
    pub keep_weekly: usize,
    /// The same per month.
    pub keep_monthly: usize,
    /// The same per year.
    pub keep_yearly: usize,
    /// Never keep fewer than this many restorable backups of a database.
    pub floor: usize,
    /// Staging files of interrupted uploads not written for this many seconds are deleted.
    #[serde(default = "default_staging_grace")]
    pub staging_grace_secs: u64,
}

impl Default for RetentionPolicy {
    /// No keep rule, no floor, and the default staging grace period.
    fn default() -> Self {
        RetentionPolicy {
            keep_last: 0,
            keep_hourly: 0,
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
            keep_yearly: 0,
            floor: 0,
            staging_grace_secs: DEFAULT_STAGING_GRACE_SECS,
        }
    }
}

/// The decision about one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The backup id.
    pub id: String,
    /// The database it belongs to.
    pub database: String,
    /// `true` keep, `false` delete.
    pub keep: bool,
    /// Why (every rule that keeps it, or why it goes).
    pub reasons: Vec<String>,
}

#[derive(Clone, Copy)]
enum Period {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    fn name(self) -> &'static str {
        match self {
            Period::Hour => "hourly",
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
            Period::Year => "yearly",
        }
    }

    fn bucket(self, t: OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        match self {
            Period::Hour => {
                format!("{:04}-{:02}-{:02}T{:02}", t.year(), u8::from(t.month()), t.day(), t.hour())
            }
            Period::Day => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
            Period::Week => {
                let (y, w, _) = t.date().to_iso_week_date();
                format!("{y:04}-W{w:02}")
            }
            Period::Month => format!("{:04}-{:02}", t.year(), u8::from(t.month())),
            Period::Year => format!("{:04}", t.year()),
        }
    }
}

/// Whether the backup's latest verification passed (see [`crate::backup::Verification::passed`]).
pub fn is_verified(b: &BackupInfo) -> bool {
    b.verified.as_ref().is_some_and(|v| v.passed())
}

/// Whether a verification of the backup ran and its latest result is a failure: a backup that
/// is known not to restore does not count towards the floor.
pub fn is_known_broken(b: &BackupInfo) -> bool {
    b.verified.as_ref().is_some_and(|v| !v.passed())
}

/// Decides which backups to keep and which to delete. Decisions are grouped by database
/// (sorted by name), newest first within a database; the result is a function of the inputs only.
pub fn select_for_deletion(
    backups: &[BackupInfo],
    policy: &RetentionPolicy,
    now: OffsetDateTime,
) -> Vec<Decision> {
    let mut by_db: BTreeMap<&str, Vec<&BackupInfo>> = BTreeMap::new();
    for b in backups {
        by_db.entry(b.database.as_str()).or_default().push(b);
    }
    let mut out = Vec::new();
    for (db, mut list) in by_db {
        // Newest first; ties broken by id so the order never depends on the input order.
        list.sort_by(|a, b| b.started_at().cmp(&a.started_at()).then_with(|| b.id.cmp(&a.id)));
        let mut reasons: Vec<Vec<String>> = vec![Vec::new(); list.len()];
        let mut stale_staging = BTreeSet::new(); // indices of staging files past the grace period
        // Guards first: backups never deleted on a guess.
        let mut candidates = Vec::new(); // indices of complete backups with a known time
        for (i, b) in list.iter().enumerate() {
            if b.status == BackupStatus::Staging {
                let grace =
                    time::Duration::seconds(policy.staging_grace_secs.min(i64::MAX as u64) as i64);
                match b.last_written {
                    Some(t) if now - t >= grace => {
                        stale_staging.insert(i);
                    }
                    Some(t) => reasons[i].push(format!(
                        "staging file of an upload that may still be running (last written {}): \
                         kept for the grace period",
                        rfc3339(t)
                    )),
                    None => reasons[i].push(
                        "staging file whose last write is unknown: kept, not deleted on a guess"
                            .into(),
                    ),
                }
                continue;
            }
            match (b.status, b.started_at()) {
                (BackupStatus::Complete, Some(t)) if t <= now => candidates.push((i, t)),
                (BackupStatus::Complete, Some(_)) => {
                    reasons[i].push("started in the future: kept, not judged".into())
                }
                (BackupStatus::Complete, None) => {
                    reasons[i].push("start time unknown: kept, not deleted on a guess".into())
                }
                (BackupStatus::Incomplete | BackupStatus::Staging, _) => {
                    reasons[i].push("incomplete or unknown: kept, not deleted on a guess".into())
                }
            }
        }
        for (rank, (i, _)) in candidates.iter().enumerate() {
            if rank < policy.keep_last {
                reasons[*i].push(format!("keep-last {}", policy.keep_last));
            }
        }
        for (period, n) in [
            (Period::Hour, policy.keep_hourly),
            (Period::Day, policy.keep_daily),
            (Period::Week, policy.keep_weekly),
            (Period::Month, policy.keep_monthly),
            (Period::Year, policy.keep_yearly),
        ] {
            let mut seen = BTreeSet::new();
            for (i, t) in &candidates {
                if seen.len() >= n {
                    break;
                }
                let bucket = period.bucket(*t);
                if seen.insert(bucket.clone()) {
                    reasons[*i].push(format!("{} {bucket}", period.name()));
                }
            }
        }
        if let Some((i, _)) = candidates.iter().find(|(i, _)| is_verified(list[*i])) {
            reasons[*i].push("newest verified backup".into());
        }
        // The floor counts restorable backups only, newest first.
        let restorable = |i: usize| !is_known_broken(list[i]);
        let mut kept =
            candidates.iter().filter(|(i, _)| !reasons[*i].is_empty() && restorable(*i)).count();
        for (i, _) in &candidates {
            if kept >= policy.floor {
                break;
            }
            if reasons[*i].is_empty() && restorable(*i) {
                reasons[*i].push(format!("floor {}", policy.floor));
                kept += 1;
            }
        }
        if kept < policy.floor {
            // Fewer restorable backups than the floor: delete none of the rest either.
            for (i, _) in &candidates {
                if reasons[*i].is_empty() {
                    reasons[*i].push(format!(
                        "floor {}: only {kept} restorable backups, nothing else deleted",
                        policy.floor
                    ));
                }
            }
        }
        for (i, b) in list.iter().enumerate() {
            let keep = !reasons[i].is_empty();
            let why = if keep {
                std::mem::take(&mut reasons[i])
            } else if stale_staging.contains(&i) {
                vec![format!(
                    "staging file of an interrupted upload, not written since {} (grace {}s)",
                    b.last_written.map(rfc3339).unwrap_or_default(),
                    policy.staging_grace_secs
                )]
            } else {
                vec!["matches no keep rule".to_string()]
            };
            out.push(Decision { id: b.id.clone(), database: db.to_string(), keep, reasons: why });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{TierResult, Verification};
    use proptest::prelude::*;
    use time::macros::datetime;

    fn info(db: &str, t: OffsetDateTime, n: usize, verified: bool, complete: bool) -> BackupInfo {
        with_checks(db, t, n, if verified { &[("checksum", true)] } else { &[] }, complete)
    }

    /// A backup whose tiers' latest results are `checks` (none: never verified).
    fn with_checks(
        db: &str,
        t: OffsetDateTime,
        n: usize,
        checks: &[(&str, bool)],
        complete: bool,
    ) -> BackupInfo {
        let mut b = BackupInfo::for_tests(db, t, n);
        if !checks.is_empty() {
            let mut v = Verification::default();
            for (tier, passed) in checks {
                v.set(tier, TierResult { passed: *passed, at: b.completed.clone() });
            }
            b.verified = Some(v);
        }
        if !complete {
            b.status = BackupStatus::Incomplete;
        }
        b
    }

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn daily_keeps_newest_of_each_day() {
        let backups: Vec<_> = (0..6)
            .map(|h| {
                info(
                    "app",
                    datetime!(2026-11-20 00:00 UTC) + time::Duration::hours(h * 12),
                    h as usize,
                    false,
                    true,
                )
            })
            .collect();
        let policy = RetentionPolicy { keep_daily: 2, ..Default::default() };
        let d = select_for_deletion(&backups, &policy, NOW);
        let kept: Vec<_> = d.iter().filter(|d| d.keep).map(|d| d.reasons[0].clone()).collect();
        assert_eq!(kept, vec!["daily 2026-11-22", "daily 2026-11-21"]);
        assert_eq!(d.iter().filter(|d| !d.keep).count(), 4);
        assert_eq!(d[0].reasons, vec!["daily 2026-11-22"]);
    }

    #[test]
    fn guards_keep_verified_incomplete_and_future() {
        let backups = vec![
            info("app", datetime!(2026-11-24 00:00 UTC), 1, false, false),
            info("app", datetime!(2026-11-23 00:00 UTC), 2, false, true),
            info("app", datetime!(2026-11-22 00:00 UTC), 3, true, true),
            info("app", datetime!(2026-11-21 00:00 UTC), 4, true, true),
            info("app", datetime!(2027-01-01 00:00 UTC), 5, false, true),
        ];
        let d = select_for_deletion(&backups, &RetentionPolicy::default(), NOW);
        let keep: BTreeMap<_, _> =
            d.iter().map(|d| (d.id.clone(), (d.keep, d.reasons.clone()))).collect();
        assert!(keep[&backups[0].id].0, "incomplete kept");
        assert!(!keep[&backups[1].id].0);
        assert_eq!(keep[&backups[2].id], (true, vec!["newest verified backup".to_string()]));
        assert!(!keep[&backups[3].id].0, "only the newest verified is protected");
        assert!(keep[&backups[4].id].0, "future kept");
    }

    #[test]
    fn floor_counts_only_restorable_backups() {
        let t = |d: u8| datetime!(2026-11-01 00:00 UTC) + time::Duration::days(d.into());
        let backups = vec![
            info("app", t(20), 1, false, false), // incomplete: does not count
            with_checks("app", t(19), 2, &[("restore", false)], true), // broken: does not count
            info("app", t(18), 3, false, true),
            info("app", t(17), 4, false, true),
            info("app", t(16), 5, false, true),
        ];
        let policy = RetentionPolicy { floor: 2, ..Default::default() };
        let d = select_for_deletion(&backups, &policy, NOW);
        let kept: Vec<_> = d.iter().filter(|d| d.keep).map(|d| d.id.as_str()).collect();
        assert_eq!(kept, [&backups[0].id, &backups[2].id, &backups[3].id], "{d:#?}");
        assert_eq!(d[2].reasons, ["floor 2"]);
        // With fewer restorable backups than the floor, no complete backup goes.
        let policy = RetentionPolicy { floor: 4, ..Default::default() };
        let d = select_for_deletion(&backups, &policy, NOW);
        assert!(d.iter().all(|d| d.keep), "{d:#?}");
        assert!(d[1].reasons[0].contains("only 3 restorable backups"), "{:?}", d[1].reasons);
    }

    #[test]
    fn staging_files_go_after_the_grace_period() {
        let staging = |n: usize, last_written: Option<OffsetDateTime>| {
            let mut b = info("app", datetime!(2026-11-20 00:00 UTC), n, false, false);
            b.status = BackupStatus::Staging;
            b.key = format!("{}#7", b.key);
            b.last_written = last_written;
            b
        };
        let backups = vec![
            staging(1, Some(NOW - time::Duration::hours(25))),
            staging(2, Some(NOW - time::Duration::hours(23))),
            staging(3, None),
            info("app", datetime!(2026-11-19 00:00 UTC), 4, false, true),
        ];
        let policy = RetentionPolicy { keep_last: 1, ..Default::default() };
        let d = select_for_deletion(&backups, &policy, NOW);
        let by_id: BTreeMap<_, _> = d.iter().map(|d| (d.id.as_str(), d)).collect();
        let stale = by_id[backups[0].id.as_str()];
        assert!(!stale.keep);
        assert_eq!(
            stale.reasons,
            ["staging file of an interrupted upload, not written since 2026-11-24T11:00:00Z \
                 (grace 86400s)"]
        );
        assert!(by_id[backups[1].id.as_str()].keep, "still within the grace period");
        assert!(by_id[backups[2].id.as_str()].keep, "unknown age: not deleted on a guess");
        assert!(by_id[backups[3].id.as_str()].keep);
        let short = RetentionPolicy { staging_grace_secs: 3600, ..policy };
        let d = select_for_deletion(&backups, &short, NOW);
        assert_eq!(d.iter().filter(|d| !d.keep).count(), 2, "{d:#?}");
    }

    /// Verification histories: none, passed, failed, restore failed then checksum passed.
    const HISTORIES: [&[(&str, bool)]; 4] = [
        &[],
        &[("checksum", true), ("toc", true)],
        &[("checksum", true), ("restore", false)],
        &[("checksum", false)],
    ];

    fn arb_backups() -> impl Strategy<Value = Vec<BackupInfo>> {
        prop::collection::vec(
            (0usize..3, 0i64..(400 * 24), 0usize..HISTORIES.len(), prop::bool::weighted(0.9)),
            0..40,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(n, (db, hours, history, complete))| {
                    let t = NOW - time::Duration::hours(hours) - time::Duration::seconds(n as i64);
                    with_checks(["a", "b", "c"][db], t, n, HISTORIES[history], complete)
                })
                .collect()
        })
    }

    #[test]
    fn newest_verified_means_latest_verification_passed() {
        let backups = vec![
            with_checks(
                "app",
                datetime!(2026-11-24 00:00 UTC),
                1,
                &[("checksum", true), ("restore", false)],
                true,
            ),
            with_checks("app", datetime!(2026-11-23 00:00 UTC), 2, &[("checksum", false)], true),
            with_checks(
                "app",
                datetime!(2026-11-22 00:00 UTC),
                3,
                &[("checksum", true), ("toc", true)],
                true,
            ),
            with_checks("app", datetime!(2026-11-21 00:00 UTC), 4, &[("restore", true)], true),
        ];
        let d = select_for_deletion(&backups, &RetentionPolicy::default(), NOW);
        let kept: Vec<_> = d.iter().filter(|d| d.keep).map(|d| d.id.clone()).collect();
        assert_eq!(kept, vec![backups[2].id.clone()], "{d:#?}");
    }

    fn arb_policy() -> impl Strategy<Value = RetentionPolicy> {
        (0usize..5, 0usize..5, 0usize..5, 0usize..4, 0usize..4, 0usize..3, 0usize..6).prop_map(
            |(l, h, d, w, m, y, f)| RetentionPolicy {
                keep_last: l,
                keep_hourly: h,
                keep_daily: d,
                keep_weekly: w,
                keep_monthly: m,
                keep_yearly: y,
                floor: f,
                ..Default::default()
            },
        )
    }

    fn newest_first(backups: &[BackupInfo], db: &str) -> Vec<BackupInfo> {
        let mut v: Vec<_> = backups.iter().filter(|b| b.database == db).cloned().collect();
        v.sort_by(|a, b| b.started_at().cmp(&a.started_at()).then_with(|| b.id.cmp(&a.id)));
        v
    }

    proptest! {
        #[test]
        fn never_deletes_newest_verified(backups in arb_backups(), policy in arb_policy()) {
            let d = select_for_deletion(&backups, &policy, NOW);
            for db in ["a", "b", "c"] {
                if let Some(v) = newest_first(&backups, db).into_iter()
                    .find(|b| is_verified(b) && b.status == BackupStatus::Complete) {
                    prop_assert!(d.iter().any(|d| d.id == v.id && d.keep));
                }
            }
        }

        #[test]
        fn keeps_at_least_floor_and_incomplete(backups in arb_backups(), policy in arb_policy()) {
            let d = select_for_deletion(&backups, &policy, NOW);
            prop_assert_eq!(d.len(), backups.len());
            let kept = |b: &BackupInfo| d.iter().any(|d| d.id == b.id && d.keep);
            for db in ["a", "b", "c"] {
                let complete: Vec<_> = backups.iter()
                    .filter(|b| b.database == db && b.status == BackupStatus::Complete)
                    .collect();
                let restorable: Vec<_> =
                    complete.iter().filter(|b| !is_known_broken(b)).collect();
                let kept_restorable = restorable.iter().filter(|b| kept(b)).count();
                // The floor counts restorable backups only…
                prop_assert!(kept_restorable >= policy.floor.min(restorable.len()));
                // …and when there are too few of them, no complete backup is deleted.
                if restorable.len() < policy.floor {
                    prop_assert!(complete.iter().all(|b| kept(b)));
                }
            }
            for b in backups.iter().filter(|b| b.status == BackupStatus::Incomplete) {
                prop_assert!(d.iter().any(|d| d.id == b.id && d.keep));
            }
        }

        #[test]
        fn keep_last_keeps_the_newest(backups in arb_backups(), policy in arb_policy()) {
            let d = select_for_deletion(&backups, &policy, NOW);
            for db in ["a", "b", "c"] {
                for b in newest_first(&backups, db).iter().take(policy.keep_last) {
                    prop_assert!(d.iter().any(|d| d.id == b.id && d.keep));
                }
            }
        }

        #[test]
        fn idempotent_and_deterministic(backups in arb_backups(), policy in arb_policy()) {
            let d = select_for_deletion(&backups, &policy, NOW);
            let mut shuffled = backups.clone();
            shuffled.reverse();
            prop_assert_eq!(&d, &select_for_deletion(&shuffled, &policy, NOW));
            let kept: Vec<_> = backups.iter()
                .filter(|b| d.iter().any(|d| d.id == b.id && d.keep)).cloned().collect();
            let again = select_for_deletion(&kept, &policy, NOW);
            prop_assert!(again.iter().all(|d| d.keep), "second pass deletes: {:?}", again);
        }
    }
}

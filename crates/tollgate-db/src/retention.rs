//! GFS (grandfather-father-son) retention selection. Pure: no I/O, no clock.
//!
//! For each database, complete backups are ordered newest first. `keep_last` keeps the N newest;
//! each period rule (`keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly`)
//! keeps the newest backup in each of the N most recent UTC buckets (hour, day, ISO week, month,
//! year) that hold a backup. Then three guards apply, whatever the rules say:
//!
//! - the newest verified backup of a database (the newest whose latest verification passed,
//!   [`is_verified`]) is always kept;
//! - a database never goes below `floor` kept backups;
//! - a backup that is incomplete, or whose time is unknown or in the future, is kept: nothing is
//!   deleted on a guess.

use crate::backup::{BackupInfo, BackupStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// How many backups to keep, per database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    /// Never keep fewer than this many backups of a database.
    pub floor: usize,
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
        // Guards first: backups never deleted on a guess.
        let mut candidates = Vec::new(); // indices of complete backups with a known time
        for (i, b) in list.iter().enumerate() {
            match (b.status, b.started_at()) {
                (BackupStatus::Complete, Some(t)) if t <= now => candidates.push((i, t)),
                (BackupStatus::Complete, Some(_)) => {
                    reasons[i].push("started in the future: kept, not judged".into())
                }
                (BackupStatus::Complete, None) => {
                    reasons[i].push("start time unknown: kept, not deleted on a guess".into())
                }
                (BackupStatus::Incomplete, _) => {
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
        let mut kept = reasons.iter().filter(|r| !r.is_empty()).count();
        for (i, _) in &candidates {
            if kept >= policy.floor {
                break;
            }
            if reasons[*i].is_empty() {
                reasons[*i].push(format!("floor {}", policy.floor));
                kept += 1;
            }
        }
        for (i, b) in list.iter().enumerate() {
            let keep = !reasons[i].is_empty();
            let why = if keep {
                std::mem::take(&mut reasons[i])
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
            for db in ["a", "b", "c"] {
                let n = backups.iter().filter(|b| b.database == db).count();
                let kept = d.iter().filter(|d| d.database == db && d.keep).count();
                prop_assert!(kept >= policy.floor.min(n));
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

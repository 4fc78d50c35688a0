//! Cron schedules with an IANA time zone (pure: the caller passes "now").
//!
//! Patterns are classic 5-field cron (`minute hour day-of-month month day-of-week`, names like
//! `MON`/`JAN` allowed, day-of-month and day-of-week OR-ed as in Vixie cron), parsed and searched
//! by `croner` on `jiff::Zoned` values, so the search happens in the zone's wall clock:
//!
//! - **DST gap** (spring forward): a fixed-time schedule (`30 2 * * *`) whose time does not exist
//!   that day fires once, at the first minute after the gap (03:00 when 02:00–03:00 is skipped);
//!   interval schedules (`*/15 * * * *`) skip the missing minutes.
//! - **DST fold** (fall back): a fixed-time schedule fires once, at the first occurrence;
//!   interval schedules fire in both passes of the repeated hour. Times are compared as instants,
//!   so the next fire time is always strictly later than the previous one.
//!
//! **Missed runs** ([`Schedule::due`]): when the operator was down or slow, at most one catch-up
//! run is started — for the most recent missed time — never a burst; runs older than the
//! starting deadline are skipped and counted.

use std::str::FromStr;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A bad schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron pattern does not parse.
    #[error("schedule {pattern:?}: {message}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// The time zone is not an IANA name known to the time zone database.
    #[error("time zone {zone:?}: {message}")]
    TimeZone {
        /// The zone as given.
        zone: String,
        /// What is wrong.
        message: String,
    },
    /// The pattern never matches (e.g. `0 0 30 2 *`) or the search left the supported years.
    #[error("schedule {pattern:?} has no run after {after}")]
    NoRun {
        /// The pattern.
        pattern: String,
        /// The time searched from.
        after: Timestamp,
    },
}

/// A parsed cron pattern in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    pattern: String,
    zone: TimeZone,
}

/// What a controller should do now ([`Schedule::due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The scheduled time to run now (the most recent one missed), if any.
    pub run: Option<Timestamp>,
    /// Scheduled times after the last run, up to now, that will never run (older missed runs,
    /// and the most recent one when it is past the starting deadline). Counted only up to
    /// [`MAX_COUNTED_MISSES`].
    pub skipped: u32,
    /// The next scheduled time after now: when to look again.
    pub next: Timestamp,
}

/// Missed runs counted by [`Schedule::due`] before it stops counting.
pub const MAX_COUNTED_MISSES: u32 = 1000;

impl Schedule {
    /// Parses a 5-field pattern and an IANA zone name (`None` or `""`: UTC).
    pub fn new(pattern: &str, zone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let parser =
            CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let trimmed = pattern.trim();
        if trimmed.split_whitespace().count() != 5 {
            return Err(ScheduleError::Pattern {
                pattern: pattern.to_owned(),
                message: "expected 5 fields: minute hour day-of-month month day-of-week".into(),
            });
        }
        let cron = parser.parse(trimmed).map_err(|e| ScheduleError::Pattern {
            pattern: pattern.to_owned(),
            message: e.to_string(),
        })?;
        let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|e| ScheduleError::TimeZone {
                zone: name.to_owned(),
                message: e.to_string(),
            })?,
        };
        Ok(Schedule { cron, pattern: trimmed.to_owned(), zone })
    }

    /// The pattern as parsed.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first scheduled time strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Result<Timestamp, ScheduleError> {
        let start = after.to_zoned(self.zone.clone());
        self.cron
            .find_next_occurrence(&start, false)
            .map(|z| z.timestamp())
            .map_err(|_| ScheduleError::NoRun { pattern: self.pattern.clone(), after })
    }

    /// The last scheduled time at or before `at`, if there is one within croner's search range.
    pub fn last_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        let start = at.to_zoned(self.zone.clone());
        self.cron.find_previous_occurrence(&start, true).ok().map(|z| z.timestamp())
    }

    /// Whether a run is due at `now`, given the last scheduled time that was started (`None`:
    /// never; then `since`, e.g. the policy's creation time, is where missed runs start counting).
    ///
    /// - No scheduled time in `(last, now]`: nothing to run.
    /// - One or more: only the most recent one runs — if it is no older than
    ///   `starting_deadline` (`None`: no limit); all others are `skipped`.
    pub fn due(
        &self,
        last: Option<Timestamp>,
        since: Timestamp,
        now: Timestamp,
        starting_deadline: Option<jiff::SignedDuration>,
    ) -> Result<Due, ScheduleError> {
        let from = last.unwrap_or(since);
        let next = self.next_after(now)?;
        if from >= now {
            return Ok(Due { run: None, skipped: 0, next });
        }
        let latest = match self.last_at_or_before(now) {
            Some(t) if t > from => t,
            _ => return Ok(Due { run: None, skipped: 0, next }),
        };
        // Count the older missed times (bounded), walking forward from `from`.
        let mut skipped = 0;
        let mut t = from;
        while skipped < MAX_COUNTED_MISSES {
            t = self.next_after(t)?;
            if t >= latest {
                break;
            }
            skipped += 1;
        }
        let too_late = starting_deadline.is_some_and(|d| now.duration_since(latest) > d);
        if too_late {
            return Ok(Due { run: None, skipped: skipped.saturating_add(1), next });
        }
        Ok(Due { run: Some(latest), skipped, next })
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    /// A pattern in UTC.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::new(s, None)
    }
}

/// `<prefix>-<yyyymmddhhmm>` of `t` in UTC: the deterministic name of the run scheduled at `t`.
/// The prefix is cut so the name stays a valid object name (at most 63 characters, no trailing
/// `-`).
pub fn run_name(prefix: &str, t: Timestamp) -> String {
    let stamp = t.strftime("%Y%m%d%H%M").to_string();
    let max_prefix = 63 - 1 - stamp.len();
    let mut p: String = prefix.chars().take(max_prefix).collect();
    while p.ends_with('-') || p.ends_with('.') {
        p.pop();
    }
    format!("{p}-{stamp}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn zoned(s: &Schedule, t: Timestamp) -> String {
        t.to_zoned(s.zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
    }

    /// Distroless and scratch images have no /usr/share/zoneinfo: jiff then falls back to its
    /// bundled copy of the IANA database (`tzdb-bundle-always`), which must know the zones.
    #[test]
    fn time_zones_resolve_without_a_system_database() {
        let empty = tempfile::tempdir().expect("a temporary directory");
        let system = jiff::tz::TimeZoneDatabase::from_dir(empty.path());
        assert!(
            system.is_err() || system.is_ok_and(|db| db.get("Europe/Berlin").is_err()),
            "an empty directory has no zones"
        );
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        let berlin = bundled.get("Europe/Berlin").expect("the bundled database");
        let summer = ts("2026-07-01T12:00:00Z").to_zoned(berlin.clone());
        let winter = ts("2026-01-01T12:00:00Z").to_zoned(berlin);
        assert_eq!(summer.offset().seconds(), 2 * 3600, "CEST");
        assert_eq!(winter.offset().seconds(), 3600, "CET");
        assert!(bundled.get("America/Sao_Paulo").is_ok());
    }

    #[test]
    fn rejects_bad_patterns_and_zones() {
        for bad in
            ["", "* * * *", "0 0 * * * *", "61 * * * *", "0 25 * * *", "0 0 32 * *", "x y z a b"]
        {
            let e = Schedule::new(bad, None).unwrap_err();
            assert!(matches!(e, ScheduleError::Pattern { .. }), "{bad:?}: {e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        let e = Schedule::new("0 3 * * *", Some("Mars/Olympus_Mons")).unwrap_err();
        assert!(matches!(e, ScheduleError::TimeZone { .. }), "{e}");
        assert!(Schedule::new("0 3 * * MON-FRI", Some("Europe/Berlin")).is_ok());
        assert!(Schedule::new(" 0 3 * JAN,JUL SUN ", Some("")).is_ok());
    }

    #[test]
    fn next_in_a_time_zone() {
        let s = Schedule::new("0 3 * * *", Some("Europe/Berlin")).unwrap();
        // 2026-01-10 03:00 CET = 02:00 UTC.
        assert_eq!(s.next_after(ts("2026-01-10T00:00:00Z")).unwrap(), ts("2026-01-10T02:00:00Z"));
        // Summer: CEST, 03:00 = 01:00 UTC.
        assert_eq!(s.next_after(ts("2026-07-10T00:00:00Z")).unwrap(), ts("2026-07-10T01:00:00Z"));
        // Strictly after: at the fire time, the next one is a day later.
        assert_eq!(s.next_after(ts("2026-07-10T01:00:00Z")).unwrap(), ts("2026-07-11T01:00:00Z"));
        let utc: Schedule = "*/15 * * * *".parse().unwrap();
        assert_eq!(utc.next_after(ts("2026-01-01T10:07:00Z")).unwrap(), ts("2026-01-01T10:15:00Z"));
    }

    #[test]
    fn day_of_month_or_day_of_week_like_vixie_cron() {
        // 13th of the month OR a Friday.
        let s: Schedule = "0 0 13 * FRI".parse().unwrap();
        // 2026-02-01 is a Sunday; the first Friday is the 6th, before the 13th.
        assert_eq!(s.next_after(ts("2026-02-01T00:00:00Z")).unwrap(), ts("2026-02-06T00:00:00Z"));
    }

    #[test]
    fn spring_forward_gap_runs_once_after_the_gap() {
        // Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST.
        let s = Schedule::new("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let on_the_day = s.next_after(ts("2026-03-28T23:00:00Z")).unwrap();
        assert_eq!(zoned(&s, on_the_day), "2026-03-29 03:00 CEST");
        let after = s.next_after(on_the_day).unwrap();
        assert_eq!(zoned(&s, after), "2026-03-30 02:30 CEST");
        // An interval schedule skips the missing hour.
        let q = Schedule::new("*/30 * * * *", Some("Europe/Berlin")).unwrap();
        let mut t = ts("2026-03-29T00:40:00Z"); // 01:40 CET
        let mut seen = Vec::new();
        for _ in 0..3 {
            t = q.next_after(t).unwrap();
            seen.push(zoned(&q, t));
        }
        assert_eq!(
            seen,
            ["2026-03-29 03:00 CEST", "2026-03-29 03:30 CEST", "2026-03-29 04:00 CEST"]
        );
    }

    #[test]
    fn fall_back_fold_runs_fixed_times_once() {
        // Europe/Berlin 2026-10-25: 03:00 CEST goes back to 02:00 CET.
        let s = Schedule::new("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let first = s.next_after(ts("2026-10-24T22:00:00Z")).unwrap();
        assert_eq!(first, ts("2026-10-25T00:30:00Z"), "02:30 CEST, the first pass");
        let next = s.next_after(first).unwrap();
        assert_eq!(zoned(&s, next), "2026-10-26 02:30 CET", "not again in the second pass");
        // America/New_York 2026-11-01: 02:00 EDT goes back to 01:00 EST; hourly runs twice.
        let h = Schedule::new("0 * * * *", Some("America/New_York")).unwrap();
        let mut t = ts("2026-11-01T04:30:00Z"); // 00:30 EDT
        let mut seen = Vec::new();
        for _ in 0..3 {
            t = h.next_after(t).unwrap();
            seen.push(t);
        }
        assert_eq!(
            seen,
            [ts("2026-11-01T05:00:00Z"), ts("2026-11-01T06:00:00Z"), ts("2026-11-01T07:00:00Z")],
            "01:00 EDT, 01:00 EST, 02:00 EST"
        );
    }

    #[test]
    fn impossible_dates_are_an_error_not_a_hang() {
        let s: Schedule = "0 0 30 2 *".parse().unwrap();
        assert!(matches!(
            s.next_after(ts("2026-01-01T00:00:00Z")),
            Err(ScheduleError::NoRun { .. })
        ));
        // Feb 29 exists every four years.
        let leap: Schedule = "0 0 29 2 *".parse().unwrap();
        assert_eq!(
            leap.next_after(ts("2026-03-01T00:00:00Z")).unwrap(),
            ts("2028-02-29T00:00:00Z")
        );
    }

    #[test]
    fn due_runs_at_most_one_catch_up() {
        let s: Schedule = "0 * * * *".parse().unwrap();
        let created = ts("2026-01-01T00:30:00Z");
        // Before the first fire time: nothing.
        let d = s.due(None, created, ts("2026-01-01T00:59:00Z"), None).unwrap();
        assert_eq!(d, Due { run: None, skipped: 0, next: ts("2026-01-01T01:00:00Z") });
        // Exactly at it: run it.
        let d = s.due(None, created, ts("2026-01-01T01:00:00Z"), None).unwrap();
        assert_eq!(d.run, Some(ts("2026-01-01T01:00:00Z")));
        assert_eq!(d.next, ts("2026-01-01T02:00:00Z"));
        // Already ran it: nothing until the next.
        let d = s
            .due(Some(ts("2026-01-01T01:00:00Z")), created, ts("2026-01-01T01:30:00Z"), None)
            .unwrap();
        assert_eq!(d.run, None);
        // Down for five hours: one run (the latest), four skipped.
        let d = s
            .due(Some(ts("2026-01-01T01:00:00Z")), created, ts("2026-01-01T06:10:00Z"), None)
            .unwrap();
        assert_eq!(
            d,
            Due {
                run: Some(ts("2026-01-01T06:00:00Z")),
                skipped: 4,
                next: ts("2026-01-01T07:00:00Z")
            }
        );
        // The same, with a 5-minute starting deadline: too late for 06:00 too.
        let d = s
            .due(
                Some(ts("2026-01-01T01:00:00Z")),
                created,
                ts("2026-01-01T06:10:00Z"),
                Some(jiff::SignedDuration::from_mins(5)),
            )
            .unwrap();
        assert_eq!(d, Due { run: None, skipped: 5, next: ts("2026-01-01T07:00:00Z") });
        // A very long outage is counted up to the cap, not walked forever.
        let m: Schedule = "* * * * *".parse().unwrap();
        let d = m
            .due(Some(ts("2025-01-01T00:00:00Z")), created, ts("2026-01-01T00:00:30Z"), None)
            .unwrap();
        assert_eq!(d.run, Some(ts("2026-01-01T00:00:00Z")));
        assert_eq!(d.skipped, MAX_COUNTED_MISSES);
    }

    #[test]
    fn run_names_are_utc_minutes() {
        assert_eq!(run_name("nightly", ts("2026-03-29T01:00:00Z")), "nightly-202603290100");
        let long = "p".repeat(80);
        let n = run_name(&long, ts("2026-03-29T01:00:00Z"));
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("-202603290100"));
        assert_eq!(run_name("a-----", ts("2026-03-29T01:00:00Z")), "a-202603290100");
    }

    fn pattern() -> impl Strategy<Value = String> {
        let minute = prop_oneof![
            Just("*".to_owned()),
            (0u8..60).prop_map(|m| m.to_string()),
            (1u8..31).prop_map(|s| format!("*/{s}"))
        ];
        let hour = prop_oneof![
            Just("*".to_owned()),
            (0u8..24).prop_map(|h| h.to_string()),
            (0u8..12).prop_map(|h| format!("{h}-{}", h + 11))
        ];
        let dom = prop_oneof![Just("*".to_owned()), (1u8..29).prop_map(|d| d.to_string())];
        let month = prop_oneof![Just("*".to_owned()), (1u8..13).prop_map(|m| m.to_string())];
        let dow = prop_oneof![
            Just("*".to_owned()),
            (0u8..7).prop_map(|d| d.to_string()),
            Just("MON-FRI".to_owned())
        ];
        (minute, hour, dom, month, dow).prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
    }

    fn zone() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("UTC"),
            Just("Europe/Berlin"),
            Just("America/New_York"),
            Just("Australia/Lord_Howe"), // 30-minute DST shift
            Just("Asia/Kolkata"),        // +05:30, no DST
            Just("America/Sao_Paulo"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// next > now; the next time matches the pattern in the zone's wall clock (or is the
        /// first minute after a DST gap that swallowed the matching time); successive times are
        /// strictly increasing; nothing matching lies between now and next.
        #[test]
        fn next_is_a_later_match_and_monotonic(p in pattern(), z in zone(), secs in 1_700_000_000i64..1_900_000_000) {
            let s = Schedule::new(&p, Some(z)).unwrap();
            let now = Timestamp::from_second(secs).unwrap();
            let mut prev = now;
            for _ in 0..4 {
                let next = s.next_after(prev).unwrap();
                prop_assert!(next > prev, "{p} {z}: {next} after {prev}");
                let zn = next.to_zoned(s.zone.clone());
                let matches = s.cron.is_time_matching(&zn).unwrap();
                let after_gap = {
                    let before = (next - jiff::SignedDuration::from_secs(1)).to_zoned(s.zone.clone());
                    before.offset() != zn.offset()
                };
                prop_assert!(matches || after_gap, "{p} {z}: {zn} does not match");
                // No matching minute strictly between prev and next (checked minute by minute
                // for short spans without a DST transition, where the rules above apply).
                let transition = s.zone.following(prev).next().is_some_and(|t| t.timestamp() <= next);
                if !transition && next.duration_since(prev) <= jiff::SignedDuration::from_hours(3) {
                    let mut t = prev.round(jiff::TimestampRound::new().smallest(jiff::Unit::Minute).mode(jiff::RoundMode::Ceil)).unwrap();
                    if t == prev { t += jiff::SignedDuration::from_mins(1); }
                    while t < next {
                        let zt = t.to_zoned(s.zone.clone());
                        prop_assert!(!s.cron.is_time_matching(&zt).unwrap(), "{p} {z}: missed {zt} between {prev} and {next}");
                        t += jiff::SignedDuration::from_mins(1);
                    }
                }
                prev = next;
            }
        }

        /// `due` never proposes more than one run, never one in the future or at/before the
        /// last run, and its `next` is after now.
        #[test]
        fn due_is_bounded(p in pattern(), z in zone(), secs in 1_700_000_000i64..1_900_000_000, gap in 0i64..400_000, since_last in proptest::option::of(0i64..400_000)) {
            let s = Schedule::new(&p, Some(z)).unwrap();
            let now = Timestamp::from_second(secs).unwrap();
            let since = Timestamp::from_second(secs - gap).unwrap();
            let last = since_last.map(|d| Timestamp::from_second(secs - d).unwrap());
            let d = s.due(last, since, now, None).unwrap();
            prop_assert!(d.next > now);
            if let Some(run) = d.run {
                prop_assert!(run <= now);
                prop_assert!(run > last.unwrap_or(since));
                prop_assert!(s.next_after(run).unwrap() > now, "only the most recent missed run");
            } else {
                prop_assert_eq!(d.skipped, 0);
            }
        }
    }
}

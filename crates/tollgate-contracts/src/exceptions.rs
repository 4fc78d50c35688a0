//! Accepted exceptions (`[[contracts.exceptions]]`): each names a rule (and optionally a subject
//! and a spec), an owner, a reason and an expiry date.
//!
//! - An exception in force that covers a finding lowers it to info, with a note naming the owner.
//! - An expired exception covers nothing and is itself an error naming its owner.
//! - An exception that matched nothing is a warning: stale configuration to remove.
//! - An exception whose expiry is not a `YYYY-MM-DD` date is an error.

use crate::gate::ContractException;
use time::Date;
use time::macros::format_description;
use tollgate_core::{Finding, Location, Rule, Severity};

/// Rule: an exception past its expiry date (it covers nothing any more).
pub const EXPIRED: Rule = Rule::new(
    "contracts/exception-expired",
    Severity::Error,
    "an accepted exception past its expiry date",
);
/// Rule: an exception that matched no change (stale configuration).
pub const UNUSED: Rule = Rule::new(
    "contracts/exception-unused",
    Severity::Warning,
    "an exception that matches no change: stale configuration",
);
/// Rule: an exception whose expiry is not a `YYYY-MM-DD` date.
pub const INVALID: Rule = Rule::new(
    "contracts/exception-invalid",
    Severity::Error,
    "an exception whose expiry is not a YYYY-MM-DD date",
);

/// Parses an expiry date (`2026-12-31`).
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text.trim(), format_description!("[year]-[month]-[day]")).ok()
}

#[derive(Debug)]
enum State {
    /// In force until (and including) the date.
    Active,
    Expired,
    Invalid,
}

/// Exceptions being applied to the findings of one gate run.
#[derive(Debug)]
pub struct Exceptions<'a> {
    list: &'a [ContractException],
    states: Vec<State>,
    used: Vec<bool>,
    config_file: String,
}

impl<'a> Exceptions<'a> {
    /// Exceptions judged on `today` (an exception expiring today is still in force);
    /// `config_file` names where they come from in findings (`tollgate.toml`).
    pub fn new(list: &'a [ContractException], today: Date, config_file: &str) -> Exceptions<'a> {
        let states = list
            .iter()
            .map(|e| match parse_date(&e.expires) {
                Some(date) if date >= today => State::Active,
                Some(_) => State::Expired,
                None => State::Invalid,
            })
            .collect();
        Exceptions { list, states, used: vec![false; list.len()], config_file: config_file.into() }
    }

    /// Applies the exceptions to the findings of the spec `spec` (its path as configured):
    /// a finding covered by an exception in force is lowered to info with a note.
    pub fn apply(&mut self, spec: &str, findings: &mut [Finding]) {
        for finding in findings.iter_mut() {
            for (i, exception) in self.list.iter().enumerate() {
                if !covers(exception, spec, finding) {
                    continue;
                }
                self.used[i] = true;
                if matches!(self.states[i], State::Active) && finding.severity > Severity::Info {
                    finding.message.push_str(&format!(
                        " (accepted by exception: owner {}, expires {}: {})",
                        exception.owner, exception.expires, exception.reason
                    ));
                    finding.severity = Severity::Info;
                }
            }
        }
    }

    /// Findings about the exceptions themselves: expired (error, naming the owner), invalid
    /// (error) and unused (warning).
    pub fn finish(self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, exception) in self.list.iter().enumerate() {
            let what = describe(exception);
            let location = Location::file(self.config_file.clone())
                .at_pointer(format!("/contracts/exceptions/{i}"));
            let finding = match self.states[i] {
                State::Expired => EXPIRED.finding_at(
                    Severity::Error,
                    format!(
                        "exception for {what} expired on {} (owner: {}; reason: {})",
                        exception.expires, exception.owner, exception.reason
                    ),
                )
                .fix(format!(
                    "{} must fix the change or renew the exception with a new expiry date",
                    exception.owner
                )),
                State::Invalid => INVALID.finding_at(
                    Severity::Error,
                    format!(
                        "exception for {what} (owner: {}) has expiry {:?}, not a YYYY-MM-DD date",
                        exception.owner, exception.expires
                    ),
                ),
                State::Active if !self.used[i] => UNUSED.finding_at(
                    Severity::Warning,
                    format!(
                        "exception for {what} (owner: {}) matches no change: stale configuration",
                        exception.owner
                    ),
                )
                .fix("remove it from [[contracts.exceptions]]"),
                State::Active => continue,
            };
            out.push(finding.at(location).about(exception.owner.clone()));
        }
        out
    }
}

fn describe(e: &ContractException) -> String {
    let mut s = e.rule.clone();
    if let Some(subject) = &e.subject {
        s.push_str(&format!(" on {subject}"));
    }
    if let Some(spec) = &e.spec {
        s.push_str(&format!(" in {spec}"));
    }
    s
}

fn same_path(a: &str, b: &str) -> bool {
    let clean = |s: &str| s.trim_start_matches("./").replace('\\', "/");
    clean(a) == clean(b)
}

fn covers(e: &ContractException, spec: &str, finding: &Finding) -> bool {
    e.rule == finding.rule
        && e.subject.as_ref().is_none_or(|s| finding.subject.as_deref() == Some(s.as_str()))
        && e.spec.as_ref().is_none_or(|s| {
            same_path(s, spec) || finding.location.as_ref().is_some_and(|l| same_path(s, &l.file))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn exception(rule: &str, subject: Option<&str>, expires: &str) -> ContractException {
        ContractException {
            rule: rule.into(),
            subject: subject.map(Into::into),
            spec: Some("api/openapi.yaml".into()),
            owner: "team-x".into(),
            reason: "clients migrated".into(),
            expires: expires.into(),
        }
    }

    fn finding(rule: &str, subject: &str) -> Finding {
        Finding::new(rule, Severity::Error, "broke").about(subject)
    }

    #[test]
    fn active_exception_lowers_to_info_with_a_note() {
        let list = [exception("openapi/a", Some("GET /u"), "2026-12-31")];
        let mut ex = Exceptions::new(&list, date!(2026 - 12 - 31), "tollgate.toml");
        let mut findings = vec![finding("openapi/a", "GET /u"), finding("openapi/a", "GET /v")];
        ex.apply("api/openapi.yaml", &mut findings);
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].message.contains("team-x"));
        assert_eq!(findings[1].severity, Severity::Error);
        assert!(ex.finish().is_empty());
    }

    #[test]
    fn other_spec_is_not_covered() {
        let list = [exception("openapi/a", None, "2026-12-31")];
        let mut ex = Exceptions::new(&list, date!(2026 - 01 - 01), "tollgate.toml");
        let mut findings = vec![finding("openapi/a", "GET /u")];
        ex.apply("api/other.yaml", &mut findings);
        assert_eq!(findings[0].severity, Severity::Error);
        let out = ex.finish();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].rule.as_str(), out[0].severity), (UNUSED.id, Severity::Warning));
    }

    #[test]
    fn expired_exception_fails_naming_its_owner_and_covers_nothing() {
        let list = [exception("openapi/a", None, "2025-01-01")];
        let mut ex = Exceptions::new(&list, date!(2025 - 01 - 02), "tollgate.toml");
        let mut findings = vec![finding("openapi/a", "GET /u")];
        ex.apply("./api/openapi.yaml", &mut findings);
        assert_eq!(findings[0].severity, Severity::Error);
        let out = ex.finish();
        assert_eq!((out[0].rule.as_str(), out[0].severity), (EXPIRED.id, Severity::Error));
        assert!(out[0].message.contains("team-x"), "{}", out[0].message);
        assert_eq!(
            out[0].location.as_ref().unwrap().pointer.as_deref(),
            Some("/contracts/exceptions/0")
        );
    }

    #[test]
    fn invalid_date_is_an_error() {
        let list = [exception("openapi/a", None, "next year")];
        let out = Exceptions::new(&list, date!(2025 - 01 - 02), "tollgate.toml").finish();
        assert_eq!((out[0].rule.as_str(), out[0].severity), (INVALID.id, Severity::Error));
    }
}

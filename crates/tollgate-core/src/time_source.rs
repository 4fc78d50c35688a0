//! The clock, honouring `SOURCE_DATE_EPOCH` so outputs are reproducible.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Errors reading `SOURCE_DATE_EPOCH`.
#[derive(Debug, thiserror::Error)]
#[error("SOURCE_DATE_EPOCH={value:?} is not a Unix timestamp in seconds")]
pub struct SourceDateEpochError {
    /// The rejected value.
    pub value: String,
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), the current UTC time otherwise.
pub fn now() -> Result<OffsetDateTime, SourceDateEpochError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .ok_or(SourceDateEpochError { value }),
        Err(_) => Ok(OffsetDateTime::now_utc()),
    }
}

/// Whether wall-clock durations belong in outputs: not when `SOURCE_DATE_EPOCH` is set, because
/// a reproducible run must give the same bytes however long it took.
pub fn records_durations() -> bool {
    std::env::var_os("SOURCE_DATE_EPOCH").is_none()
}

/// The duration to record for `elapsed`: its whole milliseconds, or 0 under
/// `SOURCE_DATE_EPOCH` (see [`records_durations`]).
pub fn recorded_ms(elapsed: std::time::Duration) -> u64 {
    if records_durations() { u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX) } else { 0 }
}

/// RFC 3339 UTC rendering with whole seconds (`2024-05-01T12:00:00Z`).
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_whole_seconds_utc() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20Z");
    }
}

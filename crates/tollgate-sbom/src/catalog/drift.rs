//! Drift: a lockfile that disagrees with its manifests (a declared dependency not locked, a
//! locked path package no manifest declares, a Go requirement without a `go.sum` line).
//!
//! Cataloguers [`report`] each disagreement where they find it. Normally that is the error
//! the cataloguer returns ([`SbomError::OutOfSync`]). Inside [`collect`] — a tree scan whose
//! `sbom/out-of-date-lockfile` level is below `error` — it is recorded instead, and the
//! cataloguer goes on with what the lockfile does lock, so the SBOM has those packages and
//! the scan reports the drift as findings. A thread-local keeps the nine cataloguers'
//! signatures as they are: collection is scoped to one call on one thread, and nothing else
//! reads it.

use crate::SbomError;
use std::cell::RefCell;

thread_local! {
    static COLLECTED: RefCell<Option<Vec<SbomError>>> = const { RefCell::new(None) };
}

/// A disagreement between a lockfile and a manifest: the error to return, unless [`collect`]
/// is running, which records it (`Ok`) so the caller carries on without that fact.
pub(crate) fn report(error: SbomError) -> Result<(), SbomError> {
    COLLECTED.with(|collected| match collected.borrow_mut().as_mut() {
        Some(found) => {
            found.push(error);
            Ok(())
        }
        None => Err(error),
    })
}

/// Runs `catalogue` with drift recorded instead of failing it; returns its result and every
/// disagreement reported, in the order found.
pub fn collect<T>(catalogue: impl FnOnce() -> T) -> (T, Vec<SbomError>) {
    /// Restores the previous state even if `catalogue` panics.
    struct Restore(Option<Option<Vec<SbomError>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                COLLECTED.with(|c| *c.borrow_mut() = previous);
            }
        }
    }
    let previous = COLLECTED.with(|c| c.replace(Some(Vec::new())));
    let mut restore = Restore(Some(previous));
    let result = catalogue();
    let previous = restore.0.take().unwrap_or_default();
    let found = COLLECTED.with(|c| c.replace(previous)).unwrap_or_default();
    (result, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Place;

    fn drift(n: usize) -> SbomError {
        SbomError::OutOfSync {
            place: Place::line("package.json", n),
            manifest: "package.json".into(),
            message: format!("drift {n}"),
        }
    }

    #[test]
    fn reported_drift_fails_outside_collect_and_is_gathered_inside() {
        assert!(report(drift(1)).is_err());
        let (result, found) = collect(|| {
            report(drift(1))?;
            report(drift(2))?;
            Ok::<_, SbomError>(7)
        });
        assert_eq!(result.unwrap(), 7);
        let lines: Vec<_> = found.iter().map(|e| e.place().line).collect();
        assert_eq!(lines, [Some(1), Some(2)]);
        assert!(report(drift(3)).is_err(), "collection ends with the call");
    }
}

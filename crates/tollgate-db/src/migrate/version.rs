//! Migration versions as Flyway has them: `V2__x.sql`, `V1_5__x.sql`, `V1.5.3__x.sql`.
//!
//! A version is a sequence of non-negative integers separated by `.` or `_` (an underscore
//! reads as a dot, so `1_5` is `1.5`). Versions compare part by part, numerically, a missing
//! part counting as zero: `1.5 < 1.10 < 2`, and `1`, `1.0` and `1_0` are the same version (two
//! files with it are a duplicate). Leading zeros do not matter (`1.05` is `1.5`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// A migration version: ordered and compared as Flyway does; shown with dots (`1.5`), as
/// written otherwise.
#[derive(Debug, Clone)]
pub struct MigrationVersion {
    /// The parts with trailing zeros removed (what comparisons use).
    parts: Vec<u64>,
    /// The version as written, underscores turned into dots.
    text: String,
}

/// Why a version string is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct VersionError {
    reason: String,
}

impl MigrationVersion {
    /// Parses `1`, `1.5`, `1_5`, `2024_06_01_1200`. Every part must be digits and fit in 64
    /// bits; the version must be above zero.
    pub fn parse(s: &str) -> Result<MigrationVersion, VersionError> {
        let err = |reason: String| VersionError { reason };
        if s.is_empty() {
            return Err(err("the version is empty".into()));
        }
        let text = s.replace('_', ".");
        let mut parts = Vec::new();
        for part in text.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(format!(
                    "version {s:?}: parts are digits separated by '.' or '_'"
                )));
            }
            let n = part
                .parse::<u64>()
                .map_err(|_| err(format!("version {s:?}: part {part} is too large")))?;
            parts.push(n);
        }
        while parts.len() > 1 && parts.last() == Some(&0) {
            parts.pop();
        }
        if parts == [0] {
            return Err(err(format!("version {s:?}: the version must be above 0")));
        }
        Ok(MigrationVersion { parts, text })
    }

    /// The version as a single integer, when it is one (`7`, `7.0`), for storage in a
    /// `bigint` column written before dotted versions existed.
    pub fn as_integer(&self) -> Option<i64> {
        match self.parts[..] {
            [n] => i64::try_from(n).ok(),
            _ => None,
        }
    }

    /// How many versions `self` is above `other`, when both are single integers.
    pub fn integer_distance(&self, other: &MigrationVersion) -> Option<u64> {
        match (&self.parts[..], &other.parts[..]) {
            ([a], [b]) => a.checked_sub(*b),
            _ => None,
        }
    }
}

impl From<u64> for MigrationVersion {
    fn from(n: u64) -> Self {
        MigrationVersion { parts: vec![n], text: n.to_string() }
    }
}

impl std::str::FromStr for MigrationVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MigrationVersion::parse(s)
    }
}

impl fmt::Display for MigrationVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for MigrationVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // Trailing zeros are already gone, so a longer list is the larger version once the
        // common prefix is equal.
        self.parts.cmp(&other.parts)
    }
}

impl PartialOrd for MigrationVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MigrationVersion {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for MigrationVersion {}

impl std::hash::Hash for MigrationVersion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

impl Serialize for MigrationVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for MigrationVersion {
    /// A string (`"1.5"`), or a number as versions were written before dotted ones (`7`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) if n > 0 => Ok(MigrationVersion::from(n)),
            Either::Number(_) => Err(serde::de::Error::custom("the version must be above 0")),
            Either::Text(s) => MigrationVersion::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> MigrationVersion {
        MigrationVersion::parse(s).unwrap()
    }

    #[test]
    fn flyway_ordering_and_equality() {
        let mut versions: Vec<_> =
            ["2", "1.10", "1_5", "1.5.1", "1", "10", "1.2.3.4", "3.0.1"].map(v).to_vec();
        versions.sort();
        let shown: Vec<_> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1", "1.2.3.4", "1.5", "1.5.1", "1.10", "2", "3.0.1", "10"]);
        assert_eq!(v("1"), v("1.0"));
        assert_eq!(v("1_0_0"), v("1"));
        assert_eq!(v("1.05"), v("1.5"));
        assert_ne!(v("1.0.1"), v("1.1"));
        assert_eq!(v("1_5").to_string(), "1.5");
        assert_eq!(v("7.0").as_integer(), Some(7));
        assert_eq!(v("7.1").as_integer(), None);
        assert_eq!(v("9").integer_distance(&v("7")), Some(2));
        assert_eq!(v("9.1").integer_distance(&v("7")), None);
    }

    #[test]
    fn malformed_versions() {
        for bad in ["", "0", "0.0", "1..2", ".1", "1.", "1a", "1-2", "v1", "99999999999999999999"] {
            assert!(MigrationVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_reads_numbers_and_strings() {
        let read = |j: &str| serde_json::from_str::<MigrationVersion>(j);
        assert_eq!(read("7").unwrap(), v("7"));
        assert_eq!(read("\"1.5\"").unwrap(), v("1_5"));
        assert!(read("0").is_err() && read("\"x\"").is_err());
        assert_eq!(serde_json::to_string(&v("1_5")).unwrap(), "\"1.5\"");
    }

    proptest! {
        /// The order is the numeric order of the parts, zeros appended as needed.
        #[test]
        fn order_is_numeric_per_part(
            a in prop::collection::vec(0u64..20, 1..5),
            b in prop::collection::vec(0u64..20, 1..5),
        ) {
            prop_assume!(a.iter().any(|&n| n > 0) && b.iter().any(|&n| n > 0));
            let text = |p: &[u64]| p.iter().map(u64::to_string).collect::<Vec<_>>().join("_");
            let (va, vb) = (v(&text(&a)), v(&text(&b)));
            let len = a.len().max(b.len());
            let pad = |p: &[u64]| {
                let mut p = p.to_vec();
                p.resize(len, 0);
                p
            };
            prop_assert_eq!(va.cmp(&vb), pad(&a).cmp(&pad(&b)));
            prop_assert_eq!(va == vb, pad(&a) == pad(&b));
        }
    }
}

//! in-toto Statement v1: subjects plus one typed predicate. One builder for every predicate
//! Tollgate signs — SLSA provenance, SBOMs, gate reports, release sign-offs.

use serde::{Deserialize, Serialize};

use crate::AttestError;
use crate::subject::Subject;

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Predicate type: SLSA Provenance v1 ([`crate::provenance::Provenance`]).
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// Predicate type: a CycloneDX SBOM (the predicate is the BOM document).
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// Predicate type: an SPDX document (the predicate is the document).
pub const SPDX: &str = "https://spdx.dev/Document";
/// Predicate type: Tollgate gate results (the predicate is the JSON renderer's report
/// document).
pub const TOLLGATE_GATE_REPORT_V1: &str = "https://tollgate.dev/attestation/gate-report/v1";
/// Predicate type: a release sign-off recorded by Tollgate.
pub const TOLLGATE_SIGNOFF_V1: &str = "https://tollgate.dev/attestation/signoff/v1";

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`] for statements built here.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The artifacts the statement is about.
    pub subject: Vec<Subject>,
    /// What kind of predicate follows (a URI, e.g. [`SLSA_PROVENANCE_V1`]).
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate itself.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A statement about `subjects` with `predicate` (anything serializable) of
    /// `predicate_type`. Fails only if the predicate cannot be represented as JSON.
    pub fn new(
        subjects: Vec<Subject>,
        predicate_type: impl Into<String>,
        predicate: impl Serialize,
    ) -> Result<Statement, AttestError> {
        let predicate = serde_json::to_value(predicate)
            .map_err(|e| AttestError::Serialize { what: "predicate", message: e.to_string() })?;
        Ok(Statement {
            type_: STATEMENT_TYPE.to_owned(),
            subject: subjects,
            predicate_type: predicate_type.into(),
            predicate,
        })
    }

    /// The statement as the bytes to sign: compact JSON with every object's keys sorted, so
    /// the same statement always gives the same bytes.
    pub fn to_payload(&self) -> Vec<u8> {
        let value = match serde_json::to_value(self) {
            Ok(value) => value,
            // A Statement holds only strings, maps and a Value: serialization cannot fail.
            Err(_) => serde_json::Value::Null,
        };
        canonical_json(&value)
    }

    /// Parses a statement from a (verified) payload.
    pub fn from_payload(payload: &[u8]) -> Result<Statement, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

/// Compact JSON with object keys sorted at every level, whatever map type `serde_json` was
/// built with (another crate in the graph may turn on `preserve_order`).
pub fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&map[key]));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sorted(value)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn subject(name: &str) -> Subject {
        Subject { name: name.into(), digest: BTreeMap::from([("sha256".into(), "ab".repeat(32))]) }
    }

    #[test]
    fn payload_is_sorted_compact_json_with_in_toto_names() {
        #[derive(Serialize)]
        struct Predicate {
            zeta: u32,
            alpha: &'static str,
        }
        let statement =
            Statement::new(vec![subject("app")], CYCLONEDX, Predicate { zeta: 1, alpha: "a" })
                .unwrap();
        let text = String::from_utf8(statement.to_payload()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","predicate":{{"alpha":"a","zeta":1}},"predicateType":"https://cyclonedx.org/bom","subject":[{{"digest":{{"sha256":"{}"}},"name":"app"}}]}}"#,
                "ab".repeat(32)
            )
        );
        assert_eq!(Statement::from_payload(text.as_bytes()).unwrap(), statement);
    }

    #[test]
    fn same_statement_same_bytes() {
        let predicate = serde_json::json!({"b": [{"y": 1, "x": 2}], "a": null});
        let one = Statement::new(vec![subject("x")], TOLLGATE_GATE_REPORT_V1, &predicate).unwrap();
        let two = Statement::new(vec![subject("x")], TOLLGATE_GATE_REPORT_V1, predicate).unwrap();
        assert_eq!(one.to_payload(), two.to_payload());
        assert!(String::from_utf8(one.to_payload()).unwrap().contains(r#"[{"x":2,"y":1}]"#));
    }

    #[test]
    fn unserializable_predicate_is_an_error_not_a_panic() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let err = Statement::new(vec![], TOLLGATE_SIGNOFF_V1, map).unwrap_err();
        assert!(err.to_string().starts_with("cannot serialize the predicate"), "{err}");
    }
}

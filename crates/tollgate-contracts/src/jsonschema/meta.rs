//! Is the document a schema at all? Each input is checked against its draft's meta-schema
//! (bundled in the `jsonschema` crate, never fetched) before it is compared.

use super::Draft;
use crate::error::ContractError;
use serde_json::Value;

/// The draft's name as it appears in errors.
fn name(draft: Draft) -> &'static str {
    match draft {
        Draft::Draft07 => "draft-07",
        Draft::Draft2019_09 => "draft 2019-09",
        Draft::Draft2020_12 => "draft 2020-12",
    }
}

/// `Ok` when `root` is valid against `draft`'s meta-schema; otherwise the first violation,
/// at the JSON pointer of the offending value in `file`.
pub(super) fn check(file: &str, draft: Draft, root: &Value) -> Result<(), ContractError> {
    let result = match draft {
        Draft::Draft07 => jsonschema::draft7::meta::validate(root),
        Draft::Draft2019_09 => jsonschema::draft201909::meta::validate(root),
        Draft::Draft2020_12 => jsonschema::draft202012::meta::validate(root),
    };
    result.map_err(|error| ContractError::InvalidSchema {
        file: file.to_string(),
        pointer: error.instance_path().as_str().to_string(),
        draft: name(draft).to_string(),
        message: error.to_string(),
    })
}

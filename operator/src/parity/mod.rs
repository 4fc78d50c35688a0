//! Environment parity, pure: a [`Snapshot`] per environment, then [`compare`] them in promotion
//! order into drifts, with ignore rules, allowed lag and a cap.
//! A [`LiveSnapshot`] keeps a snapshot up to date from watch events, reading only the changed
//! object; it always equals a fresh [`Snapshot::build`] of the same objects.
//!
//! **Architecture invariant:** nothing in this module does I/O, and no Secret value (nor its
//! hash) leaves it: snapshots keep only SHA-256 digests of Secret values, and drifts about
//! Secrets say that a value differs, never what it is.
//!
//! Snapshot layout, which `spec.ignore` pointers address:
//! `/images/<deployment>/<container>`, `/configMaps/<name>/<key>`, `/secrets/<name>/<key>`,
//! `/featureFlags/<flag>`, `/schemaVersion/<schemaMigration>`.

mod diff;
mod live;
mod pointer;
mod snapshot;

pub use diff::{CompareOptions, Comparison, compare, diff_pair, parse_lag_duration};
pub use live::{LiveSnapshot, Object};
pub use pointer::{IgnoreRule, escape_segment, pointer};
pub use snapshot::{
    DIGESTED_ANNOTATION, FEATURE_FLAGS_LABEL, Shown, Snapshot, Value, digest_config_map_in_place,
    digest_secret_in_place, image_identity, sha256_hex, slim_deployment_in_place, strip_for_cache,
};

//! `tollgate evidence publish FILE --key PUB --store URL [--retention D] [--object-lock MODE]`.
//!
//! Exit codes: 0 published, or already published with the same bytes (nothing written).
//! 1 refused: the bundle does not verify, or other bytes are already published under its key
//! (left unchanged). 2: bad input (arguments, key, unreadable bundle, store URL) or a store that
//! cannot be reached.

use crate::cli::EvidencePublishArgs;
use tollgate_core::Verdict;
use tollgate_evidence::publish::{self, PublishOptions};

/// Verifies and publishes the bundle; see the module documentation for the exit codes.
pub fn run(args: &EvidencePublishArgs) -> anyhow::Result<Verdict> {
    let key = super::keys::load_verifying_key(&args.key)?;
    let options = PublishOptions {
        store: args.store.clone(),
        retention: args.retention,
        object_lock: args.object_lock,
    };
    let publication = match publish::publish(&args.file, &key, &options) {
        Ok(publication) => publication,
        Err(e) if e.is_refusal() => {
            eprintln!("not published: {e}");
            return Ok(Verdict::Fail);
        }
        Err(e) => return Err(e.into()),
    };
    let r = &publication.record;
    let what = if publication.already_published {
        "already published (same sha256; nothing written)"
    } else {
        "published"
    };
    let retention = match (&r.retention_until, &r.object_lock) {
        (Some(until), Some(mode)) => format!("retained until {until} (object lock {mode})"),
        (Some(until), None) => format!("retained until {until} (recorded; files read-only)"),
        (None, _) => "no retention".to_owned(),
    };
    crate::output::emit(
        None,
        &format!(
            "{what}: {} -> {} {}\n  release {}, {} bytes, sha256:{}, manifest sha256:{}\n  \
             {retention}; record {}\n",
            args.file.display(),
            publication.store,
            r.key,
            r.run_id,
            r.size,
            r.sha256,
            r.manifest_sha256,
            publication.sidecar_key,
        ),
    )?;
    if let Some(tag) = &args.github_release {
        return super::evidence_changes::publish_github_release(args, tag);
    }
    Ok(Verdict::Pass)
}

//! `tollgate sign --key KEY --output FILE BLOB`: a Sigstore bundle with a message signature.

use crate::cli::SignArgs;
use tollgate_attest::bundle;
use tollgate_core::Verdict;

pub fn run(args: &SignArgs) -> anyhow::Result<Verdict> {
    // Keyless signing makes DSSE envelopes (attestations); a blob is signed with a key.
    let key = match (&args.signing.key, args.signing.keyless) {
        (Some(path), false) => super::keys::load_signing_key(path)?,
        _ => anyhow::bail!(
            "--keyless: keyless signing of plain blobs is not supported; attest the file with \
             `tollgate attest provenance --keyless`, or sign it with --key"
        ),
    };
    let bundle = bundle::sign_blob(&args.blob, &key)?;
    crate::output::emit(Some(&args.output), &bundle.to_json())?;
    crate::output::emit(
        None,
        &format!(
            "wrote {}: signature over {} by key {}\n",
            args.output.display(),
            args.blob.display(),
            key.verifying_key().key_id()
        ),
    )?;
    Ok(Verdict::Pass)
}

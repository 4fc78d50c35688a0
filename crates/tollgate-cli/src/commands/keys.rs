//! `tollgate keys generate`, and loading keys for the signing and verifying commands.

use crate::cli::{KeyAlgorithmArg, KeysCommand, KeysGenerateArgs, SigningKeyArgs};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use tollgate_attest::keyless::{SigstoreKeyless, UreqTransport};
use tollgate_attest::keys::{self, KeyAlgorithm, SigningKey, VerifyingKey};
use tollgate_core::Verdict;

pub fn run(command: KeysCommand) -> anyhow::Result<Verdict> {
    match command {
        KeysCommand::Generate(args) => generate(&args),
    }
}

fn generate(args: &KeysGenerateArgs) -> anyhow::Result<Verdict> {
    let algorithm = match args.algorithm {
        KeyAlgorithmArg::EcdsaP256 => KeyAlgorithm::EcdsaP256Sha256,
        KeyAlgorithmArg::Ed25519 => KeyAlgorithm::Ed25519,
    };
    let key = SigningKey::generate(algorithm)?;
    let (key_path, pub_path) = keys::write_key_pair(&args.output_dir, &key)?;
    let verifying = key.verifying_key();
    crate::output::emit(
        None,
        &format!(
            "wrote {} (private key, mode 0600) and {} (public key)\n{} key id: {}\n",
            key_path.display(),
            pub_path.display(),
            key.algorithm(),
            verifying.key_id()
        ),
    )?;
    Ok(Verdict::Pass)
}

/// Reads a private key (PKCS#8 PEM, or cosign's encrypted format with the password from the
/// environment).
pub fn load_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    Ok(keys::read_signing_key(path, keys::password_from_env().as_deref())?)
}

/// Reads a public key (SubjectPublicKeyInfo PEM).
pub fn load_verifying_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    Ok(keys::read_verifying_key(path)?)
}

/// How a signing command signs: with a key file, or keyless.
pub enum Signer {
    /// `--key`.
    Key(SigningKey),
    /// `--keyless`: an OIDC identity token from the environment, Fulcio and Rekor over HTTPS.
    Keyless(SigstoreKeyless<UreqTransport>),
}

/// The signer `--key` or `--keyless` asks for. Keyless signing first looks for an identity
/// token (`SIGSTORE_ID_TOKEN`, or GitHub Actions' token service) and fails here without one.
pub fn signer(args: &SigningKeyArgs) -> anyhow::Result<Signer> {
    match &args.key {
        Some(path) if !args.keyless => Ok(Signer::Key(load_signing_key(path)?)),
        _ => {
            // Variables that are not Unicode cannot be tokens; skip them rather than panic.
            let env: BTreeMap<String, String> = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            let signer = SigstoreKeyless::from_env(&env).context("--keyless")?;
            Ok(Signer::Keyless(signer))
        }
    }
}

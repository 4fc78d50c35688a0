//! `tollgate attest provenance`.

use super::keys::Signer;
use crate::cli::{AttestCommand, AttestProvenanceArgs, EnvelopeFormat};
use tollgate_attest::bundle::Bundle;
use tollgate_attest::dsse;
use tollgate_attest::keyless::KeylessSigner;
use tollgate_attest::statement;
use tollgate_core::Verdict;

pub fn run(command: AttestCommand) -> anyhow::Result<Verdict> {
    match command {
        AttestCommand::Provenance(args) => provenance_command(&args),
    }
}

fn provenance_command(args: &AttestProvenanceArgs) -> anyhow::Result<Verdict> {
    let signer = super::keys::signer(&args.signing)?;
    if matches!(signer, Signer::Keyless(_)) && args.envelope == EnvelopeFormat::Dsse {
        anyhow::bail!(
            "--keyless --envelope dsse: a keyless signature is checked against its certificate \
             and transparency-log entry, which only a bundle carries; drop --envelope dsse"
        );
    }
    let built = tollgate_attest::gate::provenance_statement(&args.source, &args.artifacts)?;
    if let Some(problem) = &built.source_problem {
        eprintln!("warning: no source commit recorded: {problem}");
    }
    let payload = built.statement.to_payload();
    let (text, signed_by) = match &signer {
        Signer::Key(key) => {
            let envelope = dsse::sign(statement::PAYLOAD_TYPE, &payload, key);
            let text = match args.envelope {
                EnvelopeFormat::Bundle => {
                    Bundle::for_envelope(envelope, &key.verifying_key()).to_json()
                }
                EnvelopeFormat::Dsse => envelope.to_json(),
            };
            (text, format!("key {} ({})", key.verifying_key().key_id(), key.algorithm()))
        }
        Signer::Keyless(keyless) => (
            keyless.sign_envelope(statement::PAYLOAD_TYPE, &payload)?.to_json(),
            "a keyless (Fulcio) certificate".to_owned(),
        ),
    };
    crate::output::emit(Some(&args.output), &text)?;
    crate::output::emit(
        None,
        &format!(
            "wrote {}: SLSA provenance for {} subject(s), signed by {signed_by}\n",
            args.output.display(),
            built.statement.subject.len(),
        ),
    )?;
    Ok(Verdict::Pass)
}

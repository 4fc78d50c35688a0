"""DSSE interoperability with a second implementation: securesystemslib (PyPI).

Usage:
  dsse_interop.py verify --pub PUB.pem [--artifact PATH]... FILE...
      FILE is a bare DSSE envelope or a Sigstore bundle (v0.3) holding one. For each file:
      1. recompute the DSSE v1 PAE by hand from the spec and check securesystemslib agrees;
      2. verify the signature with securesystemslib (Envelope.from_dict + Envelope.verify with an
         SSlibKey made from PUB.pem by SSlibKey.from_crypto);
      3. verify it again with pyca/cryptography directly over the hand-made PAE;
      4. check the payload is an in-toto Statement v1 and, with --artifact, that the subjects are
         exactly the artifacts' files, each with the sha256 of the file on disk.
      Prints `ok FILE ...` per file; exits 1 if any check fails, 2 on unusable input.

  dsse_interop.py sign --algorithm ecdsa|ed25519 --pub-out PUB.pem --envelope-out FILE
                  [--bundle-out FILE] [--builder-id ID] [--payload-type TYPE] ARTIFACT...
      Generates a key pair with securesystemslib (CryptoSigner.generate_ecdsa / generate_ed25519),
      exports the public key as SubjectPublicKeyInfo PEM, builds an in-toto Statement v1 with a
      SLSA Provenance v1 predicate whose subjects are the artifacts' files (sha256 and sha512
      digests from hashlib), signs it with Envelope.sign and writes the bare
      envelope (and, with --bundle-out, the same envelope in a Sigstore bundle v0.3 with a
      public-key hint). The private key never leaves the process.

  dsse_interop.py cosign-key --algorithm ecdsa|ed25519 --key-out KEY --pub-out PUB.pem
      Writes a private key in cosign's encrypted format ("ENCRYPTED SIGSTORE PRIVATE KEY": JSON
      with scrypt N=32768 r=8 p=1 over a 32-byte salt, nacl/secretbox with a 24-byte nonce, the
      plaintext being the PKCS#8 DER key), as go-securesystemslib's `encrypted` package does for
      `cosign generate-key-pair`, with the password from $COSIGN_PASSWORD. Made with hashlib and
      PyNaCl, independently of Tollgate.

Artifacts are named as in-toto subjects the way Tollgate names them: a file by its file name, a
file inside a given directory by its `/`-separated path relative to that directory.

securesystemslib matches signatures to keys by keyid, and its default keyid (a hash of its own
key dictionary) is not the one Tollgate writes. `verify` therefore matches by public key: it
builds the SSlibKey from the PEM it was given, with the keyid the signature names. A signature
made by any other key still fails, because the public key is what verifies it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


class Invalid(Exception):
    """A check failed: the file is not what it claims to be."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding, written from the spec, not taken from the library:
    "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths as ASCII decimal byte counts."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(payload)).encode() + b" " + payload


def named_files(paths: list[str]) -> dict[str, str]:
    """Subject name -> file, for files and directories (walked)."""
    named: dict[str, str] = {}
    for path in paths:
        if os.path.isdir(path):
            for dirpath, _, filenames in os.walk(path):
                for filename in filenames:
                    file = os.path.join(dirpath, filename)
                    named[os.path.relpath(file, path).replace(os.sep, "/")] = file
        else:
            named[os.path.basename(path)] = path
    return named


def load_envelope_dict(path: str) -> tuple[dict, str]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise Invalid("not a JSON object")
    if "dsseEnvelope" in doc:
        if doc.get("mediaType") != BUNDLE_V03:
            raise Invalid(f"bundle mediaType {doc.get('mediaType')!r} is not {BUNDLE_V03}")
        return doc["dsseEnvelope"], "bundle"
    if {"payload", "payloadType", "signatures"} <= doc.keys():
        return doc, "envelope"
    raise Invalid("neither a DSSE envelope nor a Sigstore bundle with a dsseEnvelope")


def load_public_key(path: str):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    with open(path, "rb") as f:
        return load_pem_public_key(f.read())


def verify_one(path: str, public_key, artifacts: list[str]) -> str:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePublicKey
    from cryptography.hazmat.primitives.hashes import SHA256
    from securesystemslib import exceptions
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    raw, kind = load_envelope_dict(path)
    # Envelope.from_dict mutates the signatures it is given; keep our own copy.
    ours = json.loads(json.dumps(raw))
    signatures = ours.get("signatures") or []
    if len(signatures) != 1:
        raise Invalid(f"expected exactly one signature, found {len(signatures)}")
    keyid = signatures[0].get("keyid")
    if keyid is None:
        raise Invalid("signature has no keyid (securesystemslib requires one)")
    sig_bytes = base64.b64decode(signatures[0]["sig"], validate=True)

    envelope = Envelope.from_dict(json.loads(json.dumps(raw)))
    by_hand = pae(raw["payloadType"], base64.b64decode(raw["payload"], validate=True))
    if envelope.pae() != by_hand:
        raise Invalid("securesystemslib's PAE differs from the one computed from the spec")

    default_key = SSlibKey.from_crypto(public_key)
    key = SSlibKey.from_crypto(public_key, keyid=keyid)
    try:
        accepted = envelope.verify([key], 1)
    except exceptions.VerificationError as e:
        raise Invalid(f"securesystemslib rejected the signature: {e}") from e
    if list(accepted) != [keyid]:
        raise Invalid(f"securesystemslib accepted unexpected keys {list(accepted)}")

    # The same check with pyca/cryptography alone, over the PAE made by hand.
    try:
        if isinstance(public_key, EllipticCurvePublicKey):
            public_key.verify(sig_bytes, by_hand, ECDSA(SHA256()))
        else:
            public_key.verify(sig_bytes, by_hand)
    except InvalidSignature as e:
        raise Invalid("pyca/cryptography rejected the signature over the hand-made PAE") from e

    if raw["payloadType"] != IN_TOTO_PAYLOAD_TYPE:
        raise Invalid(f"payloadType {raw['payloadType']!r} is not {IN_TOTO_PAYLOAD_TYPE}")
    statement = json.loads(envelope.payload)
    if statement.get("_type") != STATEMENT_V1:
        raise Invalid(f"payload _type {statement.get('_type')!r} is not {STATEMENT_V1}")
    subjects = statement.get("subject") or []
    if not subjects:
        raise Invalid("statement has no subjects")
    if artifacts:
        files = named_files(artifacts)
        names = sorted(s["name"] for s in subjects)
        if names != sorted(files):
            raise Invalid(f"subjects {names} are not the artifacts' files {sorted(files)}")
        for subject in subjects:
            file = files[subject["name"]]
            with open(file, "rb") as f:
                actual = hashlib.sha256(f.read()).hexdigest()
            if subject["digest"].get("sha256") != actual:
                raise Invalid(f"subject {subject['name']}: sha256 differs from {file}")
    return (
        f"ok {path} ({kind}, {key.keytype}/{key.scheme}, keyid {keyid}, "
        f"securesystemslib default keyid {default_key.keyid}, "
        f"predicateType {statement.get('predicateType')}, {len(subjects)} subjects)"
    )


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        public_key = load_public_key(args.pub)
    except (OSError, ValueError) as e:
        print(f"ERROR {args.pub}: cannot load public key: {e}")
        return 2
    failures = 0
    for path in args.files:
        try:
            print(verify_one(path, public_key, args.artifacts))
        except Invalid as e:
            failures += 1
            print(f"INVALID {path}: {e}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            failures += 1
            print(f"INVALID {path}: {type(e).__name__}: {e}")
    return 1 if failures else 0


def digests(path: str) -> dict[str, str]:
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha256.update(chunk)
            sha512.update(chunk)
    return {"sha256": sha256.hexdigest(), "sha512": sha512.hexdigest()}


def cmd_sign(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    if args.algorithm == "ecdsa":
        signer = CryptoSigner.generate_ecdsa()
    else:
        signer = CryptoSigner.generate_ed25519()
    pem = signer.public_key._crypto_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    statement = {
        "_type": STATEMENT_V1,
        "subject": [
            {"name": name, "digest": digests(file)}
            for name, file in sorted(named_files(args.artifacts).items())
        ],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": "https://example.com/securesystemslib-interop/v1",
                "externalParameters": {},
                "resolvedDependencies": [],
            },
            "runDetails": {
                "builder": {"id": args.builder_id},
                "metadata": {"invocationId": "python-interop"},
            },
        },
    }
    payload = json.dumps(statement, separators=(",", ":")).encode()
    envelope = Envelope(payload, args.payload_type, {})
    signature = envelope.sign(signer)
    with open(args.pub_out, "wb") as f:
        f.write(pem)
    with open(args.envelope_out, "w", encoding="utf-8") as f:
        json.dump(envelope.to_dict(), f, indent=2)
    if args.bundle_out:
        bundle = {
            "mediaType": BUNDLE_V03,
            "verificationMaterial": {"publicKey": {"hint": signature.keyid}, "tlogEntries": []},
            "dsseEnvelope": envelope.to_dict(),
        }
        with open(args.bundle_out, "w", encoding="utf-8") as f:
            json.dump(bundle, f, indent=2)
    print(f"signed {args.envelope_out} ({signer.public_key.scheme}, keyid {signature.keyid})")
    return 0


def cmd_cosign_key(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )
    from nacl.secret import SecretBox

    password = os.environ["COSIGN_PASSWORD"].encode()
    if args.algorithm == "ecdsa":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    n, r, p = 32768, 8, 1
    key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=32)
    ciphertext = SecretBox(key).encrypt(der, nonce).ciphertext
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
        "ciphertext": b64(ciphertext),
    }
    body = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + "\n".join(lines)
    pem += "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    with open(args.key_out, "w", encoding="utf-8") as f:
        f.write(pem)
    with open(args.pub_out, "wb") as f:
        f.write(private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    print(f"wrote {args.key_out} (cosign encrypted {args.algorithm}) and {args.pub_out}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify")
    verify.add_argument("--pub", required=True)
    verify.add_argument("--artifact", action="append", default=[], dest="artifacts")
    verify.add_argument("files", nargs="+")
    sign = sub.add_parser("sign")
    sign.add_argument("--algorithm", choices=["ecdsa", "ed25519"], required=True)
    sign.add_argument("--pub-out", required=True)
    sign.add_argument("--envelope-out", required=True)
    sign.add_argument("--bundle-out")
    sign.add_argument("--builder-id", default="https://example.com/securesystemslib-interop")
    sign.add_argument("--payload-type", default=IN_TOTO_PAYLOAD_TYPE)
    sign.add_argument("artifacts", nargs="+")
    cosign = sub.add_parser("cosign-key")
    cosign.add_argument("--algorithm", choices=["ecdsa", "ed25519"], required=True)
    cosign.add_argument("--key-out", required=True)
    cosign.add_argument("--pub-out", required=True)
    args = parser.parse_args()
    commands = {"verify": cmd_verify, "sign": cmd_sign, "cosign-key": cmd_cosign_key}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

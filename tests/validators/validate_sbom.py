"""Validate SBOMs with other people's implementations.

Usage: validate_sbom.py cyclonedx SPEC_VERSION FILE...   (cyclonedx-python-lib, strict JSON schema)
       validate_sbom.py spdx FILE...                      (spdx-tools parser + validator)

Prints one line per file and exits 1 if any file is invalid. Run by the Rust end-to-end tests
with the virtualenv that `cargo xtask test` creates under target/.
"""

import sys


def validate_cyclonedx(version: str, paths: list[str]) -> int:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    schema = SchemaVersion.from_version(version)
    failures = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            error = JsonStrictValidator(schema).validate_str(f.read())
        if error is None:
            print(f"ok {path} (CycloneDX {version}, strict schema)")
        else:
            failures += 1
            print(f"INVALID {path}: {error}")
    return failures


def validate_spdx(paths: list[str]) -> int:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    failures = 0
    for path in paths:
        try:
            document = parse_file(path)
        except Exception as e:  # the parser raises SPDXParsingError and friends
            failures += 1
            print(f"INVALID {path}: cannot parse: {e}")
            continue
        messages = validate_full_spdx_document(document, "SPDX-2.3")
        if messages:
            failures += 1
            for m in messages:
                print(f"INVALID {path}: {m.validation_message} ({m.context})")
        else:
            print(f"ok {path} (SPDX 2.3, spdx-tools)")
    return failures


def main() -> int:
    kind, rest = sys.argv[1], sys.argv[2:]
    if kind == "cyclonedx":
        failures = validate_cyclonedx(rest[0], rest[1:])
    elif kind == "spdx":
        failures = validate_spdx(rest)
    else:
        print(f"unknown kind {kind}")
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

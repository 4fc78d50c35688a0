"""Validate SBOMs with other people's implementations.

Usage: validate_sbom.py cyclonedx SPEC_VERSION FILE...   (cyclonedx-python-lib, strict JSON schema)
       validate_sbom.py spdx FILE...                      (spdx-tools parser + validator, and the
                                                           official SPDX 2.3 JSON schema)
       validate_sbom.py schema SCHEMA_FILE FILE...        (any JSON schema, e.g. SARIF 2.1.0)

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


def validate_schema(schema: dict, label: str, paths: list[str]) -> int:
    import json

    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    failures = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            errors = sorted(validator.iter_errors(json.load(f)), key=lambda e: list(e.absolute_path))
        if errors:
            failures += 1
            for e in errors[:20]:
                print(f"INVALID {path}: {e.message} at /{'/'.join(map(str, e.absolute_path))}")
        else:
            print(f"ok {path} ({label})")
    return failures


def spdx_schema() -> dict:
    import json
    from importlib.resources import files

    return json.loads(files("lib4sbom").joinpath("schemas/spdx/2.3-schema.json").read_text())


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
        failures += validate_schema(spdx_schema(), "SPDX 2.3 JSON schema", rest)
    elif kind == "schema":
        import json

        with open(rest[0], encoding="utf-8") as f:
            schema = json.load(f)
        failures = validate_schema(schema, rest[0].rsplit("/", 1)[-1], rest[1:])
    else:
        print(f"unknown kind {kind}")
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Validate OSCAL assessment-results documents with compliance-trestle's pydantic models.

Usage: oscal_validate.py FILE...

Each FILE must be a JSON document `{"assessment-results": {...}}` that trestle's
`trestle.oscal.assessment_results.AssessmentResults` model accepts (OSCAL 1.1.x: required
fields, token and UUID patterns, date-times with time zones, enumerations). Prints one line per
file and exits 1 if any file is invalid, 2 on bad usage. Run by the Rust end-to-end tests with
the virtualenv that `cargo xtask test` creates under target/.
"""

import json
import sys


def validate(path: str) -> str | None:
    """Returns None when `path` is a valid assessment-results document, else why not."""
    from pydantic import ValidationError
    from trestle.common.err import TrestleError
    from trestle.oscal.assessment_results import AssessmentResults

    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return f"cannot read JSON: {e}"
    if not isinstance(doc, dict) or set(doc) != {"assessment-results"}:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        return f"expected one top-level key 'assessment-results', found {keys}"
    try:
        model = AssessmentResults.parse_obj(doc["assessment-results"])
    except (ValidationError, TrestleError) as e:
        # trestle re-raises some pydantic errors as TrestleError with only the first message.
        cause = e.__cause__ or e.__context__ or e
        return str(cause).replace("\n", "; ")
    if not model.results:
        return "no results"
    return None


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    failures = 0
    for path in argv:
        error = validate(path)
        if error is None:
            print(f"ok {path} (OSCAL assessment-results, compliance-trestle)")
        else:
            failures += 1
            print(f"INVALID {path}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Evaluate CRD validation rules (CEL) with cel-python, an implementation independent of ours.

Reads a JSON list of cases from stdin: {"rule": str, "self": any, "oldSelf": any (optional)}.
Writes a JSON list, one entry per case: true / false, or {"error": str} when the rule does not
compile or its evaluation fails (an evaluation error rejects the object in Kubernetes too).

cel-python implements standard CEL. Kubernetes adds extension libraries; the one function the
Tollgate CRDs use from them, `string.split(separator)` (cel-go's strings extension, as enabled
by the Kubernetes API server), is registered here with its documented meaning.
"""

import json
import sys

import celpy
from celpy import celtypes


def split(value, separator):
    return celtypes.ListType([celtypes.StringType(p) for p in str(value).split(str(separator))])


def evaluate(env, case):
    try:
        program = env.program(env.compile(case["rule"]), functions={"split": split})
        activation = {"self": celpy.json_to_cel(case["self"])}
        if "oldSelf" in case:
            activation["oldSelf"] = celpy.json_to_cel(case["oldSelf"])
        result = program.evaluate(activation)
    except Exception as e:  # noqa: BLE001 - any failure is reported per case
        return {"error": f"{type(e).__name__}: {e}"}
    if isinstance(result, celtypes.BoolType):
        return bool(result)
    return {"error": f"not a bool: {result!r}"}


def main():
    env = celpy.Environment()
    cases = json.load(sys.stdin)
    json.dump([evaluate(env, c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Validate SARIF files against a JSON schema with python3-jsonschema.

usage: validate.py SCHEMA FILE...

The validator class is the one the schema's "$schema" declares
(draft-04 for the SARIF 2.1.0 schema). Exits 0 when every file is
valid, 1 with every error (file, JSON path, message) otherwise, 2 on
bad usage or unreadable input.
"""
import json
import sys

import jsonschema
from jsonschema import validators


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        print(f"validate.py: cannot read schema {argv[1]}: {e}", file=sys.stderr)
        return 2
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    for name in argv[2:]:
        try:
            with open(name, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{name}: not JSON: {e}", file=sys.stderr)
            return 2
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for e in errors:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            print(f"{name}: {where}: {e.message}", file=sys.stderr)
        if errors:
            bad += 1
        else:
            print(f"{name}: valid ({cls.__name__})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Refresh the Redpanda Connect facts the CDC lint reads from a newer specification file.

    .venv/bin/python tools/scripts/refresh_connect_spec.py PATH/components-<version>.json

Writes lib/dataplatform/cdc/lint/redpanda_connect_spec.json (or --output): only the facts the
lint needs, with the Redpanda Connect version they come from (see
`dataplatform.cdc.lint.facts`). Review the diff, run `invoke cdc.lint` and the tests, and bump
the version the generated configs name (`TARGET_VERSION` in `dataplatform/cdc/connect.py`) if
the configs now need it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from dataplatform.cdc.lint.facts import FACTS_FILE, SpecError, derive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "spec", type=Path, help="Redpanda Connect's component specification (components-<v>.json)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=FACTS_FILE,
        help=f"where to write the facts (default: {FACTS_FILE})",
    )
    args = parser.parse_args(argv)
    try:
        spec = json.loads(args.spec.read_text(encoding="utf-8"))
        text = derive(spec)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SpecError) as exc:
        print(f"✗ {args.spec}: {exc}", file=sys.stderr)
        return 1
    temporary = args.output.with_name(args.output.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(args.output)
    print(f"wrote {args.output} (Redpanda Connect {spec['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

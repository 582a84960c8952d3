"""Write the API's OpenAPI document to openapi.json (repo root), or check that the committed file is current.

    python scripts/generate_openapi.py            # regenerate openapi.json (what `make openapi` runs)
    python scripts/generate_openapi.py --check    # exit 1 when openapi.json differs from the code

The file is built from every router (vpbx.api.openapi.build_openapi) and written pretty-printed with sorted keys and a
trailing newline, so regenerating an unchanged API gives the same bytes and a changed one gives a readable diff.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
OPENAPI_FILE = REPO_ROOT / "openapi.json"
REGENERATE_COMMAND = "make openapi"


def render_openapi(spec: dict[str, Any]) -> str:
    """The committed text of a spec: stable whatever order the routers registered their routes in."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current_openapi_text() -> str:
    from vpbx.api.openapi import build_openapi  # late: keeps `--help` free of the API's imports

    return render_openapi(build_openapi())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate or check the committed openapi.json.")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    parser.add_argument("--output", type=Path, default=OPENAPI_FILE, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    text = current_openapi_text()
    if args.check:
        committed = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if committed != text:
            print(f"{args.output} is out of date with the code; run `{REGENERATE_COMMAND}`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(json.loads(text)['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

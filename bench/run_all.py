"""Run every benchmark in bench/ and print one table: figure, value, floor, ratio, goal, pass/fail.

Usage: .venv/bin/python bench/run_all.py [--quick] [--json]

Each bench module exposes `run(quick: bool) -> list[dict]` with rows
{"figure", "value", "unit", "floor", "ratio", "goal", "pass"}. `--quick` runs few iterations: CI uses it only to prove
the benchmarks run; the goals are judged from a full run on a quiet machine (docs/PERFORMANCE.md).
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def bench_modules() -> list[Path]:
    return sorted(p for p in BENCH_DIR.glob("*_bench.py"))


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_all(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in bench_modules():
        started = time.perf_counter()
        module_rows = load(path).run(quick=quick)
        for row in module_rows:
            rows.append({"bench": path.stem, **row})
        print(f"# {path.name}: {len(module_rows)} figures in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["figure", "value", "unit", "floor", "ratio", "goal", "pass"]
    table = [[fmt(row.get(h)) for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(headers)]
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in table:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    failed = sum(1 for row in rows if row.get("pass") is False)
    print(f"\n{len(rows)} figures, {failed} below goal; machine: {machine()}")


def machine() -> str:
    """What docs/PERFORMANCE.md names the machine by: kernel, architecture, CPU count, Python."""
    uname = platform.uname()
    return (
        f"{uname.system} {uname.release} {uname.machine}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({sys.executable})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few iterations: prove the benchmarks run")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = run_all(quick=args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark in bench/ and print one table: figure, value, floor, ratio, goal, pass/fail.

Usage: .venv/bin/python bench/run_all.py [--quick] [--json]

Each bench module exposes `run(quick: bool) -> list[dict]` with rows
{"figure", "value", "unit", "floor", "ratio", "goal", "pass"}. `--quick` runs few iterations: CI uses it only to prove
the benchmarks run; the goals are judged from a full run on a quiet machine (docs/PERFORMANCE.md).
"""

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common

from bench.common import Row, main

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


def run_all(quick: bool) -> list[Row]:
    rows: list[Row] = []
    for path in bench_modules():
        started = time.perf_counter()
        module_rows = load(path).run(quick=quick)
        for row in module_rows:
            rows.append({"bench": path.stem, **row})
        print(f"# {path.name}: {len(module_rows)} figures in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.exit(main(run_all, __doc__))

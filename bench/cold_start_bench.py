"""Cold start: import time of each Lambda function module in a fresh interpreter vs the dependency floor.

Usage: .venv/bin/python bench/cold_start_bench.py [--quick] [--json]

Each function (functions/<name>/app.py) is copied with the vpbx package into a temporary tree laid out as Lambda
lays it out — the function in `task/` (LAMBDA_TASK_ROOT), the layer's package in `opt/python/` — and imported by a
fresh interpreter (`import app`, timed inside the child so interpreter start-up is left out) with Lambda's
environment variables set, so that Tracer is enabled and patches as it does in AWS. Two copies of the tree:
- precompiled: `compileall --invalidation-mode unchecked-hash` then made read-only (what the layer build ships);
- source only: no bytecode, read-only, PYTHONDONTWRITEBYTECODE — every cold start compiles the modules it imports.
Third-party packages (boto3, pydantic, powertools, phonenumbers…) come from the venv, precompiled by pip, for the
function and its floor alike.

Floor: a module that imports and builds what the function's dependencies need and nothing of vpbx:
`import boto3, pydantic`, the powertools Logger (authorizer), plus Metrics, Tracer (constructed: its X-Ray SDK import
and patching are the dependency's own cost) and an APIGatewayRestResolver with validation (the API functions).
Runs interleave function and floor so that machine noise hits both alike; value = median of the runs.
Goal: precompiled function ÷ floor ≤ 1.15. A fourth import per run preloads the floor untimed and then times the
function: the cost of vpbx's own code alone, reported (with its share of the floor) beside the goal.
"""

import compileall
import os
import py_compile
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common

from bench.common import ROOT, Row, fresh_interpreter, main, medians, ratio_row

PACKAGE = ROOT / "layers" / "vpbx" / "vpbx"
ALL_FUNCTIONS = ("authorizer", "admin", "directory", "scenarios", "calls")
# COLD_START_FUNCTIONS=scenarios,calls measures a subset (quicker while working on one function).
FUNCTIONS = tuple(f for f in os.environ.get("COLD_START_FUNCTIONS", ",".join(ALL_FUNCTIONS)).split(",") if f)
GOAL_RATIO = 1.15

LOGGER_FLOOR = """\
import boto3, pydantic
from aws_lambda_powertools import Logger
logger = Logger(service="floor")
"""
API_FLOOR = """\
import boto3, pydantic
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
logger = Logger(service="floor")
tracer = Tracer(service="floor")
metrics = Metrics(namespace="vpbx", service="floor")
app = APIGatewayRestResolver(enable_validation=True)
"""
FLOORS = {"authorizer": LOGGER_FLOOR}  # the API functions use API_FLOOR

# The child times only the import; the result line is the last thing it prints. `{preload}` is imported first,
# untimed: with the floor preloaded, what is left is the cost of vpbx's own code (steadier than a difference of two
# noisy totals).
CHILD = """\
{preload}
import time
started, started_cpu = time.perf_counter(), time.process_time()
import {module}
wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
import json, sys
package = sys.modules.get("vpbx")
print(json.dumps({{"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "vpbx": getattr(package, "__file__", None)}}))
"""


def lambda_environment(task_root: Path, function: str) -> dict[str, str]:
    """The variables Lambda sets (and template.yaml's), minus anything that would reach a real AWS endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "PYTHON", "_X_AMZN"))}
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": f"vpbx-{function}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "TABLE_NAME": "vpbx-bench",
            "POWERTOOLS_SERVICE_NAME": function,
            "POWERTOOLS_METRICS_NAMESPACE": "vpbx",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": f"{task_root}{os.pathsep}{task_root.parent / 'opt' / 'python'}",
        }
    )
    return env


def make_read_only(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def lay_out(base: Path, precompiled: bool) -> None:
    """base/opt/python/vpbx (the layer) and base/task-<function>/app.py (+ floor.py), as Lambda unpacks them."""
    layer = base / "opt" / "python"
    shutil.copytree(PACKAGE, layer / "vpbx", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for function in FUNCTIONS:
        task = base / f"task-{function}"
        task.mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / function / "app.py", task / "app.py")
        (task / "floor.py").write_text(FLOORS.get(function, API_FLOOR))
    if precompiled:
        mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
        if not compileall.compile_dir(base, quiet=1, invalidation_mode=mode, workers=1):
            raise RuntimeError(f"compileall failed in {base}")
    make_read_only(base)


@contextmanager
def lambda_trees() -> Iterator[dict[str, Path]]:
    """{"precompiled": tree, "source": tree}, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="vpbx-cold-") as tmp:
        trees = {"precompiled": Path(tmp) / "precompiled", "source": Path(tmp) / "source"}
        try:
            for kind, tree in trees.items():
                lay_out(tree, precompiled=kind == "precompiled")
            yield trees
        finally:
            make_writable(Path(tmp))


def import_ms(tree: Path, function: str, module: str, preload: str = "") -> dict[str, float]:
    """{"cpu", "wall"}: milliseconds a fresh interpreter spends importing `module` from the function's task root
    (after importing `preload`, untimed, when given)."""
    task = tree / f"task-{function}"
    env = lambda_environment(task, function)
    if tree.name == "source":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    script = CHILD.format(module=module, preload=f"import {preload}" if preload else "")
    report = fresh_interpreter(script, cwd=task, env=env, what=f"importing {module} of {function}")
    if module == "app" and not str(report["vpbx"]).startswith(str(tree)):
        raise RuntimeError(f"{function} imported vpbx from {report['vpbx']}, not from the layer copy in {tree}")
    return {"cpu": float(report["cpu_ms"]), "wall": float(report["wall_ms"])}


def measure(quick: bool) -> dict[str, dict[str, float]]:
    """function -> {"<variant> <clock>": median ms} for variants precompiled/source/floor and clocks cpu/wall."""
    runs = 1 if quick else 11
    samples: dict[str, dict[str, list[float]]] = {function: {} for function in FUNCTIONS}
    with lambda_trees() as trees:
        for function in FUNCTIONS:  # warm the OS page cache; not counted
            import_ms(trees["precompiled"], function, "app")
        for _ in range(runs):
            for function in FUNCTIONS:
                for variant, tree, module, preload in (
                    ("floor", trees["precompiled"], "floor", ""),
                    ("precompiled", trees["precompiled"], "app", ""),
                    ("source", trees["source"], "app", ""),
                    ("own", trees["precompiled"], "app", "floor"),
                ):
                    for clock, ms in import_ms(tree, function, module, preload).items():
                        samples[function].setdefault(f"{variant} {clock}", []).append(ms)
    return {function: medians(by_key) for function, by_key in samples.items()}


def run(quick: bool) -> list[Row]:
    """Per function: precompiled CPU time (the goal: CPU time is what a shared machine's noise disturbs least),
    precompiled wall time, and source-only CPU time."""
    results = measure(quick)
    rows: list[Row] = []
    for function in FUNCTIONS:
        ms = results[function]
        name = f"cold import {function}"
        rows.append(
            ratio_row(f"{name}, precompiled (CPU)", ms["precompiled cpu"], ms["floor cpu"], GOAL_RATIO, digits=1)
        )
        rows.append(ratio_row(f"{name}, precompiled (wall)", ms["precompiled wall"], ms["floor wall"], None, digits=1))
        rows.append(ratio_row(f"{name}, source only (CPU)", ms["source cpu"], ms["floor cpu"], None, digits=1))
        rows.append(
            ratio_row(f"{name}, vpbx code alone, floor preloaded (CPU)", ms["own cpu"], ms["floor cpu"], None, digits=1)
        )
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))

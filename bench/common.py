"""What the benchmarks share: a moto DynamoDB with a table from template.yaml, handler invocation and DynamoDB
request counting, timing, the row every figure is reported in, and the command line (--quick, --json, a table).

A row is {"figure", "value", "unit", "floor", "ratio", "goal", "pass"}; run_all.py adds "bench". Bench modules import
this as `bench.common` after putting the repository root on sys.path; tests/helpers (plain modules, no pytest) give
the moto server, tables, API Gateway events and function loading the tests use too.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from vpbx.store.dynamodb import DynamoRepository

ROOT = Path(__file__).resolve().parents[1]
HEADERS = ("figure", "value", "unit", "floor", "ratio", "goal", "pass")
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}

Row = dict[str, Any]
Key = TypeVar("Key")

# ------------------------------------------------------------------------------------------------ DynamoDB on moto


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """Endpoint URL of a moto server for the block, with dummy credentials (set before any handler is loaded)."""
    from tests.helpers.moto import running_moto_server

    for name, value in FAKE_AWS.items():
        os.environ.setdefault(name, value)
    with running_moto_server() as endpoint:
        yield endpoint


def handler_repository(endpoint: str) -> "DynamoRepository":
    """A DynamoRepository on a fresh table built from template.yaml, installed as the one every handler uses."""
    from vpbx.api.deps import set_repository
    from vpbx.store.dynamodb import DynamoRepository

    from tests.helpers.tables import create_table, dynamodb_client

    repository = DynamoRepository(create_table(dynamodb_client(endpoint), "vpbx-bench"), endpoint_url=endpoint)
    set_repository(repository)
    return repository


class RequestCounter:
    """DynamoDB requests a client sends (operation names) and items its Queries scan, counted by botocore hooks."""

    def __init__(self, client: Any, name: str) -> None:
        self.operations: list[str] = []
        self.items_read = 0
        client.meta.events.register("before-call.dynamodb", self._before, unique_id=f"{name}-before")
        client.meta.events.register("after-call.dynamodb", self._after, unique_id=f"{name}-after")

    @property
    def requests(self) -> int:
        return len(self.operations)

    def reset(self) -> None:
        self.operations.clear()
        self.items_read = 0

    def _before(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.items_read += int(parsed.get("ScannedCount", 0))


def invoke(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> dict[str, Any]:
    """The handler's proxy response to `event`; a status of 300 or more is an error, not a figure."""
    from tests.helpers.apigw import lambda_context

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # EMF blobs, "no metrics"
        warnings.simplefilter("ignore")
        response: dict[str, Any] = handler(event, lambda_context("bench"))
    if response["statusCode"] >= 300:
        raise RuntimeError(f"handler answered {response['statusCode']}: {response['body']}")
    return response


# ------------------------------------------------------------------------------------------------ timing


def ms_since(started: float) -> float:
    """Milliseconds since `started` (a time.perf_counter() reading)."""
    return (time.perf_counter() - started) * 1000


def fresh_interpreter(script: str, *args: str, cwd: Path, env: dict[str, str], what: str) -> dict[str, Any]:
    """Run `script` in a fresh Python (the bench's own) and return the JSON object on its last line of output;
    RuntimeError naming `what` with the end of its stderr when it fails."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def medians(samples: Mapping[Key, list[float]]) -> dict[Key, float]:
    import statistics

    return {key: statistics.median(values) for key, values in samples.items()}


# ------------------------------------------------------------------------------------------------ rows


def row(
    figure: str,
    value: float,
    unit: str,
    *,
    floor: float | None = None,
    ratio: float | None = None,
    goal: float | str | None = None,
    passed: bool | None = None,
    digits: int = 2,
    ratio_digits: int = 3,
) -> Row:
    """One figure; value and floor rounded to `digits`, ratio to `ratio_digits`."""
    return {
        "figure": figure,
        "value": round(value, digits),
        "unit": unit,
        "floor": None if floor is None else round(floor, digits),
        "ratio": None if ratio is None else round(ratio, ratio_digits),
        "goal": goal,
        "pass": passed,
    }


def ratio_row(figure: str, value: float, floor: float, goal: float | None, *, unit: str = "ms", digits: int = 2) -> Row:
    """A figure judged by value ÷ floor (goal: the ratio at most `goal`; None reports the ratio without a goal)."""
    ratio = value / floor
    return row(
        figure,
        value,
        unit,
        floor=floor,
        ratio=ratio,
        goal=f"ratio <= {goal}" if goal else None,
        passed=ratio <= goal if goal else None,
        digits=digits,
    )


def count_row(figure: str, value: int, unit: str, limit: int | None) -> Row:
    """A count judged against `limit` (None: reported without a goal)."""
    if limit is None:
        return row(figure, value, unit)
    return row(figure, value, unit, goal=f"<= {limit}", passed=value <= limit)


# ------------------------------------------------------------------------------------------------ command line


def main(run: Callable[[bool], list[Row]], doc: str | None) -> int:
    """`[--quick] [--json]`: the rows of `run` as a table (or JSON) on stdout."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="few iterations: prove the benchmark runs")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = run(args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


def print_table(rows: list[Row]) -> None:
    table = [[fmt(item.get(h)) for h in HEADERS] for item in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(HEADERS)]
    print(" | ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in table:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    failed = sum(1 for item in rows if item.get("pass") is False)
    print(f"\n{len(rows)} figures, {failed} below goal; machine: {machine()}")


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def machine() -> str:
    """What docs/PERFORMANCE.md names the machine by: kernel, architecture, CPU count, Python."""
    uname = platform.uname()
    return (
        f"{uname.system} {uname.release} {uname.machine}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({sys.executable})"
    )

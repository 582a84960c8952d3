"""Behavioural diff speed: each examples/ scenario against a changed copy of itself, against the 1 s goal.

Usage: .venv/bin/python bench/diff_bench.py [--quick] [--json]

The change lengthens every wait by 5 s, so every ring differs and every situation class is explored and reported
(the most work a diff does for these scenarios). 14 days are explored from a fixed Monday, so the figures repeat.
`value` is the median of the timed runs, `floor` the fastest one, `ratio` = value / goal.
"""

import copy
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpbx.domain.diff import DEFAULT_DAYS, diff
from vpbx.domain.scenario import Scenario
from vpbx.workspace import workspace_from_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common

from bench.common import Row, main, row

GOAL_MS = 1000.0
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
START = datetime(2026, 12, 21, tzinfo=UTC)


def changed(raw: dict[str, Any]) -> dict[str, Any]:
    """The scenario with every wait 5 s longer."""
    copy_ = copy.deepcopy(raw)
    for element in copy_["elements"]:
        if "wait_seconds" in element:
            element["wait_seconds"] += 5
    return copy_


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(EXAMPLES.glob("*.json")):
        workspace = workspace_from_data(json.loads(path.read_text()), str(path))
        assert isinstance(workspace.scenario_raw, dict)
        old = Scenario.model_validate(workspace.scenario_raw)
        new = Scenario.model_validate(changed(workspace.scenario_raw))
        diff(old, new, workspace.directory, start=START)  # warm: imports, holiday calendars
        timings = []
        for _ in range(1 if quick else 7):
            started = time.perf_counter()
            result = diff(old, new, workspace.directory, start=START, days=DEFAULT_DAYS)
            timings.append((time.perf_counter() - started) * 1000)
        median = statistics.median(timings)
        figure = f"diff {path.stem} ({result.bounds.runs} runs, {result.situation_count} situations)"
        rows.append(
            row(figure, median, "ms", floor=min(timings), ratio=median / GOAL_MS, goal=f"<= {GOAL_MS:g} ms",
                passed=median <= GOAL_MS)
        )  # fmt: skip
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))

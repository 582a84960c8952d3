"""Executor speed: µs per transition (one `advance`) on scenarios of 10, 1,000 and 10,000 elements.

Usage: .venv/bin/python bench/executor_bench.py [--quick] [--json]

Each scenario is a chain closed into a cycle: subscriber (ring 20 s) → greeting → IVR menu (key 1) → sequential
group of two → schedule check → next subscriber…, the last element pointing back to the first, so a call walks the
whole mix of element types and never runs out of route (the loop guard ends it after MAX_STEPS; a new call starts).
10,000 elements is beyond what the API accepts (MAX_ELEMENTS); it is built here to show that a transition's cost
does not depend on the scenario's size. Sizes are measured in interleaved rounds so that machine noise hits them
alike; every advance is timed on its own. `value` is the median µs per advance, `floor` the fastest round's median.
Goals: 1,000 elements ≤ 25 µs; 10,000 ÷ 10 ≤ 1.2.
"""

import gc
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from vpbx.domain.calls import CallInfo, CallState, Outcome
from vpbx.domain.directory import Directory, Schedule, Subscriber
from vpbx.domain.executor import Executor, compile_scenario
from vpbx.domain.scenario import Connection, Element, Scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common

from bench.common import Row, main, row

SIZES = (10, 1_000, 10_000)
GOAL_US_AT_1000 = 25.0
GOAL_RATIO = 1.2
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OUTCOMES = {
    "ring": Outcome(kind="no_answer"),
    "play": Outcome(kind="played"),
    "collect": Outcome(kind="digits", digits="1"),
}


def build_directory() -> Directory:
    subscribers = [Subscriber(extension=f"{100 + n}", name=f"Employee {n}") for n in range(50)]
    subscribers.append(Subscriber(extension="900", name="Mobile", kind="mobile", target="+79161234567"))
    office = Schedule(
        id="office", name="Office", timezone="Europe/Moscow", weekly={"mon": ["00:00-24:00"]}
    )  # fmt: skip
    return Directory.of(subscribers, [office])


def _element(index: int) -> tuple[dict[str, Any], str | None]:
    """The element at `index` of the cycle and the exit its arrow to the next element leaves by."""
    element_id = f"e{index}"
    kind = index % 5
    if kind == 0:
        return {"id": element_id, "type": "internal_subscriber", "extension": f"{100 + index % 50}",
                "limit_wait": True, "wait_seconds": 20}, "no_answer"  # fmt: skip
    if kind == 1:
        return {"id": element_id, "type": "greeting", "prompt": {"text": "Hello"}}, "next"
    if kind == 2:
        return {"id": element_id, "type": "ivr_menu", "prompt": {"text": "Press 1"}}, "1"
    if kind == 3:
        return {"id": element_id, "type": "group", "members": [f"{100 + index % 50}", "900"],
                "strategy": "sequential", "wait_seconds": 15}, "no_answer"  # fmt: skip
    return {"id": element_id, "type": "schedule", "schedule_id": "office"}, "open"


def build_scenario(size: int) -> Scenario:
    """A cycle of `size` elements behind the incoming call. Built without the API's size limit (model_construct)."""
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    connections: list[dict[str, Any]] = [{"from": "start", "to": "e0"}]
    for index in range(size):
        element, exit_name = _element(index)
        elements.append(element)
        connections.append({"from": element["id"], "to": f"e{(index + 1) % size}", "exit": exit_name})
    return Scenario.model_construct(
        name=f"Cycle of {size}",
        description=None,
        elements=TypeAdapter(list[Element]).validate_python(elements),
        connections=TypeAdapter(list[Connection]).validate_python(connections),
    )


class Driver:
    """Keeps one call going on a scenario, starting a new call whenever the previous one ends."""

    def __init__(self, size: int, directory: Directory) -> None:
        compiled = compile_scenario(build_scenario(size), directory, scenario_id=f"s{size}", version=1)
        self.executor = Executor(compiled, clock=lambda: NOW)
        self.calls = 0
        self.state = self._new_call()

    def _new_call(self) -> CallState:
        self.calls += 1
        info = CallInfo(call_id=f"bench-{self.calls}", caller="+74951234567", dialed="+74959876543", started_at=NOW)
        return self.executor.start(info)[0]

    def timed_advances(self, count: int) -> list[float]:
        """Microseconds of each of `count` advances (call starts are not timed)."""
        timings: list[float] = []
        advance = self.executor.advance
        clock = time.perf_counter_ns
        while len(timings) < count:
            state = self.state
            outcome = OUTCOMES[state.element_state["awaiting"]]
            started = clock()
            state, _ = advance(state, outcome)
            timings.append((clock() - started) / 1000)
            self.state = state if state.status == "in_progress" else self._new_call()
        return timings


def measure(quick: bool) -> dict[int, tuple[float, float]]:
    """Size -> (median µs per advance over all rounds, fastest round's median)."""
    rounds, per_round = (3, 300) if quick else (25, 2_000)
    directory = build_directory()
    drivers = {size: Driver(size, directory) for size in SIZES}
    for driver in drivers.values():
        driver.timed_advances(per_round // 2)  # warm-up
    samples: dict[int, list[float]] = {size: [] for size in SIZES}
    round_medians: dict[int, list[float]] = {size: [] for size in SIZES}
    for _ in range(rounds):
        for size, driver in drivers.items():
            gc.collect()
            gc.disable()  # a collection inside one advance would be charged to whichever size ran then
            try:
                timings = driver.timed_advances(per_round)
            finally:
                gc.enable()
            samples[size].extend(timings)
            round_medians[size].append(statistics.median(timings))
    return {size: (statistics.median(samples[size]), min(round_medians[size])) for size in SIZES}


def run(quick: bool) -> list[Row]:
    results = measure(quick)
    rows: list[Row] = []
    for size in SIZES:
        value, floor = results[size]
        goal = GOAL_US_AT_1000 if size == 1_000 else None
        rows.append(
            row(
                f"executor advance, {size:,} elements",
                value,
                "µs",
                floor=floor,
                ratio=value / goal if goal else None,
                goal=goal,
                passed=value <= goal if goal else None,
            )
        )
    ratio = results[10_000][0] / results[10][0]
    floor_ratio = results[10_000][1] / results[10][1]
    rows.append(
        row(
            "executor advance, 10,000 ÷ 10 elements",
            ratio,
            "×",
            floor=floor_ratio,
            ratio=ratio / GOAL_RATIO,
            goal=GOAL_RATIO,
            passed=ratio <= GOAL_RATIO,
            digits=3,
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main(run, __doc__))

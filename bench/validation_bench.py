"""Validation speed: a realistic 1,000-element scenario against the 10 ms goal.

Usage: .venv/bin/python bench/validation_bench.py [--quick] [--json]

The scenario is what a large tenant could publish: 99 department blocks (schedule, caller list, CRM routing,
greeting, IVR menu, subscriber, sequential group with a mobile member, mobile forward, fax, voicemail) chained by a
menu key, behind a few announcements; ~1,700 arrows, every element reachable, zero problems. It is timed clean and
with one broken element (a wait given as text), which makes validation locate the problem element by element.
`value` is the median of the timed runs, `floor` the fastest one, `ratio` = value / goal. The machine is shared:
wall-clock time includes waiting for a core while other processes run, so the thread's CPU time is reported beside it.
"""

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from vpbx.domain.directory import CallerList, CallerPattern, Directory, Schedule, Subscriber
from vpbx.domain.scenario import MAX_ELEMENTS
from vpbx.domain.validation import validate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench.common

from bench.common import Row, main, row

GOAL_MS = 10.0
BLOCKS = 99
ANNOUNCEMENTS = MAX_ELEMENTS - 2 - BLOCKS * 10  # fills the scenario to exactly MAX_ELEMENTS
SCHEDULES = ("office", "support", "weekend")
PROMPT = {"text": "Press 1 for the manager, 2 for the team, 3 for the duty phone, 4 for fax, 9 for the next department"}


def _block(k: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = {
        name: f"d{k}-{name}" for name in ("hours", "vip", "crm", "hello", "menu", "mgr", "team", "cell", "fax", "vm")
    }
    next_block = f"d{k + 1}-hours" if k + 1 < BLOCKS else ids["vm"]
    at = {"position": {"x": 200.0 * k, "y": 0.0}}
    elements: list[dict[str, Any]] = [
        {"id": ids["hours"], "type": "schedule", "schedule_id": SCHEDULES[k % 3], **at},
        {"id": ids["vip"], "type": "caller_list", "list_id": "vip", **at},
        {"id": ids["crm"], "type": "external_routing", "url": "https://crm.example/route", "wait_seconds": 25, **at},
        {"id": ids["hello"], "type": "greeting", "prompt": {"text": f"Department {k}"}, **at},
        {"id": ids["menu"], "type": "ivr_menu", "prompt": PROMPT, "timeout_seconds": 5, "max_retries": 2, **at},
        {"id": ids["mgr"], "type": "internal_subscriber", "extension": f"1{k:03d}", "limit_wait": True,
         "wait_seconds": 20, **at},
        {"id": ids["team"], "type": "group", "members": [f"2{k:03d}", f"3{k:03d}", f"4{k:03d}"],
         "strategy": "sequential", "wait_seconds": 20, **at},
        {"id": ids["cell"], "type": "external_number", "number": f"+7916{k:07d}", "limit_wait": True,
         "wait_seconds": 30, **at},
        {"id": ids["fax"], "type": "fax", "extension": f"5{k:03d}", **at},
        {"id": ids["vm"], "type": "voicemail", "mailbox": f"1{k:03d}", **at},
    ]  # fmt: skip
    arrows = [
        (ids["hours"], ids["hello"], "open"),
        (ids["hours"], ids["vm"], "closed"),
        (ids["hello"], ids["vip"], None),
        (ids["vip"], ids["crm"], "match"),
        (ids["vip"], ids["menu"], "no_match"),
        (ids["crm"], ids["menu"], "no_answer"),
        (ids["crm"], ids["menu"], "not_found"),
        (ids["menu"], ids["mgr"], "1"),
        (ids["menu"], ids["team"], "2"),
        (ids["menu"], ids["cell"], "3"),
        (ids["menu"], ids["fax"], "4"),
        (ids["menu"], next_block, "9"),
        (ids["menu"], ids["vm"], "timeout"),
        (ids["menu"], "bye", "invalid"),
        (ids["mgr"], ids["team"], "no_answer"),
        (ids["team"], ids["vm"], "no_answer"),
        (ids["cell"], ids["vm"], "no_answer"),
    ]
    return elements, [_arrow(*a) for a in arrows]


def _arrow(source: str, target: str, exit_name: str | None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"exit": exit_name} if exit_name else {})}


def build_scenario() -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    connections: list[dict[str, Any]] = []
    previous = "start"
    for i in range(ANNOUNCEMENTS):
        elements.append({"id": f"news{i}", "type": "greeting", "prompt": {"audio_url": f"https://cdn.example/{i}.mp3"}})
        connections.append(_arrow(previous, f"news{i}", None))
        previous = f"news{i}"
    connections.append(_arrow(previous, "d0-hours", None))
    for k in range(BLOCKS):
        block_elements, block_arrows = _block(k)
        elements += block_elements
        connections += block_arrows
    elements.append({"id": "bye", "type": "hangup"})
    return {"name": "Large tenant", "elements": elements, "connections": connections}


def build_directory() -> Directory:
    subscribers = []
    for k in range(BLOCKS):
        subscribers += [
            Subscriber(extension=f"1{k:03d}", name=f"Manager {k}"),
            Subscriber(extension=f"2{k:03d}", name=f"Agent {k}a"),
            Subscriber(extension=f"3{k:03d}", name=f"Agent {k}b", kind="mobile", target=f"+7916{k:07d}"),
            Subscriber(extension=f"4{k:03d}", name=f"Agent {k}c"),
            Subscriber(extension=f"5{k:03d}", name=f"Fax {k}"),
        ]
    schedules = [
        Schedule(id=s, name=s.title(), timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]}) for s in SCHEDULES
    ]
    vip = CallerList(id="vip", name="VIP", patterns=[CallerPattern(kind="prefix", value="+7495")])
    return Directory.of(subscribers, schedules, [vip])


def build_broken_scenario() -> dict[str, Any]:
    """The benchmark scenario with one element that does not parse (a wait given as text)."""
    raw = build_scenario()
    broken = next(element for element in raw["elements"] if element["id"] == "d49-mgr")
    broken["wait_seconds"] = "soon"
    return raw


def run(quick: bool) -> list[Row]:
    directory = build_directory()
    raw, broken = build_scenario(), build_broken_scenario()
    first = validate(raw, directory)  # also warms phonenumbers' lazily loaded metadata
    if first.problems or first.scenario is None:
        raise SystemExit(f"the benchmark scenario should be valid: {first.problems[:3]}")
    if [p.code for p in validate(broken, directory).problems] != ["invalid_element"]:
        raise SystemExit("the broken benchmark scenario should have exactly one invalid element")
    size_kb = len(json.dumps(raw, separators=(",", ":")).encode()) / 1024
    label = f"validate {len(raw['elements'])} elements, {len(raw['connections'])} arrows, {size_kb:.0f} KB"
    rows: list[Row] = []
    for variant, scenario in (("", raw), (", one broken element", broken)):
        wall, cpu = _timings(scenario, directory, 5 if quick else 60)
        rows += [_row(f"{label}{variant} (wall clock)", wall), _row(f"{label}{variant} (CPU time of the thread)", cpu)]
    return rows


def _timings(raw: dict[str, Any], directory: Directory, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and thread CPU milliseconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        started_wall, started_cpu = time.perf_counter(), time.thread_time()
        validate(raw, directory)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
    return wall, cpu


def _row(figure: str, timings_ms: list[float]) -> Row:
    median = statistics.median(timings_ms)
    return row(
        figure,
        median,
        "ms",
        floor=min(timings_ms),
        ratio=median / GOAL_MS,
        goal=f"<= {GOAL_MS:g} ms",
        passed=median <= GOAL_MS,
        ratio_digits=2,
    )


if __name__ == "__main__":
    sys.exit(main(run, __doc__))

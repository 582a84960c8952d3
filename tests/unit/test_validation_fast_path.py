"""The fast paths of validate() give exactly what the located, part-by-part path gives.

validate() parses elements and connections in bulk (one pydantic pass each, keeping what does not parse as sent)
and parses only the leftovers one by one to locate their problems. These tests pin that both routes agree,
problem for problem and in the same order, and pin the verdicts on a large realistic scenario and broken variants.
"""

import copy
import gc
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from vpbx.domain import validation
from vpbx.domain.directory import Directory
from vpbx.domain.validation import ValidationReport, parsing, validate

from bench.validation_bench import build_directory, build_scenario
from tests.unit.test_validation_properties import DIRECTORY, random_graphs, scenario_like

ROOT = Path(__file__).resolve().parents[2]

Located = tuple[str, str | None, int | None, str | None, int | None]


def located(report: ValidationReport) -> list[Located]:
    return [(p.code, p.element_id, p.connection_index, p.field, p.element_index) for p in report.problems]


def validate_part_by_part(raw: object, directory: Directory | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(parsing, "bulk_parse", lambda items, kind: list(items))  # every item parsed on its own
        return validate(raw, directory)


def assert_same_report(raw: object, directory: Directory | None, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = validate(raw, directory)
    slow = validate_part_by_part(raw, directory, monkeypatch)

    assert fast.problems == slow.problems  # codes, messages, locations and order
    assert fast.scenario == slow.scenario
    if fast.scenario is not None and slow.scenario is not None:
        assert fast.scenario.model_fields_set == slow.scenario.model_fields_set
        assert validate(fast.scenario, directory).problems == fast.problems  # the parsed form gets the same verdict


@settings(max_examples=200, deadline=None)
@given(random_graphs())
def test_random_graphs_get_the_same_report_either_way(raw: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same_report(raw, DIRECTORY, monkeypatch)


@settings(max_examples=200, deadline=None)
@given(scenario_like)
def test_scenario_shaped_garbage_gets_the_same_report_either_way(raw: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same_report(raw, DIRECTORY, monkeypatch)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.json")), ids=lambda path: path.stem)
def test_examples_get_the_same_report_either_way(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(path.read_text())
    scenario = data.get("scenario", data) if isinstance(data, dict) else data
    assert_same_report(scenario, None, monkeypatch)
    assert_same_report(scenario, build_directory(), monkeypatch)


def _element_index(raw: dict[str, Any], element_id: str) -> int:
    return next(i for i, element in enumerate(raw["elements"]) if element["id"] == element_id)


def _retarget(index: int, target: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw["connections"][index].update({"to": target})


Mutation = Callable[[dict[str, Any]], None]
LARGE_CASES: list[tuple[str, Mutation, list[Located], bool]] = [
    ("clean", lambda raw: None, [], True),
    ("unknown target", _retarget(40, "nowhere"), [("unknown_connection_target", None, 40, "to", None)], True),
    (
        "bad exit",
        lambda raw: raw["connections"][50].update({"exit": "bogus"}),
        [("invalid_exit", "d2-menu", 50, "exit", None)],
        True,
    ),
    (
        "second arrow on an exit",
        lambda raw: raw["connections"].append({"from": "d3-vip", "to": "d3-hours", "exit": "match"}),
        [("duplicate_exit", "d3-vip", 1692, "exit", None)],
        True,
    ),
    (
        "duplicate id",
        lambda raw: raw["elements"][_element_index(raw, "d5-fax")].update({"id": "d5-vm"}),
        [("duplicate_element_id", "d5-vm", None, "id", 68), ("unknown_connection_target", None, 104, "to", None)],
        True,
    ),
    (
        "wrong type",
        lambda raw: raw["elements"][30].update({"type": "fax"}),
        [("invalid_element", "d2-vip", None, "extension", 30), ("invalid_element", "d2-vip", None, "list_id", 30)],
        False,
    ),
    (
        "wait too short",
        lambda raw: raw["elements"][_element_index(raw, "d0-cell")].update({"wait_seconds": 3}),
        [("wait_out_of_range", "d0-cell", None, "wait_seconds", None)],
        True,
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected", "parses"), [case[1:] for case in LARGE_CASES], ids=[case[0] for case in LARGE_CASES]
)
def test_large_scenario_verdicts(
    mutate: Mutation, expected: list[Located], parses: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = copy.deepcopy(build_scenario())
    mutate(raw)

    report = validate(raw, build_directory())

    assert located(report) == expected
    assert (report.scenario is not None) == parses
    assert_same_report(raw, build_directory(), monkeypatch)


def test_the_collector_runs_again_after_validation() -> None:
    assert gc.isenabled()
    validate(build_scenario(), build_directory())
    assert gc.isenabled()


def test_a_paused_collector_stays_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "_validate", lambda raw, directory, problems: 1 / 0)  # fails inside the pause
    gc.disable()
    try:
        report = validate({"name": "x", "elements": []})
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert [p.code for p in report.problems] == ["internal_error"]
    report = validate({"name": "x", "elements": []})
    assert gc.isenabled()


def test_importing_validation_builds_no_type_adapter() -> None:
    probe = (
        "import vpbx.domain.validation.parsing as v; "
        "print(sum(f.cache_info().currsize for f in (v._element_adapter, v._elements_adapter, v._connections_adapter)))"
    )
    built = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert built.stdout.strip() == "0"

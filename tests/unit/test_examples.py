"""The example workspaces validate cleanly, and calls through them end where a person reading them would expect."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from vpbx.domain.diagram import node_id, to_mermaid
from vpbx.domain.phone import DIAL_DELAY_SECONDS
from vpbx.domain.scenario import InternalSubscriber, Scenario
from vpbx.domain.simulation import simulate
from vpbx.domain.validation import DIAL_DELAY_MARGIN_SECONDS, validate
from vpbx.workspace import Workspace, load_workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = ("office-hours", "ivr-menu", "holiday-closure", "seed", "support-queue")


def load(name: str) -> tuple[Workspace, Scenario]:
    workspace = load_workspace(EXAMPLES / f"{name}.json")
    report = validate(workspace.scenario_raw, workspace.directory)
    assert report.scenario is not None, report.problems
    return workspace, report.scenario


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_example_file_is_listed() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(EXAMPLE_NAMES)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_validates_without_errors_or_warnings(name: str) -> None:
    workspace = load_workspace(EXAMPLES / f"{name}.json")
    report = validate(workspace.scenario_raw, workspace.directory)

    assert workspace.problems == ()
    assert report.errors == []
    assert report.warnings == []  # none is intentional; a new one would need explaining in "description"
    assert workspace.description


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_diagram_draws_every_element(name: str) -> None:
    _, scenario = load(name)
    text = to_mermaid(scenario)

    assert text.startswith("flowchart TD\n")
    assert all(f"    {node_id(e.id)}" in text for e in scenario.elements)


CASES: list[tuple[str, str, str | None, dict[str, Any], str, str, list[str]]] = [
    # name, at, caller, outcomes, status, element, path
    (
        "office-hours",
        "2026-11-23T10:00:00+03:00",  # a Monday, 10:00 in Moscow; nobody answers
        None,
        {},
        "voicemail",
        "vm",
        ["start", "hours", "mgr", "sales", "vm"],
    ),
    (
        "office-hours",
        "2026-11-23T10:00:00+03:00",
        None,
        {"mgr": ["no_answer"], "sales": ["answered"]},
        "connected",
        "sales",
        ["start", "hours", "mgr", "sales"],
    ),
    (
        "office-hours",
        "2026-11-04T10:00:00+03:00",  # Unity Day, a Russian public holiday (a Wednesday)
        None,
        {},
        "voicemail",
        "vm",
        ["start", "hours", "vm"],
    ),
    (
        "office-hours",
        "2026-11-23T19:00:00+03:00",  # after hours
        None,
        {},
        "voicemail",
        "vm",
        ["start", "hours", "vm"],
    ),
    (
        "ivr-menu",
        "2026-11-23T10:00:00+03:00",
        None,
        {"menu": ["digits:1"], "sales": ["answered"]},
        "connected",
        "sales",
        ["start", "welcome", "menu", "sales"],
    ),
    (
        "ivr-menu",
        "2026-11-23T10:00:00+03:00",
        None,
        {"menu": ["digits:2"]},
        "voicemail",
        "support-vm",
        ["start", "welcome", "menu", "support", "support-vm"],
    ),
    (
        "ivr-menu",
        "2026-11-23T10:00:00+03:00",
        None,
        {"menu": ["digits:0"], "operator": ["answered"]},
        "connected",
        "operator",
        ["start", "welcome", "menu", "operator"],
    ),
    (
        "ivr-menu",
        "2026-11-23T10:00:00+03:00",
        None,
        {},  # the caller never presses a key
        "voicemail",
        "operator-vm",
        ["start", "welcome", "menu", "operator", "operator-vm"],
    ),
    (
        "ivr-menu",
        "2026-11-23T10:00:00+03:00",
        None,
        {"menu": ["digits:7"]},  # not an option, on every retry
        "voicemail",
        "operator-vm",
        ["start", "welcome", "menu", "operator", "operator-vm"],
    ),
    (
        "holiday-closure",
        "2026-12-31T11:00:00+03:00",  # company closure, but a key account calls
        "+74957770011",
        {"director": ["answered"]},
        "connected",
        "director",
        ["start", "vip-check", "director"],
    ),
    (
        "holiday-closure",
        "2026-12-31T11:00:00+03:00",
        "+78125551234",  # matches the VIP prefix; the director does not answer
        {},
        "voicemail",
        "vm",
        ["start", "vip-check", "director", "duty", "vm"],
    ),
    (
        "holiday-closure",
        "2026-12-31T11:00:00+03:00",  # company closure, an ordinary caller
        "+74951234567",
        {},
        "voicemail",
        "vm",
        ["start", "vip-check", "hours", "closed-msg", "vm"],
    ),
    (
        "holiday-closure",
        "2026-12-30T14:00:00+03:00",  # the short day, still open; the caller sends a fax
        "+74951234567",
        {"front-menu": ["digits:9"]},
        "fax",
        "fax",
        ["start", "vip-check", "hours", "front-menu", "fax"],
    ),
    (
        "holiday-closure",
        "2026-12-30T16:00:00+03:00",  # the short day is over at 15:00
        "+74951234567",
        {},
        "voicemail",
        "vm",
        ["start", "vip-check", "hours", "closed-msg", "vm"],
    ),
    (
        "holiday-closure",
        "2026-12-29T16:00:00+03:00",  # an ordinary Tuesday afternoon; the caller stays on the line
        None,
        {"reception": ["answered"]},
        "connected",
        "reception",
        ["start", "vip-check", "hours", "front-menu", "reception"],
    ),
    (
        "support-queue",
        "2026-11-23T10:00:00+03:00",
        None,
        {},  # no agent free (no queue script): the caller waits 3 minutes
        "voicemail",
        "vm",
        ["start", "welcome", "line", "vm"],
    ),
    (
        "support-queue",
        "2026-11-23T10:00:00+03:00",
        None,
        {"line": ["waiting", "caller_hangup"]},  # gives up after 20 s
        "caller_hangup",
        "line",
        ["start", "welcome", "line"],
    ),
    (
        "seed",
        "2026-11-23T10:00:00+03:00",
        None,
        {"manager": ["answered"]},
        "connected",
        "manager",
        ["start", "manager"],
    ),
    (
        "seed",
        "2026-11-23T10:00:00+03:00",
        None,
        {"manager": ["no_answer"], "senior": ["answered"]},
        "connected",
        "senior",
        ["start", "manager", "senior"],
    ),
]


@pytest.mark.parametrize(("name", "when", "caller", "outcomes", "status", "element", "path"), CASES)
def test_example_call_ends_where_expected(
    name: str,
    when: str,
    caller: str | None,
    outcomes: dict[str, Any],
    status: str,
    element: str,
    path: list[str],
) -> None:
    workspace, scenario = load(name)
    result = simulate(scenario, workspace.directory, outcomes=outcomes, caller=caller, at=at(when))

    assert (result.result.status, result.result.element_id) == (status, element)
    assert result.path() == path


def test_seed_without_a_limit_ends_the_route_at_102() -> None:
    workspace, scenario = load("seed")
    result = simulate(scenario, workspace.directory, at=at("2026-11-23T10:00:00+03:00"))
    senior = scenario.element("senior")

    assert isinstance(senior, InternalSubscriber)
    assert senior.extension == "102"
    assert not senior.limit_wait
    assert senior.is_terminal
    assert result.result.element_id == "senior"
    assert result.result.status == "hangup"
    ring = result.steps[-1].action
    assert ring is not None
    assert ring["timeout_seconds"] is None  # rings until answered


def test_holiday_vip_wait_covers_the_mobile_dial_delay() -> None:
    workspace, scenario = load("holiday-closure")
    director = scenario.element("director")
    mobile = workspace.directory.subscribers["200"]

    assert isinstance(director, InternalSubscriber)
    assert director.extension == "200"
    assert mobile.kind == "mobile"
    assert director.wait_seconds is not None
    assert director.wait_seconds >= DIAL_DELAY_SECONDS["mobile"] + DIAL_DELAY_MARGIN_SECONDS


def test_support_queue_serves_a_caller_when_an_agent_frees_up_and_announces_the_place_every_minute() -> None:
    workspace, scenario = load("support-queue")
    agents = {"support": {"agents": {"102": [[45, 600]], "103": [[130, 600]]}}}
    result = simulate(scenario, workspace.directory, at=at("2026-11-23T10:00:00+03:00"), queues=agents)

    (answered,) = [step for step in result.steps if step.outcome == "answered"]
    assert (answered.at_seconds, answered.action and answered.action["targets"][0]["extension"]) == (50, "102")
    assert result.result.status == "connected"
    announced = [s.at_seconds for s in result.steps if s.action and s.action.get("announce")]
    assert announced == [0]  # the first at joining; the next would come at 60 s

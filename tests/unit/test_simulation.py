"""Simulation: the executor driven by scripted outcomes, its result format, and clear errors for bad scripts."""

from datetime import UTC, datetime
from typing import Any

import pytest
from vpbx.domain.directory import Directory, Schedule, Subscriber
from vpbx.domain.errors import InvalidInput
from vpbx.domain.scenario import Scenario
from vpbx.domain.simulation import SimulationResult, simulate

MONDAY_NOON_MOSCOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HELLO = {"text": "Hello"}

DIRECTORY = Directory.of(
    [Subscriber(extension=ext, name=f"Employee {ext}") for ext in ("101", "102", "103")]
    + [Subscriber(extension="201", name="Mobile", kind="mobile", target="+79161234567")],
    [Schedule(id="office", name="Office", timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]})],
)

MAIN_LINE = Scenario.model_validate(
    {
        "name": "Main line",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "hours", "type": "schedule", "schedule_id": "office"},
            {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True, "wait_seconds": 20},
            {"id": "sales", "type": "group", "members": ["102", "103"], "strategy": "simultaneous", "wait_seconds": 30},
            {"id": "vm", "type": "voicemail", "mailbox": "101"},
        ],
        "connections": [
            {"from": "start", "to": "hours"},
            {"from": "hours", "exit": "open", "to": "mgr"},
            {"from": "hours", "exit": "closed", "to": "vm"},
            {"from": "mgr", "exit": "no_answer", "to": "sales"},
            {"from": "sales", "exit": "no_answer", "to": "vm"},
        ],
    }
)


def menu_line(**menu: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "Menu",
            "elements": [
                {"id": "start", "type": "incoming_call"},
                {"id": "hi", "type": "greeting", "prompt": HELLO},
                {"id": "menu", "type": "ivr_menu", "prompt": HELLO, "max_retries": 2, **menu},
                {"id": "sales", "type": "group", "members": ["102", "103", "201"], "strategy": "random",
                 "wait_seconds": 10},
                {"id": "bye", "type": "hangup"},
            ],
            "connections": [
                {"from": "start", "to": "hi"},
                {"from": "hi", "to": "menu"},
                {"from": "menu", "exit": "1", "to": "sales"},
                {"from": "menu", "exit": "invalid", "to": "bye"},
            ],
        }
    )  # fmt: skip


def test_default_outcomes_walk_the_route_to_voicemail_and_dump_the_documented_shape() -> None:
    result = simulate(MAIN_LINE, DIRECTORY, at=MONDAY_NOON_MOSCOW)

    dumped = result.model_dump(mode="json")
    assert set(dumped) == {"steps", "result"}
    assert all(
        set(step) == {"seq", "element_id", "element_type", "action", "outcome", "exit", "at_seconds"}
        for step in dumped["steps"]
    )
    assert [(s["seq"], s["element_id"], s["outcome"], s["exit"]) for s in dumped["steps"]] == [
        (1, "start", None, "next"),
        (1, "hours", None, "open"),
        (1, "mgr", "no_answer", "no_answer"),
        (2, "sales", "no_answer", "no_answer"),
        (3, "vm", None, None),
    ]
    assert dumped["steps"][2]["action"]["targets"][0]["extension"] == "101"
    assert dumped["steps"][4]["action"] == {"type": "voicemail", "mailbox": "101"}
    assert dumped["result"] == {"status": "voicemail", "element_id": "vm", "reason": None}
    assert result.path() == ["start", "hours", "mgr", "sales", "vm"]


def test_scripted_answer_connects_at_that_element() -> None:
    result = simulate(MAIN_LINE, DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"mgr": ["busy"], "sales": ["answered"]})
    assert result.result.model_dump() == {"status": "connected", "element_id": "sales", "reason": None}
    assert [s.outcome for s in result.steps if s.action] == ["busy", "answered"]


def test_outside_hours_the_call_goes_to_voicemail() -> None:
    evening = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 19:00 Moscow
    assert simulate(MAIN_LINE, DIRECTORY, at=evening).path() == ["start", "hours", "vm"]


def test_the_clock_moves_on_by_each_unanswered_ring() -> None:
    looping = MAIN_LINE.model_copy(
        update={"connections": [*MAIN_LINE.connections[:-1], MAIN_LINE.connections[0].model_copy(
            update={"from_": "sales", "exit": "no_answer", "to": "hours"})]}
    )  # fmt: skip
    just_before_closing = datetime(2026, 3, 2, 14, 59, 0, tzinfo=UTC)  # 17:59 Moscow; each lap rings 20 s + 30 s

    result = simulate(looping, DIRECTORY, at=just_before_closing)

    assert result.path()[-2:] == ["hours", "vm"]
    assert result.path().count("mgr") == 2  # 17:59:00 and 17:59:50 open; 18:00:40 closed


def test_script_entries_are_consumed_per_visit_and_the_last_repeats() -> None:
    result = simulate(
        menu_line(),
        DIRECTORY,
        at=MONDAY_NOON_MOSCOW,
        outcomes={"menu": ["digits:7", {"kind": "digits", "digits": "1"}], "sales": ["busy", "no_answer", "answered"]},
    )
    menu_outcomes = [s.outcome for s in result.steps if s.element_id == "menu"]
    assert menu_outcomes == ["digits:7", "digits:1"]
    assert [s.outcome for s in result.steps if s.element_id == "sales"] == ["busy", "no_answer", "answered"]
    assert result.result.status == "connected"


def test_the_last_scripted_outcome_repeats_until_the_menu_gives_up() -> None:
    result = simulate(menu_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": "digits:9", "hi": "played"})
    assert [s.outcome for s in result.steps if s.element_id == "menu"] == ["digits:9"] * 3
    assert result.result.model_dump() == {"status": "hangup", "element_id": "bye", "reason": "hangup_element"}
    assert result.path() == ["start", "hi", "menu", "bye"]


def test_unscripted_menu_times_out_and_an_unconnected_timeout_ends_the_route() -> None:
    result = simulate(menu_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW)
    assert [s.outcome for s in result.steps if s.element_id == "menu"] == ["timeout"] * 3
    assert result.result.model_dump() == {"status": "hangup", "element_id": "menu", "reason": "route_end"}


def test_random_group_order_is_the_same_for_the_same_call_id() -> None:
    def order(call_id: str) -> list[str]:
        result = simulate(menu_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": "digits:1"}, call_id=call_id)
        return [s.action["targets"][0]["extension"] for s in result.steps if s.element_id == "sales" and s.action]

    assert order("demo") == order("demo")
    assert sorted(order("demo")) == ["102", "103", "201"]
    assert len({tuple(order(f"demo-{n}")) for n in range(12)}) > 1


def test_caller_hangup_and_loop_guard_statuses() -> None:
    hung_up = simulate(MAIN_LINE, DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"mgr": ["caller_hangup"]})
    assert hung_up.result.model_dump() == {"status": "caller_hangup", "element_id": "mgr", "reason": None}

    spinning = Scenario.model_validate(
        {
            "name": "Spin",
            "elements": [{"id": "start", "type": "incoming_call"}, {"id": "hi", "type": "greeting", "prompt": HELLO}],
            "connections": [{"from": "start", "to": "hi"}, {"from": "hi", "to": "hi"}],
        }
    )
    guarded = simulate(spinning, DIRECTORY, at=MONDAY_NOON_MOSCOW)
    assert guarded.result.model_dump() == {"status": "loop_guard", "element_id": "hi", "reason": "loop_guard"}
    assert guarded.path() == ["start", "hi"]


def test_caller_and_crm_lookup_reach_external_routing() -> None:
    routed = Scenario.model_validate(
        {
            "name": "CRM",
            "elements": [
                {"id": "start", "type": "incoming_call"},
                {"id": "crm", "type": "external_routing", "url": "https://crm.example/r", "wait_seconds": 15},
            ],
            "connections": [{"from": "start", "to": "crm"}],
        }
    )
    asked: list[str | None] = []

    def lookup(url: str, caller: str | None, timeout: float) -> str | None:
        asked.append(caller)
        return "103"

    result = simulate(
        routed, DIRECTORY, at=MONDAY_NOON_MOSCOW, caller="+79161112233", crm_lookup=lookup, outcomes={"crm": "answered"}
    )
    assert asked == ["+79161112233"]
    assert result.result.model_dump() == {"status": "connected", "element_id": "crm", "reason": None}


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        ({"mgr": ["ringing"]}, "outcomes for element 'mgr', entry 0: 'ringing' is not an outcome"),
        ({"mgr": ["answered", 42]}, "outcomes for element 'mgr', entry 1: an outcome is a string"),
        (
            {"mgr": ["digits:1"]},
            "outcomes for element 'mgr', entry 0: 'digits' does not fit element type internal_subscriber",
        ),
        ({"mgr": ["busy:1"]}, "outcomes for element 'mgr', entry 0: a digits outcome needs its digits"),
        ({"mgr": [{"kind": "answered", "extra": "x"}]}, "outcomes for element 'mgr', entry 0"),
        (
            {"hours": ["answered"]},
            "outcomes for element 'hours', entry 0: element type schedule asks telephony for nothing",
        ),
        ({"ghost": ["answered"]}, "outcomes name element 'ghost', which is not in the scenario"),
        ({"mgr": 7}, "outcomes for element 'mgr': expected a list of outcomes"),
        (["answered"], "outcomes must map element ids"),
    ],
)
def test_a_malformed_script_is_invalid_input_naming_the_element(outcomes: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        simulate(MAIN_LINE, DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes=outcomes)
    assert message in caught.value.message


def test_a_digits_script_entry_needs_digits() -> None:
    with pytest.raises(InvalidInput, match="'menu', entry 0") as caught:
        simulate(menu_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": ["digits:"]})
    assert caught.value.details[0]["element_id"] == "menu"


def test_an_oversized_caller_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="caller"):
        simulate(MAIN_LINE, DIRECTORY, at=MONDAY_NOON_MOSCOW, caller="+7" * 40)


def test_the_result_round_trips_through_json() -> None:
    result = simulate(menu_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": "digits:1"})
    assert SimulationResult.model_validate_json(result.model_dump_json()) == result


# ------------------------------------------------------------------------------------------------ IVR direct dial


def direct_dial_line(**menu: Any) -> Scenario:
    """menu_line with direct dial on; an unanswered direct dial leaves by no_answer to voicemail."""
    raw: dict[str, Any] = menu_line(max_digits=3, direct_dial=True, direct_dial_wait_seconds=15, **menu).dump()
    elements, connections = list(raw["elements"]), list(raw["connections"])
    elements.append({"id": "vm", "type": "voicemail", "mailbox": "101"})
    connections.append({"from": "menu", "exit": "no_answer", "to": "vm"})
    return Scenario.model_validate({**raw, "elements": elements, "connections": connections})


def menu_steps(result: SimulationResult) -> list[tuple[str | None, str | None, str | None]]:
    return [(s.action["type"] if s.action else None, s.outcome, s.exit) for s in result.steps if s.element_id == "menu"]


def test_a_simulated_direct_dial_rings_the_extension_the_script_enters() -> None:
    result = simulate(direct_dial_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW,
                      outcomes={"menu": [{"digits": "103"}, "answered"]})  # fmt: skip

    assert menu_steps(result) == [("collect", "digits:103", None), ("ring", "answered", None)]
    ring = next(s.action for s in result.steps if s.action and s.action["type"] == "ring")
    assert (ring["targets"][0]["extension"], ring["timeout_seconds"]) == ("103", 15)
    assert result.result.model_dump() == {"status": "connected", "element_id": "menu", "reason": None}


def test_a_direct_dial_script_that_runs_out_leaves_the_ring_unanswered() -> None:
    result = simulate(direct_dial_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": "digits:201"})

    assert menu_steps(result) == [("collect", "digits:201", None), ("ring", "no_answer", "no_answer")]
    assert result.path() == ["start", "hi", "menu", "vm"]
    assert result.result.status == "voicemail"


def test_a_simulated_unknown_extension_replays_the_menu_then_takes_invalid() -> None:
    result = simulate(direct_dial_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": "digits:999"})

    assert menu_steps(result) == [("collect", "digits:999", None)] * 2 + [("collect", "digits:999", "invalid")]
    assert result.result.model_dump() == {"status": "hangup", "element_id": "bye", "reason": "hangup_element"}


def test_ring_outcomes_fit_only_a_direct_dial_menu() -> None:
    with pytest.raises(InvalidInput, match="'no_answer' does not fit element type ivr_menu"):
        simulate(menu_line(), DIRECTORY, at=MONDAY_NOON_MOSCOW, outcomes={"menu": ["digits:1", "no_answer"]})

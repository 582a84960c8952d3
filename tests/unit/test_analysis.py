"""Scenario analysis: worst-case waits computed by hand on small graphs, loops, schedule reachability."""

from typing import Any

import pytest
from vpbx.domain.analysis import NOMINAL_GREETING_SECONDS, Analysis, RouteEnd, analyze
from vpbx.domain.directory import Directory, Schedule, Subscriber
from vpbx.domain.scenario import DEFAULT_WAIT_SECONDS, Scenario

Raw = dict[str, Any]

MOBILE_DELAY = 8  # phone.DIAL_DELAY_SECONDS["mobile"], for +7 916 numbers
DIRECTORY = Directory.of(
    subscribers=[
        Subscriber(extension="101", name="Anna"),
        Subscriber(extension="102", name="Boris"),
        Subscriber(extension="103", name="Vera", kind="mobile", target="+79161234567"),
        Subscriber(extension="104", name="Gleb"),
        Subscriber(extension="105", name="Dina", kind="external", target="sip:dina@pbx.example", dial_delay_seconds=12),
    ],
    schedules=[Schedule(id="office", name="Office", timezone="Europe/Moscow")],
)
PROMPT = {"text": "Hello"}


def build(*elements: Raw, arrows: list[tuple[str, str] | tuple[str, str, str]]) -> Scenario:
    connections = [{"from": a[0], "to": a[1], **({"exit": a[2]} if len(a) == 3 else {})} for a in arrows]
    raw = {
        "name": "Test",
        "elements": [{"id": "start", "type": "incoming_call"}, *elements],
        "connections": connections,
    }
    return Scenario.model_validate(raw)


def ring(element_id: str, extension: str, wait: int | None = None) -> Raw:
    limited = {"limit_wait": True, "wait_seconds": wait} if wait is not None else {}
    return {"id": element_id, "type": "internal_subscriber", "extension": extension, **limited}


def group(element_id: str, members: list[str], strategy: str, wait: int) -> Raw:
    return {"id": element_id, "type": "group", "members": members, "strategy": strategy, "wait_seconds": wait}


VM = {"id": "vm", "type": "voicemail", "mailbox": "101"}


def end(analysis: Analysis, element_id: str, exit_name: str | None = None) -> RouteEnd:
    found = [e for e in analysis.route_ends if e.element_id == element_id and e.exit == exit_name]
    assert len(found) == 1, analysis.route_ends
    return found[0]


def chain(members: list[str], strategy: str = "sequential") -> Scenario:
    return build(
        ring("mgr", "101", wait=20),
        group("team", members, strategy, wait=15),
        VM,
        arrows=[("start", "mgr"), ("mgr", "team"), ("team", "vm")],
    )


def test_ring_then_sequential_group_then_voicemail() -> None:
    analysis = analyze(chain(["102", "104"]), DIRECTORY)

    voicemail = end(analysis, "vm")
    assert voicemail.worst_case_seconds == 20 + 2 * 15
    assert voicemail.path == ["start", "mgr", "team", "vm"]
    assert analysis.worst_case_seconds == 50
    assert not analysis.unbounded


def test_a_mobile_member_adds_its_dial_delay() -> None:
    analysis = analyze(chain(["102", "103"]), DIRECTORY)

    assert end(analysis, "vm").worst_case_seconds == 20 + 15 + (15 + MOBILE_DELAY)


def test_random_groups_ring_every_member_like_sequential_ones() -> None:
    assert end(analyze(chain(["102", "103"], "random"), DIRECTORY), "vm").worst_case_seconds == 58


def test_simultaneous_group_waits_for_the_slowest_network() -> None:
    analysis = analyze(chain(["102", "103", "105"], "simultaneous"), DIRECTORY)

    assert end(analysis, "vm").worst_case_seconds == 20 + 15 + 12


def test_menu_greeting_and_external_number_costs() -> None:
    scenario = build(
        {"id": "hello", "type": "greeting", "prompt": PROMPT},
        {"id": "menu", "type": "ivr_menu", "prompt": PROMPT, "timeout_seconds": 4, "max_retries": 2},
        {"id": "cell", "type": "external_number", "number": "+79161234567", "limit_wait": True, "wait_seconds": 30},
        VM,
        {"id": "bye", "type": "hangup"},
        arrows=[
            ("start", "hello"),
            ("hello", "menu"),
            ("menu", "cell", "1"),
            ("menu", "bye", "timeout"),
            ("menu", "bye", "invalid"),
            ("cell", "vm"),
        ],
    )

    analysis = analyze(scenario, DIRECTORY)

    menu = NOMINAL_GREETING_SECONDS + 4 * 3
    assert end(analysis, "bye").worst_case_seconds == menu
    assert end(analysis, "vm").worst_case_seconds == menu + 30 + MOBILE_DELAY
    assert end(analysis, "vm").path == ["start", "hello", "menu", "cell", "vm"]


def test_external_routing_costs_the_crm_timeout_and_the_slowest_ring() -> None:
    scenario = build(
        {
            "id": "crm",
            "type": "external_routing",
            "url": "https://crm.example",
            "timeout_seconds": 2,
            "wait_seconds": 25,
        },
        VM,
        {"id": "bye", "type": "hangup"},
        arrows=[("start", "crm"), ("crm", "vm", "no_answer"), ("crm", "bye", "not_found")],
    )

    analysis = analyze(scenario, DIRECTORY)

    assert end(analysis, "vm").worst_case_seconds == 2 + 25 + 12  # 105's 12 s is the directory's slowest
    assert end(analysis, "bye").worst_case_seconds == 2
    assert analysis.crm_routing


def test_a_direct_dial_menu_costs_its_attempts_and_the_slowest_ring_and_is_flagged() -> None:
    menu = {
        "id": "menu",
        "type": "ivr_menu",
        "prompt": PROMPT,
        "timeout_seconds": 4,
        "max_retries": 1,
        "max_digits": 3,
        "inter_digit_timeout_seconds": 2,
        "direct_dial": True,
        "direct_dial_wait_seconds": 25,
    }
    scenario = build(menu, VM, {"id": "bye", "type": "hangup"},
                     arrows=[("start", "menu"), ("menu", "vm", "no_answer"), ("menu", "bye", "timeout"),
                             ("menu", "bye", "invalid")])  # fmt: skip

    analysis = analyze(scenario, DIRECTORY)

    attempts = (4 + 2 * 2) * 2  # first key, then two more keys just within the pause; one retry
    assert end(analysis, "vm").worst_case_seconds == attempts + 25 + 12  # 105's 12 s is the slowest
    assert end(analysis, "bye").worst_case_seconds == attempts + 25 + 12  # invalid: also after an unanswered dial
    assert analysis.direct_dial
    assert not analysis.crm_routing
    assert "callers may also dial any enabled extension" in "\n".join(analysis.lines())


def test_the_longest_of_two_routes_wins() -> None:
    scenario = build(
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        ring("quick", "101", wait=10),
        ring("slow", "102", wait=40),
        VM,
        arrows=[
            ("start", "hours"),
            ("hours", "quick", "open"),
            ("hours", "slow", "closed"),
            ("quick", "vm"),
            ("slow", "vm"),
        ],
    )

    voicemail = end(analyze(scenario, DIRECTORY), "vm")

    assert voicemail.worst_case_seconds == 40
    assert voicemail.path == ["start", "hours", "slow", "vm"]


def test_unconnected_exits_and_unlimited_rings_are_route_ends() -> None:
    scenario = build(
        ring("mgr", "103", wait=20), ring("boss", "101"), arrows=[("start", "mgr"), ("mgr", "boss", "busy")]
    )

    analysis = analyze(scenario, DIRECTORY)

    dropped = end(analysis, "mgr", "no_answer")
    assert dropped.worst_case_seconds == 20 + MOBILE_DELAY
    assert "unconnected" in dropped.describe()
    boss = end(analysis, "boss")
    assert boss.rings_until_answered
    assert boss.worst_case_seconds == 20 + MOBILE_DELAY
    assert "rings until answered" in boss.describe()


def test_a_ring_without_wait_seconds_uses_the_executor_default() -> None:
    scenario = build(
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True},
        VM,
        arrows=[("start", "mgr"), ("mgr", "vm")],
    )

    assert end(analyze(scenario, DIRECTORY), "vm").worst_case_seconds == DEFAULT_WAIT_SECONDS


def test_a_loop_through_waiting_elements_is_unbounded() -> None:
    scenario = build(
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        ring("mgr", "101", wait=20),
        {"id": "menu", "type": "ivr_menu", "prompt": PROMPT},
        {"id": "again", "type": "greeting", "prompt": PROMPT},
        VM,
        {"id": "bye", "type": "hangup"},
        arrows=[
            ("start", "hours"),
            ("hours", "mgr", "open"),
            ("hours", "menu", "closed"),
            ("mgr", "bye"),
            ("menu", "again", "1"),
            ("again", "menu"),
            ("menu", "vm", "timeout"),
            ("menu", "vm", "invalid"),
        ],
    )

    analysis = analyze(scenario, DIRECTORY)

    voicemail = end(analysis, "vm")
    assert voicemail.worst_case_seconds is None
    assert voicemail.loop_elements == ["menu", "again"]
    assert voicemail.path == ["start", "hours", "menu", "vm"]
    assert "loop guard" in voicemail.describe()
    assert end(analysis, "bye").worst_case_seconds == 20  # the open branch never loops
    assert analysis.unbounded
    assert analysis.loops == [["again", "menu"]]
    assert analysis.worst_case_seconds == 20


def test_schedule_branches_and_all_open_or_closed() -> None:
    scenario = build(
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        {"id": "lunch", "type": "schedule", "schedule_id": "office"},
        ring("mgr", "101", wait=20),
        group("team", ["102", "103"], "simultaneous", wait=30),
        ring("duty", "104"),
        VM,
        arrows=[
            ("start", "hours"),
            ("hours", "lunch", "open"),
            ("hours", "vm", "closed"),
            ("lunch", "mgr", "open"),
            ("lunch", "duty", "closed"),
            ("mgr", "team"),
            ("team", "vm"),
        ],
    )

    analysis = analyze(scenario, DIRECTORY)

    hours, lunch = analysis.schedules
    assert (hours.element_id, hours.open_extensions, hours.closed_extensions) == (
        "hours",
        ["101", "102", "103", "104"],
        [],
    )
    assert (lunch.open_extensions, lunch.closed_extensions) == (["101", "102", "103"], ["104"])
    assert analysis.reachable_when_open == ["101", "102", "103"]
    assert analysis.reachable_when_closed == []
    assert analysis.reachable_extensions == ["101", "102", "103", "104"]


def test_lines_summarize_for_humans() -> None:
    analysis = analyze(chain(["102", "103"]), DIRECTORY)

    text = "\n".join(analysis.lines())

    assert "voicemail 'vm' reached after at most 58 s" in text
    assert "start → mgr → team → vm" in text
    assert "Reachable extensions: 101, 102, 103" in text
    assert "Assumptions:" in text


def test_analysis_is_json_round_trippable() -> None:
    analysis = analyze(chain(["102", "103"]), DIRECTORY)

    assert Analysis.model_validate_json(analysis.model_dump_json()) == analysis


def test_no_entry_means_no_route() -> None:
    scenario = Scenario.model_validate({"name": "Empty", "elements": [VM]})

    analysis = analyze(scenario, DIRECTORY)

    assert analysis.entry is None
    assert analysis.route_ends == []
    assert "cannot enter" in analysis.lines()[0]


@pytest.mark.parametrize("length", [950])
def test_long_chains_need_no_recursion(length: int) -> None:
    rings = [ring(f"r{i}", "101", wait=5) for i in range(length)]
    arrows: list[tuple[str, str] | tuple[str, str, str]] = [("start", "r0")]
    arrows += [(f"r{i}", f"r{i + 1}") for i in range(length - 1)]
    arrows.append((f"r{length - 1}", "vm"))

    analysis = analyze(build(*rings, VM, arrows=arrows), DIRECTORY)

    assert end(analysis, "vm").worst_case_seconds == 5 * length


def test_a_loop_with_no_way_out_ends_only_by_the_loop_guard() -> None:
    scenario = build(
        {"id": "again", "type": "greeting", "prompt": PROMPT}, arrows=[("start", "again"), ("again", "again")]
    )

    analysis = analyze(scenario, DIRECTORY)

    (only,) = analysis.route_ends
    assert (only.element_id, only.loop_guard, only.worst_case_seconds) == ("again", True, None)
    assert only.path == ["start", "again"]
    assert "loop guard" in "\n".join(analysis.lines())

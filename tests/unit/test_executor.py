"""The step-function executor: every element type and exit, fallbacks, loop guard, conflicts, serialization."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from vpbx.domain.calls import (
    CallInfo,
    CallState,
    CollectAction,
    CrmRefused,
    Decision,
    FaxAction,
    HangupAction,
    Outcome,
    PlayAction,
    RingAction,
    VoicemailAction,
)
from vpbx.domain.directory import CallerList, CallerPattern, Directory, HolidayCalendar, Schedule, Subscriber
from vpbx.domain.errors import Conflict, InvalidInput
from vpbx.domain.executor import (
    MAX_CONSECUTIVE_VISITS,
    MAX_CRM_LOOKUPS_PER_CALL,
    MAX_CRM_LOOKUPS_PER_DECISION,
    MAX_CRM_SECONDS_PER_DECISION,
    MAX_STEPS,
    CrmLookup,
    Executor,
    compile_scenario,
)
from vpbx.domain.scenario import Scenario

MONDAY_10_UTC = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 13:00 in Moscow, 05:00 in New York
HELLO = {"text": "Hello", "voice": "alice"}


def subscribers() -> list[Subscriber]:
    return [
        Subscriber(extension="101", name="Manager"),
        Subscriber(extension="102", name="Sales one", sip_uri="sip:desk102@pbx.example"),
        Subscriber(extension="103", name="Sales two"),
        Subscriber(extension="104", name="On leave", enabled=False),
        Subscriber(extension="201", name="Mobile", kind="mobile", target="+79161234567"),  # dial delay 8
        Subscriber(extension="202", name="Partner", kind="external", target="sip:desk@partner.example"),  # 2
    ]


OFFICE = Schedule(
    id="office",
    name="Office",
    timezone="Europe/Moscow",
    weekly={day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    holidays=HolidayCalendar(country="RU"),
)
NEW_YORK = Schedule(id="ny", name="NY", timezone="America/New_York", weekly={"mon": ["09:00-17:00"]})
VIP = CallerList(
    id="vip", name="VIP", patterns=[CallerPattern(kind="exact", value="+79161112233")]
)  # fmt: skip


def directory() -> Directory:
    return Directory.of(subscribers(), [OFFICE, NEW_YORK], [VIP])


def scenario(elements: list[dict[str, Any]], connections: list[dict[str, Any]]) -> Scenario:
    return Scenario.model_validate(
        {"name": "Test", "elements": [{"id": "start", "type": "incoming_call"}, *elements], "connections": connections}
    )


def arrows(*pairs: str) -> list[dict[str, Any]]:
    """'a>b' is a default-exit arrow, 'a:busy>b' leaves a by its busy exit."""
    result = []
    for pair in pairs:
        source, target = pair.split(">")
        name, _, exit_name = source.partition(":")
        result.append({"from": name, "to": target, **({"exit": exit_name} if exit_name else {})})
    return result


def ring(element_id: str, extension: str, **fields: Any) -> dict[str, Any]:
    return {"id": element_id, "type": "internal_subscriber", "extension": extension, **fields}


def limited(element_id: str, extension: str, wait: int = 20) -> dict[str, Any]:
    return ring(element_id, extension, limit_wait=True, wait_seconds=wait)


VM = {"id": "vm", "type": "voicemail", "mailbox": "101"}


class Clock:
    def __init__(self, now: datetime = MONDAY_10_UTC) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def executor(
    built: Scenario,
    *,
    clock: Callable[[], datetime] | None = None,
    crm: CrmLookup | None = None,
    sip_domain: str | None = None,
    version: int | None = None,
) -> Executor:
    compiled = compile_scenario(built, directory(), scenario_id="main", version=version, sip_domain=sip_domain)
    return Executor(compiled, clock=clock or Clock(), crm_lookup=crm)


def call(call_id: str = "call-1", caller: str | None = "+74951234567") -> CallInfo:
    return CallInfo(call_id=call_id, caller=caller, dialed="+74959876543", started_at=MONDAY_10_UTC)


def out(kind: str, digits: str | None = None) -> Outcome:
    return Outcome.model_validate({"kind": kind, "digits": digits})


def run(engine: Executor, *outcomes: Outcome, call_info: CallInfo | None = None) -> list[tuple[CallState, Decision]]:
    history = [engine.start(call_info or call())]
    for outcome in outcomes:
        history.append(engine.advance(history[-1][0], outcome))
    return history


def ringing(decision: Decision) -> RingAction:
    assert isinstance(decision.action, RingAction), decision.action
    return decision.action


def extensions(decision: Decision) -> list[str | None]:
    return [t.extension for t in ringing(decision).targets]


def ended_with(state: CallState, decision: Decision) -> tuple[str | None, str | None, str | None]:
    reason = decision.action.reason if isinstance(decision.action, HangupAction) else None
    return state.result, state.result_element, reason


# ------------------------------------------------------------------------------------------------ the seed


def test_seed_route_rings_the_manager_then_moves_on_after_the_limited_wait() -> None:
    built = scenario(
        [limited("mgr", "101"), limited("backup", "103", wait=15), VM],
        arrows("start>mgr", "mgr>backup", "backup>vm"),
    )
    engine = executor(built, sip_domain="acme.pbx.example")

    (s1, d1), (_, d2), (s3, d3) = run(engine, out("no_answer"), out("answered"))

    assert d1.seq == 1
    assert ringing(d1).targets[0].model_dump(exclude_none=True) == {
        "extension": "101",
        "uri": "sip:101@acme.pbx.example",
        "dial_delay_seconds": 0,
    }
    assert ringing(d1).timeout_seconds == 20
    assert (s1.status, s1.element_id) == ("in_progress", "mgr")
    assert (d2.seq, extensions(d2), ringing(d2).timeout_seconds) == (2, ["103"], 15)
    assert [(s.element_id, s.outcome, s.exit) for s in d2.steps] == [
        ("mgr", "no_answer", "no_answer"),
        ("backup", None, None),
    ]
    assert (d3.seq, d3.action, d3.status) == (3, None, "connected")
    assert (s3.status, s3.result, s3.result_element, s3.element_id) == ("connected", "connected", "backup", None)


def test_without_limit_wait_the_element_rings_until_answered_and_ends_the_route() -> None:
    built = scenario([ring("mgr", "101"), VM], arrows("start>mgr", "mgr:no_answer>vm"))
    (_, d1), (s2, d2) = run(executor(built), out("no_answer"))

    assert ringing(d1).timeout_seconds is None
    assert d2.status == "ended"
    assert ended_with(s2, d2) == ("hangup", "mgr", "unanswered")


def test_the_first_decision_records_every_element_visited_with_the_clock_time() -> None:
    built = scenario(
        [{"id": "hours", "type": "schedule", "schedule_id": "office"}, limited("mgr", "101")],
        arrows("start>hours", "hours:open>mgr"),
    )
    _, decision = executor(built, clock=Clock(MONDAY_10_UTC)).start(call())

    assert [(s.element_id, s.element_type, s.exit) for s in decision.steps] == [
        ("start", "incoming_call", "next"),
        ("hours", "schedule", "open"),
        ("mgr", "internal_subscriber", None),
    ]
    assert all(s.at == MONDAY_10_UTC and s.seq == 1 for s in decision.steps)
    assert decision.steps[-1].action == ringing(decision)


def test_state_is_pinned_to_the_compiled_scenario_and_version() -> None:
    built = scenario([limited("mgr", "101")], arrows("start>mgr"))
    state, _ = executor(built, version=7).start(call())
    assert (state.scenario_id, state.version) == ("main", 7)

    with pytest.raises(Conflict, match="version 7"):
        executor(built, version=8).advance(state, out("no_answer"))


# ------------------------------------------------------------------------------------------------ ring fallbacks


@pytest.mark.parametrize(
    ("outcome", "connected_exits", "expected_next"),
    [
        ("busy", ("busy", "unavailable"), "on_busy"),
        ("busy", ("unavailable",), "on_no_answer"),
        ("unavailable", ("busy", "unavailable"), "on_unavailable"),
        ("unavailable", ("busy",), "on_no_answer"),
        ("failed", ("unavailable",), "on_unavailable"),
        ("failed", (), "on_no_answer"),
        ("no_answer", ("busy", "unavailable"), "on_no_answer"),
    ],
)
def test_busy_and_unavailable_take_their_exit_when_connected_else_no_answer(
    outcome: str, connected_exits: tuple[str, ...], expected_next: str
) -> None:
    targets = {
        "no_answer": ("on_no_answer", "101"),
        "busy": ("on_busy", "102"),
        "unavailable": ("on_unavailable", "103"),
    }
    elements = [limited("mgr", "201")] + [limited(name, ext) for name, ext in targets.values()]
    links = ["start>mgr", "mgr:no_answer>on_no_answer"] + [f"mgr:{e}>{targets[e][0]}" for e in connected_exits]
    history = run(executor(scenario(elements, arrows(*links))), out(outcome))

    state, decision = history[-1]
    assert state.element_id == expected_next
    assert decision.steps[0].exit == expected_next.removeprefix("on_")


def test_a_missing_subscriber_counts_as_unavailable_and_the_route_goes_on_at_once() -> None:
    built = scenario(
        [limited("ghost", "999"), limited("mgr", "101")],
        arrows("start>ghost", "ghost:unavailable>mgr"),
    )
    state, decision = executor(built).start(call())

    assert extensions(decision) == ["101"]
    assert [(s.element_id, s.exit) for s in decision.steps][1] == ("ghost", "unavailable")
    assert decision.steps[1].detail == "subscriber 999 is not in the directory"
    assert state.element_id == "mgr"


def test_a_disabled_subscriber_without_a_limit_ends_the_route() -> None:
    state, decision = executor(scenario([ring("away", "104")], arrows("start>away"))).start(call())
    assert ended_with(state, decision) == ("hangup", "away", "unanswered")


# ------------------------------------------------------------------------------------------------ targets & delays


def test_dial_delay_of_an_external_target_is_added_to_the_ring_timeout() -> None:
    built = scenario([limited("mobile", "201", wait=20)], arrows("start>mobile"))
    _, decision = executor(built).start(call())

    target = ringing(decision).targets[0]
    assert (target.extension, target.number, target.uri, target.dial_delay_seconds) == (
        "201",
        "+79161234567",
        None,
        8,
    )
    assert ringing(decision).timeout_seconds == 28


def test_external_subscriber_with_a_sip_target_rings_its_uri() -> None:
    _, decision = executor(scenario([limited("partner", "202", 10)], arrows("start>partner"))).start(call())
    target = ringing(decision).targets[0]
    assert (target.uri, target.number, ringing(decision).timeout_seconds) == ("sip:desk@partner.example", None, 12)


def test_internal_subscriber_prefers_its_own_sip_uri_and_has_none_without_a_domain() -> None:
    built = scenario([limited("a", "102"), limited("b", "101")], arrows("start>a", "a>b"))
    (_, d1), (_, d2) = run(executor(built), out("busy"))
    assert ringing(d1).targets[0].uri == "sip:desk102@pbx.example"
    assert ringing(d2).targets[0].uri is None


@pytest.mark.parametrize(
    ("fields", "number", "uri", "timeout"),
    [
        ({"number": "+74951234567"}, "+74951234567", None, 33),  # fixed line: 3 s
        ({"number": "+79161234567"}, "+79161234567", None, 38),  # mobile: 8 s
        ({"number": "+881631234567"}, "+881631234567", None, 50),  # satellite: 20 s
        ({"sip_uri": "sip:ivr@carrier.example"}, None, "sip:ivr@carrier.example", 32),
    ],
)
def test_external_number_element_rings_its_number_or_uri_with_the_network_delay(
    fields: dict[str, str], number: str | None, uri: str | None, timeout: int
) -> None:
    element = {"id": "ext", "type": "external_number", "limit_wait": True, "wait_seconds": 30, **fields}
    _, decision = executor(scenario([element], arrows("start>ext"))).start(call())
    target = ringing(decision).targets[0]
    assert (target.extension, target.number, target.uri, ringing(decision).timeout_seconds) == (
        None,
        number,
        uri,
        timeout,
    )


# ------------------------------------------------------------------------------------------------ groups


def group(strategy: str, members: list[str], **fields: Any) -> dict[str, Any]:
    return {"id": "sales", "type": "group", "members": members, "strategy": strategy, "wait_seconds": 30, **fields}


def test_simultaneous_group_rings_every_reachable_member_at_once() -> None:
    built = scenario([group("simultaneous", ["101", "104", "999", "201"]), VM], arrows("start>sales", "sales>vm"))
    (_, d1), (s2, d2) = run(executor(built), out("no_answer"))

    assert extensions(d1) == ["101", "201"]  # disabled 104 and unknown 999 are skipped
    assert (ringing(d1).strategy, ringing(d1).timeout_seconds) == ("simultaneous", 38)  # 30 + mobile 8
    assert isinstance(d2.action, VoicemailAction)
    assert ended_with(s2, d2) == ("voicemail", "vm", None)


def test_sequential_group_rings_members_in_order_each_for_its_wait_then_leaves_by_no_answer() -> None:
    built = scenario([group("sequential", ["201", "101", "999", "103"]), VM], arrows("start>sales", "sales>vm"))
    history = run(executor(built), out("no_answer"), out("busy"), out("failed"))

    rings = [ringing(d) for _, d in history[:3]]
    assert [(r.targets[0].extension, r.timeout_seconds, r.strategy) for r in rings] == [
        ("201", 38, "sequential"),
        ("101", 30, "sequential"),
        ("103", 30, "sequential"),
    ]
    state, decision = history[-1]
    assert [(s.element_id, s.exit) for s in decision.steps] == [("sales", "no_answer"), ("vm", None)]
    assert state.result == "voicemail"


def test_sequential_group_connects_when_a_member_answers() -> None:
    built = scenario([group("sequential", ["101", "102", "103"])], arrows("start>sales"))
    state, decision = run(executor(built), out("no_answer"), out("answered"))[-1]
    assert (state.status, state.result, state.result_element, decision.action) == (
        "connected",
        "connected",
        "sales",
        None,
    )


def test_sequential_group_without_limit_rings_the_last_member_until_answered() -> None:
    built = scenario([group("sequential", ["101", "102"], limit_wait=False)], arrows("start>sales"))
    history = run(executor(built), out("no_answer"), out("no_answer"))

    assert [ringing(d).timeout_seconds for _, d in history[:2]] == [30, None]
    assert ended_with(*history[-1]) == ("hangup", "sales", "unanswered")


def random_order(call_id: str) -> list[str | None]:
    built = scenario([group("random", ["101", "102", "103", "201", "202"]), VM], arrows("start>sales", "sales>vm"))
    history = run(executor(built), *[out("no_answer")] * 4, call_info=call(call_id))
    return [extensions(d)[0] for _, d in history]


def test_random_group_order_is_reproducible_per_call_and_covers_every_member() -> None:
    first = random_order("call-42")

    assert random_order("call-42") == first
    assert sorted(e or "" for e in first) == ["101", "102", "103", "201", "202"]
    orders = {tuple(random_order(f"call-{n}")) for n in range(12)}
    assert len(orders) > 1  # the order really depends on the call


def test_a_group_with_no_reachable_member_follows_no_answer_at_once() -> None:
    built = scenario([group("sequential", ["104", "999"]), VM], arrows("start>sales", "sales>vm"))
    state, decision = executor(built).start(call())
    assert ("sales", "no_answer") in [(s.element_id, s.exit) for s in decision.steps]
    assert state.result == "voicemail"


# ------------------------------------------------------------------------------------------------ greeting & IVR


def menu(**fields: Any) -> dict[str, Any]:
    return {"id": "menu", "type": "ivr_menu", "prompt": HELLO, "timeout_seconds": 5, "max_retries": 2, **fields}


def test_greeting_plays_its_prompt_then_follows_next() -> None:
    built = scenario([{"id": "hi", "type": "greeting", "prompt": HELLO}, limited("mgr", "101")],
                     arrows("start>hi", "hi>mgr"))  # fmt: skip
    (_, d1), (s2, d2) = run(executor(built), out("played"))

    assert isinstance(d1.action, PlayAction)
    assert d1.action.prompt.text == "Hello"
    assert (s2.element_id, extensions(d2)) == ("mgr", ["101"])


def test_menu_collects_a_digit_and_follows_that_digits_arrow() -> None:
    built = scenario([menu(), limited("sales", "102"), limited("support", "103")],
                     arrows("start>menu", "menu:1>sales", "menu:2>support"))  # fmt: skip
    (_, d1), (_, d2) = run(executor(built), out("digits", "2"))

    assert isinstance(d1.action, CollectAction)
    assert (d1.action.max_digits, d1.action.timeout_seconds) == (1, 5)
    assert extensions(d2) == ["103"]
    assert d2.steps[0].outcome == "digits:2"
    assert d2.steps[0].exit == "2"


def test_invalid_digits_replay_the_menu_after_the_invalid_prompt_until_max_retries_then_exit_invalid() -> None:
    built = scenario([menu(invalid_prompt={"text": "Try again"}), limited("sales", "102"), VM],
                     arrows("start>menu", "menu:1>sales", "menu:invalid>vm"))  # fmt: skip
    history = run(executor(built), out("digits", "7"), out("digits", "#"), out("digits", "9"))

    collects = [d.action for _, d in history[:3] if isinstance(d.action, CollectAction)]
    played = [[p.text for p in (c.preamble, c.prompt) if p is not None] for c in collects]
    assert played == [["Hello"], ["Try again", "Hello"], ["Try again", "Hello"]]  # the menu is played again
    assert [s.element_state.get("retries") for s, _ in history[:3]] == [0, 1, 2]
    state, decision = history[-1]
    assert decision.steps[0].exit == "invalid"
    assert state.result == "voicemail"


def test_timeouts_replay_the_menu_prompt_then_exit_timeout() -> None:
    built = scenario([menu(max_retries=1, invalid_prompt={"text": "Try again"}), VM],
                     arrows("start>menu", "menu:timeout>vm"))  # fmt: skip
    history = run(executor(built), out("timeout"), out("timeout"))

    assert [d.action.prompt.text for _, d in history[:2] if isinstance(d.action, CollectAction)] == ["Hello", "Hello"]
    assert history[-1][1].steps[0].exit == "timeout"
    assert history[-1][0].result == "voicemail"


def test_a_menu_without_retries_leaves_at_the_first_failure_and_an_unconnected_exit_ends_the_route() -> None:
    built = scenario([menu(max_retries=0)], arrows("start>menu"))
    state, decision = run(executor(built), out("digits", "5"))[-1]
    assert decision.steps[0].exit == "invalid"
    assert ended_with(state, decision) == ("hangup", "menu", "route_end")


def test_a_single_key_menu_collects_one_key_without_terminator_or_pause() -> None:
    (_, decision), *_ = run(executor(scenario([menu()], arrows("start>menu"))))

    assert isinstance(decision.action, CollectAction)
    assert (decision.action.max_digits, decision.action.terminator, decision.action.inter_digit_timeout_seconds) == (
        1,
        None,
        None,
    )
    assert decision.action.preamble is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ("#", 3)),
        ({"terminator": "*", "inter_digit_timeout_seconds": 5}, ("*", 5)),
        ({"terminator": None}, (None, 3)),
    ],
)
def test_a_multi_key_menu_asks_telephony_for_its_terminator_and_inter_digit_pause(
    fields: dict[str, Any], expected: tuple[str | None, int]
) -> None:
    built = scenario([menu(max_digits=4, direct_dial=True, **fields)], arrows("start>menu"))
    (_, first), (_, retry) = run(executor(built), out("digits", "9999"))

    for action in (first.action, retry.action):
        assert isinstance(action, CollectAction)
        assert (action.max_digits, action.timeout_seconds) == (4, 5)
        assert (action.terminator, action.inter_digit_timeout_seconds) == expected


def direct_dial_menu(**fields: Any) -> Scenario:
    """A direct-dial menu (key 1 → sales 102) whose timeout and invalid exits go to voicemail."""
    return scenario([menu(max_digits=3, direct_dial=True, invalid_prompt={"text": "Try again"}, **fields),
                     limited("sales", "102"), VM],
                    arrows("start>menu", "menu:1>sales", "menu:invalid>vm", "menu:timeout>vm"))  # fmt: skip


def test_direct_dial_rings_the_enabled_extension_that_was_entered() -> None:
    engine = executor(direct_dial_menu(direct_dial_wait_seconds=25), sip_domain="pbx.acme.example")
    (_, _), (state, decision), (done, _) = run(engine, out("digits", "103"), out("answered"))

    ring_action = ringing(decision)
    assert [(t.extension, t.uri) for t in ring_action.targets] == [("103", "sip:103@pbx.acme.example")]
    assert ring_action.timeout_seconds == 25  # an internal phone: no dial delay
    assert (state.element_id, state.element_state["awaiting"]) == ("menu", "ring")
    assert decision.steps[0].outcome == "digits:103"
    assert decision.steps[0].detail == "direct dial 103"
    assert (done.status, done.result) == ("connected", "connected")


def test_direct_dial_adds_the_dial_delay_of_a_mobile_subscriber_and_defaults_the_wait() -> None:
    (_, decision) = run(executor(direct_dial_menu()), out("digits", "201"))[-1]

    ring_action = ringing(decision)
    assert ring_action.targets[0].number == "+79161234567"
    assert ring_action.timeout_seconds == 20 + 8


def test_the_terminator_ends_the_entry_and_is_not_part_of_the_extension() -> None:
    (_, decision) = run(executor(direct_dial_menu()), out("digits", "103#"))[-1]

    assert extensions(decision) == ["103"]


def test_a_connected_key_wins_over_direct_dial() -> None:
    (_, decision) = run(executor(direct_dial_menu()), out("digits", "1"))[-1]

    assert decision.steps[0].exit == "1"
    assert extensions(decision) == ["102"]


@pytest.mark.parametrize("entry", ["104", "555", "10*"])  # disabled, unknown, not a number
def test_a_disabled_or_unknown_extension_is_a_wrong_entry_and_replays_the_menu(entry: str) -> None:
    history = run(executor(direct_dial_menu()), out("digits", entry), out("digits", entry), out("digits", entry))

    retry = history[1][1]
    assert isinstance(retry.action, CollectAction)
    assert [retry.action.preamble and retry.action.preamble.text, retry.action.prompt.text] == ["Try again", "Hello"]
    assert "neither a connected key nor an enabled extension" in (retry.steps[0].detail or "")
    assert [s.element_state.get("retries") for s, _ in history[:3]] == [0, 1, 2]
    state, decision = history[-1]
    assert decision.steps[0].exit == "invalid"
    assert state.result == "voicemail"


def test_without_direct_dial_an_extension_is_a_wrong_entry() -> None:
    built = scenario([menu(max_digits=3, max_retries=0), VM], arrows("start>menu", "menu:invalid>vm"))
    state, decision = run(executor(built), out("digits", "103"))[-1]

    assert decision.steps[0].exit == "invalid"
    assert state.result == "voicemail"


@pytest.mark.parametrize("outcome", ["no_answer", "busy", "unavailable", "failed"])
def test_an_unanswered_direct_dial_leaves_by_no_answer(outcome: str) -> None:
    built = scenario([menu(max_digits=3, direct_dial=True), {"id": "bye", "type": "hangup"}, VM],
                     arrows("start>menu", "menu:no_answer>vm", "menu:invalid>bye"))  # fmt: skip
    state, decision = run(executor(built), out("digits", "103"), out(outcome))[-1]

    assert (decision.steps[0].exit, decision.steps[0].detail) == ("no_answer", f"direct dial 103: {outcome}")
    assert state.result == "voicemail"


def test_an_unanswered_direct_dial_without_a_no_answer_arrow_takes_invalid() -> None:
    state, decision = run(executor(direct_dial_menu()), out("digits", "103"), out("no_answer"))[-1]

    assert decision.steps[0].exit == "invalid"
    assert state.result == "voicemail"


def test_a_direct_dial_state_survives_serialization() -> None:
    engine = executor(direct_dial_menu())
    state, _ = run(engine, out("digits", "103"))[-1]

    restored = CallState.model_validate_json(state.model_dump_json())
    assert engine.advance(restored, out("answered"))[0].status == "connected"


# ------------------------------------------------------------------------------------------------ schedule & lists


def schedule_route(schedule_id: str) -> Scenario:
    return scenario(
        [{"id": "hours", "type": "schedule", "schedule_id": schedule_id}, limited("mgr", "101"), VM],
        arrows("start>hours", "hours:open>mgr", "hours:closed>vm"),
    )


@pytest.mark.parametrize(
    ("schedule_id", "moment", "expected"),
    [
        ("office", MONDAY_10_UTC, "mgr"),  # 13:00 Moscow, Monday
        ("office", datetime(2026, 3, 2, 15, 30, tzinfo=UTC), "vm"),  # 18:30 Moscow
        ("office", datetime(2026, 3, 2, 6, 0), "mgr"),  # naive means UTC: 09:00 Moscow
        ("office", datetime(2026, 11, 4, 10, 0, tzinfo=UTC), "vm"),  # Wednesday, Unity Day (RU public holiday)
        ("office", datetime(2026, 11, 5, 10, 0, tzinfo=UTC), "mgr"),  # the next day is an ordinary Thursday
        ("ny", MONDAY_10_UTC, "vm"),  # 05:00 in New York
        ("ny", datetime(2026, 3, 2, 15, 0, tzinfo=UTC), "mgr"),  # 10:00 in New York
        ("missing", MONDAY_10_UTC, "vm"),  # an unknown schedule counts as closed
    ],
)
def test_schedule_follows_open_or_closed_in_its_time_zone(schedule_id: str, moment: datetime, expected: str) -> None:
    state, decision = executor(schedule_route(schedule_id), clock=Clock(moment)).start(call())
    assert decision.steps[-1].element_id == expected
    assert state.result_element == (None if expected == "mgr" else "vm")


def test_a_schedule_step_names_why_in_the_trace() -> None:
    _, holiday = executor(schedule_route("office"), clock=Clock(datetime(2026, 11, 4, 10, 0, tzinfo=UTC))).start(call())
    _, evening = executor(schedule_route("office"), clock=Clock(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))).start(call())
    hours_step = next(step for step in holiday.steps if step.element_id == "hours")
    assert (hours_step.exit, hours_step.detail) == ("closed", "schedule office: holiday: Unity Day")
    evening_step = next(step for step in evening.steps if step.element_id == "hours")
    assert evening_step.detail is not None
    assert evening_step.detail.startswith("schedule office: mon hours 09:00-18:00")


@pytest.mark.parametrize(
    ("list_id", "caller", "expected_exit"),
    [("vip", "+79161112233", "match"), ("vip", "+79160000000", "no_match"), ("vip", None, "no_match"),
     ("vip", "not a number", "no_match"), ("missing", "+79161112233", "no_match")],
)  # fmt: skip
def test_caller_list_matches_the_callers_number(list_id: str, caller: str | None, expected_exit: str) -> None:
    built = scenario(
        [{"id": "vip", "type": "caller_list", "list_id": list_id}, limited("mgr", "101"), limited("desk", "103")],
        arrows("start>vip", "vip:match>mgr", "vip:no_match>desk"),
    )
    _, decision = executor(built).start(call(caller=caller))
    assert decision.steps[1].exit == expected_exit
    assert extensions(decision) == (["101"] if expected_exit == "match" else ["103"])


# ------------------------------------------------------------------------------------------------ external routing


class FakeCrm:
    def __init__(self, answer: str | None = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.requests: list[tuple[str, str | None, float]] = []

    def __call__(self, url: str, caller: str | None, timeout_seconds: float) -> str | None:
        self.requests.append((url, caller, timeout_seconds))
        if self.error is not None:
            raise self.error
        return self.answer


def crm_route() -> Scenario:
    crm = {"id": "crm", "type": "external_routing", "url": "https://crm.example/route", "timeout_seconds": 2,
           "wait_seconds": 25}  # fmt: skip
    return scenario([crm, limited("desk", "103"), VM], arrows("start>crm", "crm:not_found>desk", "crm:no_answer>vm"))


def test_crm_lookup_found_rings_the_returned_extension_then_no_answer() -> None:
    crm = FakeCrm(answer="201")
    (s1, d1), (s2, _) = run(executor(crm_route(), crm=crm), out("no_answer"))

    assert crm.requests == [("https://crm.example/route", "+74951234567", 2)]
    assert (extensions(d1), ringing(d1).timeout_seconds) == (["201"], 33)  # 25 + mobile 8
    assert s1.element_state["extension"] == "201"
    assert s2.result == "voicemail"


@pytest.mark.parametrize(
    ("crm", "detail"),
    [
        (FakeCrm(answer=None), "CRM returned no extension"),
        (FakeCrm(answer="555"), "unknown or disabled"),
        (FakeCrm(answer="104"), "unknown or disabled"),
        (FakeCrm(error=TimeoutError("slow")), "CRM lookup failed: TimeoutError"),
        (FakeCrm(error=ValueError("bad json")), "CRM lookup failed: ValueError"),
        (FakeCrm(error=CrmRefused("127.0.0.1: 127.0.0.1 is not a public address")), "CRM lookup refused: 127.0.0.1"),
        (None, "no CRM lookup available"),
    ],
)
def test_crm_lookup_failures_follow_not_found(crm: FakeCrm | None, detail: str) -> None:
    state, decision = executor(crm_route(), crm=crm).start(call())

    crm_step = decision.steps[1]
    assert (crm_step.element_id, crm_step.exit) == ("crm", "not_found")
    assert detail in (crm_step.detail or "")
    assert (state.element_id, extensions(decision)) == ("desk", ["103"])


def test_crm_answered_connects() -> None:
    state, _ = run(executor(crm_route(), crm=FakeCrm(answer="101")), out("answered"))[-1]
    assert (state.result, state.result_element) == ("connected", "crm")


def crm_chain(count: int, then: str, timeout: float = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` external routing elements, each leading to the next by not_found, the last one to `then`."""
    ids = [f"crm{i}" for i in range(1, count + 1)]
    url = "https://crm.example/{}"
    elements = [
        {"id": i, "type": "external_routing", "url": url.format(i), "wait_seconds": 20, "timeout_seconds": timeout}
        for i in ids
    ]
    return elements, arrows(*(f"{a}:not_found>{b}" for a, b in zip(ids, [*ids[1:], then], strict=True)))


def test_crm_lookups_are_capped_per_decision() -> None:
    elements, chain = crm_chain(4, "desk")
    built = scenario([*elements, limited("desk", "103")], arrows("start>crm1") + chain)
    crm = FakeCrm(answer=None)

    state, decision = executor(built, crm=crm).start(call())

    assert [url for url, _, _ in crm.requests] == [f"https://crm.example/crm{i}" for i in (1, 2, 3)]
    skipped = decision.steps[4]
    assert (skipped.element_id, skipped.exit) == ("crm4", "not_found")
    assert skipped.detail == f"CRM lookup skipped: already {MAX_CRM_LOOKUPS_PER_DECISION} in this decision"
    assert (state.element_id, state.crm_lookups) == ("desk", 3)


def test_crm_lookups_share_a_time_budget_per_decision() -> None:
    elements, chain = crm_chain(3, "desk", timeout=5)
    built = scenario([*elements, limited("desk", "103")], arrows("start>crm1") + chain)
    crm = FakeCrm(answer=None)

    state, decision = executor(built, crm=crm).start(call())

    assert [timeout for _, _, timeout in crm.requests] == [5, MAX_CRM_SECONDS_PER_DECISION - 5]
    assert sum(timeout for _, _, timeout in crm.requests) <= MAX_CRM_SECONDS_PER_DECISION
    skipped = next(step for step in decision.steps if step.element_id == "crm3")
    assert (
        skipped.detail == f"CRM lookup skipped: this decision's {MAX_CRM_SECONDS_PER_DECISION:g} s of lookups are spent"
    )
    assert state.element_id == "desk"


def test_crm_lookups_are_capped_per_call() -> None:
    elements, chain = crm_chain(3, "hello")
    greeting = {"id": "hello", "type": "greeting", "prompt": HELLO}
    built = scenario([*elements, greeting], arrows("start>crm1", "hello>crm1") + chain)
    crm = FakeCrm(answer=None)

    history = run(executor(built, crm=crm), *[out("played")] * 4)

    assert len(crm.requests) == MAX_CRM_LOOKUPS_PER_CALL == 10
    assert [state.crm_lookups for state, _ in history] == [3, 6, 9, 10, 10]
    last = history[-1][1]
    assert [step.detail for step in last.steps if step.element_type == "external_routing"] == [
        f"CRM lookup skipped: already {MAX_CRM_LOOKUPS_PER_CALL} in this call"
    ] * 3


# ------------------------------------------------------------------------------------------------ terminal elements


@pytest.mark.parametrize(
    ("element", "action_type", "result"),
    [
        (VM, VoicemailAction, "voicemail"),
        ({"id": "fx", "type": "fax", "extension": "101"}, FaxAction, "fax"),
        ({"id": "bye", "type": "hangup"}, HangupAction, "hangup"),
    ],
)
def test_terminal_elements_give_their_action_and_end_the_route(
    element: dict[str, Any], action_type: type, result: str
) -> None:
    state, decision = executor(scenario([element], arrows(f"start>{element['id']}"))).start(call())
    assert isinstance(decision.action, action_type)
    assert (decision.status, state.status, state.result, state.result_element) == (
        "ended",
        "ended",
        result,
        element["id"],
    )


def test_hangup_element_reason_and_route_end_reason() -> None:
    state, decision = executor(scenario([{"id": "bye", "type": "hangup"}], arrows("start>bye"))).start(call())
    assert ended_with(state, decision) == ("hangup", "bye", "hangup_element")

    state, decision = run(executor(scenario([limited("mgr", "101")], arrows("start>mgr"))), out("busy"))[-1]
    assert ended_with(state, decision) == ("hangup", "mgr", "route_end")


def test_caller_hangup_ends_the_call_at_any_pending_element() -> None:
    for pending in (limited("x", "101"), menu(id="x"), {"id": "x", "type": "greeting", "prompt": HELLO}):
        state, decision = run(executor(scenario([pending], arrows("start>x"))), out("caller_hangup"))[-1]
        assert (decision.action, decision.status) == (None, "ended")
        assert (state.result, state.result_element) == ("caller_hangup", "x")
        assert decision.steps[0].outcome == "caller_hangup"


# ------------------------------------------------------------------------------------------------ garbage tolerated


def test_a_scenario_without_an_entry_hangs_up() -> None:
    built = Scenario.model_validate({"name": "Empty", "elements": [VM]})
    state, decision = Executor(compile_scenario(built, directory()), clock=Clock()).start(call())
    assert ended_with(state, decision) == ("hangup", None, "no_entry")
    assert decision.steps == []


def test_arrows_to_unknown_elements_are_ignored_and_the_first_duplicate_wins() -> None:
    built = scenario([limited("a", "101"), limited("b", "102")], arrows("start>ghost", "start>a", "start>b"))
    compiled = compile_scenario(built, directory())
    assert compiled.next_element("start", "next") == "a"
    assert compiled.transitions == {("start", "next"): "a"}

    dangling = scenario([limited("a", "101")], arrows("start>a", "a>nowhere"))
    state, decision = run(executor(dangling), out("no_answer"))[-1]
    assert ended_with(state, decision) == ("hangup", "a", "route_end")


# ------------------------------------------------------------------------------------------------ loop guard


def test_consecutive_visits_of_one_element_are_capped() -> None:
    built = scenario([{"id": "hi", "type": "greeting", "prompt": HELLO}], arrows("start>hi", "hi>hi"))
    history = run(executor(built), *[out("played")] * MAX_CONSECUTIVE_VISITS)

    plays = [d for _, d in history if isinstance(d.action, PlayAction)]
    assert len(plays) == MAX_CONSECUTIVE_VISITS
    state, decision = history[-1]
    assert ended_with(state, decision) == ("loop_guard", "hi", "loop_guard")
    assert "consecutive" in (decision.steps[-1].detail or "")
    with pytest.raises(Conflict):
        executor(built).advance(state, out("played"))


def test_steps_per_call_are_capped_even_when_elements_alternate() -> None:
    built = scenario(
        [{"id": "a", "type": "greeting", "prompt": HELLO}, {"id": "b", "type": "greeting", "prompt": HELLO}],
        arrows("start>a", "a>b", "b>a"),
    )
    engine = executor(built)
    state, decision = engine.start(call())
    decisions = 1
    while state.status == "in_progress":
        state, decision = engine.advance(state, out("played"))
        decisions += 1

    assert ended_with(state, decision) == ("loop_guard", state.result_element, "loop_guard")
    assert state.steps_total == MAX_STEPS + 1
    assert decisions == MAX_STEPS  # the entry and 999 greetings, then the guard
    assert f"more than {MAX_STEPS} steps" in (decision.steps[-1].detail or "")


def test_a_cycle_without_telephony_is_cut_within_one_decision() -> None:
    built = scenario(
        [{"id": "hours", "type": "schedule", "schedule_id": "office"},
         {"id": "vip", "type": "caller_list", "list_id": "vip"}],
        arrows("start>hours", "hours:open>vip", "hours:closed>vip", "vip:match>hours", "vip:no_match>hours"),
    )  # fmt: skip
    state, decision = executor(built).start(call())
    assert state.result == "loop_guard"
    assert len(decision.steps) == MAX_STEPS + 1


# ------------------------------------------------------------------------------------------------ conflicts


@pytest.fixture
def ringing_call() -> tuple[Executor, CallState]:
    engine = executor(scenario([limited("mgr", "101"), menu()], arrows("start>mgr", "mgr>menu")))
    state, _ = engine.start(call())
    return engine, state


@pytest.mark.parametrize("outcome", [out("digits", "1"), out("timeout"), out("played")])
def test_an_outcome_that_does_not_fit_the_pending_ring_is_a_conflict(
    ringing_call: tuple[Executor, CallState], outcome: Outcome
) -> None:
    engine, state = ringing_call
    with pytest.raises(Conflict, match="'mgr' is waiting for the outcome of ring"):
        engine.advance(state, outcome)


def test_a_ring_outcome_while_collecting_is_a_conflict(ringing_call: tuple[Executor, CallState]) -> None:
    engine, state = ringing_call
    collecting, _ = engine.advance(state, out("no_answer"))
    with pytest.raises(Conflict, match="collect"):
        engine.advance(collecting, out("answered"))


@pytest.mark.parametrize("outcome", [out("digits"), Outcome.model_construct(kind="busy", digits="1")])
def test_malformed_outcomes_are_invalid_input(ringing_call: tuple[Executor, CallState], outcome: Outcome) -> None:
    engine, state = ringing_call
    with pytest.raises(InvalidInput, match="digits"):
        engine.advance(state, outcome)


def test_any_outcome_after_the_call_is_connected_is_a_conflict(ringing_call: tuple[Executor, CallState]) -> None:
    engine, state = ringing_call
    connected, _ = engine.advance(state, out("answered"))
    for outcome in (out("answered"), out("caller_hangup"), out("no_answer")):
        with pytest.raises(Conflict, match="already connected"):
            engine.advance(connected, outcome)


def test_a_state_that_names_no_pending_element_is_a_conflict(ringing_call: tuple[Executor, CallState]) -> None:
    engine, state = ringing_call
    for broken in (state.model_copy(update={"element_id": "nowhere"}), state.model_copy(update={"element_state": {}})):
        with pytest.raises(Conflict, match="not waiting"):
            engine.advance(broken, out("no_answer"))


# ------------------------------------------------------------------------------------------------ state handling


def test_state_survives_a_json_round_trip_and_gives_the_same_decision() -> None:
    built = scenario([group("random", ["101", "102", "103"]), menu(), VM],
                     arrows("start>sales", "sales>menu", "menu:timeout>vm"))  # fmt: skip
    engine = executor(built)
    state, _ = engine.start(call())
    for outcome in (out("no_answer"), out("busy"), out("no_answer"), out("timeout"), out("timeout")):
        restored = CallState.model_validate_json(state.model_dump_json())
        assert restored == state
        expected_state, expected = engine.advance(state, outcome)
        again_state, again = engine.advance(restored, outcome)
        assert again.model_dump(mode="json") == expected.model_dump(mode="json")
        assert again_state == expected_state
        state = expected_state


def test_advance_never_mutates_the_state_it_is_given(ringing_call: tuple[Executor, CallState]) -> None:
    engine, state = ringing_call
    before = state.model_dump(mode="json")
    new_state, decision = engine.advance(state, out("no_answer"))
    assert state.model_dump(mode="json") == before
    assert new_state.seq == state.seq + 1 == decision.seq
    assert new_state is not state


def test_decision_round_trips_through_json() -> None:
    built = scenario([group("simultaneous", ["101", "201"])], arrows("start>sales"))
    _, decision = executor(built).start(call())
    assert Decision.model_validate_json(decision.model_dump_json()) == Decision.model_validate(
        decision.model_dump(mode="json")
    )
    assert Decision.model_validate_json(decision.model_dump_json()).action == decision.action

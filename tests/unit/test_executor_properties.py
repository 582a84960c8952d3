"""Property: on any scenario graph, cyclic or garbage, with any outcomes, every call ends within MAX_STEPS decisions.

The executor never raises anything but Conflict/InvalidInput, and only for an outcome that does not fit the pending
action (the call then goes on with one that does).
"""

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from vpbx.domain.calls import OUTCOME_KINDS, CallInfo, CallState, Outcome
from vpbx.domain.directory import CallerList, CallerPattern, Directory, HolidayCalendar, Schedule, Subscriber
from vpbx.domain.errors import Conflict, InvalidInput
from vpbx.domain.executor import MAX_STEPS, Executor, compile_scenario
from vpbx.domain.queues import Queue, QueueMember, QueueVerdict
from vpbx.domain.scenario import DIGIT_EXITS, Scenario

EXTENSIONS = ["101", "102", "103", "104", "201", "999"]  # 104 disabled, 999 unknown
DIRECTORY = Directory.of(
    [
        Subscriber(extension="101", name="A"),
        Subscriber(extension="102", name="B", sip_uri="sip:b@pbx.example"),
        Subscriber(extension="103", name="C"),
        Subscriber(extension="104", name="D", enabled=False),
        Subscriber(extension="201", name="M", kind="mobile", target="+79161234567"),
    ],
    [Schedule(id="office", name="O", timezone="Europe/Moscow", weekly={"mon": ["09:00-18:00"]},
              holidays=HolidayCalendar(country="RU"))],
    [CallerList(id="vip", name="V", patterns=[CallerPattern(kind="prefix", value="+7916")])],
    queues=[Queue(id="q", name="Q", members=[QueueMember(extension=e) for e in ("101", "104", "201", "999")])],
)  # fmt: skip
PROMPT = {"text": "Hi"}
FITTING = {
    "ring": ["answered", "no_answer", "busy", "unavailable", "failed"],
    "play": ["played", "failed"],
    "collect": ["digits", "timeout", "failed"],
    "enqueue": ["waiting", "failed"],
}
ENDINGS = {"connected", "voicemail", "fax", "hangup", "loop_guard", "caller_hangup"}

wait = st.one_of(st.none(), st.integers(0, 60))


extension = st.sampled_from(EXTENSIONS)
# Built once: constructing strategies inside the draw costs more than the test itself.
ELEMENT_FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "incoming_call": st.just({}),
    "internal_subscriber": st.fixed_dictionaries(
        {"extension": extension, "limit_wait": st.booleans(), "wait_seconds": wait}
    ),
    "external_number": st.fixed_dictionaries(
        {"number": st.sampled_from(["+74951234567", "+79161234567"]), "limit_wait": st.booleans()}
    ),
    "group": st.fixed_dictionaries(
        {
            "members": st.lists(extension, min_size=1, max_size=4),
            "strategy": st.sampled_from(["simultaneous", "sequential", "random"]),
            "limit_wait": st.booleans(),
            "wait_seconds": wait,
        }
    ),
    "schedule": st.fixed_dictionaries({"schedule_id": st.sampled_from(["office", "missing"])}),
    "caller_list": st.fixed_dictionaries({"list_id": st.sampled_from(["vip", "missing"])}),
    "greeting": st.just({"prompt": PROMPT}),
    "ivr_menu": st.fixed_dictionaries(
        {"prompt": st.just(PROMPT), "max_retries": st.integers(0, 3)},
        optional={"invalid_prompt": st.just({"text": "Again"})},
    ),
    "external_routing": st.fixed_dictionaries({"url": st.just("https://crm.example/r"), "wait_seconds": wait}),
    "queue": st.fixed_dictionaries({"queue_id": st.sampled_from(["q", "q", "missing"])}),
    "voicemail": st.just({"mailbox": "101"}),
    "fax": st.just({"extension": "101"}),
    "hangup": st.just({}),
}


# Telephony elements are drawn more often than terminal ones so that graphs have long, cyclic routes.
KINDS = st.sampled_from(
    ["incoming_call", "internal_subscriber", "internal_subscriber", "external_number", "group", "group", "schedule",
     "caller_list", "greeting", "greeting", "ivr_menu", "ivr_menu", "external_routing", "queue", "voicemail", "fax",
     "hangup"]
)  # fmt: skip
EXITS = st.sampled_from(
    [None, None, "next", "no_answer", "busy", "unavailable", "open", "closed", "match", "no_match", "timeout",
     "invalid", "not_found", "no_agents", "full", *DIGIT_EXITS, "bogus"]
)  # fmt: skip


ANY_ID = st.sampled_from(["start", *(f"e{n}" for n in range(10)), "ghost"])  # ghost: dangling arrows
JUNK_ARROW = st.fixed_dictionaries({"from": ANY_ID, "to": ANY_ID, "exit": EXITS})


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Random elements; most exits get an arrow to a random element (cycles galore), plus junk arrows."""
    count = draw(st.integers(1, 10))
    elements: list[dict[str, Any]] = [{"id": "start", "type": "incoming_call"}]
    for index in range(count):
        kind = draw(KINDS)
        elements.append({"id": f"e{index}", "type": kind, **draw(ELEMENT_FIELDS[kind])})
    ids = [e["id"] for e in elements]
    wiring = random.Random(draw(st.integers(0, 2**32)))
    connected = draw(st.sampled_from([0.5, 0.9, 1.0]))
    without_arrows = Scenario.model_validate({"name": "Random", "elements": elements})
    connections = [
        {"from": element.id, "to": wiring.choice(ids), "exit": exit_name}
        for element in without_arrows.elements
        for exit_name in element.exits()
        if wiring.random() < connected
    ]
    connections += [{k: v for k, v in c.items() if v is not None} for c in draw(st.lists(JUNK_ARROW, max_size=3))]
    return without_arrows.model_copy(update={"connections": Scenario.model_validate(
        {"name": "Random", "elements": [], "connections": connections}).connections})  # fmt: skip


class RandomCrm:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self, url: str, caller: str | None, timeout_seconds: float) -> str | None:
        roll = self.rng.random()
        if roll < 0.2:
            raise TimeoutError("CRM too slow")
        return None if roll < 0.4 else self.rng.choice([*EXTENSIONS, "", "abc"])


class RandomDesk:
    """A queue desk answering anything at random, including offers of agents that are not members."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _verdict(self, *_: object) -> QueueVerdict:
        kind = self.rng.choice(["wait", "wait", "offer", "offer", "full", "no_agents"])
        if kind == "offer":
            return QueueVerdict(kind="offer", extensions=tuple(self.rng.sample(EXTENSIONS, self.rng.randint(1, 3))))
        return QueueVerdict(kind=kind, position=self.rng.choice([None, 1, 7]))  # type: ignore[arg-type]

    join = poll = _verdict

    def declined(self, queue: Queue, call_id: str, extensions: Sequence[str], now: datetime) -> QueueVerdict:
        return self._verdict()

    def answered(self, *_: object) -> None:
        pass

    leave = call_ended = answered


def random_outcome(rng: random.Random) -> Outcome:
    kind = rng.choice(OUTCOME_KINDS)
    if kind == "digits":
        return Outcome(kind="digits", digits=rng.choice([*DIGIT_EXITS, "12"]))
    return Outcome(kind=kind)


def fitting_outcome(rng: random.Random, state: CallState, hangup_chance: float) -> Outcome:
    if rng.random() < hangup_chance:
        return Outcome(kind="caller_hangup")
    kind = rng.choice(FITTING[state.element_state["awaiting"]])
    return Outcome(kind=kind, digits=rng.choice(DIGIT_EXITS) if kind == "digits" else None)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    built=scenarios(),
    seed=st.integers(0, 2**32),
    minutes=st.integers(0, 60 * 24 * 14),
    hangup_chance=st.sampled_from([0.0, 0.02, 0.05]),
)
def test_every_call_ends_within_the_step_cap(built: Scenario, seed: int, minutes: int, hangup_chance: float) -> None:
    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    engine = Executor(compile_scenario(built, DIRECTORY, sip_domain="t.example"), clock=lambda: now,
                      crm_lookup=RandomCrm(rng), queue_desk=RandomDesk(rng))  # fmt: skip
    caller = rng.choice([None, "+79161234567", "+74951234567", "garbage"])
    state, decision = engine.start(CallInfo(call_id=f"c{seed}", caller=caller, dialed="+7495", started_at=now))
    decisions = 1

    while state.status == "in_progress":
        assert decisions < MAX_STEPS, "the loop guard should have ended the call"
        assert decision.action is not None
        assert state.element_id is not None
        try:
            next_state, next_decision = engine.advance(state, random_outcome(rng))
        except (Conflict, InvalidInput):
            next_state, next_decision = engine.advance(state, fitting_outcome(rng, state, hangup_chance))
        assert next_decision.seq == decision.seq + 1 == next_state.seq
        state, decision = next_state, next_decision
        decisions += 1

    guard = decision.steps[-1].detail or "" if state.result == "loop_guard" else ""
    event(f"result: {state.result}" + (" (step cap)" if "steps" in guard else " (consecutive)" if guard else ""))
    assert state.result in ENDINGS
    assert (decision.action is None) == (state.result in {"connected", "caller_hangup"})
    assert state.steps_total <= MAX_STEPS + 1
    assert CallState.model_validate_json(state.model_dump_json()) == state
    try:
        engine.advance(state, random_outcome(rng))
    except (Conflict, InvalidInput):
        pass
    else:
        raise AssertionError("an outcome after the end of the call must be refused")

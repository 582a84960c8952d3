"""Dry runs of a scenario: the live executor driven by scripted telephony outcomes and a simulated clock.

The clock starts at `at` and moves on by what each action would really take: the ring timeout after an unanswered
ring, the collect timeout after a menu timeout, poll_seconds for each `waiting` report of a queued caller (greetings
and answered calls take no time). So a long route can cross a schedule's boundary the way a real call would, and the
same inputs always give the same result.

Queues run on an in-memory desk (domain/simulated_queues.py): a script says when each agent is free on that clock
and whether it answers an offer; a queued caller reports `waiting` (or what `outcomes` scripts for the queue element:
`caller_hangup` after some reports), and the queue's rings are answered as the script says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import Field, ValidationError

from vpbx.domain.base import StrictModel
from vpbx.domain.calls import (
    ACCEPTED_OUTCOMES,
    CallInfo,
    CallState,
    CollectAction,
    Decision,
    EnqueueAction,
    HangupAction,
    Outcome,
    RingAction,
    TraceStep,
)
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import ElementBase
from vpbx.domain.errors import Conflict, InvalidInput
from vpbx.domain.scenario import Scenario, references_of

if TYPE_CHECKING:
    from vpbx.domain.executor import CrmLookup
    from vpbx.domain.simulated_queues import QueueScript, ScriptedDesk

OutcomeScript = Mapping[str, Sequence[str | Mapping[str, str]]]
"""Element id -> the outcomes it reports, one per action it asks for, in order ("digits:101", {"digits": "101"},
"no_answer"…); once the list runs out the last one repeats, or the action's default when it does not fit the action
(a direct-dial menu scripted ["digits:101"] collects 101, then its ring of 101 goes unanswered)."""

ScriptEntry = str | Mapping[str, str]

# The outcome telephony reports for each kind of action when the script says nothing.
_DEFAULT_OUTCOMES = {
    "ring": Outcome(kind="no_answer"),
    "play": Outcome(kind="played"),
    "collect": Outcome(kind="timeout"),
    "enqueue": Outcome(kind="waiting"),  # a queued caller holds on; its offers are answered per the queue script
}

SimulationStatus = Literal["connected", "voicemail", "fax", "hangup", "loop_guard", "caller_hangup"]


class SimulationStep(StrictModel):
    seq: int
    element_id: str
    element_type: str
    action: dict[str, Any] | None
    outcome: str | None
    exit: str | None
    at_seconds: int = Field(default=0, description="Simulated seconds since the call started, when the step began")


class SimulationOutcome(StrictModel):
    status: SimulationStatus
    element_id: str | None
    reason: str | None = None  # for hangup and loop_guard: route_end, hangup_element, unanswered, loop_guard…


class SimulationResult(StrictModel):
    steps: list[SimulationStep]
    result: SimulationOutcome

    def path(self) -> list[str]:
        """Element ids in the order the call went through them (repeats in a row collapsed), for the diagram."""
        path: list[str] = []
        for step in self.steps:
            if not path or path[-1] != step.element_id:
                path.append(step.element_id)
        return path


def simulate(
    scenario: Scenario,
    directory: Directory,
    *,
    outcomes: OutcomeScript | None = None,
    caller: str | None = None,
    at: datetime,
    crm_lookup: CrmLookup | None = None,
    sip_domain: str | None = None,
    call_id: str = "simulation",
    queues: Mapping[str, QueueScript | Mapping[str, Any]] | None = None,
) -> SimulationResult:
    """Run one call through `scenario` with scripted outcomes; InvalidInput (naming the element) for a bad script.
    `queues`: per queue id, when its agents are free and whether they answer (domain/simulated_queues.py)."""
    # Imported on the first run: the scenarios function loads this module for the result models of its API schema
    # at every cold start, and runs a simulation far less often.
    from vpbx.domain.executor import MAX_STEPS, Executor, compile_scenario
    from vpbx.domain.simulated_queues import ScriptedDesk

    compiled = compile_scenario(scenario, directory, sip_domain=sip_domain)
    script = _Script(_parse_script(outcomes or {}, {e.id: e for e in scenario.elements}))
    desk = ScriptedDesk(_parse_queue_scripts(queues or {}, scenario), at)
    clock = _Clock(at)
    executor = Executor(compiled, clock=clock.now, crm_lookup=crm_lookup, queue_desk=desk)
    state, decision = executor.start(_call_info(call_id, caller, at))
    steps = [_simulation_step(s, at) for s in decision.steps]
    for _ in range(MAX_STEPS + 1):  # the executor's loop guard ends every call well within this
        if state.status != "in_progress" or state.element_id is None:
            break
        element_id = state.element_id
        outcome = _queue_offer_outcome(state, desk) or script.next_for(
            element_id, str(state.element_state.get("awaiting"))
        )
        clock.spend(decision, outcome)
        try:
            state, decision = executor.advance(state, outcome)
        except Conflict as exc:
            raise InvalidInput(f"outcomes for element {element_id!r}: {exc.message}") from None
        resolution, *rest = decision.steps
        steps[-1] = steps[-1].model_copy(update={"outcome": resolution.outcome, "exit": resolution.exit})
        steps.extend(_simulation_step(s, at) for s in rest)
    return SimulationResult(steps=steps, result=_result(state, decision))


def _queue_offer_outcome(state: CallState, desk: ScriptedDesk) -> Outcome | None:
    """A queue's ring of the agents it offered the caller to is answered as the queue script says."""
    memory = state.element_state
    if memory.get("awaiting") != "ring" or not isinstance(memory.get("queue_id"), str):
        return None
    return desk.offer_outcome(memory["queue_id"], [str(extension) for extension in memory.get("offered", ())])


def _parse_queue_scripts(queues: object, scenario: Scenario) -> dict[str, QueueScript]:
    """Queue id -> its agents' script; a queue the scenario does not name, or a malformed script, is InvalidInput."""
    from vpbx.domain.simulated_queues import QueueScript

    if not isinstance(queues, Mapping):
        raise InvalidInput("queues must map queue ids to agent scripts")
    named = references_of(scenario).queues
    scripts: dict[str, QueueScript] = {}
    for queue_id, script in queues.items():
        loc: list[str | int] = ["body", "queues", str(queue_id)]
        if queue_id not in named:
            message = f"queues name queue {queue_id!r}, which no queue element of the scenario uses"
            raise InvalidInput(message, [{"loc": loc, "msg": "unknown queue", "type": "unknown_queue"}])
        try:
            scripts[queue_id] = QueueScript.model_validate(script)
        except ValidationError as exc:
            details = [
                {"loc": [*loc, *exc_error["loc"]], "msg": exc_error["msg"], "type": exc_error["type"]}
                for exc_error in exc.errors()
            ]
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'script'}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"queues for queue {queue_id!r}: {problems}", details) from None
    return scripts


def _call_info(call_id: str, caller: str | None, at: datetime) -> CallInfo:
    try:
        return CallInfo(call_id=call_id, caller=caller, dialed="simulation", started_at=at)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"simulation call: {problems}") from None


def _simulation_step(step: TraceStep, started_at: datetime) -> SimulationStep:
    """The trace step minus its detail, its timestamp as simulated seconds since the call started."""
    return SimulationStep(
        seq=step.seq,
        element_id=step.element_id,
        element_type=step.element_type,
        action=step.action.model_dump(mode="json") if step.action is not None else None,
        outcome=step.outcome,
        exit=step.exit,
        at_seconds=round((step.at - started_at).total_seconds()),
    )


def _result(state: CallState, decision: Decision) -> SimulationOutcome:
    reason = decision.action.reason if isinstance(decision.action, HangupAction) else None
    status = cast(SimulationStatus, state.result or "hangup")
    return SimulationOutcome(status=status, element_id=state.result_element, reason=reason)


class _Clock:
    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def spend(self, decision: Decision, outcome: Outcome) -> None:
        action = decision.action
        seconds = 0
        if isinstance(action, RingAction) and outcome.kind != "answered":
            seconds = action.timeout_seconds or 0
        elif isinstance(action, CollectAction) and outcome.kind == "timeout":
            seconds = action.timeout_seconds
        elif isinstance(action, EnqueueAction) and outcome.kind == "waiting":
            seconds = action.poll_seconds
        self._now += timedelta(seconds=seconds)


class _Script:
    """Hands out each element's scripted outcomes in order, repeating the last, or the default for the action."""

    def __init__(self, outcomes: dict[str, list[Outcome]]) -> None:
        self._outcomes = outcomes
        self._used: dict[str, int] = {}

    def next_for(self, element_id: str, awaiting: str) -> Outcome:
        scripted = self._outcomes.get(element_id)
        if not scripted:
            return _DEFAULT_OUTCOMES.get(awaiting, Outcome(kind="no_answer"))
        index = self._used.get(element_id, 0)
        self._used[element_id] = index + 1
        if index < len(scripted):
            return scripted[index]
        last = scripted[-1]
        if last.kind == "caller_hangup" or last.kind in ACCEPTED_OUTCOMES.get(awaiting, ()):
            return last
        return _DEFAULT_OUTCOMES.get(awaiting, Outcome(kind="no_answer"))


def _parse_script(outcomes: object, elements: Mapping[str, ElementBase]) -> dict[str, list[Outcome]]:
    if not isinstance(outcomes, Mapping):
        raise InvalidInput("outcomes must map element ids to lists of outcomes")
    parsed: dict[str, list[Outcome]] = {}
    for element_id, entries in outcomes.items():
        element = elements.get(element_id)
        if element is None:
            raise InvalidInput(
                f"outcomes name element {element_id!r}, which is not in the scenario",
                [{"loc": ["body", "outcomes", str(element_id)], "msg": "unknown element", "type": "unknown_element"}],
            )
        listed = [entries] if isinstance(entries, str | Mapping) else entries
        if not isinstance(listed, Sequence):
            raise _script_error(element_id, None, "expected a list of outcomes")
        parsed[element_id] = [_parse_entry(element_id, element, i, entry) for i, entry in enumerate(listed)]
    return parsed


def _parse_entry(element_id: str, element: ElementBase, index: int, entry: object) -> Outcome:
    if isinstance(entry, str):
        kind, _, digits = entry.partition(":")
        fields: object = {"kind": kind, "digits": digits} if digits or kind == "digits" else {"kind": kind}
    elif isinstance(entry, Mapping) and "kind" not in entry and "digits" in entry:
        fields = {"kind": "digits", **entry}  # {"digits": "101"}
    else:
        fields = entry
    if not isinstance(fields, Mapping):
        raise _script_error(
            element_id, index, 'an outcome is a string ("busy", "digits:1"), {"kind", "digits"} or {"digits"}'
        )
    try:
        outcome = Outcome.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'outcome'}: {e['msg']}" for e in exc.errors())
        raise _script_error(element_id, index, f"{entry!r} is not an outcome ({problems})") from None
    if (outcome.kind == "digits") != (outcome.digits is not None):
        raise _script_error(element_id, index, "a digits outcome needs its digits, as in 'digits:1'")
    awaited = element.awaited()
    element_type = getattr(element, "type", type(element).__name__)
    if not awaited:
        raise _script_error(element_id, index, f"element type {element_type} asks telephony for nothing")
    if element.awaits == "enqueue":
        awaited = ("enqueue",)  # a queue's rings are its agents': the queue script answers them
    fitting = frozenset().union(*(ACCEPTED_OUTCOMES[action] for action in awaited))
    if outcome.kind != "caller_hangup" and outcome.kind not in fitting:
        expected = ", ".join(sorted(fitting | {"caller_hangup"}))
        raise _script_error(
            element_id, index, f"{outcome.kind!r} does not fit element type {element_type} (expected: {expected})"
        )
    return outcome


def _script_error(element_id: str, index: int | None, message: str) -> InvalidInput:
    where = f"outcomes for element {element_id!r}" + (f", entry {index}" if index is not None else "")
    loc: list[str | int] = ["body", "outcomes", element_id] + ([index] if index is not None else [])
    return InvalidInput(
        f"{where}: {message}", [{"loc": loc, "msg": message, "type": "outcome", "element_id": element_id}]
    )

"""The step-function executor: walks a compiled scenario one telephony outcome at a time (DESIGN.md §3).

A published scenario compiles once into nodes (one per element, built by the element itself with its ring targets,
prompts and exit fallbacks resolved against the directory) and a transition table keyed by `(element_id, exit)`,
the scenario graph's `next_of`. Every step is then a handful of dict lookups, so the cost of a transition does not
depend on the size of the scenario.

Within one decision the executor evaluates elements that need no telephony (incoming call, schedule, caller list,
the CRM lookup of external routing) and stops at the first element that does: its action is the decision.
CRM lookups are capped: at most MAX_CRM_LOOKUPS_PER_DECISION (3) in one decision and MAX_CRM_LOOKUPS_PER_CALL (10)
in one call, and the timeouts granted to one decision's lookups add up to at most MAX_CRM_SECONDS_PER_DECISION (6 s;
a later lookup gets what is left, none under 0.5 s); past a cap external routing takes `not_found` without calling
the CRM, and its trace step says why.

Reasons of a `hangup` action (and of a simulation's result):

- `route_end`: an exit was taken that has no arrow;
- `hangup_element`: the route reached a `hangup` element;
- `unanswered`: an element without `limit_wait` (the end of the route, per the seed) was not answered;
- `loop_guard`: more than MAX_STEPS steps in the call or MAX_CONSECUTIVE_VISITS visits in a row to one element;
- `no_entry`: the scenario has no `incoming_call` element.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from vpbx.domain.calls import (
    ACCEPTED_OUTCOMES,
    Action,
    CallInfo,
    CallState,
    CallStatus,
    Decision,
    Outcome,
    TraceStep,
)
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import ElementBase
from vpbx.domain.elements.steps import (
    MAX_CRM_LOOKUPS_PER_CALL,
    MAX_CRM_LOOKUPS_PER_DECISION,
    MAX_CRM_SECONDS_PER_DECISION,
    REASON_HANGUP_ELEMENT,
    REASON_LOOP_GUARD,
    REASON_NO_ENTRY,
    REASON_ROUTE_END,
    REASON_UNANSWERED,
    Await,
    CompileContext,
    CrmLookup,
    Finish,
    Follow,
    Node,
    RunContext,
    hangup,
)
from vpbx.domain.errors import Conflict, InvalidInput
from vpbx.domain.graph import ScenarioGraph
from vpbx.domain.queues import QueueDesk
from vpbx.domain.scenario import Scenario

__all__ = [
    "MAX_CONSECUTIVE_VISITS",
    "MAX_CRM_LOOKUPS_PER_CALL",
    "MAX_CRM_LOOKUPS_PER_DECISION",
    "MAX_CRM_SECONDS_PER_DECISION",
    "MAX_STEPS",
    "REASON_HANGUP_ELEMENT",
    "REASON_LOOP_GUARD",
    "REASON_NO_ENTRY",
    "REASON_ROUTE_END",
    "REASON_UNANSWERED",
    "CompiledScenario",
    "CrmLookup",
    "Executor",
    "compile_scenario",
]

MAX_STEPS = 1000  # Twilio Studio's caps
MAX_CONSECUTIVE_VISITS = 10

_CALLER_HANGUP = Finish(status="ended", result="caller_hangup")


@dataclass(frozen=True)
class CompiledScenario:
    """A scenario resolved against its directory: nodes by element id and transitions by (element id, exit)."""

    entry: str | None
    transitions: Mapping[tuple[str, str], str]
    nodes: Mapping[str, Node]
    elements: Mapping[str, ElementBase]
    scenario_id: str | None = None
    version: int | None = None
    sip_domain: str | None = None
    directory: Directory = field(default_factory=Directory)
    default_country: str | None = None  # the tenant's, for national number formats
    directory_revision: int | None = None  # the tenant's directory revision `directory` was resolved at

    def element(self, element_id: str) -> ElementBase | None:
        return self.elements.get(element_id)

    def next_element(self, element_id: str, exit_name: str) -> str | None:
        return self.transitions.get((element_id, exit_name))


def compile_scenario(
    scenario: Scenario,
    directory: Directory,
    *,
    scenario_id: str | None = None,
    version: int | None = None,
    sip_domain: str | None = None,
    default_country: str | None = None,
    directory_revision: int | None = None,
) -> CompiledScenario:
    """Compile once per published version and directory revision. Garbage (dangling arrows, duplicate ids) is
    tolerated: first one wins."""
    graph = ScenarioGraph.of(scenario)
    context = CompileContext(directory, sip_domain, graph.next_of)
    nodes: dict[str, Node] = {}
    for element_id, element in graph.elements.items():
        try:
            nodes[element_id] = element.compile(context)
        except NotImplementedError:
            raise InvalidInput(f"element {element_id!r}: unknown element type {type(element).__name__}") from None
    return CompiledScenario(
        entry=next((element_id for element_id, e in graph.elements.items() if e.is_entry), None),
        transitions=MappingProxyType(graph.next_of),
        nodes=MappingProxyType(nodes),
        elements=MappingProxyType(graph.elements),
        scenario_id=scenario_id,
        version=version,
        sip_domain=sip_domain,
        directory=directory,
        default_country=default_country,
        directory_revision=directory_revision,
    )


# ------------------------------------------------------------------------------------------------ execution


class _Walk:
    """The bookkeeping of one decision: step counters, loop guard and the trace steps it appends."""

    __slots__ = ("consecutive_element", "consecutive_visits", "context", "seq", "state", "steps", "steps_total")

    def __init__(self, state: CallState, context: RunContext) -> None:
        self.state = state
        self.context = context
        self.seq = state.seq + 1
        self.steps: list[TraceStep] = []
        self.steps_total = state.steps_total
        self.consecutive_element = state.consecutive_element
        self.consecutive_visits = state.consecutive_visits

    def record(
        self,
        node: Node,
        *,
        action: Action | None = None,
        outcome: str | None = None,
        exit_name: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.steps.append(
            TraceStep(
                seq=self.seq,
                element_id=node.element_id,
                element_type=node.element_type,
                action=action,
                outcome=outcome,
                exit=exit_name,
                at=self.context.now,
                detail=detail,
            )
        )

    def count_step(self) -> str | None:
        """Count one more step; the loop guard's verdict when the call has taken too many."""
        self.steps_total += 1
        if self.steps_total > MAX_STEPS:
            return f"more than {MAX_STEPS} steps in one call"
        return None

    def count_visit(self, element_id: str) -> str | None:
        if element_id == self.consecutive_element:
            self.consecutive_visits += 1
        else:
            self.consecutive_element, self.consecutive_visits = element_id, 1
        if self.consecutive_visits > MAX_CONSECUTIVE_VISITS:
            return f"more than {MAX_CONSECUTIVE_VISITS} consecutive visits to {element_id!r}"
        return self.count_step()

    def wait(self, node: Node, step: Await) -> tuple[CallState, Decision]:
        state = self._state(status="in_progress", element_id=node.element_id, element_state=step.memory)
        return state, self._decision(step.action, "in_progress")

    def finish(self, element_id: str | None, step: Finish) -> tuple[CallState, Decision]:
        state = self._state(status=step.status, result=step.result, result_element=element_id)
        return state, self._decision(step.action, step.status)

    def _state(self, **changes: Any) -> CallState:
        changes.setdefault("element_id", None)
        changes.setdefault("element_state", {})
        return self.state.model_copy(
            update={
                "seq": self.seq,
                "steps_total": self.steps_total,
                "consecutive_element": self.consecutive_element,
                "consecutive_visits": self.consecutive_visits,
                "crm_lookups": self.context.crm_lookups_in_call,
                **changes,
            }
        )

    def _decision(self, action: Action | None, status: CallStatus) -> Decision:
        return Decision(seq=self.seq, action=action, status=status, steps=self.steps)


def _outcome_text(outcome: Outcome) -> str:
    return f"digits:{outcome.digits}" if outcome.kind == "digits" else outcome.kind


class Executor:
    """Runs calls on one compiled scenario. Stateless between calls: the CallState carries everything."""

    def __init__(
        self,
        compiled: CompiledScenario,
        *,
        clock: Callable[[], datetime],
        crm_lookup: CrmLookup | None = None,
        queue_desk: QueueDesk | None = None,
    ) -> None:
        self._compiled = compiled
        self._queue_desk = queue_desk
        self._nodes = compiled.nodes
        self._transitions = compiled.transitions
        self._clock = clock
        self._crm_lookup = crm_lookup

    def start(self, call: CallInfo) -> tuple[CallState, Decision]:
        """The first decision of a new call (seq 1), pinned to the compiled scenario's id, version and the directory
        revision it was compiled against."""
        state = CallState(
            call=call,
            scenario_id=self._compiled.scenario_id,
            version=self._compiled.version,
            directory_revision=self._compiled.directory_revision,
            seq=0,
            status="in_progress",
        )
        walk = _Walk(state, self._context(call))
        entry = self._compiled.entry
        if entry is None:
            return walk.finish(None, hangup(REASON_NO_ENTRY))
        return self._enter(walk, entry)

    def advance(self, state: CallState, outcome: Outcome) -> tuple[CallState, Decision]:
        """The decision that follows telephony's `outcome` for the action pending in `state` (seq + 1)."""
        node, memory = self._pending(state, outcome)
        walk = _Walk(state, self._context(state.call, state.crm_lookups))
        if outcome.kind == "caller_hangup":
            node.abandon(walk.context, memory)
            walk.record(node, outcome="caller_hangup")
            return walk.finish(node.element_id, _CALLER_HANGUP)
        step = node.resolve(walk.context, memory, outcome)
        if isinstance(step, Follow):
            walk.record(node, outcome=_outcome_text(outcome), exit_name=step.exit, detail=step.detail)
            return self._follow(walk, node, step.exit)
        walk.record(node, outcome=_outcome_text(outcome), detail=step.detail)
        if isinstance(step, Finish):
            return walk.finish(node.element_id, step)
        # The element goes on by itself (menu replay, next group member): one more step, same visit.
        guard = walk.count_step()
        if guard is not None:
            return self._loop_guard(walk, node, guard)
        walk.record(node, action=step.action)
        return walk.wait(node, step)

    # ---------------------------------------------------------------------------------------------------------

    def _context(self, call: CallInfo, crm_lookups: int = 0) -> RunContext:
        return RunContext(call, self._clock(), self._crm_lookup, crm_lookups, self._queue_desk)

    def _pending(self, state: CallState, outcome: Outcome) -> tuple[Node, Mapping[str, Any]]:
        """The node waiting for `outcome`, or a Conflict/InvalidInput explaining why the outcome does not fit."""
        if (outcome.kind == "digits") != (outcome.digits is not None):
            raise InvalidInput("outcome digits carries its value in `digits`; other outcomes carry none")
        if state.status != "in_progress":
            raise Conflict(f"call {state.call.call_id!r} is already {state.status}; no outcome is expected")
        if (state.scenario_id, state.version) != (self._compiled.scenario_id, self._compiled.version):
            raise Conflict(
                f"call is pinned to scenario {state.scenario_id!r} version {state.version}, "
                f"not {self._compiled.scenario_id!r} version {self._compiled.version}"
            )
        node = self._nodes.get(state.element_id) if state.element_id is not None else None
        awaiting = str(state.element_state.get("awaiting"))
        if node is None or awaiting not in ACCEPTED_OUTCOMES:
            raise Conflict(f"call {state.call.call_id!r} is not waiting for an outcome")
        if outcome.kind != "caller_hangup" and outcome.kind not in ACCEPTED_OUTCOMES[awaiting]:
            expected = ", ".join(sorted(ACCEPTED_OUTCOMES[awaiting] | {"caller_hangup"}))
            raise Conflict(
                f"element {node.element_id!r} is waiting for the outcome of {awaiting}; "
                f"{outcome.kind!r} does not fit (expected one of: {expected})"
            )
        return node, state.element_state

    def _follow(self, walk: _Walk, node: Node, exit_name: str) -> tuple[CallState, Decision]:
        target = self._transitions.get((node.element_id, exit_name))
        if target is None:
            return walk.finish(node.element_id, hangup(REASON_ROUTE_END))
        return self._enter(walk, target)

    def _enter(self, walk: _Walk, element_id: str) -> tuple[CallState, Decision]:
        """Visit elements from `element_id` on until one needs telephony or the route ends."""
        while True:
            node = self._nodes[element_id]
            guard = walk.count_visit(element_id)
            if guard is not None:
                return self._loop_guard(walk, node, guard)
            step = node.enter(walk.context)
            if isinstance(step, Await):
                walk.record(node, action=step.action, detail=step.detail)
                return walk.wait(node, step)
            if isinstance(step, Finish):
                walk.record(node, action=step.action, detail=step.detail)
                return walk.finish(node.element_id, step)
            walk.record(node, exit_name=step.exit, detail=step.detail)
            target = self._transitions.get((element_id, step.exit))
            if target is None:
                return walk.finish(element_id, hangup(REASON_ROUTE_END))
            element_id = target

    def _loop_guard(self, walk: _Walk, node: Node, detail: str) -> tuple[CallState, Decision]:
        finish = hangup(REASON_LOOP_GUARD, result="loop_guard", detail=detail)
        walk.record(node, action=finish.action, detail=detail)
        return walk.finish(node.element_id, finish)

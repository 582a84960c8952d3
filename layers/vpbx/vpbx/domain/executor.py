"""The step-function executor: walks a compiled scenario one telephony outcome at a time (DESIGN.md §3).

A published scenario compiles once into nodes (one per element, with its ring targets, prompts and exit fallbacks
resolved against the directory) and a transition table keyed by `(element_id, exit)`. Every step is then a handful
of dict lookups, so the cost of a transition does not depend on the size of the scenario.

Within one decision the executor evaluates elements that need no telephony (incoming call, schedule, caller list,
the CRM lookup of external routing) and stops at the first element that does: its action is the decision.

Reasons of a `hangup` action (and of a simulation's result):

- `route_end`: an exit was taken that has no arrow;
- `hangup_element`: the route reached a `hangup` element;
- `unanswered`: an element without `limit_wait` (the end of the route, per the seed) was not answered;
- `loop_guard`: more than MAX_STEPS steps in the call or MAX_CONSECUTIVE_VISITS visits in a row to one element;
- `no_entry`: the scenario has no `incoming_call` element.
"""

import random
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
    CollectAction,
    Decision,
    FaxAction,
    HangupAction,
    Outcome,
    PlayAction,
    RingAction,
    RingTarget,
    TraceStep,
    VoicemailAction,
)
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.errors import Conflict, InvalidInput
from vpbx.domain.phone import dial_delay_for_target, is_sip_uri
from vpbx.domain.scenario import (
    DEFAULT_WAIT_SECONDS,
    DIGIT_EXITS,
    CallerListCheck,
    ElementBase,
    ExternalNumber,
    ExternalRouting,
    Fax,
    Greeting,
    Group,
    Hangup,
    IncomingCall,
    InternalSubscriber,
    IvrMenu,
    Scenario,
    ScheduleCheck,
    Voicemail,
    exit_of,
)

MAX_STEPS = 1000  # Twilio Studio's caps
MAX_CONSECUTIVE_VISITS = 10

CrmLookup = Callable[[str, str | None, float], str | None]
"""(url, caller, timeout_seconds) -> the extension that should take the call, or None. May raise."""

REASON_ROUTE_END = "route_end"
REASON_HANGUP_ELEMENT = "hangup_element"
REASON_UNANSWERED = "unanswered"
REASON_LOOP_GUARD = "loop_guard"
REASON_NO_ENTRY = "no_entry"

# ------------------------------------------------------------------------------------------------ step results


@dataclass(frozen=True, slots=True)
class _Follow:
    """Leave the element by `exit`."""

    exit: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class _Await:
    """Ask telephony to perform `action` and wait for its outcome; `memory` becomes CallState.element_state."""

    action: Action
    action_json: dict[str, Any]
    memory: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Finish:
    """Routing is over: `connected`, or `ended` with a final action (voicemail, fax, hangup) or none."""

    status: CallStatus
    result: str
    action: Action | None = None
    action_json: dict[str, Any] | None = None
    detail: str | None = None


_Step = _Follow | _Await | _Finish

_CONNECTED = _Finish(status="connected", result="connected")
_CALLER_HANGUP = _Finish(status="ended", result="caller_hangup")


def _prepared(action: Action) -> tuple[Action, dict[str, Any]]:
    return action, action.model_dump(mode="json")


def _hangup(reason: str, result: str = "hangup", detail: str | None = None) -> _Finish:
    action, action_json = _prepared(HangupAction(reason=reason))
    return _Finish(status="ended", result=result, action=action, action_json=action_json, detail=detail)


_ROUTE_END = _hangup(REASON_ROUTE_END)
_UNANSWERED = _hangup(REASON_UNANSWERED)


def _awaiting(action: Action, action_json: dict[str, Any], awaiting: str, **memory: Any) -> _Await:
    return _Await(action=action, action_json=action_json, memory={"awaiting": awaiting, **memory})


@dataclass(frozen=True, slots=True)
class _Context:
    call: CallInfo
    now: datetime
    crm_lookup: CrmLookup | None


# ------------------------------------------------------------------------------------------------ nodes


class _Node:
    """One compiled element: what happens when the route enters it and when telephony reports an outcome."""

    __slots__ = ("element_id", "element_type")

    def __init__(self, element: ElementBase) -> None:
        self.element_id: str = element.id
        self.element_type: str = getattr(element, "type", type(element).__name__)

    def enter(self, context: _Context) -> _Step:
        raise NotImplementedError

    def resolve(self, context: _Context, memory: Mapping[str, Any], outcome: Outcome) -> _Step:
        raise Conflict(f"element {self.element_id!r} is not waiting for an outcome")


class _PassNode(_Node):
    __slots__ = ()

    def enter(self, context: _Context) -> _Step:
        return _Follow("next")


class _ScheduleNode(_Node):
    __slots__ = ("schedule", "schedule_id")

    def __init__(self, element: ScheduleCheck, directory: Directory) -> None:
        super().__init__(element)
        self.schedule_id = element.schedule_id
        self.schedule = directory.schedules.get(element.schedule_id)

    def enter(self, context: _Context) -> _Step:
        if self.schedule is None:
            return _Follow("closed", detail=f"unknown schedule {self.schedule_id!r} counts as closed")
        return _Follow("open" if self.schedule.is_open(context.now) else "closed")


class _CallerListNode(_Node):
    __slots__ = ("caller_list", "list_id")

    def __init__(self, element: CallerListCheck, directory: Directory) -> None:
        super().__init__(element)
        self.list_id = element.list_id
        self.caller_list = directory.caller_lists.get(element.list_id)

    def enter(self, context: _Context) -> _Step:
        if self.caller_list is None:
            return _Follow("no_match", detail=f"unknown caller list {self.list_id!r} matches nobody")
        return _Follow("match" if self.caller_list.matches(context.call.caller) else "no_match")


class _RingNode(_Node):
    """One ring of fixed targets: internal subscriber, external number, simultaneous group."""

    __slots__ = ("action", "action_json", "exit_for", "limit_wait")

    def __init__(self, element: ElementBase, action: RingAction | None, limit_wait: bool, exit_for: dict[str, str]):
        super().__init__(element)
        self.limit_wait = limit_wait
        self.exit_for = exit_for
        self.action: Action | None = None
        self.action_json: dict[str, Any] = {}
        if action is not None:
            self.action, self.action_json = _prepared(action)

    def enter(self, context: _Context) -> _Step:
        if self.action is None:
            return self._not_answered("unavailable", detail="no reachable target")
        return _awaiting(self.action, self.action_json, "ring")

    def resolve(self, context: _Context, memory: Mapping[str, Any], outcome: Outcome) -> _Step:
        if outcome.kind == "answered":
            return _CONNECTED
        return self._not_answered(outcome.kind)

    def _not_answered(self, kind: str, detail: str | None = None) -> _Step:
        if not self.limit_wait:
            return _hangup(REASON_UNANSWERED, detail=detail) if detail else _UNANSWERED
        return _Follow(self.exit_for.get(kind, "no_answer"), detail=detail)


class _SequentialNode(_Node):
    """A group that rings its members one at a time, in order or in a per-call random order."""

    __slots__ = ("last_actions", "limit_wait", "member_actions", "members", "shuffle")

    def __init__(
        self,
        group: Group,
        members: dict[str, tuple[RingAction, RingAction]],  # extension -> (limited ring, ring until answered)
    ) -> None:
        super().__init__(group)
        self.limit_wait = group.limit_wait
        self.shuffle = group.strategy == "random"
        self.members = tuple(members)
        self.member_actions = {ext: _prepared(limited) for ext, (limited, _) in members.items()}
        self.last_actions = {ext: _prepared(unlimited) for ext, (_, unlimited) in members.items()}

    def enter(self, context: _Context) -> _Step:
        order = list(self.members)
        if self.shuffle:
            # Seeded by the call, so a replay or a simulation of the same call rings in the same order.
            random.Random(f"{context.call.call_id}/{self.element_id}").shuffle(order)
        return self._ring(order, 0) or self._exhausted(detail="no reachable member")

    def resolve(self, context: _Context, memory: Mapping[str, Any], outcome: Outcome) -> _Step:
        if outcome.kind == "answered":
            return _CONNECTED
        order = list(memory.get("order", ()))
        return self._ring(order, int(memory.get("index", 0)) + 1) or self._exhausted()

    def _ring(self, order: list[str], index: int) -> _Await | None:
        while index < len(order):
            extension = order[index]
            is_last = index == len(order) - 1
            prepared = (self.member_actions if self.limit_wait or not is_last else self.last_actions).get(extension)
            if prepared is not None:
                return _awaiting(*prepared, "ring", order=order, index=index)
            index += 1  # a member that is not in this version's directory: skip it
        return None

    def _exhausted(self, detail: str | None = None) -> _Step:
        if not self.limit_wait:
            return _hangup(REASON_UNANSWERED, detail=detail)
        return _Follow("no_answer", detail=detail)


class _GreetingNode(_Node):
    __slots__ = ("action", "action_json")

    def __init__(self, element: Greeting) -> None:
        super().__init__(element)
        self.action, self.action_json = _prepared(PlayAction(prompt=element.prompt))

    def enter(self, context: _Context) -> _Step:
        return _awaiting(self.action, self.action_json, "play")

    def resolve(self, context: _Context, memory: Mapping[str, Any], outcome: Outcome) -> _Step:
        return _Follow("next")


class _MenuNode(_Node):
    """IVR: collect a digit; an unconnected digit is invalid; retries replay the menu, then `invalid`/`timeout`."""

    __slots__ = ("connected_digits", "invalid_prompt", "max_retries", "prompt")

    def __init__(self, menu: IvrMenu, connected_digits: frozenset[str]) -> None:
        super().__init__(menu)
        self.max_retries = menu.max_retries
        self.connected_digits = connected_digits
        self.prompt = _prepared(
            CollectAction(prompt=menu.prompt, max_digits=menu.max_digits, timeout_seconds=menu.timeout_seconds)
        )
        self.invalid_prompt = self.prompt
        if menu.invalid_prompt is not None:
            self.invalid_prompt = _prepared(
                CollectAction(
                    prompt=menu.invalid_prompt, max_digits=menu.max_digits, timeout_seconds=menu.timeout_seconds
                )
            )

    def enter(self, context: _Context) -> _Step:
        return _awaiting(*self.prompt, "collect", retries=0)

    def resolve(self, context: _Context, memory: Mapping[str, Any], outcome: Outcome) -> _Step:
        if outcome.kind == "digits" and outcome.digits in self.connected_digits:
            return _Follow(outcome.digits)
        failure = "invalid" if outcome.kind == "digits" else "timeout"
        retries = int(memory.get("retries", 0)) + 1
        if retries > self.max_retries:
            return _Follow(failure, detail=f"{failure} after {self.max_retries} retries")
        prompt = self.invalid_prompt if failure == "invalid" else self.prompt
        return _awaiting(*prompt, "collect", retries=retries)


class _CrmNode(_Node):
    """External routing: ask the tenant's CRM for an extension, then ring it for `wait_seconds`."""

    __slots__ = ("directory", "sip_domain", "timeout_seconds", "url", "wait_seconds")

    def __init__(self, element: ExternalRouting, directory: Directory, sip_domain: str | None) -> None:
        super().__init__(element)
        self.url = element.url
        self.timeout_seconds = element.timeout_seconds
        self.wait_seconds = element.wait_seconds if element.wait_seconds is not None else DEFAULT_WAIT_SECONDS
        self.directory = directory
        self.sip_domain = sip_domain

    def enter(self, context: _Context) -> _Step:
        if context.crm_lookup is None:
            return _Follow("not_found", detail="no CRM lookup available")
        try:
            extension = context.crm_lookup(self.url, context.call.caller, self.timeout_seconds)
        except Exception as exc:  # the tenant's CRM is outside our control: any failure means "not found"
            return _Follow("not_found", detail=f"CRM lookup failed: {type(exc).__name__}")
        if not isinstance(extension, str) or not extension:
            return _Follow("not_found", detail="CRM returned no extension")
        subscriber = self.directory.subscribers.get(extension)
        target = _subscriber_target(subscriber, self.sip_domain) if subscriber else None
        if target is None:
            return _Follow("not_found", detail=f"CRM returned extension {extension[:16]!r}, unknown or disabled")
        ring = RingAction(targets=[target], timeout_seconds=self.wait_seconds + target.dial_delay_seconds)
        return _awaiting(*_prepared(ring), "ring", extension=extension)

    def resolve(self, context: _Context, memory: Mapping[str, Any], outcome: Outcome) -> _Step:
        return _CONNECTED if outcome.kind == "answered" else _Follow("no_answer")


class _FinalNode(_Node):
    """voicemail, fax, hangup: one last action and the route is over."""

    __slots__ = ("finish",)

    def __init__(self, element: ElementBase, action: Action, result: str) -> None:
        super().__init__(element)
        action, action_json = _prepared(action)
        self.finish = _Finish(status="ended", result=result, action=action, action_json=action_json)

    def enter(self, context: _Context) -> _Step:
        return self.finish


# ------------------------------------------------------------------------------------------------ compilation


def _subscriber_target(subscriber: Subscriber, sip_domain: str | None) -> RingTarget | None:
    if not subscriber.enabled:
        return None
    if subscriber.kind == "internal":
        uri = subscriber.sip_uri or (f"sip:{subscriber.extension}@{sip_domain}" if sip_domain else None)
        return RingTarget(extension=subscriber.extension, uri=uri, dial_delay_seconds=subscriber.dial_delay)
    target = subscriber.target or ""
    uri, number = (target, None) if is_sip_uri(target) else (None, target)
    return RingTarget(extension=subscriber.extension, uri=uri, number=number, dial_delay_seconds=subscriber.dial_delay)


def _ring_timeout(limit_wait: bool, wait_seconds: int | None, targets: list[RingTarget]) -> int | None:
    if not limit_wait:
        return None
    wait = wait_seconds if wait_seconds is not None else DEFAULT_WAIT_SECONDS
    return wait + max((t.dial_delay_seconds for t in targets), default=0)


def _ring_exits(element: ElementBase, transitions: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """Which exit each non-answer outcome takes: the finer exit when it exists and is connected, else no_answer."""

    def finer(exit_name: str) -> str:
        offered = exit_name in element.exits()
        return exit_name if offered and (element.id, exit_name) in transitions else "no_answer"

    return {
        "no_answer": "no_answer",
        "busy": finer("busy"),
        "unavailable": finer("unavailable"),
        "failed": finer("unavailable"),
    }


class _Compiler:
    def __init__(self, directory: Directory, sip_domain: str | None, transitions: Mapping[tuple[str, str], str]):
        self.directory = directory
        self.sip_domain = sip_domain
        self.transitions = transitions

    def node(self, element: ElementBase) -> _Node:
        if isinstance(element, IncomingCall):
            return _PassNode(element)
        if isinstance(element, InternalSubscriber | ExternalNumber):
            return self._ringing(element)
        if isinstance(element, Group):
            return self._group(element)
        if isinstance(element, ScheduleCheck):
            return _ScheduleNode(element, self.directory)
        if isinstance(element, CallerListCheck):
            return _CallerListNode(element, self.directory)
        if isinstance(element, Greeting):
            return _GreetingNode(element)
        if isinstance(element, IvrMenu):
            connected = frozenset(d for d in DIGIT_EXITS if (element.id, d) in self.transitions)
            return _MenuNode(element, connected)
        if isinstance(element, ExternalRouting):
            return _CrmNode(element, self.directory, self.sip_domain)
        if isinstance(element, Voicemail):
            return _FinalNode(element, VoicemailAction(mailbox=element.mailbox), "voicemail")
        if isinstance(element, Fax):
            return _FinalNode(element, FaxAction(extension=element.extension), "fax")
        if isinstance(element, Hangup):
            return _FinalNode(element, HangupAction(reason=REASON_HANGUP_ELEMENT), "hangup")
        raise InvalidInput(f"element {element.id!r}: unknown element type {type(element).__name__}")

    def target_of(self, extension: str) -> RingTarget | None:
        subscriber = self.directory.subscribers.get(extension)
        return _subscriber_target(subscriber, self.sip_domain) if subscriber else None

    def _ringing(self, element: InternalSubscriber | ExternalNumber) -> _RingNode:
        if isinstance(element, InternalSubscriber):
            target = self.target_of(element.extension)
        else:
            address = element.number or element.sip_uri
            target = RingTarget(
                number=element.number, uri=element.sip_uri, dial_delay_seconds=dial_delay_for_target(address)
            )
        targets = [target] if target else []
        action = None
        if targets:
            action = RingAction(
                targets=targets, timeout_seconds=_ring_timeout(element.limit_wait, element.wait_seconds, targets)
            )
        return _RingNode(element, action, element.limit_wait, _ring_exits(element, self.transitions))

    def _group(self, group: Group) -> _Node:
        members = {ext: target for ext in dict.fromkeys(group.members) if (target := self.target_of(ext))}
        if group.strategy == "simultaneous":
            targets = list(members.values())
            action = None
            if targets:
                timeout = _ring_timeout(group.limit_wait, group.wait_seconds, targets)
                action = RingAction(targets=targets, strategy="simultaneous", timeout_seconds=timeout)
            return _RingNode(group, action, group.limit_wait, _ring_exits(group, self.transitions))
        rings = {
            ext: (
                RingAction(
                    targets=[t], strategy=group.strategy, timeout_seconds=_ring_timeout(True, group.wait_seconds, [t])
                ),
                RingAction(targets=[t], strategy=group.strategy, timeout_seconds=None),
            )
            for ext, t in members.items()
        }
        return _SequentialNode(group, rings)


@dataclass(frozen=True)
class CompiledScenario:
    """A scenario resolved against its directory: nodes by element id and transitions by (element id, exit)."""

    entry: str | None
    transitions: Mapping[tuple[str, str], str]
    nodes: Mapping[str, _Node]
    elements: Mapping[str, ElementBase]
    scenario_id: str | None = None
    version: int | None = None
    sip_domain: str | None = None
    directory: Directory = field(default_factory=Directory)

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
) -> CompiledScenario:
    """Compile once per published version. Garbage (dangling arrows, duplicate ids) is tolerated: first one wins."""
    elements: dict[str, ElementBase] = {}
    for element in scenario.elements:
        elements.setdefault(element.id, element)
    transitions: dict[tuple[str, str], str] = {}
    for connection in scenario.connections:
        source = elements.get(connection.from_)
        exit_name = exit_of(connection, source) if source is not None else None
        if exit_name is not None and connection.to in elements:
            transitions.setdefault((connection.from_, exit_name), connection.to)
    compiler = _Compiler(directory, sip_domain, transitions)
    entry = next((e.id for e in elements.values() if isinstance(e, IncomingCall)), None)
    return CompiledScenario(
        entry=entry,
        transitions=MappingProxyType(transitions),
        nodes=MappingProxyType({element_id: compiler.node(e) for element_id, e in elements.items()}),
        elements=MappingProxyType(elements),
        scenario_id=scenario_id,
        version=version,
        sip_domain=sip_domain,
        directory=directory,
    )


# ------------------------------------------------------------------------------------------------ execution


class _Walk:
    """The bookkeeping of one decision: step counters, loop guard and the trace steps it appends."""

    __slots__ = ("consecutive_element", "consecutive_visits", "context", "seq", "state", "steps", "steps_total")

    def __init__(self, state: CallState, context: _Context) -> None:
        self.state = state
        self.context = context
        self.seq = state.seq + 1
        self.steps: list[TraceStep] = []
        self.steps_total = state.steps_total
        self.consecutive_element = state.consecutive_element
        self.consecutive_visits = state.consecutive_visits

    def record(
        self,
        node: _Node,
        *,
        action_json: dict[str, Any] | None = None,
        outcome: str | None = None,
        exit_name: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.steps.append(
            TraceStep(
                seq=self.seq,
                element_id=node.element_id,
                element_type=node.element_type,
                action=action_json,
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

    def wait(self, node: _Node, step: _Await) -> tuple[CallState, Decision]:
        state = self._state(status="in_progress", element_id=node.element_id, element_state=step.memory)
        return state, self._decision(step.action, "in_progress")

    def finish(self, element_id: str | None, step: _Finish) -> tuple[CallState, Decision]:
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
    ) -> None:
        self._compiled = compiled
        self._nodes = compiled.nodes
        self._transitions = compiled.transitions
        self._clock = clock
        self._crm_lookup = crm_lookup

    def start(self, call: CallInfo) -> tuple[CallState, Decision]:
        """The first decision of a new call (seq 1), pinned to the compiled scenario's id and version."""
        state = CallState(
            call=call,
            scenario_id=self._compiled.scenario_id,
            version=self._compiled.version,
            seq=0,
            status="in_progress",
        )
        walk = _Walk(state, self._context(call))
        entry = self._compiled.entry
        if entry is None:
            return walk.finish(None, _hangup(REASON_NO_ENTRY))
        return self._enter(walk, entry)

    def advance(self, state: CallState, outcome: Outcome) -> tuple[CallState, Decision]:
        """The decision that follows telephony's `outcome` for the action pending in `state` (seq + 1)."""
        node, memory = self._pending(state, outcome)
        walk = _Walk(state, self._context(state.call))
        if outcome.kind == "caller_hangup":
            walk.record(node, outcome="caller_hangup")
            return walk.finish(node.element_id, _CALLER_HANGUP)
        step = node.resolve(walk.context, memory, outcome)
        if isinstance(step, _Follow):
            walk.record(node, outcome=_outcome_text(outcome), exit_name=step.exit, detail=step.detail)
            return self._follow(walk, node, step.exit)
        walk.record(node, outcome=_outcome_text(outcome), detail=step.detail if isinstance(step, _Finish) else None)
        if isinstance(step, _Finish):
            return walk.finish(node.element_id, step)
        # The element goes on by itself (menu replay, next group member): one more step, same visit.
        guard = walk.count_step()
        if guard is not None:
            return self._loop_guard(walk, node, guard)
        walk.record(node, action_json=step.action_json)
        return walk.wait(node, step)

    # ---------------------------------------------------------------------------------------------------------

    def _context(self, call: CallInfo) -> _Context:
        return _Context(call=call, now=self._clock(), crm_lookup=self._crm_lookup)

    def _pending(self, state: CallState, outcome: Outcome) -> tuple[_Node, Mapping[str, Any]]:
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

    def _follow(self, walk: _Walk, node: _Node, exit_name: str) -> tuple[CallState, Decision]:
        target = self._transitions.get((node.element_id, exit_name))
        if target is None:
            return walk.finish(node.element_id, _ROUTE_END)
        return self._enter(walk, target)

    def _enter(self, walk: _Walk, element_id: str) -> tuple[CallState, Decision]:
        """Visit elements from `element_id` on until one needs telephony or the route ends."""
        while True:
            node = self._nodes[element_id]
            guard = walk.count_visit(element_id)
            if guard is not None:
                return self._loop_guard(walk, node, guard)
            step = node.enter(walk.context)
            if isinstance(step, _Await):
                walk.record(node, action_json=step.action_json)
                return walk.wait(node, step)
            if isinstance(step, _Finish):
                walk.record(node, action_json=step.action_json, detail=step.detail)
                return walk.finish(node.element_id, step)
            walk.record(node, exit_name=step.exit, detail=step.detail)
            target = self._transitions.get((element_id, step.exit))
            if target is None:
                return walk.finish(element_id, _ROUTE_END)
            element_id = target

    def _loop_guard(self, walk: _Walk, node: _Node, detail: str) -> tuple[CallState, Decision]:
        finish = _hangup(REASON_LOOP_GUARD, result="loop_guard", detail=detail)
        walk.record(node, action_json=finish.action_json, detail=detail)
        return walk.finish(node.element_id, finish)

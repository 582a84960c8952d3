"""What executor nodes share: step results, the node base, and the contexts of compilation and of one decision.

A node answers two questions: what happens when the route enters its element (`enter`), and what happens when
telephony reports the outcome of the action it asked for (`resolve`). Either answer is a step: follow an exit,
await telephony, or finish the routing.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from vpbx.domain.calls import Action, CallInfo, CallStatus, HangupAction, Outcome, RingTarget
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.errors import Conflict
from vpbx.domain.phone import is_sip_uri

if TYPE_CHECKING:
    from vpbx.domain.elements.base import ElementBase
    from vpbx.domain.queues import QueueDesk

CrmLookup = Callable[[str, str | None, float], str | None]
"""(url, caller, timeout_seconds) -> the extension that should take the call, or None. May raise."""

MAX_CRM_LOOKUPS_PER_DECISION = 3
MAX_CRM_LOOKUPS_PER_CALL = 10
MAX_CRM_SECONDS_PER_DECISION = 6.0  # the calls function times out at 10 s: DynamoDB and the answer keep 4 s
MIN_CRM_LOOKUP_SECONDS = 0.5  # less than this left of the budget: no lookup is worth starting

REASON_ROUTE_END = "route_end"
REASON_HANGUP_ELEMENT = "hangup_element"
REASON_UNANSWERED = "unanswered"
REASON_LOOP_GUARD = "loop_guard"
REASON_NO_ENTRY = "no_entry"


# Plain slotted classes rather than dataclasses: every function imports this module at cold start (through the
# element catalogue), and building a dataclass costs about a millisecond.


class Follow:
    """Leave the element by `exit`."""

    __slots__ = ("detail", "exit")

    def __init__(self, exit: str, detail: str | None = None) -> None:
        self.exit = exit
        self.detail = detail


class Await:
    """Ask telephony to perform `action` and wait for its outcome; `memory` becomes CallState.element_state.
    `detail` says why, when an element goes on by itself (a direct dial, an entry that is no choice)."""

    __slots__ = ("action", "detail", "memory")

    def __init__(self, action: Action, memory: dict[str, Any], detail: str | None = None) -> None:
        self.action = action
        self.memory = memory
        self.detail = detail


class Finish:
    """Routing is over: `connected`, or `ended` with a final action (voicemail, fax, hangup) or none."""

    __slots__ = ("action", "detail", "result", "status")

    def __init__(
        self, status: CallStatus, result: str, action: Action | None = None, detail: str | None = None
    ) -> None:
        self.status: CallStatus = status
        self.result = result
        self.action = action
        self.detail = detail


Step = Follow | Await | Finish

CONNECTED = Finish(status="connected", result="connected")


def hangup(reason: str, result: str = "hangup", detail: str | None = None) -> Finish:
    if detail is None and result == "hangup":
        return _plain_hangup(reason)
    return Finish(status="ended", result=result, action=HangupAction(reason=reason), detail=detail)


@cache  # built on first use: a model instance at import would build its validator in every cold start
def _plain_hangup(reason: str) -> Finish:
    return Finish(status="ended", result="hangup", action=HangupAction(reason=reason))


def awaiting(action: Action, awaits: str, **memory: Any) -> Await:
    return Await(action=action, memory={"awaiting": awaits, **memory})


class RunContext:
    """One decision's view of the call: who calls, the time, and the CRM with its lookup budget.

    A CRM lookup may take seconds, and a route can cross external routing elements several times without waiting
    for telephony (their `not_found` exit is instant), so lookups are capped per decision and per call.
    """

    __slots__ = (
        "call",
        "crm_lookup",
        "crm_lookups_in_call",
        "crm_lookups_in_decision",
        "crm_seconds_left",
        "now",
        "queue_desk",
    )

    def __init__(
        self,
        call: CallInfo,
        now: datetime,
        crm_lookup: CrmLookup | None,
        crm_lookups_in_call: int,
        queue_desk: "QueueDesk | None" = None,
    ) -> None:
        self.call = call
        self.now = now
        self.crm_lookup = crm_lookup
        self.queue_desk = queue_desk  # the ACD, bound to the call's tenant; None: queues have no agents
        self.crm_lookups_in_call = crm_lookups_in_call
        self.crm_lookups_in_decision = 0
        self.crm_seconds_left = MAX_CRM_SECONDS_PER_DECISION

    def crm_allowance(self, wanted_seconds: float) -> tuple[float, str | None]:
        """The timeout a CRM lookup may have now (counted against the budgets), or 0 and why none is allowed.

        The decision's time budget is spent by the timeouts granted, so it holds however slow the CRM is."""
        if self.crm_lookups_in_decision >= MAX_CRM_LOOKUPS_PER_DECISION:
            return 0, f"CRM lookup skipped: already {MAX_CRM_LOOKUPS_PER_DECISION} in this decision"
        if self.crm_lookups_in_call >= MAX_CRM_LOOKUPS_PER_CALL:
            return 0, f"CRM lookup skipped: already {MAX_CRM_LOOKUPS_PER_CALL} in this call"
        granted = min(wanted_seconds, self.crm_seconds_left)
        if granted < MIN_CRM_LOOKUP_SECONDS:
            return 0, f"CRM lookup skipped: this decision's {MAX_CRM_SECONDS_PER_DECISION:g} s of lookups are spent"
        self.crm_seconds_left -= granted
        self.crm_lookups_in_decision += 1
        self.crm_lookups_in_call += 1
        return granted, None


class Node:
    """One compiled element: what happens when the route enters it and when telephony reports an outcome."""

    __slots__ = ("element_id", "element_type")

    def __init__(self, element: "ElementBase") -> None:
        self.element_id: str = element.id
        self.element_type: str = getattr(element, "type", type(element).__name__)

    def enter(self, context: RunContext) -> Step:
        raise NotImplementedError

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        raise Conflict(f"element {self.element_id!r} is not waiting for an outcome")

    def abandon(self, context: RunContext, memory: Mapping[str, Any]) -> None:
        """The caller hung up while this element waited for telephony: release what the element holds (a queue
        leaves its line). Routing ends anyway."""


class PassNode(Node):
    """An element that only leads on: the entry."""

    __slots__ = ()

    def enter(self, context: RunContext) -> Step:
        return Follow("next")


class FinalNode(Node):
    """One last action and the route is over."""

    __slots__ = ("finish",)

    def __init__(self, element: "ElementBase", action: Action, result: str) -> None:
        super().__init__(element)
        self.finish = Finish(status="ended", result=result, action=action)

    def enter(self, context: RunContext) -> Step:
        return self.finish


class CompileContext:
    """What compiling an element may use: the directory, the SIP domain of internal phones, and the graph's arrows."""

    __slots__ = ("directory", "next_of", "sip_domain")

    def __init__(self, directory: Directory, sip_domain: str | None, next_of: Mapping[tuple[str, str], str]) -> None:
        self.directory = directory
        self.sip_domain = sip_domain
        self.next_of = next_of  # (element id, exit) -> the element the arrow leads to

    def connected(self, element_id: str, exit_name: str) -> bool:
        return (element_id, exit_name) in self.next_of

    def target_of(self, extension: str) -> RingTarget | None:
        subscriber = self.directory.subscribers.get(extension)
        return subscriber_target(subscriber, self.sip_domain) if subscriber else None

    def unreachable(self, extension: str) -> tuple[str, str] | None:
        """Why `extension` cannot be rung now: (the outcome it counts as, the words for the trace); None when it can.
        A disabled employee is away (no_answer); one missing from the directory cannot be reached (unavailable)."""
        subscriber = self.directory.subscribers.get(extension)
        if subscriber is None:
            return "unavailable", f"subscriber {extension} is not in the directory"
        if not subscriber.enabled:
            return "no_answer", f"subscriber {extension} is disabled"
        return None


def subscriber_target(subscriber: Subscriber, sip_domain: str | None) -> RingTarget | None:
    """How to ring a subscriber: its device's SIP URI, or its external number/URI; None when disabled."""
    if not subscriber.enabled:
        return None
    if subscriber.kind == "internal":
        uri = subscriber.sip_uri or (f"sip:{subscriber.extension}@{sip_domain}" if sip_domain else None)
        return RingTarget(extension=subscriber.extension, uri=uri, dial_delay_seconds=subscriber.dial_delay)
    target = subscriber.target or ""
    uri, number = (target, None) if is_sip_uri(target) else (None, target)
    return RingTarget(extension=subscriber.extension, uri=uri, number=number, dial_delay_seconds=subscriber.dial_delay)

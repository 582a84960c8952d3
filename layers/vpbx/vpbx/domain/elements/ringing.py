"""Elements that ring: an internal subscriber, an external number, a group of subscribers.

The seed's rule: without `limit_wait` an element rings until answered and ends the route; with it, it rings for
`wait_seconds` (plus the target's network dial delay) and then leaves by `no_answer`, or by the finer `busy` /
`unavailable` exits when they are connected.
"""

import random
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from vpbx.domain.base import Extension
from vpbx.domain.calls import Action, Outcome, RingAction, RingTarget
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import MAX_RING_SECONDS, CheckContext, ElementBase, References, shorten
from vpbx.domain.elements.ring_rules import (
    check_subscribers,
    check_wait,
    e164_problem,
    ring_timeout,
    subscriber_delay,
    subscriber_dial_delays,
    target_delay,
    unlimited_reason,
    wait_or_default,
    wait_text,
)
from vpbx.domain.elements.steps import (
    CONNECTED,
    REASON_UNANSWERED,
    Await,
    CompileContext,
    Follow,
    Node,
    RunContext,
    Step,
    awaiting,
    hangup,
)
from vpbx.domain.phone import dial_delay_for_target, is_sip_uri


class _Ringing(ElementBase):
    limit_wait: bool = False
    wait_seconds: int | None = Field(default=None, ge=0, le=MAX_RING_SECONDS)
    waits: ClassVar[bool] = True
    awaits: ClassVar[str | None] = "ring"
    shape: ClassVar[tuple[str, str]] = ("[", "]")  # rectangle

    def exits(self) -> tuple[str, ...]:
        return ("no_answer", "busy", "unavailable") if self.limit_wait else ()

    def optional_exits(self) -> tuple[str, ...]:
        return ("busy", "unavailable")

    def terminal_reason(self) -> str:
        return unlimited_reason(self.limit_wait)

    def dial_delays(self, directory: Directory | None) -> list[tuple[str, str, int]]:
        """(field, target description, dial delay) for each external/mobile target the element rings."""
        return subscriber_dial_delays(self.ring_extensions(), directory)

    def _single_ring(
        self,
        element: ElementBase,
        target: RingTarget | None,
        context: CompileContext,
        unreachable: tuple[str, str] | None = None,
    ) -> Node:
        action = None
        if target is not None:
            timeout = ring_timeout(self.limit_wait, self.wait_seconds, [target])
            action = RingAction(targets=[target], timeout_seconds=timeout)
        return RingNode(element, action, self.limit_wait, ring_exits(element, context), unreachable)


class InternalSubscriber(_Ringing):
    type: Literal["internal_subscriber"]
    extension: Extension

    def ring_extensions(self) -> tuple[str, ...]:
        return (self.extension,)

    def check(self, context: CheckContext) -> None:
        check_wait(self, self.limit_wait, context, self.dial_delays)
        check_subscribers(self, (self.extension,), context)

    def compile(self, context: CompileContext) -> Node:
        target = context.target_of(self.extension)
        return self._single_ring(self, target, context, context.unreachable(self.extension))

    def describe(self) -> str:
        return f"Subscriber {self.extension} ({wait_text(self.limit_wait, self.wait_seconds)})"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        return wait_or_default(self.wait_seconds) + subscriber_delay(self.extension, directory)

    def references(self) -> References:
        return References(extensions=frozenset({self.extension}))


class ExternalNumber(_Ringing):
    type: Literal["external_number"]
    number: str | None = Field(default=None, max_length=32)
    sip_uri: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _number_or_uri(self) -> "ExternalNumber":
        if bool(self.number) == bool(self.sip_uri):
            raise ValueError("an external_number has either number (E.164) or sip_uri")
        return self

    @property
    def address(self) -> str:
        return self.number or self.sip_uri or ""

    def dial_delays(self, directory: Directory | None) -> list[tuple[str, str, int]]:
        return [("number" if self.number else "sip_uri", self.address, target_delay(self.address))]

    def check(self, context: CheckContext) -> None:
        check_wait(self, self.limit_wait, context, self.dial_delays)
        reason = e164_problem(self.number) if self.number else None
        if reason is not None:
            context.add(
                "invalid_phone_number",
                f"external_number '{self.id}': {reason} (use E.164, e.g. +74951234567)",
                element_id=self.id,
                field="number",
            )
        if self.sip_uri and not is_sip_uri(self.sip_uri):
            context.add(
                "invalid_sip_uri",
                f"external_number '{self.id}': {shorten(self.sip_uri)!r} is not a SIP URI (sip:user@host)",
                element_id=self.id,
                field="sip_uri",
            )

    def compile(self, context: CompileContext) -> Node:
        target = RingTarget(
            number=self.number, uri=self.sip_uri, dial_delay_seconds=dial_delay_for_target(self.number or self.sip_uri)
        )
        return self._single_ring(self, target, context)

    def describe(self) -> str:
        return f"External {self.number or self.sip_uri} ({wait_text(self.limit_wait, self.wait_seconds)})"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        return wait_or_default(self.wait_seconds) + dial_delay_for_target(self.number or self.sip_uri)

    def references(self) -> References:
        return References()


class Group(ElementBase):
    type: Literal["group"]
    members: list[Extension] = Field(min_length=1, max_length=50)
    strategy: Literal["simultaneous", "sequential", "random"] = "simultaneous"
    limit_wait: bool = True
    wait_seconds: int | None = Field(default=None, ge=0, le=MAX_RING_SECONDS)
    waits: ClassVar[bool] = True
    awaits: ClassVar[str | None] = "ring"
    shape: ClassVar[tuple[str, str]] = ("[", "]")

    def exits(self) -> tuple[str, ...]:
        return ("no_answer",) if self.limit_wait else ()

    def ring_extensions(self) -> tuple[str, ...]:
        return tuple(self.members)

    def terminal_reason(self) -> str:
        return unlimited_reason(self.limit_wait)

    def dial_delays(self, directory: Directory | None) -> list[tuple[str, str, int]]:
        return subscriber_dial_delays(self.members, directory, _member_field)

    def check(self, context: CheckContext) -> None:
        check_wait(self, self.limit_wait, context, self.dial_delays, paces_members=True)
        check_subscribers(self, self.members, context, _member_field)

    def compile(self, context: CompileContext) -> Node:
        """Members are rung as the directory is now: disabled or missing ones are skipped (the trace says which)."""
        members = {ext: target for ext in dict.fromkeys(self.members) if (target := context.target_of(ext))}
        reasons = [why[1] for ext in dict.fromkeys(self.members) if (why := context.unreachable(ext))]
        skipped = ("not rung: " + "; ".join(reasons)) if reasons else None
        if self.strategy == "simultaneous":
            targets = list(members.values())
            action = None
            if targets:
                timeout = ring_timeout(self.limit_wait, self.wait_seconds, targets)
                action = RingAction(targets=targets, strategy="simultaneous", timeout_seconds=timeout)
            unreachable = ("no_answer", skipped) if skipped else None
            return RingNode(self, action, self.limit_wait, ring_exits(self, context), unreachable)
        rings = {
            ext: (
                RingAction(
                    targets=[t], strategy=self.strategy, timeout_seconds=ring_timeout(True, self.wait_seconds, [t])
                ),
                RingAction(targets=[t], strategy=self.strategy, timeout_seconds=None),
            )
            for ext, t in members.items()
        }
        return _SequentialNode(self, rings, skipped)

    def describe(self) -> str:
        return f"Group {'/'.join(self.members)}, {self.strategy} ({wait_text(self.limit_wait, self.wait_seconds)})"

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        delays = [subscriber_delay(member, directory) for member in self.members]
        wait = wait_or_default(self.wait_seconds)
        if self.strategy == "simultaneous":
            return wait + max(delays, default=0)
        return sum(wait + delay for delay in delays)

    def references(self) -> References:
        return References(extensions=frozenset(self.members))


def _member_field(position: int) -> str:
    return f"members.{position}"


def ring_exits(element: ElementBase, context: CompileContext) -> dict[str, str]:
    """Which exit each non-answer outcome takes: the finer exit when it exists and is connected, else no_answer."""
    offered = element.exits()

    def finer(exit_name: str) -> str:
        return exit_name if exit_name in offered and context.connected(element.id, exit_name) else "no_answer"

    return {
        "no_answer": "no_answer",
        "busy": finer("busy"),
        "unavailable": finer("unavailable"),
        "failed": finer("unavailable"),
    }


# ------------------------------------------------------------------------------------------------ nodes


class RingNode(Node):
    """One ring of fixed targets: internal subscriber, external number, simultaneous group.

    With nothing to ring the element is left at once, without telephony: a disabled subscriber by `no_answer` (the
    employee is away: as if nobody answered), one missing from the directory (deleted while a call was in flight) by
    `unavailable` (which falls back to `no_answer` when it has no arrow). `unreachable` says why, in the trace.
    """

    __slots__ = ("action", "exit_for", "limit_wait", "unreachable")

    def __init__(
        self,
        element: ElementBase,
        action: RingAction | None,
        limit_wait: bool,
        exit_for: dict[str, str],
        unreachable: tuple[str, str] | None = None,  # (the outcome it counts as, why) of what is not rung
    ):
        super().__init__(element)
        self.limit_wait = limit_wait
        self.exit_for = exit_for
        self.action: Action | None = action
        self.unreachable = unreachable

    def enter(self, context: RunContext) -> Step:
        outcome, why = self.unreachable or ("unavailable", "no reachable target")
        if self.action is None:
            return self._not_answered(outcome, detail=why)
        return Await(self.action, {"awaiting": "ring"}, why if self.unreachable else None)

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        if outcome.kind == "answered":
            return CONNECTED
        return self._not_answered(outcome.kind)

    def _not_answered(self, kind: str, detail: str | None = None) -> Step:
        if not self.limit_wait:
            return hangup(REASON_UNANSWERED, detail=detail)
        return Follow(self.exit_for.get(kind, "no_answer"), detail=detail)


class _SequentialNode(Node):
    """A group that rings its members one at a time, in order or in a per-call random order."""

    __slots__ = ("last_actions", "limit_wait", "member_actions", "members", "shuffle", "skipped")

    def __init__(
        self,
        group: Group,
        members: dict[str, tuple[RingAction, RingAction]],  # extension -> (limited ring, ring until answered)
        skipped: str | None = None,  # which members are not rung and why, for the trace
    ) -> None:
        super().__init__(group)
        self.skipped = skipped
        self.limit_wait = group.limit_wait
        self.shuffle = group.strategy == "random"
        self.members = tuple(members)
        self.member_actions = {ext: limited for ext, (limited, _) in members.items()}
        self.last_actions = {ext: unlimited for ext, (_, unlimited) in members.items()}

    def enter(self, context: RunContext) -> Step:
        order = list(self.members)
        if self.shuffle:
            # Seeded by the call, so a replay or a simulation of the same call rings in the same order.
            random.Random(f"{context.call.call_id}/{self.element_id}").shuffle(order)
        first = self._ring(order, 0)
        if first is None:
            return self._exhausted(detail=self.skipped or "no reachable member")
        return Await(first.action, first.memory, self.skipped)

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        if outcome.kind == "answered":
            return CONNECTED
        order = list(memory.get("order", ()))
        return self._ring(order, int(memory.get("index", 0)) + 1) or self._exhausted()

    def _ring(self, order: list[str], index: int) -> Await | None:
        while index < len(order):
            extension = order[index]
            is_last = index == len(order) - 1
            action = (self.member_actions if self.limit_wait or not is_last else self.last_actions).get(extension)
            if action is not None:
                return awaiting(action, "ring", order=order, index=index)
            index += 1  # a member that is not in this version's directory: skip it
        return None

    def _exhausted(self, detail: str | None = None) -> Step:
        if not self.limit_wait:
            return hangup(REASON_UNANSWERED, detail=detail)
        return Follow("no_answer", detail=detail)

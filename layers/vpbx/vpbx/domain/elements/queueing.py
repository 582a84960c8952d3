"""The queue element (MCN «Очередь»): the caller waits in line for a queue's agents (docs/CALLS.md, Queues).

The element names a queue of the directory; the ACD behind RunContext.queue_desk (domain/queues.py, QueueDesk) keeps
the line and the agents' state, and this node only translates its verdicts into actions:

- `wait` → `enqueue` (hold, report `waiting` every poll_seconds, a position announcement now and then);
- `offer` → `ring` of the offered agents for member_ring_seconds (plus their network's dial delay); answered:
  connected; not answered: the desk puts the caller back in line and says what next;
- `full` / `no_agents` → those exits, in the decision that entered the element (no telephony);
- `timeout` once the caller has waited max_wait_seconds (checked at each report), leaving the line.

Only ringable members (enabled subscribers of the directory) are agents: the desk is handed the queue with those
members alone, so it never offers a caller to someone the switch cannot ring. A caller who hangs up leaves the line
at once (`abandon`).
"""

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

from vpbx.domain.base import ResourceId
from vpbx.domain.calls import EnqueueAction, Outcome, RingAction, RingTarget
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import DIAL_DELAY_MARGIN_SECONDS, CheckContext, ElementBase, Prompt, References
from vpbx.domain.elements.ring_rules import subscriber_delay
from vpbx.domain.elements.steps import Await, CompileContext, Finish, Follow, Node, RunContext, Step
from vpbx.domain.queues import Queue, QueueDesk, QueueVerdict

TIMEOUT, NO_AGENTS, FULL = "timeout", "no_agents", "full"


class QueueElement(ElementBase):
    """Callers wait in line for the agents of queue `queue_id`; answered: connected."""

    type: Literal["queue"]
    queue_id: ResourceId
    waits: ClassVar[bool] = True
    instant_exits: ClassVar[tuple[str, ...]] = (NO_AGENTS, FULL)  # decided by the desk on entry, without telephony
    awaits: ClassVar[str | None] = "enqueue"
    shape: ClassVar[tuple[str, str]] = ("[/", "\\]")  # trapezoid: a line that narrows to an agent

    def exits(self) -> tuple[str, ...]:
        return (TIMEOUT, NO_AGENTS, FULL)

    def awaited(self) -> tuple[str, ...]:
        return ("enqueue", "ring")

    def check(self, context: CheckContext) -> None:
        directory = context.directory
        if directory is None:
            return
        queue = directory.queues.get(self.queue_id)
        if queue is None:
            context.add(
                "unknown_queue",
                f"queue '{self.id}' refers to queue '{self.queue_id}', which does not exist",
                element_id=self.id,
                field="queue_id",
            )
            return
        _check_members(self, queue, directory, context)
        _check_timing(self, queue, directory, context)

    def compile(self, context: CompileContext) -> Node:
        return QueueNode(self, context)

    def describe(self) -> str:
        return f"Queue {self.queue_id}"

    def describe_in(self, directory: Directory | None) -> str:
        queue = directory.queues.get(self.queue_id) if directory is not None else None
        return f"Queue {describe_queue(queue)}" if queue is not None else self.describe()

    def worst_case_seconds(self, exit_name: str, directory: Directory) -> float:
        """`timeout`: the whole max wait, plus an offer that started just before it ran out (the slowest member's
        network delay included). `no_agents` and `full` are decided on entry."""
        queue = directory.queues.get(self.queue_id)
        if queue is None or exit_name != TIMEOUT:
            return 0
        slowest = max((subscriber_delay(extension, directory) for extension in queue.extensions), default=0)
        return queue.max_wait_seconds + queue.member_ring_seconds + slowest

    def references(self) -> References:
        return References(queues=frozenset({self.queue_id}))


def describe_queue(queue: Queue) -> str:
    """The queue's key facts for a diagram label: name, strategy, max wait."""
    return f"{queue.name} ({queue.strategy}, max wait {queue.max_wait_seconds} s)"


def _check_members(element: QueueElement, queue: Queue, directory: Directory, context: CheckContext) -> None:
    if not queue.members:
        context.add(
            "empty_queue",
            f"queue '{element.id}': queue '{queue.id}' has no members, so every caller takes no_agents",
            element_id=element.id,
            field="queue_id",
        )
        return
    for extension in queue.extensions:
        subscriber = directory.subscribers.get(extension)
        if subscriber is None or not subscriber.enabled:
            who = f"member {extension}" if subscriber is None else f"member {extension} ({subscriber.name})"
            why = "is not in the directory" if subscriber is None else "is disabled"
            context.add(
                "queue_member_not_ringable",
                f"queue '{element.id}': {who} of queue '{queue.id}' {why}; it is never offered a call",
                element_id=element.id,
                field="queue_id",
            )


def _check_timing(element: QueueElement, queue: Queue, directory: Directory, context: CheckContext) -> None:
    where = f"queue '{element.id}': queue '{queue.id}'"
    if queue.member_ring_seconds > queue.max_wait_seconds:
        context.add(
            "queue_timing",
            f"{where} rings an agent {queue.member_ring_seconds} s but lets callers wait only "
            f"{queue.max_wait_seconds} s: one unanswered offer outlasts the whole wait",
            element_id=element.id,
            field="queue_id",
        )
    if queue.poll_seconds > queue.max_wait_seconds:
        context.add(
            "queue_timing",
            f"{where} is polled every {queue.poll_seconds} s but callers wait at most {queue.max_wait_seconds} s",
            element_id=element.id,
            field="queue_id",
        )
    for extension in queue.extensions:
        delay = subscriber_delay(extension, directory)
        if delay and queue.member_ring_seconds < delay + DIAL_DELAY_MARGIN_SECONDS:
            context.add(
                "wait_below_dial_delay",
                f"{where} rings member {extension} {queue.member_ring_seconds} s, but its network needs about "
                f"{delay} s to start ringing; allow at least {delay + DIAL_DELAY_MARGIN_SECONDS} s",
                element_id=element.id,
                field="queue_id",
            )


# ------------------------------------------------------------------------------------------------ the node


class QueueNode(Node):
    """Translates the desk's verdicts for one caller into enqueue and ring actions, and back into exits."""

    __slots__ = ("queue", "queue_id", "skipped", "targets")

    def __init__(self, element: QueueElement, context: CompileContext) -> None:
        super().__init__(element)
        self.queue_id = element.queue_id
        queue = context.directory.queues.get(element.queue_id)
        self.targets: dict[str, RingTarget] = {}
        unringable: list[str] = []
        for extension in queue.extensions if queue else ():
            target = context.target_of(extension)
            if target is None:
                unringable.append(extension)
            else:
                self.targets[extension] = target
        # The desk sees only the members the switch can ring, so it never offers a caller to anyone else.
        self.queue: Queue | None = (
            queue.model_copy(update={"members": [m for m in queue.members if m.extension in self.targets]})
            if queue is not None
            else None
        )
        self.skipped = f"not agents (disabled or not subscribers): {', '.join(unringable)}" if unringable else None

    # ---------------------------------------------------------------------------------------- node protocol

    def enter(self, context: RunContext) -> Step:
        queue, desk = self.queue, context.queue_desk
        if queue is None:
            return Follow(NO_AGENTS, detail=f"queue {self.queue_id!r} is not in the directory")
        if not queue.members:
            return Follow(NO_AGENTS, detail=f"queue {self.queue_id!r} has no ringable member")
        if desk is None:
            return Follow(NO_AGENTS, detail="no queue desk (ACD) is available")
        verdict = desk.join(queue, context.call.call_id, context.now)
        step = self._answer(context, desk, queue, verdict, _Progress(context.now, None))
        if self.skipped is not None and not isinstance(step, Finish):
            step.detail = f"{step.detail}; {self.skipped}" if step.detail else self.skipped
        return step

    def resolve(self, context: RunContext, memory: Mapping[str, Any], outcome: Outcome) -> Step:
        queue, desk = self.queue, context.queue_desk
        if queue is None or desk is None:
            return Follow(NO_AGENTS, detail="the queue or its desk is gone")
        progress = _Progress.of(memory, context.now)
        call_id = context.call.call_id
        if memory.get("awaiting") == "ring":
            offered = [str(extension) for extension in memory.get("offered", ())]
            if outcome.kind == "answered":
                return self._answered(context, desk, queue, offered, outcome)
            if progress.waited(context.now) >= queue.max_wait_seconds:
                return self._time_out(context, desk, queue, progress)
            verdict = desk.declined(queue, call_id, offered, context.now)
            return self._answer(context, desk, queue, verdict, progress)
        if outcome.kind == "failed":
            desk.leave(queue, call_id, context.now)
            return Follow(TIMEOUT, detail="telephony could not hold the caller (enqueue failed); left the queue")
        if progress.waited(context.now) >= queue.max_wait_seconds:
            return self._time_out(context, desk, queue, progress)
        return self._answer(context, desk, queue, desk.poll(queue, call_id, context.now), progress)

    def abandon(self, context: RunContext, memory: Mapping[str, Any]) -> None:
        """The caller hung up: out of the line at once, any offer withdrawn."""
        if self.queue is not None and context.queue_desk is not None:
            context.queue_desk.leave(self.queue, context.call.call_id, context.now)

    # ---------------------------------------------------------------------------------------- verdicts

    def _answer(
        self, context: RunContext, desk: QueueDesk, queue: Queue, verdict: QueueVerdict, progress: "_Progress"
    ) -> Step:
        if verdict.kind == "offer":
            ring = self._ring(verdict.extensions, queue)
            if ring is not None:
                offered = [target.extension for target in ring.targets if target.extension]
                memory = {"awaiting": "ring", "queue_id": queue.id, "offered": offered, **progress.memory()}
                return Await(ring, memory, detail=f"offered to {', '.join(offered)}")
            # An agent this node cannot ring (the directory changed under the desk): hand it back, wait our turn.
            verdict = desk.declined(queue, context.call.call_id, verdict.extensions, context.now)
            if verdict.kind == "offer":
                verdict = QueueVerdict(kind="wait", position=1)
        if verdict.kind == "wait":
            return self._wait(queue, verdict, progress, context.now)
        if verdict.kind == FULL:
            return Follow(FULL, detail=f"queue {queue.id!r} is full ({queue.max_waiting} waiting)")
        return Follow(NO_AGENTS, detail=f"no member of queue {queue.id!r} can take calls")

    def _wait(self, queue: Queue, verdict: QueueVerdict, progress: "_Progress", now: datetime) -> Await:
        position = verdict.position or 1
        announce = None
        announced_at = progress.announced_at
        rules = queue.announcements
        if rules.enabled and (announced_at is None or (now - announced_at).total_seconds() >= rules.every_seconds):
            estimate = verdict.estimated_wait_seconds if rules.include_estimated_wait else None
            announce = position_announcement(position, estimate, queue.hold_prompt)
            announced_at = now
        left = queue.max_wait_seconds - progress.waited(now)
        action = EnqueueAction(
            queue_id=queue.id,
            position=position,
            estimated_wait_seconds=verdict.estimated_wait_seconds,
            hold_prompt=queue.hold_prompt,
            poll_seconds=max(1, min(queue.poll_seconds, math.ceil(left))),  # the last report lands on the limit
            announce=announce,
        )
        memory = {"awaiting": "enqueue", "queue_id": queue.id, **_Progress(progress.joined_at, announced_at).memory()}
        detail = f"position {position} in queue {queue.id}" + (
            f", about {verdict.estimated_wait_seconds} s to go" if verdict.estimated_wait_seconds is not None else ""
        )
        return Await(action, memory, detail=detail)

    def _ring(self, extensions: Sequence[str], queue: Queue) -> RingAction | None:
        targets = [self.targets[extension] for extension in extensions if extension in self.targets]
        if not targets:
            return None
        delay = max(target.dial_delay_seconds for target in targets)
        return RingAction(
            targets=targets,
            strategy="simultaneous" if len(targets) > 1 else "single",
            timeout_seconds=queue.member_ring_seconds + delay,
        )

    def _answered(
        self, context: RunContext, desk: QueueDesk, queue: Queue, offered: list[str], outcome: Outcome
    ) -> Finish:
        claimed = outcome.extension
        agent = claimed if claimed in offered else (offered[0] if offered else claimed or "")
        desk.answered(queue, context.call.call_id, agent, context.now)
        detail = f"agent {agent} answered"
        if claimed is None and len(offered) > 1:
            detail += f" (telephony did not say which of {', '.join(offered)} answered; counted as the first)"
        return Finish(status="connected", result="connected", detail=detail)

    def _time_out(self, context: RunContext, desk: QueueDesk, queue: Queue, progress: "_Progress") -> Follow:
        desk.leave(queue, context.call.call_id, context.now)
        waited = int(progress.waited(context.now))
        return Follow(TIMEOUT, detail=f"waited {waited} s of queue {queue.id}'s max {queue.max_wait_seconds} s")


def position_announcement(position: int, estimated_wait_seconds: int | None, hold_prompt: Prompt | None) -> Prompt:
    """ "You are number 3 in line. Estimated wait: about 2 minutes." — spoken in the hold prompt's voice, if any."""
    text = f"You are number {position} in line."
    if estimated_wait_seconds is not None:
        minutes = max(1, math.ceil(estimated_wait_seconds / 60))
        text += f" Estimated wait: about {minutes} minute{'s' if minutes > 1 else ''}."
    voice = hold_prompt.voice if hold_prompt is not None and hold_prompt.text else None
    return Prompt(text=text, voice=voice)


class _Progress:
    """When the caller joined and was last told its position; kept in the call state as ISO timestamps."""

    __slots__ = ("announced_at", "joined_at")

    def __init__(self, joined_at: datetime, announced_at: datetime | None) -> None:
        self.joined_at = joined_at
        self.announced_at = announced_at

    @classmethod
    def of(cls, memory: Mapping[str, Any], now: datetime) -> "_Progress":
        joined = _instant(memory.get("joined_at")) or now
        return cls(joined, _instant(memory.get("announced_at")))

    def waited(self, now: datetime) -> float:
        return (now - self.joined_at).total_seconds()

    def memory(self) -> dict[str, Any]:
        announced = self.announced_at.isoformat() if self.announced_at is not None else None
        return {"joined_at": self.joined_at.isoformat(), "announced_at": announced}


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None

"""The ACD: the QueueDesk (domain/queues.py) of one tenant over the queue state store (docs/CALLS.md, Queues).

Each operation reads the queue's state (one consistent GetItem), applies the rules of domain/acd.py, and writes the
result only when something changed (a conditional Put, or a TransactWriteItems with the agents it claims or frees).
A report that changes nothing (a caller polling its place while every agent is busy) costs the one read.

Races: a lost write (another report of the same queue wrote first) is redone on the fresh state; an agent another
queue holds is marked so (until that hold lapses) and the step is redone without it. After MAX_ATTEMPTS the caller is
told to keep waiting at its last known place — never an error: its next report tries again.
"""

import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import Field

from vpbx.domain import acd
from vpbx.domain.acd import AgentHold, LiveState, QueueState, Step
from vpbx.domain.base import LazyModel
from vpbx.domain.errors import NotFound
from vpbx.domain.queues import Queue, QueueDesk, QueueVerdict
from vpbx.store.ports import AgentHeld, QueueStateMoved, QueueStateStore

if TYPE_CHECKING:
    from vpbx.store.models import Versioned

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10


class _Operation(Protocol):
    def __call__(self, state: QueueState) -> Step: ...


class WaitingOut(LazyModel):
    call_id: str
    position: int = Field(description="1 is next")
    waited_seconds: int
    offered_to: list[str] = Field(description="The agents ringing (or about to ring) for this caller; empty: waiting")


class MemberOut(LazyModel):
    extension: str
    state: LiveState = Field(
        description="idle, ringing (offered a call), busy (on a queue call, or another queue's), "
        "wrap-up (resting after a call), paused"
    )
    since: datetime = Field(description="When this queue last saw the agent's state change")
    calls_taken: int = Field(description="Queue calls answered (what fewest_calls counts)")


class QueueLiveOut(LazyModel):
    """A queue now: who waits in which order, and what its agents do."""

    queue_id: str
    at: datetime
    waiting: list[WaitingOut]
    members: list[MemberOut]


class StoredQueueDesk(QueueDesk):
    """One tenant's ACD over a QueueStateStore (DynamoDB in the functions, memory in unit tests)."""

    def __init__(self, store: QueueStateStore, tenant_id: str, rng: random.Random | None = None) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.rng = rng
        self.lost_writes = 0  # for tests and the bench: writes redone after a lost race

    # ------------------------------------------------------------------------------------------ the QueueDesk
    def join(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        at = acd.epoch(now)
        return self._verdict(queue, call_id, at, lambda state: acd.join(state, queue, call_id, at, self.rng))

    def poll(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        at = acd.epoch(now)
        return self._verdict(queue, call_id, at, lambda state: acd.poll(state, queue, call_id, at, self.rng))

    def declined(self, queue: Queue, call_id: str, extensions: Sequence[str], now: datetime) -> QueueVerdict:
        at = acd.epoch(now)
        rung = tuple(extensions)
        return self._verdict(queue, call_id, at, lambda state: acd.declined(state, queue, call_id, rung, at, self.rng))

    def answered(self, queue: Queue, call_id: str, extension: str, now: datetime) -> None:
        at = acd.epoch(now)
        self._run(queue.id, at, lambda state: acd.answered(state, queue, call_id, extension, at))

    def leave(self, queue: Queue, call_id: str, now: datetime) -> None:
        at = acd.epoch(now)
        self._run(queue.id, at, lambda state: acd.leave(state, queue, call_id, at))

    def call_ended(self, extension: str, call_id: str, now: datetime) -> None:
        """The agent's hold names the queue that connected the call (and its wrap-up); no hold of this call: a no-op."""
        at = acd.epoch(now)
        hold = self.store.read_agent_hold(self.tenant_id, extension)
        if hold is None or hold.call_id != call_id:
            return
        self._run(hold.queue_id, at, lambda state: acd.call_ended(state, extension, call_id, hold, at))

    # ------------------------------------------------------------------------------------------ agents and live view
    def set_paused(self, queue: Queue, extension: str, paused: bool, now: datetime) -> None:
        at = acd.epoch(now)
        self._run(queue.id, at, lambda state: acd.set_paused(state, queue, extension, paused, at))

    def live(self, queue: Queue, now: datetime) -> QueueLiveOut:
        state, _ = self.store.read_queue_state(self.tenant_id, queue.id)
        at = acd.epoch(now)
        present = [caller for caller in state.line if not acd.gone(caller, queue, at)]
        waiting = [
            WaitingOut(
                call_id=caller.call_id,
                position=index + 1,
                waited_seconds=max(0, int(at - caller.joined_at)),
                offered_to=list(caller.offered_to),
            )
            for index, caller in enumerate(present)
        ]
        members = []
        for extension in queue.extensions:
            member = state.members.get(extension)
            members.append(
                MemberOut(
                    extension=extension,
                    state=acd.live_state(member, at),
                    since=datetime.fromtimestamp(member.since if member else at, now.tzinfo),
                    calls_taken=member.calls_taken if member else 0,
                )
            )
        return QueueLiveOut(queue_id=queue.id, at=now, waiting=waiting, members=members)

    # ------------------------------------------------------------------------------------------ the write loop
    def _verdict(self, queue: Queue, call_id: str, at: float, operation: _Operation) -> QueueVerdict:
        step = self._run(queue.id, at, operation)
        if step is not None and step.verdict is not None:
            return step.verdict
        return self._keep_waiting(queue, call_id)

    def _run(self, queue_id: str, at: float, operation: _Operation) -> Step | None:
        """Read, step, write when changed; redo on a lost race. None when every attempt lost."""
        held: dict[str, AgentHold | None] = {}
        state, version = self.store.read_queue_state(self.tenant_id, queue_id)
        for attempt in range(MAX_ATTEMPTS):
            began = time.perf_counter()
            for extension, hold in held.items():
                state = acd.mark_held_elsewhere(state, extension, hold, at)
            step = operation(state)
            claims = [c for c in step.final_claims() if c.state == "ringing" or c.extension not in held]
            if not step.changed and not claims and not held:
                return step
            try:
                self.store.write_queue_state(self.tenant_id, queue_id, step.state, version, claims, at)
                return step
            except QueueStateMoved:
                self.lost_writes += 1
                # back off by about one round trip per lost attempt, jittered: contenders spread out
                time.sleep(random.uniform(0, (time.perf_counter() - began) * (attempt + 1)))
                state, version = self.store.read_queue_state(self.tenant_id, queue_id)
            except AgentHeld as lost:
                self.lost_writes += 1
                hold = lost.hold or self.store.read_agent_hold(self.tenant_id, lost.extension)
                held[lost.extension] = hold
        logger.warning("queue state write lost %d times; the caller keeps waiting", MAX_ATTEMPTS)
        return None

    def _keep_waiting(self, queue: Queue, call_id: str) -> QueueVerdict:
        state, _ = self.store.read_queue_state(self.tenant_id, queue.id)
        position = acd.position_of(state, call_id) or len(state.line) + 1
        return QueueVerdict("wait", position=position)


class QueueLookup(Protocol):
    """The queue directory object (store/ports.py DirectoryStore.get_queue)."""

    def get_queue(self, tenant_id: str, queue_id: str) -> "Versioned[Queue]": ...


class QueueLivePorts(QueueLookup, QueueStateStore, Protocol):
    """What the live view and pause need: the queue object and its live state."""


class QueueLiveService:
    """`GET /v1/queues/{id}/live` and pause/unpause of a member, for one tenant (the authorizer's)."""

    def __init__(self, repository: QueueLivePorts, tenant_id: str, clock: Callable[[], datetime]) -> None:
        self.repository = repository
        self.tenant_id = tenant_id
        self.clock = clock
        self.desk = StoredQueueDesk(repository, tenant_id)

    def live(self, queue_id: str) -> QueueLiveOut:
        return self.desk.live(self._queue(queue_id), self.clock())

    def set_paused(self, queue_id: str, extension: str, paused: bool) -> MemberOut:
        """Idempotent; NotFound for an unknown queue or an extension that is not one of its members."""
        queue = self._queue(queue_id)
        if extension not in queue.extensions:
            raise NotFound(f"{extension} is not a member of queue {queue_id}")
        now = self.clock()
        self.desk.set_paused(queue, extension, paused, now)
        return next(member for member in self.desk.live(queue, now).members if member.extension == extension)

    def _queue(self, queue_id: str) -> Queue:
        return self.repository.get_queue(self.tenant_id, queue_id).item

"""Queues (MCN «Очередь»): callers wait in line for a group of agents; the API is the ACD (docs/CALLS.md, Queues).

This module is the contract between the `queue` element (domain/elements/queueing.py), the simulation, and the ACD
that keeps the live line and the agents' state (service/acd.py on the store's queue state):

- `Queue` is the directory object (`/v1/queues`); a scenario's `queue` element names one by id, resolved live at
  call start like subscribers and schedules.
- `QueueDesk` is the port through which the element asks the ACD what happens to one caller. It is bound to one
  tenant by whoever builds it, and idempotent per call id: asking twice for one call (a redelivered `waiting`
  report, a lost race) gives the same verdict and never a second offer.
- `order_agents` is the strategies' one definition: which free agents to offer a caller to, in which order.
"""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, get_args

from pydantic import Field, model_validator

from vpbx.domain.base import Extension, Name, ResourceId, StrictModel
from vpbx.domain.elements.base import Prompt

QueueStrategy = Literal["ring_all", "round_robin", "least_recent", "fewest_calls", "random"]
QUEUE_STRATEGIES: tuple[str, ...] = get_args(QueueStrategy)

MAX_QUEUE_MEMBERS = 50
MAX_QUEUE_WAITING = 200
MIN_POLL_SECONDS = 5
MAX_POLL_SECONDS = 60


class QueueMember(StrictModel):
    """An agent of the queue: a subscriber's extension; lower `priority` is offered first (0 is the default)."""

    extension: Extension
    priority: int = Field(default=0, ge=0, le=9)


class PositionAnnouncements(StrictModel):
    """Tell a waiting caller its place in line (and the estimated wait) every `every_seconds`."""

    enabled: bool = False
    every_seconds: int = Field(default=60, ge=15, le=600)
    include_estimated_wait: bool = True


class Queue(StrictModel):
    """A call queue: its agents, how they are chosen, and how long callers may wait."""

    id: ResourceId
    name: Name
    members: list[QueueMember] = Field(default_factory=list, max_length=MAX_QUEUE_MEMBERS)
    strategy: QueueStrategy = "ring_all"
    member_ring_seconds: int = Field(default=20, ge=5, le=120, description="How long one offer rings an agent")
    max_wait_seconds: int = Field(default=300, ge=10, le=3600, description="Then the caller takes the timeout exit")
    wrapup_seconds: int = Field(default=10, ge=0, le=600, description="An agent's rest after each queue call")
    max_waiting: int = Field(default=20, ge=1, le=MAX_QUEUE_WAITING, description="Callers in line; more: `full`")
    poll_seconds: int = Field(
        default=10, ge=MIN_POLL_SECONDS, le=MAX_POLL_SECONDS, description="How often telephony reports `waiting`"
    )
    hold_prompt: Prompt | None = Field(default=None, description="What the caller hears while waiting")
    announcements: PositionAnnouncements = Field(default_factory=PositionAnnouncements)

    @model_validator(mode="after")
    def _members_once(self) -> "Queue":
        extensions = [member.extension for member in self.members]
        if len(set(extensions)) != len(extensions):
            raise ValueError("each extension may be a member once")
        return self

    @property
    def extensions(self) -> tuple[str, ...]:
        return tuple(member.extension for member in self.members)


# ---------------------------------------------------------------------------------------------------- the ACD port

VerdictKind = Literal["wait", "offer", "full", "no_agents"]


@dataclass(frozen=True)
class QueueVerdict:
    """What happens to a caller now.

    - `wait`: stay in line at `position` (1 = next), about `estimated_wait_seconds` to go (None: unknown);
    - `offer`: ring `extensions` (one agent, or every free agent for ring_all); the caller keeps its place meanwhile;
    - `full`: the line holds max_waiting callers already (only on join);
    - `no_agents`: no member can take calls (none, or all paused/disabled) — the caller is not kept in line.
    """

    kind: VerdictKind
    position: int | None = None
    estimated_wait_seconds: int | None = None
    extensions: tuple[str, ...] = ()


class QueueDesk(Protocol):
    """The ACD as the `queue` element sees it. Every method is idempotent per (queue, call id)."""

    def join(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        """The caller enters the line (FIFO by arrival); an immediate offer when an agent is free and nobody waits
        ahead."""
        ...

    def poll(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        """A `waiting` report: the caller's position, or an offer when its turn has come and an agent is free."""
        ...

    def declined(self, queue: Queue, call_id: str, extensions: Sequence[str], now: datetime) -> QueueVerdict:
        """The offer rang out (no_answer, busy, unavailable, failed): those agents are free again (a busy one stays
        busy by its own call), the caller is back in line at its original place; the next verdict follows."""
        ...

    def answered(self, queue: Queue, call_id: str, extension: str, now: datetime) -> None:
        """`extension` took the call: the caller leaves the line, the agent is busy until the call is completed,
        the other agents offered this caller (ring_all) are free."""
        ...

    def leave(self, queue: Queue, call_id: str, now: datetime) -> None:
        """The caller left without an agent (hung up, timed out): out of the line at once, offers withdrawn."""
        ...

    def call_ended(self, extension: str, call_id: str, now: datetime) -> None:
        """A queue call `extension` answered was completed: the agent rests wrapup_seconds, then is idle."""
        ...


# ---------------------------------------------------------------------------------------------------- strategies


@dataclass(frozen=True)
class AgentFacts:
    """What the strategies read of one free agent."""

    extension: str
    priority: int = 0
    last_call_ended_at: datetime | None = None  # least_recent: longest idle first (never: first of all)
    calls_taken: int = 0  # fewest_calls: answered queue calls (the ACD's own count, per queue)


def order_agents(
    queue: Queue,
    free: Mapping[str, AgentFacts],
    *,
    last_offered: str | None = None,
    rng: random.Random | None = None,
) -> tuple[str, ...]:
    """The free agents to offer the next caller to, in offer order; `ring_all` rings all of them at once, the other
    strategies ring the first. Lower priority goes first in every strategy; ties follow the strategy, then member
    order. `last_offered`: the agent round_robin served last (it continues after it, in member order)."""
    members = [member.extension for member in queue.members if member.extension in free]
    if not members:
        return ()
    best = min(free[extension].priority for extension in members)
    tier = [extension for extension in members if free[extension].priority == best]
    if queue.strategy == "ring_all":
        return tuple(tier)
    if queue.strategy == "round_robin":
        order = [member.extension for member in queue.members]
        start = order.index(last_offered) + 1 if last_offered in order else 0
        rotated = order[start:] + order[:start]
        return tuple(extension for extension in rotated if extension in tier)
    if queue.strategy == "least_recent":
        never = datetime.min.replace(tzinfo=None)
        return tuple(
            sorted(tier, key=lambda e: (free[e].last_call_ended_at or never).replace(tzinfo=None))  # stable
        )
    if queue.strategy == "fewest_calls":
        return tuple(sorted(tier, key=lambda e: free[e].calls_taken))
    chooser = rng if rng is not None else random.Random()
    shuffled = list(tier)
    chooser.shuffle(shuffled)
    return tuple(shuffled)

"""Queues in a simulation: a scripted agent availability on the simulated clock, behind an in-memory QueueDesk.

A simulation runs one call, so the desk keeps one caller's line. The script says, per queue, when each agent is free
(`agents`: spans of seconds since the call started), whether an agent picks up when offered the caller (`answers`),
and how many callers are already waiting ahead (`ahead`):

```json
{"support": {"agents": {"101": [[0, 60]], "102": [[30, 300]]}, "answers": {"101": false}, "ahead": 1}}
```

- an agent is offered the caller when it is free at a report (`waiting`) and nobody waits ahead; the strategy picks
  among free agents (domain/queues.py, order_agents: ring_all rings all of them, the others one);
- callers ahead are served first: each free agent found at a report takes one of them and is busy for the rest of
  that free span; with `ahead` ≥ the queue's max_waiting the line is `full`;
- an offered agent answers unless `answers` says false (then the offer rings out, no_answer, and the caller is back
  in line); an agent not listed in `agents` is never free; a queue without a script has no free agent at all, so
  its caller waits max_wait_seconds and takes `timeout` (as an unscripted ring goes unanswered).
"""

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from vpbx.domain.base import Extension, StrictModel
from vpbx.domain.calls import Outcome
from vpbx.domain.queues import MAX_QUEUE_MEMBERS, MAX_QUEUE_WAITING, AgentFacts, Queue, QueueVerdict, order_agents

MAX_SPANS_PER_AGENT = 20  # x 50 agents x 1,000 steps bounds the work of one simulation
MAX_SIMULATED_SECONDS = 86_400.0

# [from, to]: a two-number list rather than a tuple, whose `prefixItems` schema some client generators reject.
FreeSpan = Annotated[list[float], Field(min_length=2, max_length=2)]


class QueueScript(StrictModel):
    """How one queue's agents behave in a simulation, on the simulated clock (seconds since the call started)."""

    agents: dict[Extension, list[FreeSpan]] = Field(
        default_factory=dict,
        max_length=MAX_QUEUE_MEMBERS,
        description="Extension -> the spans [from, to) of simulated seconds since the call started when that agent "
        'is free, e.g. {"101": [[0, 60]], "102": [[30, 300]]}. An agent not listed is never free.',
        json_schema_extra={"additionalProperties": False},
    )
    answers: dict[Extension, bool] = Field(
        default_factory=dict,
        max_length=MAX_QUEUE_MEMBERS,
        description="Extension -> whether that agent picks up when offered the caller (default true); false: the "
        "offer rings out (no_answer) and the caller is back in line.",
        json_schema_extra={"additionalProperties": False},
    )
    ahead: int = Field(
        default=0,
        ge=0,
        le=MAX_QUEUE_WAITING,
        description="Callers already waiting when this one joins; each free agent takes one of them first. With "
        "the queue's max_waiting of them the line is full.",
    )

    @model_validator(mode="after")
    def _spans_make_sense(self) -> "QueueScript":
        for extension, spans in self.agents.items():
            if len(spans) > MAX_SPANS_PER_AGENT:
                raise ValueError(f"agent {extension}: at most {MAX_SPANS_PER_AGENT} free spans")
            for start, end in spans:
                if not 0 <= start < end <= MAX_SIMULATED_SECONDS:
                    raise ValueError(
                        f"agent {extension}: span [{start:g}, {end:g}] must satisfy 0 ≤ from < to ≤ "
                        f"{MAX_SIMULATED_SECONDS:g}"
                    )
        return self


NO_SCRIPT = QueueScript()


class ScriptedDesk:
    """A QueueDesk for one simulated call: agents free per their scripted spans; pure and deterministic."""

    def __init__(self, scripts: Mapping[str, QueueScript], started_at: datetime) -> None:
        self._scripts = scripts
        self._started_at = started_at
        self._ahead = {queue_id: script.ahead for queue_id, script in scripts.items()}
        self._taken: set[tuple[str, str, int]] = set()  # (queue, agent, span index) serving a caller ahead
        self._last_offered: dict[str, str] = {}

    # ---------------------------------------------------------------------------------------- QueueDesk

    def join(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        if not queue.members:
            return QueueVerdict(kind="no_agents")
        if self._ahead.get(queue.id, 0) >= queue.max_waiting:
            return QueueVerdict(kind="full")
        return self.poll(queue, call_id, now)

    def poll(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        free = self._free(queue, now)
        rng = random.Random(f"{call_id}/{queue.id}/{now.isoformat()}")  # seeded: the same run, the same offers
        while free and self._ahead.get(queue.id, 0) > 0:  # callers ahead take free agents first
            extension, span = free.pop(order_agents(queue, _facts(queue, free), rng=rng)[0])
            self._taken.add((queue.id, extension, span))
            self._ahead[queue.id] -= 1
        if self._ahead.get(queue.id, 0) > 0 or not free:
            return QueueVerdict(kind="wait", position=self._ahead.get(queue.id, 0) + 1)
        order = order_agents(queue, _facts(queue, free), last_offered=self._last_offered.get(queue.id), rng=rng)
        offered = order if queue.strategy == "ring_all" else order[:1]
        self._last_offered[queue.id] = offered[-1]
        return QueueVerdict(kind="offer", extensions=offered)

    def declined(self, queue: Queue, call_id: str, extensions: Sequence[str], now: datetime) -> QueueVerdict:
        return self.poll(queue, call_id, now)

    def answered(self, queue: Queue, call_id: str, extension: str, now: datetime) -> None:
        pass

    def leave(self, queue: Queue, call_id: str, now: datetime) -> None:
        pass

    def call_ended(self, extension: str, call_id: str, now: datetime) -> None:
        pass

    # ---------------------------------------------------------------------------------------- telephony's side

    def offer_outcome(self, queue_id: str, offered: Sequence[str]) -> Outcome:
        """What telephony reports for a ring of `offered`: the first agent who picks up answers, else no_answer."""
        answers = self._scripts.get(queue_id, NO_SCRIPT).answers
        for extension in offered:
            if answers.get(extension, True):
                return Outcome(kind="answered", extension=extension)
        return Outcome(kind="no_answer")

    # ---------------------------------------------------------------------------------------- helpers

    def _free(self, queue: Queue, now: datetime) -> dict[str, tuple[str, int]]:
        """Free agents of `queue` now: extension -> (extension, the index of the span it is free in)."""
        second = (now - self._started_at).total_seconds()
        spans = self._scripts.get(queue.id, NO_SCRIPT).agents
        free: dict[str, tuple[str, int]] = {}
        for extension in queue.extensions:
            for index, (start, end) in enumerate(spans.get(extension, ())):
                if start <= second < end and (queue.id, extension, index) not in self._taken:
                    free[extension] = (extension, index)
                    break
        return free


def _facts(queue: Queue, free: Mapping[str, object]) -> dict[str, AgentFacts]:
    """What the strategies read of the free agents: their priority (a simulation has no call history)."""
    return {m.extension: AgentFacts(m.extension, m.priority) for m in queue.members if m.extension in free}

"""The ACD's rules on one queue's live state, pure (no storage): who waits in which order, which agent is offered to
whom, when an agent is free again (docs/CALLS.md, Queues → How the ACD works).

Every operation of the QueueDesk (domain/queues.py) is a function `(QueueState, Queue, call, now) -> Step`: the new
state, the verdict for the caller, and the `AgentClaim`s, i.e. the changes to the agents' cross-queue holds that must
be written atomically with the state (service/acd.py does the read → step → conditional write loop).

- The line is kept in arrival order; an offer goes to the earliest caller that has none, so nobody is overtaken
  (priority only orders the agents). Offers are made on any write (a join, a poll, a decline…) to the callers at the
  head; the caller learns of its offer at its next report, which marks it ringing.
- A caller whose offer is never collected (no report within poll_seconds + GRACE_SECONDS) or never answered (ringing
  longer than member_ring_seconds + the slowest network's dial delay + GRACE_SECONDS), or who outstays
  max_wait_seconds, has gone without telling: it is dropped from the line and its agents are freed, so a crashed
  telephony node cannot block a queue.
- An agent is held from its offer until the call is completed plus wrapup_seconds; a hold always lapses by itself
  (`until`), so a lost report frees the agent at last (a connected call after BUSY_CAP_SECONDS).
"""

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vpbx.domain.phone import DIAL_DELAY_SECONDS
from vpbx.domain.queues import AgentFacts, Queue, QueueVerdict, order_agents

GRACE_SECONDS = 15  # slack for telephony's report to arrive after a poll interval or a ring time
RING_SLACK_SECONDS = max(DIAL_DELAY_SECONDS.values())  # the element rings member_ring_seconds + the dial delay
RETRY_SECONDS = 5  # an agent that let an offer ring out (or was busy) rests this long before the next offer
BUSY_CAP_SECONDS = 4 * 3600  # a connected call whose `completed` never came frees its agent after this long
HANDLE_TIME_WEIGHT = 0.2  # the estimate's talk-time average: new = weight * last call + (1 - weight) * old

MemberStatus = Literal["idle", "ringing", "busy", "wrapup", "elsewhere"]
LiveState = Literal["idle", "ringing", "busy", "wrap-up", "paused"]
HoldState = Literal["ringing", "busy", "wrapup", "free"]
_LIVE_STATES: dict[MemberStatus, LiveState] = {
    "idle": "idle",
    "ringing": "ringing",
    "busy": "busy",
    "wrapup": "wrap-up",
    "elsewhere": "busy",  # another queue's call
}


class _Compact(BaseModel):
    """Stored as JSON in one item: short field names keep a full line (MAX_QUEUE_WAITING) small."""

    # built on first use, like LazyModel: the calls function imports this, and most calls never meet a queue
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="ignore", defer_build=True)


class WaitingCaller(_Compact):
    call_id: str = Field(alias="c")
    joined_at: float = Field(alias="j")  # epoch seconds; times are floats to keep the item small
    offered_to: list[str] = Field(default_factory=list, alias="o")
    offered_at: float | None = Field(default=None, alias="t")
    ringing_since: float | None = Field(default=None, alias="r")  # the caller collected its offer (telephony rings)


class MemberState(_Compact):
    status: MemberStatus = Field(default="idle", alias="s")
    paused: bool = Field(default=False, alias="p")
    call_id: str | None = Field(default=None, alias="c")  # the call it is offered to / talking on
    since: float = Field(default=0.0, alias="t")
    until: float | None = Field(default=None, alias="u")  # the status lapses then (idle: not offered before)
    calls_taken: int = Field(default=0, alias="n")
    last_call_ended_at: float | None = Field(default=None, alias="e")


class QueueState(_Compact):
    line: list[WaitingCaller] = Field(default_factory=list, alias="l")
    members: dict[str, MemberState] = Field(default_factory=dict, alias="m")
    last_offered: str | None = Field(default=None, alias="rr")  # round_robin continues after it
    handle_seconds: float | None = Field(default=None, alias="h")  # average talk time, for the wait estimate


@dataclass(frozen=True)
class AgentClaim:
    """A change to an agent's cross-queue hold, written with the queue's state or not at all: allowed when the agent
    is free (no hold, or a lapsed one) or held by this queue for `call_id` already."""

    extension: str
    call_id: str
    state: HoldState
    until: float  # the hold lapses then; 0 for `free`
    wrapup_seconds: int = 0


@dataclass(frozen=True)
class AgentHold:
    """An agent's hold as stored: which queue and call hold it, how, until when."""

    queue_id: str
    call_id: str
    state: HoldState
    until: float
    wrapup_seconds: int = 0

    def active(self, now: float) -> bool:
        return self.state != "free" and self.until > now


@dataclass
class Step:
    """The result of one operation: the new state, the caller's verdict, the holds to write, whether anything
    changed (no write when not)."""

    state: QueueState
    verdict: QueueVerdict | None = None
    claims: list[AgentClaim] = field(default_factory=list)
    changed: bool = False

    def after(self, earlier: "Step") -> "Step":
        """This step ran on `earlier`'s state: keep both steps' claims and whether anything changed."""
        self.claims = [*earlier.claims, *self.claims]
        self.changed = self.changed or earlier.changed
        return self

    def final_claims(self) -> list[AgentClaim]:
        """One claim per agent, the last: a transaction writes an item once."""
        return list({claim.extension: claim for claim in self.claims}.values())


def epoch(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


# ---------------------------------------------------------------------------------------------------- operations


def join(state: QueueState, queue: Queue, call_id: str, now: float, rng: random.Random | None = None) -> Step:
    step = _begin(state, queue, now)
    if _find(step.state, call_id) is not None:
        return _after(step, queue, call_id, now, rng)
    if not _staffed(step.state, queue):
        return _verdict(step, QueueVerdict("no_agents"))
    if len(step.state.line) >= queue.max_waiting:
        return _verdict(step, QueueVerdict("full"))
    step.state.line.append(WaitingCaller(call_id=call_id, joined_at=now))
    step.changed = True
    return _after(step, queue, call_id, now, rng)


def poll(state: QueueState, queue: Queue, call_id: str, now: float, rng: random.Random | None = None) -> Step:
    """A caller the line does not know (dropped as gone, or never joined) joins at the end."""
    step = _begin(state, queue, now)
    if _find(step.state, call_id) is None:
        return join(step.state, queue, call_id, now, rng).after(step)
    if not _staffed(step.state, queue):
        _remove(step, call_id, now)
        return _verdict(step, QueueVerdict("no_agents"))
    return _after(step, queue, call_id, now, rng)


def declined(
    state: QueueState,
    queue: Queue,
    call_id: str,
    extensions: Iterable[str],
    now: float,
    rng: random.Random | None = None,
) -> Step:
    """Only agents the caller is offered to now are declined: a repeated report (after a new offer) is a poll."""
    step = _begin(state, queue, now)
    caller = _find(step.state, call_id)
    if caller is None:
        return poll(step.state, queue, call_id, now, rng).after(step)
    for extension in [e for e in caller.offered_to if e in set(extensions)]:
        caller.offered_to.remove(extension)
        _free_member(step, extension, call_id, now, rest=RETRY_SECONDS)
    if not caller.offered_to:
        caller.offered_at = caller.ringing_since = None
    return poll(step.state, queue, call_id, now, rng).after(step)


def answered(state: QueueState, queue: Queue, call_id: str, extension: str, now: float) -> Step:
    step = _begin(state, queue, now)
    member = step.state.members.setdefault(extension, MemberState(since=now))
    if _find(step.state, call_id) is None and member.status == "busy" and member.call_id == call_id:
        return step  # a repeated report
    _remove(step, call_id, now, keep=extension)
    member.status, member.call_id, member.since = "busy", call_id, now
    member.until = now + BUSY_CAP_SECONDS
    member.calls_taken += 1
    step.claims.append(AgentClaim(extension, call_id, "busy", member.until, queue.wrapup_seconds))
    step.changed = True
    return _assign_and_keep(step, queue, now, None)


def leave(state: QueueState, queue: Queue, call_id: str, now: float) -> Step:
    step = _begin(state, queue, now)
    _remove(step, call_id, now)
    return _assign_and_keep(step, queue, now, None)


def call_ended(state: QueueState, extension: str, call_id: str, hold: AgentHold | None, now: float) -> Step:
    """The agent's queue call was completed: wrap-up for the wrapup_seconds its hold recorded at the answer."""
    step = Step(state=state.model_copy(deep=True))
    member = step.state.members.get(extension)
    wrapup = hold.wrapup_seconds if hold is not None and hold.call_id == call_id else 0
    if member is not None and member.call_id == call_id and member.status == "busy":
        talk = max(0.0, now - member.since)
        old = step.state.handle_seconds
        step.state.handle_seconds = talk if old is None else HANDLE_TIME_WEIGHT * talk + (1 - HANDLE_TIME_WEIGHT) * old
        member.status, member.since, member.until = "wrapup", now, now + wrapup
        member.last_call_ended_at = now
        step.changed = True
    if hold is not None and hold.call_id == call_id and hold.state == "busy":
        step.claims.append(AgentClaim(extension, call_id, "wrapup", now + wrapup, wrapup))
    return step


def set_paused(state: QueueState, queue: Queue, extension: str, paused: bool, now: float) -> Step:
    """Pause or unpause a member in this queue (an offer already ringing it goes on); idempotent."""
    step = _begin(state, queue, now)
    member = step.state.members.setdefault(extension, MemberState(since=now))
    if member.paused != paused:
        member.paused, member.since = paused, now
        step.changed = True
    return _assign_and_keep(step, queue, now, None)


def mark_held_elsewhere(state: QueueState, extension: str, hold: AgentHold | None, now: float) -> QueueState:
    """Another queue holds the agent (our claim lost): not offered here until that hold lapses."""
    updated = state.model_copy(deep=True)
    member = updated.members.setdefault(extension, MemberState(since=now))
    for caller in updated.line:
        if extension in caller.offered_to:
            caller.offered_to.remove(extension)
            if not caller.offered_to:
                caller.offered_at = caller.ringing_since = None
    member.status, member.call_id, member.since = "elsewhere", None, now
    member.until = hold.until if hold is not None and hold.active(now) else now + RETRY_SECONDS
    return updated


# ---------------------------------------------------------------------------------------------------- reading


def live_state(member: MemberState | None, now: float) -> LiveState:
    if member is None:
        return "idle"
    if member.paused:
        return "paused"
    if member.status == "idle" or member.until is None or member.until <= now:
        return "idle"
    return _LIVE_STATES[member.status]


def position_of(state: QueueState, call_id: str) -> int | None:
    for index, caller in enumerate(state.line):
        if caller.call_id == call_id:
            return index + 1
    return None


def is_free(member: MemberState, now: float) -> bool:
    return not member.paused and (member.until is None or member.until <= now)


# ---------------------------------------------------------------------------------------------------- internals


def _begin(state: QueueState, queue: Queue, now: float) -> Step:
    """A working copy with the queue's members known and the callers that have gone without telling dropped."""
    step = Step(state=state.model_copy(deep=True))
    for extension in queue.extensions:
        if extension not in step.state.members:
            step.state.members[extension] = MemberState(since=now)
            step.changed = True
    for caller in list(step.state.line):
        if gone(caller, queue, now):
            _remove(step, caller.call_id, now)
    return step


def gone(caller: WaitingCaller, queue: Queue, now: float) -> bool:
    if caller.ringing_since is not None:
        return now > caller.ringing_since + queue.member_ring_seconds + RING_SLACK_SECONDS + GRACE_SECONDS
    if caller.offered_at is not None:
        return now > caller.offered_at + queue.poll_seconds + GRACE_SECONDS
    return now > caller.joined_at + queue.max_wait_seconds + queue.poll_seconds + GRACE_SECONDS


def _find(state: QueueState, call_id: str) -> WaitingCaller | None:
    return next((caller for caller in state.line if caller.call_id == call_id), None)


def _staffed(state: QueueState, queue: Queue) -> bool:
    """Some member is not paused (busy ones count: the caller waits for them)."""
    return any(not state.members[extension].paused for extension in queue.extensions)


def _remove(step: Step, call_id: str, now: float, keep: str | None = None) -> None:
    caller = _find(step.state, call_id)
    if caller is None:
        return
    step.state.line.remove(caller)
    for extension in caller.offered_to:
        if extension != keep:
            _free_member(step, extension, call_id, now, rest=0)
    step.changed = True


def _free_member(step: Step, extension: str, call_id: str, now: float, rest: int) -> None:
    member = step.state.members.get(extension)
    if member is None or member.call_id != call_id or member.status != "ringing":
        return
    member.status, member.call_id = "idle", None
    member.until = now + rest if rest else None
    step.claims.append(AgentClaim(extension, call_id, "free", 0.0))
    step.changed = True


def _assign(step: Step, queue: Queue, now: float, rng: random.Random | None) -> None:
    """Offer free agents to the waiting callers in arrival order, while both remain."""
    members = step.state.members
    free = {
        listed.extension: AgentFacts(
            extension=listed.extension,
            priority=listed.priority,
            last_call_ended_at=_moment(members[listed.extension].last_call_ended_at),
            calls_taken=members[listed.extension].calls_taken,
        )
        for listed in queue.members
        if is_free(members[listed.extension], now)
    }
    for caller in step.state.line:
        if not free:
            return
        if caller.offered_to:
            continue
        order = order_agents(queue, free, last_offered=step.state.last_offered, rng=rng)
        chosen = order if queue.strategy == "ring_all" else order[:1]
        hold_until = now + queue.poll_seconds + queue.member_ring_seconds + RING_SLACK_SECONDS + 2 * GRACE_SECONDS
        for extension in chosen:
            member = members[extension]
            member.status, member.call_id, member.since, member.until = "ringing", caller.call_id, now, hold_until
            step.claims.append(AgentClaim(extension, caller.call_id, "ringing", hold_until))
            del free[extension]
        caller.offered_to, caller.offered_at, caller.ringing_since = list(chosen), now, None
        step.state.last_offered = chosen[0]
        step.changed = True


def _assign_and_keep(step: Step, queue: Queue, now: float, rng: random.Random | None) -> Step:
    _assign(step, queue, now, rng)
    return step


def _after(step: Step, queue: Queue, call_id: str, now: float, rng: random.Random | None) -> Step:
    """Offer what can be offered, then tell `call_id` where it stands; an offer it learns of now starts ringing."""
    _assign(step, queue, now, rng)
    caller = _find(step.state, call_id)
    position = position_of(step.state, call_id)
    if caller is None or position is None:
        return _verdict(step, QueueVerdict("no_agents"))
    if caller.offered_to:
        if caller.ringing_since is None:
            caller.ringing_since = now
            step.changed = True
        return _verdict(step, QueueVerdict("offer", position=position, extensions=tuple(caller.offered_to)))
    return _verdict(
        step, QueueVerdict("wait", position=position, estimated_wait_seconds=_estimate(step, queue, position))
    )


def _estimate(step: Step, queue: Queue, position: int) -> int | None:
    if step.state.handle_seconds is None:
        return None
    staffed = sum(1 for extension in queue.extensions if not step.state.members[extension].paused)
    return math.ceil(position / max(1, staffed)) * math.ceil(step.state.handle_seconds)


def _verdict(step: Step, verdict: QueueVerdict) -> Step:
    step.verdict = verdict
    return step


def _moment(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at).replace(tzinfo=None)

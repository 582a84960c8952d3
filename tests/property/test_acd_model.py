"""The ACD against a model of telephony: random callers and agents on two queues that share an agent.

Each example draws a sequence of what telephony and people do — callers join, report `waiting` (on time, or early),
hang up or vanish (telephony gone without a word); agents answer, let an offer ring out, end calls, pause and unpause
— on a virtual clock, and sometimes runs a second operation (another caller's, or a duplicate delivery of the same
report) between the read and the conditional write of the first, as two function instances would. Telephony keeps
the protocol: a waiting caller reports every poll_seconds, a ring is reported (no_answer) after member_ring_seconds, a
caller that waited max_wait_seconds leaves.

Checked after every step:
- single offer: an agent offered to a caller is not ringing for another caller, not on a call, not in its wrap-up,
  and not paused in that queue (across both queues: agent 102 belongs to both);
- FIFO: every write that offers a caller an agent leaves no earlier caller of that line without an offer, and the
  line's order of arrival never changes;
- duplicates: two deliveries of one report get the same verdict.
At the end (agents unpaused and answering) every caller has ended connected, timed out, abandoned, or was refused
(full, no_agents), and no line holds anyone.
"""

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from vpbx.domain.acd import AgentClaim, QueueState
from vpbx.domain.queues import Queue, QueueMember, QueueVerdict
from vpbx.service.acd import StoredQueueDesk
from vpbx.store.memory import MemoryQueueStateStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT = "acme"
FINAL = {"connected", "timed_out", "abandoned", "full", "no_agents"}


def queues(strategy: str, max_waiting: int) -> dict[str, Queue]:
    common = {
        "strategy": strategy,
        "poll_seconds": 5,
        "member_ring_seconds": 8,
        "max_wait_seconds": 40,
        "wrapup_seconds": 3,
        "max_waiting": max_waiting,
    }
    return {
        "sales": Queue(
            id="sales",
            name="Sales",
            members=[QueueMember(extension="101"), QueueMember(extension="102", priority=1)],
            **common,
        ),
        "support": Queue(
            id="support", name="Support", members=[QueueMember(extension="102"), QueueMember(extension="103")], **common
        ),
    }


class CheckingStore(MemoryQueueStateStore):
    """The in-memory store, checking FIFO on every write of a queue's state, and able to run another operation
    between an operation's read and its write (an interleaving of two function instances)."""

    def __init__(self) -> None:
        super().__init__()
        self.before_write: Callable[[], None] | None = None
        self.writes = 0

    def write_queue_state(
        self,
        tenant_id: str,
        queue_id: str,
        state: QueueState,
        expected_version: int,
        claims: list[AgentClaim],
        now: float,
    ) -> int:
        interject, self.before_write = self.before_write, None
        if interject is not None:
            interject()
        old, version = self.read_queue_state(tenant_id, queue_id)
        version = super().write_queue_state(tenant_id, queue_id, state, expected_version, claims, now)
        self.writes += 1
        check_fifo(old, state, now)
        return version


def check_fifo(old: QueueState, new: QueueState, now: float) -> None:
    before = {caller.call_id: caller for caller in old.line}
    kept = [caller.call_id for caller in new.line if caller.call_id in before]
    assert kept == [caller.call_id for caller in old.line if caller.call_id in set(kept)], "line order changed"
    for index, caller in enumerate(new.line):
        previous = before.get(caller.call_id)
        newly_offered = caller.offered_to and caller.offered_at == now and not (previous and previous.offered_to)
        if newly_offered:
            skipped = [earlier.call_id for earlier in new.line[:index] if not earlier.offered_to]
            assert not skipped, f"{caller.call_id} offered while {skipped} wait earlier without an offer"


@dataclass
class Caller:
    call_id: str
    queue: Queue
    status: str = "new"  # new, waiting, ringing, talking, ended, or a FINAL outcome
    joined: float = 0.0
    last_report: float = 0.0
    ring_started: float = 0.0
    offered: tuple[str, ...] = ()
    agent: str | None = None


@dataclass
class World:
    queues: dict[str, Queue]
    store: CheckingStore = field(default_factory=CheckingStore)
    now: float = 0.0
    callers: list[Caller] = field(default_factory=list)
    ringing: dict[str, str] = field(default_factory=dict)  # agent -> the caller telephony rings it for
    on_call: dict[str, str] = field(default_factory=dict)  # agent -> the caller it talks to
    wrapup_until: dict[str, float] = field(default_factory=dict)
    paused: set[tuple[str, str]] = field(default_factory=set)  # (queue id, agent)
    outcomes: dict[str, str] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)  # callers whose report is being handled (not interleaved)

    def __post_init__(self) -> None:
        # two desks over one store: two function instances
        self.desks = [StoredQueueDesk(self.store, TENANT, random.Random(1)), StoredQueueDesk(self.store, TENANT)]

    def at(self) -> datetime:
        return T0 + timedelta(seconds=self.now)

    def desk(self, pick: int) -> StoredQueueDesk:
        return self.desks[pick % 2]

    # ------------------------------------------------------------------------------------------ telephony's view
    def take(self, caller: Caller, verdict: QueueVerdict) -> None:
        if verdict.kind == "wait":
            caller.status, caller.last_report = "waiting", self.now
            assert (verdict.position or 0) >= 1
        elif verdict.kind == "offer":
            self.check_offer(caller, verdict.extensions)
            caller.status, caller.offered, caller.ring_started = "ringing", verdict.extensions, self.now
            for agent in verdict.extensions:
                self.ringing[agent] = caller.call_id
        else:
            self.finish(caller, verdict.kind)

    def check_offer(self, caller: Caller, agents: tuple[str, ...]) -> None:
        assert agents, "an offer names agents"
        for agent in agents:
            assert agent in caller.queue.extensions
            assert self.ringing.get(agent, caller.call_id) == caller.call_id, f"{agent} offered to two callers"
            assert agent not in self.on_call, f"{agent} offered while on a call"
            assert self.now >= self.wrapup_until.get(agent, 0.0), f"{agent} offered during its wrap-up"
            assert (caller.queue.id, agent) not in self.paused, f"{agent} offered while paused"

    def stop_ringing(self, caller: Caller) -> None:
        for agent in caller.offered:
            if self.ringing.get(agent) == caller.call_id:
                del self.ringing[agent]
        caller.offered = ()

    def finish(self, caller: Caller, outcome: str) -> None:
        self.stop_ringing(caller)
        caller.status = outcome
        self.outcomes[caller.call_id] = outcome

    # ------------------------------------------------------------------------------------------ actions
    def join(self, caller: Caller, pick: int) -> None:
        caller.joined = self.now
        self.take(caller, self.desk(pick).join(caller.queue, caller.call_id, self.at()))

    def poll(self, caller: Caller, pick: int) -> None:
        self.take(caller, self.desk(pick).poll(caller.queue, caller.call_id, self.at()))

    def decline(self, caller: Caller, pick: int) -> None:
        rung = caller.offered
        self.stop_ringing(caller)
        self.take(caller, self.desk(pick).declined(caller.queue, caller.call_id, rung, self.at()))

    def answer(self, caller: Caller, pick: int) -> None:
        assert caller.offered, f"{caller.call_id} rings nobody"
        agent = caller.offered[pick % len(caller.offered)]
        self.stop_ringing(caller)
        self.desk(pick).answered(caller.queue, caller.call_id, agent, self.at())
        caller.status, caller.agent = "talking", agent
        self.on_call[agent] = caller.call_id

    def hang_up(self, caller: Caller, pick: int) -> None:
        self.desk(pick).leave(caller.queue, caller.call_id, self.at())
        self.finish(caller, "abandoned")

    def vanish(self, caller: Caller) -> None:
        self.finish(caller, "abandoned")

    def end_call(self, caller: Caller, pick: int) -> None:
        assert caller.agent is not None
        self.desk(pick).call_ended(caller.agent, caller.call_id, self.at())
        del self.on_call[caller.agent]
        self.wrapup_until[caller.agent] = self.now + caller.queue.wrapup_seconds
        caller.status = "connected"
        self.outcomes[caller.call_id] = "connected"

    def pause(self, queue: Queue, agent: str, paused: bool) -> None:
        self.desks[0].set_paused(queue, agent, paused, self.at())
        if paused:
            self.paused.add((queue.id, agent))
        else:
            self.paused.discard((queue.id, agent))

    def tick(self, seconds: float) -> None:
        """Time passes; telephony sends what the protocol makes due."""
        self.now = round(self.now + seconds, 3)
        for caller in list(self.callers):
            if caller.call_id in self.in_flight:
                continue
            with handling(self, caller):
                self.due_report(caller)

    def due_report(self, caller: Caller) -> None:
        if caller.status == "ringing" and self.now - caller.ring_started >= caller.queue.member_ring_seconds:
            self.decline(caller, 0)
        if caller.status == "waiting":
            if self.now - caller.joined >= caller.queue.max_wait_seconds:
                self.desks[1].leave(caller.queue, caller.call_id, self.at())
                self.finish(caller, "timed_out")
            elif self.now - caller.last_report >= caller.queue.poll_seconds:
                self.poll(caller, 1)


ACTIONS = ["join", "join", "poll", "answer", "answer", "decline", "hang_up", "vanish", "end", "end", "pause", "tick"]


def act(world: World, data: st.DataObject, name: str, pick: int, others: bool = True) -> None:
    by_status = {
        "poll": "waiting",
        "answer": "ringing",
        "decline": "ringing",
        "end": "talking",
    }

    def idle(*statuses: str) -> list[Caller]:
        return [c for c in world.callers if c.status in statuses and c.call_id not in world.in_flight]

    if name == "join":
        new = idle("new")
        if new:
            with handling(world, new[0]):
                world.join(new[0], pick)
    elif name in by_status:
        ready = idle(by_status[name])
        if ready:
            caller = ready[pick % len(ready)]
            if others and name == "poll" and data.draw(st.booleans(), label="duplicate delivery"):
                duplicate(world, caller, pick)
                return
            with handling(world, caller):
                {"poll": world.poll, "answer": world.answer, "decline": world.decline, "end": world.end_call}[name](
                    caller, pick
                )
    elif name in ("hang_up", "vanish"):
        present = idle("waiting", "ringing")
        if present:
            caller = present[pick % len(present)]
            with handling(world, caller):
                world.hang_up(caller, pick) if name == "hang_up" else world.vanish(caller)
    elif name == "pause":
        queue = list(world.queues.values())[pick % 2]
        agent = queue.extensions[(pick // 2) % len(queue.extensions)]
        world.pause(queue, agent, (queue.id, agent) not in world.paused)
    else:
        world.tick(data.draw(st.floats(min_value=0.5, max_value=4.0), label="seconds"))


@contextmanager
def handling(world: World, caller: Caller) -> Iterator[None]:
    world.in_flight.add(caller.call_id)
    try:
        yield
    finally:
        world.in_flight.discard(caller.call_id)


def duplicate(world: World, caller: Caller, pick: int) -> None:
    """Two deliveries of one `waiting` report, the second run between the first's read and write."""
    verdicts: list[QueueVerdict] = []

    def second() -> None:
        verdicts.append(world.desk(pick + 1).poll(caller.queue, caller.call_id, world.at()))

    world.store.before_write = second
    first = world.desk(pick).poll(caller.queue, caller.call_id, world.at())
    world.store.before_write = None
    if verdicts:
        assert verdicts[0] == first, f"duplicate reports answered {verdicts[0]} and {first}"
    world.take(caller, first)


def drain(world: World) -> None:
    """Agents come back and answer everything: every caller must end within max wait."""
    for queue_id, agent in sorted(world.paused):
        world.pause(world.queues[queue_id], agent, False)
    for _ in range(400):
        if all(caller.status in FINAL | {"new"} for caller in world.callers):
            return
        for caller in [c for c in world.callers if c.status == "talking"]:
            world.end_call(caller, 0)
        for caller in [c for c in world.callers if c.status == "ringing"]:
            world.answer(caller, 0)
        world.tick(1.0)
    raise AssertionError("callers still waiting long after max wait")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    strategy=st.sampled_from(["ring_all", "round_robin", "least_recent", "fewest_calls", "random"]),
    callers=st.integers(min_value=1, max_value=9),
    max_waiting=st.integers(min_value=1, max_value=6),
)
def test_acd_never_double_offers_keeps_fifo_and_ends_every_call(
    data: st.DataObject, strategy: str, callers: int, max_waiting: int
) -> None:
    world = World(queues(strategy, max_waiting))
    names = list(world.queues)
    world.callers = [Caller(f"call-{n}", world.queues[names[n % 2]]) for n in range(callers)]
    for _ in range(data.draw(st.integers(min_value=5, max_value=70), label="steps")):
        name = data.draw(st.sampled_from(ACTIONS), label="action")
        pick = data.draw(st.integers(min_value=0, max_value=11), label="pick")
        if data.draw(st.integers(min_value=0, max_value=4), label="interleave") == 0:
            other = data.draw(st.sampled_from(ACTIONS[:-1]), label="interleaved action")
            world.store.before_write = partial(act, world, data, other, pick + 1, others=False)
        act(world, data, name, pick)
        world.store.before_write = None
    drain(world)
    unjoined = {caller.call_id for caller in world.callers if caller.status == "new"}
    assert set(world.outcomes) == {caller.call_id for caller in world.callers} - unjoined
    assert set(world.outcomes.values()) <= FINAL
    world.now += 120  # past every horizon: a vanished caller is dropped by then
    for queue in world.queues.values():
        assert world.desks[0].live(queue, world.at()).waiting == [], "a line still holds callers"

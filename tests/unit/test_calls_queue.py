"""Queues through the calls service (in memory): the queue element asks the ACD of the call's tenant, telephony follows
the enqueue/waiting/ring/completed protocol, and a `completed` queue call puts its agent in wrap-up.

Five callers, two agents, on a virtual clock: every caller ends connected and completed or timed out (voicemail), no
agent ever rings for two callers or rings while on a call or in its wrap-up, the callers are served in arrival order,
and a waiting report costs three requests (the call's read and write, the queue state's read).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vpbx.domain.directory import Subscriber
from vpbx.domain.queues import Queue, QueueMember
from vpbx.domain.scenario import Scenario, references_of
from vpbx.service.acd import StoredQueueDesk
from vpbx.service.calls import CallDecisionOut, CallEvent, CallsService, CallStart, decision_out
from vpbx.service.state_tokens import StateTokenKeys, StateTokens
from vpbx.store.memory import InMemoryRepository
from vpbx.store.models import PhoneNumber, Tenant

from tests.unit.test_calls_service import CountingRepository

TENANT = "acme"
NUMBER = "+74951234567"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
AGENTS = ("201", "202")
WRAPUP = 5
TOKENS = StateTokens.of(StateTokenKeys.from_secret(StateTokenKeys.generate()))


def queue_scenario() -> dict[str, Any]:
    return {
        "name": "Support",
        "elements": [
            {"id": "start", "type": "incoming_call"},
            {"id": "line", "type": "queue", "queue_id": "support"},
            {"id": "vm", "type": "voicemail", "mailbox": "201"},
        ],
        "connections": [
            {"from": "start", "to": "line"},
            {"from": "line", "exit": "timeout", "to": "vm"},
            {"from": "line", "exit": "no_agents", "to": "vm"},
            {"from": "line", "exit": "full", "to": "vm"},
        ],
    }


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Telephony:
    """Plays the switch for every call: reports waiting on time, rings agents, agents answer after `pickup`
    seconds, talk `talk` seconds; checks that no agent is offered twice."""

    service: CallsService
    clock: Clock
    pickup: float = 4
    echo_tokens: bool = False  # report each event with the state token of the decision it answers (as the switch)
    tokens: dict[str, str | None] = field(default_factory=dict)
    talk: float = 30
    decisions: dict[str, CallDecisionOut] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)
    ringing: dict[str, str] = field(default_factory=dict)  # agent -> call
    talking: dict[str, str] = field(default_factory=dict)  # agent -> call
    free_after: dict[str, datetime] = field(default_factory=dict)
    answered_order: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)

    def start(self, call_id: str) -> None:
        request = CallStart.model_validate({"call_id": call_id, "from": "+79161234567", "to": NUMBER})
        answer = self.service.start_call(TENANT, request)
        self.tokens[call_id] = answer.state_token
        self.take(call_id, decision_out(call_id, answer.decision))

    def report(self, call_id: str, outcome: str, **body: Any) -> None:
        seq = self.decisions[call_id].seq
        if self.echo_tokens:
            assert self.tokens[call_id] is not None, "a routed or connected call's decision carries a token"
            body["state_token"] = self.tokens[call_id]
        event = CallEvent.model_validate({"seq": seq, "outcome": outcome, **body})
        answer = self.service.report_event(TENANT, call_id, event)
        self.tokens[call_id] = answer.state_token
        self.take(call_id, decision_out(call_id, answer.decision))

    def take(self, call_id: str, decision: CallDecisionOut) -> None:
        self.decisions[call_id], self.since[call_id] = decision, self.clock.now
        action = decision.action
        if action is not None and action.type == "ring":
            for target in action.targets:
                agent = target.extension or ""
                assert self.ringing.get(agent, call_id) == call_id, f"{agent} rings for two callers"
                assert agent not in self.talking, f"{agent} rung while on a call"
                assert self.clock.now >= self.free_after.get(agent, T0), f"{agent} rung in its wrap-up"
                self.ringing[agent] = call_id
        if decision.status == "ended":
            self.results[call_id] = "voicemail" if action is not None and action.type == "voicemail" else "ended"

    def step(self) -> None:
        now = self.clock.now
        for call_id, decision in list(self.decisions.items()):
            waited = (now - self.since[call_id]).total_seconds()
            action = decision.action
            if decision.status == "connected" and waited >= self.talk:
                agent = next(a for a, c in self.talking.items() if c == call_id)
                self.report(call_id, "completed", duration_seconds=int(waited), ended_by="caller")
                del self.talking[agent]
                self.free_after[agent] = now + timedelta(seconds=WRAPUP)
                self.results[call_id] = "completed"
            elif action is not None and action.type == "enqueue" and waited >= action.poll_seconds:
                self.report(call_id, "waiting")
            elif action is not None and action.type == "ring" and waited >= self.pickup:
                agent = action.targets[0].extension or ""
                for target in action.targets:
                    self.ringing.pop(target.extension or "", None)
                self.talking[agent] = call_id
                self.answered_order.append(call_id)
                self.report(call_id, "answered", extension=agent)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repository(clock: Clock) -> InMemoryRepository:
    repository = InMemoryRepository(clock=clock)
    repository.create_tenant(Tenant(id=TENANT, name="Acme", created_at=T0))
    for agent in AGENTS:
        repository.create_subscriber(TENANT, Subscriber(extension=agent, name=f"Agent {agent}"))
    members = [QueueMember(extension=agent) for agent in AGENTS]
    queue = Queue(
        id="support", name="Support", members=members, strategy="round_robin", poll_seconds=10, wrapup_seconds=WRAPUP
    )
    repository.create_queue(TENANT, queue)
    draft = repository.create_scenario(TENANT, "main", Scenario.model_validate(queue_scenario()))
    snapshot = repository.resolve_directory(TENANT, references_of(Scenario.model_validate(queue_scenario())))
    repository.publish_scenario(TENANT, "main", draft.version, snapshot, T0, None)
    repository.create_number(TENANT, PhoneNumber(number=NUMBER, scenario_id="main"))
    return repository


@pytest.mark.parametrize("echo_tokens", [False, True], ids=["read-first", "state-tokens"])
def test_five_callers_two_agents_end_to_end_through_the_service(
    repository: InMemoryRepository, clock: Clock, echo_tokens: bool
) -> None:
    service = CallsService(repository, clock=clock, tokens=TOKENS if echo_tokens else None)
    phone = Telephony(service, clock, echo_tokens=echo_tokens)
    calls = [f"caller-{n}" for n in range(5)]
    for call_id in calls:
        phone.start(call_id)
        clock.now += timedelta(seconds=1)
    for _ in range(400):
        phone.step()
        clock.now += timedelta(seconds=1)
        if len(phone.results) == len(calls):
            break
    assert phone.results == dict.fromkeys(calls, "completed")
    assert phone.answered_order == calls, "served in arrival order"
    after_wrapup = clock.now + timedelta(seconds=WRAPUP)
    live = StoredQueueDesk(repository, TENANT).live(repository.get_queue(TENANT, "support").item, after_wrapup)
    assert live.waiting == []
    assert {member.state for member in live.members} == {"idle"}


@pytest.mark.parametrize("echo_tokens", [False, True], ids=["read-first", "state-tokens"])
def test_completed_puts_the_agent_in_wrap_up(repository: InMemoryRepository, clock: Clock, echo_tokens: bool) -> None:
    service = CallsService(repository, clock=clock, tokens=TOKENS if echo_tokens else None)
    phone = Telephony(service, clock, pickup=1, talk=3, echo_tokens=echo_tokens)
    phone.start("only")
    desk = StoredQueueDesk(repository, TENANT)
    queue = repository.get_queue(TENANT, "support").item
    for _ in range(3):
        clock.now += timedelta(seconds=1)
        phone.step()
    assert phone.decisions["only"].status == "connected"
    assert {m.extension: m.state for m in desk.live(queue, clock.now).members}["201"] == "busy"
    clock.now += timedelta(seconds=3)
    phone.step()
    assert phone.results["only"] == "completed"
    assert {m.extension: m.state for m in desk.live(queue, clock.now).members}["201"] == "wrap-up"
    clock.now += timedelta(seconds=WRAPUP)
    assert {m.extension: m.state for m in desk.live(queue, clock.now).members}["201"] == "idle"


def test_a_waiting_report_costs_three_requests(repository: InMemoryRepository, clock: Clock) -> None:
    counting = CountingRepository(repository)
    service = CallsService(counting, clock=clock)
    phone = Telephony(service, clock)
    for call_id in ("a", "b", "c"):
        phone.start(call_id)
    clock.now += timedelta(seconds=10)
    counting.calls.clear()
    phone.report("c", "waiting")
    assert phone.decisions["c"].action is not None
    assert phone.decisions["c"].action.type == "enqueue"
    assert counting.calls == ["get_call", "read_queue_state", "save_call"]


def test_a_tokened_waiting_report_costs_two_requests(repository: InMemoryRepository, clock: Clock) -> None:
    """With the decision's state token the call is not read: the queue state's read and the call's one write."""
    counting = CountingRepository(repository)
    phone = Telephony(CallsService(counting, clock=clock, tokens=TOKENS), clock, echo_tokens=True)
    for call_id in ("a", "b", "c"):
        phone.start(call_id)
    clock.now += timedelta(seconds=10)
    counting.calls.clear()
    phone.report("c", "waiting")
    assert phone.decisions["c"].action is not None
    assert phone.decisions["c"].action.type == "enqueue"
    assert counting.calls == ["read_queue_state", "advance_call"]

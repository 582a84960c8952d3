"""The `queue` element: the desk's verdicts become enqueue/ring actions and exits; every exit, the max wait, position
announcements, an answered offer, declined offers, and the caller who hangs up leaving the line."""

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vpbx.domain.calls import CallInfo, CallState, Decision, EnqueueAction, Outcome, RingAction
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.elements.queueing import QueueElement, position_announcement
from vpbx.domain.executor import Executor, compile_scenario
from vpbx.domain.queues import PositionAnnouncements, Queue, QueueDesk, QueueMember, QueueVerdict
from vpbx.domain.scenario import Scenario

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WAIT = QueueVerdict(kind="wait", position=2, estimated_wait_seconds=90)


class RecordingDesk:
    """A QueueDesk that answers from scripted verdicts (join/poll/declined; the last one repeats) and records every
    call made to it as (method, call id, detail)."""

    def __init__(self, *verdicts: QueueVerdict) -> None:
        self.verdicts = list(verdicts) or [WAIT]
        self.calls: list[tuple[str, str, Any]] = []
        self.queues: list[Queue] = []

    def _next(self) -> QueueVerdict:
        return self.verdicts.pop(0) if len(self.verdicts) > 1 else self.verdicts[0]

    def join(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        self.calls.append(("join", call_id, None))
        self.queues.append(queue)
        return self._next()

    def poll(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        self.calls.append(("poll", call_id, None))
        return self._next()

    def declined(self, queue: Queue, call_id: str, extensions: Sequence[str], now: datetime) -> QueueVerdict:
        self.calls.append(("declined", call_id, tuple(extensions)))
        return self._next()

    def answered(self, queue: Queue, call_id: str, extension: str, now: datetime) -> None:
        self.calls.append(("answered", call_id, extension))

    def leave(self, queue: Queue, call_id: str, now: datetime) -> None:
        self.calls.append(("leave", call_id, None))

    def call_ended(self, extension: str, call_id: str, now: datetime) -> None:
        self.calls.append(("call_ended", call_id, extension))

    def methods(self) -> list[str]:
        return [method for method, _, _ in self.calls]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def support(**fields: Any) -> Queue:
    members = [QueueMember(extension=e) for e in ("101", "102", "104", "999", "201")]
    return Queue.model_validate(
        {"id": "support", "name": "Support", "members": members, "max_wait_seconds": 120, "poll_seconds": 10, **fields}
    )


DIRECTORY_SUBSCRIBERS = [
    Subscriber(extension="101", name="Anna"),
    Subscriber(extension="102", name="Boris", sip_uri="sip:boris@pbx.example"),
    Subscriber(extension="104", name="Gleb (left)", enabled=False),  # disabled: never an agent
    Subscriber(extension="201", name="Vera (mobile)", kind="mobile", target="+79161234567"),  # dial delay 8
]  # 999 is a member but not a subscriber


def executor(desk: QueueDesk | None, queue: Queue | None = None, clock: Clock | None = None) -> Executor:
    directory = Directory.of(DIRECTORY_SUBSCRIBERS, queues=[queue or support()])
    scenario = Scenario.model_validate(
        {
            "name": "Queue",
            "elements": [
                {"id": "start", "type": "incoming_call"},
                {"id": "line", "type": "queue", "queue_id": "support"},
                {"id": "vm", "type": "voicemail", "mailbox": "101"},
                {"id": "sorry", "type": "hangup"},
            ],
            "connections": [
                {"from": "start", "to": "line"},
                {"from": "line", "exit": "timeout", "to": "vm"},
                {"from": "line", "exit": "no_agents", "to": "sorry"},
                {"from": "line", "exit": "full", "to": "sorry"},
            ],
        }
    )
    compiled = compile_scenario(scenario, directory, sip_domain="pbx.example")
    return Executor(compiled, clock=clock or Clock(), queue_desk=desk)


def start(run: Executor) -> tuple[CallState, Decision]:
    return run.start(CallInfo(call_id="c1", caller="+74951234567", dialed="+74950000000", started_at=START))


def enqueue(decision: Decision) -> EnqueueAction:
    assert isinstance(decision.action, EnqueueAction), decision.action
    return decision.action


def ring(decision: Decision) -> RingAction:
    assert isinstance(decision.action, RingAction), decision.action
    return decision.action


# ------------------------------------------------------------------------------------------------ entering


def test_a_caller_who_must_wait_is_put_on_hold_with_its_position() -> None:
    desk = RecordingDesk(WAIT)
    state, decision = start(executor(desk))

    action = enqueue(decision)
    assert (action.queue_id, action.position, action.estimated_wait_seconds, action.poll_seconds) == (
        "support",
        2,
        90,
        10,
    )
    assert action.announce is None  # announcements are off by default
    assert state.element_id == "line"
    assert state.element_state["awaiting"] == "enqueue"
    assert state.element_state["queue_id"] == "support"
    assert state.element_state["joined_at"] == START.isoformat()
    assert desk.methods() == ["join"]
    assert "position 2" in (decision.steps[-1].detail or "")


def test_the_desk_only_ever_sees_ringable_members() -> None:
    desk = RecordingDesk(WAIT)
    _, decision = start(executor(desk))

    assert desk.queues[0].extensions == ("101", "102", "201")  # not 104 (disabled) nor 999 (no subscriber)
    assert "104, 999" in (decision.steps[-1].detail or "")


def test_an_immediate_offer_rings_the_agent_for_member_ring_seconds_plus_its_dial_delay() -> None:
    desk = RecordingDesk(QueueVerdict(kind="offer", extensions=("201",)))
    state, decision = start(executor(desk, support(member_ring_seconds=15)))

    action = ring(decision)
    assert [t.extension for t in action.targets] == ["201"]
    assert (action.strategy, action.timeout_seconds) == ("single", 15 + 8)
    assert state.element_state["awaiting"] == "ring"
    assert state.element_state["offered"] == ["201"]


def test_a_ring_all_offer_rings_every_offered_agent_at_once_with_their_sip_uris() -> None:
    desk = RecordingDesk(QueueVerdict(kind="offer", extensions=("101", "102")))
    _, decision = start(executor(desk))

    action = ring(decision)
    assert action.strategy == "simultaneous"
    assert [(t.extension, t.uri) for t in action.targets] == [
        ("101", "sip:101@pbx.example"),
        ("102", "sip:boris@pbx.example"),
    ]
    assert action.timeout_seconds == 20  # the default member_ring_seconds, internal phones have no delay


@pytest.mark.parametrize(("kind", "exit_name", "end"), [("full", "full", "sorry"), ("no_agents", "no_agents", "sorry")])
def test_full_and_no_agents_leave_at_once_without_telephony(kind: str, exit_name: str, end: str) -> None:
    desk = RecordingDesk(QueueVerdict(kind=kind))  # type: ignore[arg-type]
    state, decision = start(executor(desk))

    assert state.status == "ended"
    assert state.result_element == end
    assert [step.exit for step in decision.steps if step.element_id == "line"] == [exit_name]


def test_without_a_desk_or_ringable_member_or_queue_the_caller_takes_no_agents() -> None:
    for run, why in [
        (executor(None), "no queue desk"),
        (executor(RecordingDesk(), support(members=[QueueMember(extension="104")])), "no ringable member"),
    ]:
        state, decision = start(run)
        line = next(step for step in decision.steps if step.element_id == "line")
        assert (line.exit, state.result_element) == ("no_agents", "sorry")
        assert why in (line.detail or "")

    scenario = Scenario.model_validate(
        {"name": "Q", "elements": [{"id": "start", "type": "incoming_call"},
                                   {"id": "line", "type": "queue", "queue_id": "gone"}],
         "connections": [{"from": "start", "to": "line"}]}
    )  # fmt: skip
    desk = RecordingDesk()
    run = Executor(compile_scenario(scenario, Directory.of(DIRECTORY_SUBSCRIBERS)), clock=Clock(), queue_desk=desk)
    _, decision = start(run)
    assert decision.steps[-1].exit == "no_agents"
    assert "not in the directory" in (decision.steps[-1].detail or "")
    assert desk.calls == []


# ------------------------------------------------------------------------------------------------ waiting


def test_each_waiting_report_polls_the_desk_until_an_agent_is_offered_then_answered_connects() -> None:
    clock = Clock()
    desk = RecordingDesk(WAIT, QueueVerdict(kind="wait", position=1), QueueVerdict(kind="offer", extensions=("102",)))
    run = executor(desk, clock=clock)
    state, decision = start(run)

    clock.advance(10)
    state, decision = run.advance(state, Outcome(kind="waiting"))
    assert enqueue(decision).position == 1
    assert state.element_state["joined_at"] == START.isoformat()  # the wait counts from joining
    clock.advance(10)
    state, decision = run.advance(state, Outcome(kind="waiting"))
    assert [t.extension for t in ring(decision).targets] == ["102"]
    state, decision = run.advance(state, Outcome(kind="answered", extension="102"))

    assert (state.status, state.result) == ("connected", "connected")
    assert desk.calls[-1] == ("answered", "c1", "102")
    assert desk.methods() == ["join", "poll", "poll", "answered"]


def test_an_answer_without_extension_counts_as_the_offered_agent() -> None:
    desk = RecordingDesk(QueueVerdict(kind="offer", extensions=("201",)))
    run = executor(desk)
    state, _ = start(run)

    state, decision = run.advance(state, Outcome(kind="answered"))

    assert state.status == "connected"
    assert desk.calls[-1] == ("answered", "c1", "201")
    assert "agent 201 answered" in (decision.steps[-1].detail or "")


def test_a_claimed_extension_among_several_offered_is_the_one_the_desk_is_told_about() -> None:
    desk = RecordingDesk(QueueVerdict(kind="offer", extensions=("101", "102")))
    run = executor(desk)
    state, _ = start(run)

    run.advance(state, Outcome(kind="answered", extension="102"))

    assert desk.calls[-1] == ("answered", "c1", "102")


@pytest.mark.parametrize("kind", ["no_answer", "busy", "unavailable", "failed"])
def test_an_unanswered_offer_is_declined_and_the_next_verdict_follows(kind: str) -> None:
    clock = Clock()
    desk = RecordingDesk(QueueVerdict(kind="offer", extensions=("101",)), WAIT)
    run = executor(desk, clock=clock)
    state, _ = start(run)

    clock.advance(20)
    state, decision = run.advance(state, Outcome(kind=kind))

    assert desk.calls[-1] == ("declined", "c1", ("101",))
    assert enqueue(decision).position == 2
    assert state.element_state["awaiting"] == "enqueue"
    assert enqueue(decision).poll_seconds == 10


def test_a_decline_can_lead_straight_to_the_next_agent() -> None:
    offers = (QueueVerdict(kind="offer", extensions=("101",)), QueueVerdict(kind="offer", extensions=("102",)))
    desk = RecordingDesk(*offers)
    run = executor(desk)
    state, _ = start(run)

    state, decision = run.advance(state, Outcome(kind="no_answer"))

    assert [t.extension for t in ring(decision).targets] == ["102"]
    assert state.element_state["offered"] == ["102"]


def test_the_caller_times_out_after_max_wait_seconds_and_leaves_the_line() -> None:
    clock = Clock()
    desk = RecordingDesk(WAIT)
    run = executor(desk, support(max_wait_seconds=25, poll_seconds=10), clock)
    state, decision = start(run)
    polls = []
    while state.status == "in_progress":
        polls.append(enqueue(decision).poll_seconds)
        clock.advance(enqueue(decision).poll_seconds)
        state, decision = run.advance(state, Outcome(kind="waiting"))

    assert polls == [10, 10, 5]  # the last report lands on the limit, not 5 s past it
    assert state.result_element == "vm"
    assert desk.methods() == ["join", "poll", "poll", "leave"]
    timeout = next(step for step in decision.steps if step.exit == "timeout")
    assert "waited 25 s" in (timeout.detail or "")


def test_an_offer_that_rings_out_past_the_max_wait_times_out_instead_of_declining() -> None:
    clock = Clock()
    desk = RecordingDesk(WAIT, QueueVerdict(kind="offer", extensions=("101",)))
    run = executor(desk, support(max_wait_seconds=30), clock)
    state, _ = start(run)
    clock.advance(10)
    state, _ = run.advance(state, Outcome(kind="waiting"))  # offered at 10 s
    clock.advance(20 + 5)

    state, _ = run.advance(state, Outcome(kind="no_answer"))

    assert state.result_element == "vm"
    assert desk.methods() == ["join", "poll", "leave"]


def test_a_failed_enqueue_leaves_the_line_by_timeout() -> None:
    desk = RecordingDesk(WAIT)
    run = executor(desk)
    state, _ = start(run)

    state, _ = run.advance(state, Outcome(kind="failed"))

    assert state.result_element == "vm"
    assert desk.methods() == ["join", "leave"]


def test_full_or_no_agents_while_waiting_take_their_exits() -> None:
    for verdict in ("full", "no_agents"):
        desk = RecordingDesk(WAIT, QueueVerdict(kind=verdict))
        run = executor(desk)
        state, _ = start(run)
        state, decision = run.advance(state, Outcome(kind="waiting"))
        assert state.result_element == "sorry"
        assert decision.steps[0].exit == verdict


# ------------------------------------------------------------------------------------------------ hangup


@pytest.mark.parametrize("first", [WAIT, QueueVerdict(kind="offer", extensions=("101",))])
def test_a_caller_who_hangs_up_leaves_the_line_at_once(first: QueueVerdict) -> None:
    desk = RecordingDesk(first)
    run = executor(desk)
    state, _ = start(run)

    state, _ = run.advance(state, Outcome(kind="caller_hangup"))

    assert (state.status, state.result) == ("ended", "caller_hangup")
    assert desk.calls[-1] == ("leave", "c1", None)


# ------------------------------------------------------------------------------------------------ announcements


def test_position_announcements_come_on_joining_and_then_every_every_seconds() -> None:
    clock = Clock()
    desk = RecordingDesk(QueueVerdict(kind="wait", position=3, estimated_wait_seconds=100))
    queue = support(announcements=PositionAnnouncements(enabled=True, every_seconds=30), poll_seconds=10)
    run = executor(desk, queue, clock)
    state, decision = start(run)
    announced = []
    for _ in range(7):
        prompt = enqueue(decision).announce
        announced.append(prompt.text if prompt else None)
        clock.advance(10)
        state, decision = run.advance(state, Outcome(kind="waiting"))

    said = "You are number 3 in line. Estimated wait: about 2 minutes."
    assert announced == [said, None, None, said, None, None, said]


def test_the_announcement_omits_the_estimate_when_asked_or_unknown_and_speaks_in_the_hold_voice() -> None:
    assert position_announcement(1, None, None).text == "You are number 1 in line."
    assert position_announcement(2, 30, None).text == "You are number 2 in line. Estimated wait: about 1 minute."
    hold = support(hold_prompt={"text": "Please hold", "voice": "alice"}).hold_prompt
    assert position_announcement(1, None, hold).voice == "alice"

    desk = RecordingDesk(QueueVerdict(kind="wait", position=4, estimated_wait_seconds=600))
    queue = support(announcements=PositionAnnouncements(enabled=True, include_estimated_wait=False))
    _, decision = start(executor(desk, queue))
    assert (enqueue(decision).announce or position_announcement(0, None, None)).text == "You are number 4 in line."


# ------------------------------------------------------------------------------------------------ the element


def test_the_element_model_exits_and_references() -> None:
    element = QueueElement.model_validate({"id": "q", "type": "queue", "queue_id": "support"})

    assert element.exits() == ("timeout", "no_agents", "full")
    assert element.awaited() == ("enqueue", "ring")
    assert element.references().queues == frozenset({"support"})
    assert element.describe() == "Queue support"


# ------------------------------------------------------------------------------------------------ many callers


class FifoDesk:
    """A reference ACD in a few lines: FIFO line, one offer per agent at a time, agents busy once they answer."""

    def __init__(self) -> None:
        self.line: list[str] = []
        self.offered: dict[str, str] = {}  # agent -> the call it rings for
        self.busy: set[str] = set()

    def join(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        self.line.append(call_id)
        return self.poll(queue, call_id, now)

    def poll(self, queue: Queue, call_id: str, now: datetime) -> QueueVerdict:
        unoffered = [call for call in self.line if call not in self.offered.values()]
        free = [agent for agent in queue.extensions if agent not in self.offered and agent not in self.busy]
        if free and unoffered[:1] == [call_id]:
            self.offered[free[0]] = call_id
            return QueueVerdict(kind="offer", extensions=(free[0],))
        return QueueVerdict(kind="wait", position=self.line.index(call_id) + 1)

    def declined(self, queue: Queue, call_id: str, extensions: Sequence[str], now: datetime) -> QueueVerdict:
        self._withdraw(call_id)
        return self.poll(queue, call_id, now)

    def answered(self, queue: Queue, call_id: str, extension: str, now: datetime) -> None:
        self.leave(queue, call_id, now)
        self.busy.add(extension)

    def leave(self, queue: Queue, call_id: str, now: datetime) -> None:
        self._withdraw(call_id)
        self.line.remove(call_id)

    def call_ended(self, extension: str, call_id: str, now: datetime) -> None:
        self.busy.discard(extension)

    def _withdraw(self, call_id: str) -> None:
        self.offered = {agent: call for agent, call in self.offered.items() if call != call_id}


@pytest.mark.parametrize("seed", range(20))
def test_interleaved_callers_only_ever_ring_what_the_desk_offered_them_and_no_agent_twice(seed: int) -> None:
    rng = random.Random(seed)
    clock, desk = Clock(), FifoDesk()
    run = executor(desk, support(max_wait_seconds=600, members=[QueueMember(extension="101"),
                                                                QueueMember(extension="102")]), clock)  # fmt: skip
    calls: dict[str, tuple[CallState, Decision]] = {}
    for index in range(6):
        call_id = f"c{index}"
        calls[call_id] = run.start(CallInfo(call_id=call_id, caller=None, dialed="+7495", started_at=clock.now))
    for _ in range(300):
        live = [call_id for call_id, (state, _) in calls.items() if state.status == "in_progress"]
        if not live:
            break
        call_id = rng.choice(live)
        state, decision = calls[call_id]
        if isinstance(decision.action, RingAction):
            outcome = Outcome(kind=rng.choice(["answered", "no_answer", "busy", "no_answer"]))
        else:
            outcome = Outcome(kind=rng.choice(["waiting"] * 8 + ["caller_hangup"]))
        clock.advance(rng.choice([0, 5, 10]))
        calls[call_id] = run.advance(state, outcome)

        ringing = {
            cid: [t.extension or "" for t in d.action.targets]
            for cid, (s, d) in calls.items()
            if s.status == "in_progress" and isinstance(d.action, RingAction)
        }
        for cid, agents in ringing.items():
            assert all(desk.offered.get(agent) == cid for agent in agents), (cid, agents, desk.offered)
        rung = [agent for agents in ringing.values() for agent in agents]
        assert len(rung) == len(set(rung)), f"an agent rings for two callers: {ringing}"
        assert not set(rung) & desk.busy
    assert {state.result for state, _ in calls.values()} <= {"connected", "caller_hangup", None}

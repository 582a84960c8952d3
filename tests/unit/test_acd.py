"""The ACD's rules, one behaviour at a time, through the desk on the in-memory store (domain/acd.py, service/acd.py)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from vpbx.domain.queues import Queue, QueueMember
from vpbx.service.acd import StoredQueueDesk
from vpbx.store.memory import InMemoryRepository

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT = "acme"


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def make_queue(strategy: str = "round_robin", agents: tuple[str, ...] = ("101", "102"), **fields: object) -> Queue:
    members = [QueueMember(extension=agent) for agent in agents]
    base: dict[str, object] = {"id": "sales", "name": "Sales", "members": members, "strategy": strategy}
    timing = {"poll_seconds": 10, "member_ring_seconds": 20, "wrapup_seconds": 5}
    return Queue.model_validate({**base, **timing, **fields})


@pytest.fixture
def repository() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
def desk(repository: InMemoryRepository) -> StoredQueueDesk:
    return StoredQueueDesk(repository, TENANT, random.Random(7))


def test_a_caller_is_offered_at_once_when_an_agent_is_free_and_waits_otherwise(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",))
    assert desk.join(queue, "a", T0).extensions == ("101",)
    waiting = desk.join(queue, "b", T0)
    assert (waiting.kind, waiting.position) == ("wait", 2)


def test_full_and_no_agents_refuse_without_keeping_the_caller(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",), max_waiting=1)
    desk.join(queue, "a", T0)
    assert desk.join(queue, "b", T0).kind == "full"
    desk.leave(queue, "a", T0)
    desk.set_paused(queue, "101", True, T0)
    assert desk.join(queue, "c", T0).kind == "no_agents"
    assert desk.live(queue, T0).waiting == []


def test_a_declined_offer_puts_the_caller_back_at_its_place_and_rests_the_agent(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",))
    desk.join(queue, "a", T0)
    desk.join(queue, "b", T0)
    again = desk.declined(queue, "a", ["101"], seconds(20))
    assert (again.kind, again.position) == ("wait", 1)
    assert desk.poll(queue, "b", seconds(22)).kind == "wait"  # 101 rests RETRY_SECONDS; b does not overtake a
    assert desk.poll(queue, "a", seconds(26)).extensions == ("101",)
    repeated = desk.declined(queue, "a", ["102"], seconds(26))  # a stale report naming no current offer: a poll
    assert repeated.extensions == ("101",)


def test_a_caller_that_hangs_up_leaves_at_once(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",))
    for call_id in ("a", "b", "c"):
        desk.join(queue, call_id, T0)
    desk.leave(queue, "b", seconds(1))
    assert [(w.call_id, w.position) for w in desk.live(queue, seconds(1)).waiting] == [("a", 1), ("c", 2)]


def test_ring_all_offers_every_free_agent_and_the_answer_frees_the_others(desk: StoredQueueDesk) -> None:
    queue = make_queue("ring_all", agents=("101", "102", "103"))
    assert desk.join(queue, "a", T0).extensions == ("101", "102", "103")
    desk.answered(queue, "a", "102", seconds(3))
    states = {m.extension: m.state for m in desk.live(queue, seconds(3)).members}
    assert states == {"101": "idle", "102": "busy", "103": "idle"}
    assert desk.join(queue, "b", seconds(4)).extensions == ("101", "103")


def test_an_agent_is_busy_until_the_call_is_completed_plus_wrap_up(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",), wrapup_seconds=30)
    desk.join(queue, "a", T0)
    desk.answered(queue, "a", "101", seconds(5))
    desk.join(queue, "b", seconds(6))
    assert desk.poll(queue, "b", seconds(100)).kind == "wait"
    desk.call_ended("101", "a", seconds(120))
    assert [m.state for m in desk.live(queue, seconds(121)).members] == ["wrap-up"]
    assert desk.poll(queue, "b", seconds(140)).kind == "wait"
    assert desk.poll(queue, "b", seconds(151)).extensions == ("101",)
    desk.call_ended("101", "a", seconds(152))  # a repeated report changes nothing
    assert [m.state for m in desk.live(queue, seconds(152)).members] == ["ringing"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("round_robin", ["101", "102", "103", "101"]), ("fewest_calls", ["101", "102", "103", "101"])],
)
def test_strategies_spread_the_calls(desk: StoredQueueDesk, strategy: str, expected: list[str]) -> None:
    queue = make_queue(strategy, agents=("101", "102", "103"), wrapup_seconds=0)
    got = []
    for n, call_id in enumerate("abcd"):
        offer = desk.join(queue, call_id, seconds(n * 10))
        got.append(offer.extensions[0])
        desk.answered(queue, call_id, offer.extensions[0], seconds(n * 10 + 1))
        desk.call_ended(offer.extensions[0], call_id, seconds(n * 10 + 2))
    assert got == expected


def test_least_recent_offers_the_agent_idle_longest(desk: StoredQueueDesk) -> None:
    queue = make_queue("least_recent", agents=("101", "102"), wrapup_seconds=0)
    for call_id, end in (("a", 10), ("b", 5)):
        agent = desk.join(queue, call_id, T0).extensions[0]
        desk.answered(queue, call_id, agent, seconds(1))
        desk.call_ended(agent, call_id, seconds(end))
    assert desk.join(queue, "c", seconds(20)).extensions == ("102",)  # 102 hung up at 5 s, 101 at 10 s


def test_priority_comes_before_the_strategy_but_never_before_arrival(desk: StoredQueueDesk) -> None:
    queue = Queue(
        id="sales",
        name="Sales",
        strategy="round_robin",
        members=[QueueMember(extension="101", priority=1), QueueMember(extension="102", priority=0)],
    )
    assert desk.join(queue, "a", T0).extensions == ("102",)
    assert desk.join(queue, "b", T0).extensions == ("101",)


def test_a_caller_that_never_collects_its_offer_is_dropped_and_its_agent_freed(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",))
    desk.join(queue, "a", T0)
    desk.answered(queue, "a", "101", seconds(1))
    desk.join(queue, "ghost", seconds(2))
    desk.join(queue, "b", seconds(3))
    desk.call_ended("101", "a", seconds(10))
    assert desk.poll(queue, "b", seconds(16)).kind == "wait"  # 101 is kept for the ghost, the head of the line
    assert desk.poll(queue, "b", seconds(45)).extensions == ("101",)  # the ghost never reported: gone
    assert [w.call_id for w in desk.live(queue, seconds(45)).waiting] == ["b"]


def test_paused_agents_are_not_offered_and_pause_is_idempotent(desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101", "102"))
    desk.set_paused(queue, "101", True, T0)
    desk.set_paused(queue, "101", True, T0)
    assert desk.join(queue, "a", T0).extensions == ("102",)
    assert desk.join(queue, "b", T0).kind == "wait"
    desk.set_paused(queue, "101", False, seconds(1))
    assert desk.poll(queue, "b", seconds(2)).extensions == ("101",)
    assert [m.state for m in desk.live(queue, seconds(2)).members] == ["ringing", "ringing"]


def test_a_report_that_changes_nothing_does_not_write(repository: InMemoryRepository, desk: StoredQueueDesk) -> None:
    queue = make_queue(agents=("101",))
    desk.join(queue, "a", T0)
    desk.join(queue, "b", T0)
    _, version = repository.read_queue_state(TENANT, "sales")
    for n in range(5):
        assert desk.poll(queue, "b", seconds(n)).position == 2
    assert repository.read_queue_state(TENANT, "sales")[1] == version

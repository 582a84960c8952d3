"""The ACD on DynamoDB (moto) under real concurrency: many callers report `waiting` at the same moment, from threads
with a client each (as many function instances would), on two queues that share agents.

Nobody answers, so within one ring no agent may be offered twice — whichever queue's caller asks — and the callers
offered must be the earliest of their line. Without the guards this fails: with the agent claim's condition removed
(store/dynamodb/acd.py HOLD_IS_OURS_OR_FREE) the shared agents are offered by both queues; with the state's version
condition removed, two concurrent polls of one queue offer one agent to two callers.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from vpbx.domain.acd import QueueState
from vpbx.domain.queues import Queue, QueueMember, QueueVerdict
from vpbx.service.acd import StoredQueueDesk
from vpbx.store.dynamodb import DynamoRepository

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT = "acme"
THREADS = 12
ROUNDS = 3


def queue(queue_id: str, agents: list[str]) -> Queue:
    return Queue(
        id=queue_id,
        name=queue_id,
        members=[QueueMember(extension=agent) for agent in agents],
        strategy="round_robin",
        max_waiting=200,
        poll_seconds=10,
        member_ring_seconds=20,
        wrapup_seconds=1,
    )


@pytest.fixture
def repositories(module_dynamo_table: tuple[str, str]) -> list[DynamoRepository]:
    endpoint, table_name = module_dynamo_table
    return [DynamoRepository(table_name=table_name, endpoint_url=endpoint) for _ in range(THREADS)]


def hammer(desks: list[StoredQueueDesk], work: list[tuple[Queue, str]], at: datetime) -> list[tuple[str, QueueVerdict]]:
    """Every (queue, call) polls ROUNDS times, spread over the threads, all released at once."""
    results: list[tuple[str, QueueVerdict]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(desks))

    def run(index: int) -> None:
        start.wait()
        for _ in range(ROUNDS):
            for queue_of_call, call_id in work[index :: len(desks)]:
                verdict = desks[index].poll(queue_of_call, call_id, at)
                with lock:
                    results.append((call_id, verdict))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(desks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def offered_agents(results: list[tuple[str, QueueVerdict]]) -> dict[str, set[str]]:
    """agent -> the calls it was offered to."""
    by_agent: dict[str, set[str]] = {}
    for call_id, verdict in results:
        if verdict.kind == "offer":
            for agent in verdict.extensions:
                by_agent.setdefault(agent, set()).add(call_id)
    return by_agent


def occupy(desk: StoredQueueDesk, agents: list[str]) -> None:
    """Each agent takes a call from a queue of its own and hangs up at once: its wrap-up ends at T0 + 1.5 s, so
    every line below fills while it is held elsewhere, and the first polls after that race for it."""
    for agent in agents:
        own = queue(f"warm-{agent}", [agent])
        call_id = f"warm-call-{agent}"
        assert desk.join(own, call_id, T0).extensions == (agent,)
        desk.answered(own, call_id, agent, T0)
        desk.call_ended(agent, call_id, T0 + timedelta(seconds=0.5))


def test_concurrent_polls_of_one_queue_offer_each_agent_once_to_the_earliest_callers(
    repositories: list[DynamoRepository],
) -> None:
    sales = queue("sales", ["101", "102", "103"])
    desks = [StoredQueueDesk(repository, TENANT) for repository in repositories]
    occupy(desks[0], ["101", "102", "103"])
    calls = [f"call-{n:02d}" for n in range(30)]
    for offset, call_id in enumerate(calls):
        assert desks[0].join(sales, call_id, T0 + timedelta(seconds=1, milliseconds=offset)).kind == "wait"

    results = hammer(desks, [(sales, call_id) for call_id in calls], T0 + timedelta(seconds=2))

    by_agent = offered_agents(results)
    assert {agent: len(offered) for agent, offered in by_agent.items()} == {"101": 1, "102": 1, "103": 1}, by_agent
    assert set().union(*by_agent.values()) == {"call-00", "call-01", "call-02"}  # the earliest three
    state, version = repositories[0].read_queue_state(TENANT, "sales")
    assert [caller.call_id for caller in state.line] == calls
    assert version <= 31 + 2 * 3 + 3, "a poll that changes nothing must not write"
    assert sum(desk.lost_writes for desk in desks) > 0, "the polls did not race"


def test_two_queues_sharing_agents_never_offer_one_agent_twice(repositories: list[DynamoRepository]) -> None:
    sales, support = queue("sales", ["201", "202", "203"]), queue("support", ["202", "203", "204"])
    desks = [StoredQueueDesk(repository, TENANT) for repository in repositories]
    occupy(desks[0], ["201", "202", "203", "204"])
    work = [(line, f"{line.id}-{n:02d}") for n in range(12) for line in (sales, support)]
    for offset, (line, call_id) in enumerate(work):
        assert desks[0].join(line, call_id, T0 + timedelta(seconds=1, milliseconds=offset)).kind == "wait"

    results = hammer(desks, work, T0 + timedelta(seconds=2))

    by_agent = offered_agents(results)
    assert all(len(offered) == 1 for offered in by_agent.values()), by_agent
    assert set(by_agent) == {"201", "202", "203", "204"}
    states: list[QueueState] = [repositories[0].read_queue_state(TENANT, line.id)[0] for line in (sales, support)]
    offered_in_states = [agent for state in states for caller in state.line for agent in caller.offered_to]
    assert sorted(offered_in_states) == ["201", "202", "203", "204"]
    for state in states:  # FIFO within each line: the offered callers are its earliest
        offered = [bool(caller.offered_to) for caller in state.line]
        assert offered == sorted(offered, reverse=True), offered


def test_concurrent_joins_keep_every_caller_once_with_distinct_places(repositories: list[DynamoRepository]) -> None:
    sales = queue("sales", ["301"])
    desks = [StoredQueueDesk(repository, TENANT) for repository in repositories]
    occupy(desks[0], ["301"])
    calls = [f"join-{n:02d}" for n in range(36)]
    places: list[tuple[str, QueueVerdict]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(desks))

    def run(index: int) -> None:
        start.wait()
        for call_id in calls[index :: len(desks)]:
            verdict = desks[index].join(sales, call_id, T0 + timedelta(seconds=1))
            with lock:
                places.append((call_id, verdict))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(desks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    state, _ = repositories[0].read_queue_state(TENANT, "sales")
    assert sorted(caller.call_id for caller in state.line) == calls, "a join was lost"
    assert sorted(verdict.position or 0 for _, verdict in places) == list(range(1, len(calls) + 1))
    line = [caller.call_id for caller in state.line]
    assert all(line.index(call_id) + 1 == verdict.position for call_id, verdict in places)

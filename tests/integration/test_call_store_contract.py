"""CallStore contract (create, conditional save, listing, expiry, bounded trace), on both implementations."""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from vpbx.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from vpbx.store.codec import MAX_TRACE_STEPS, TRACE_HEAD_STEPS
from vpbx.store.models import (
    CallSummary,
)

if TYPE_CHECKING:  # conftest is loaded by pytest itself; import it for the annotation only
    from tests.integration.conftest import ManualClock

from vpbx.store.ports import CallStore

from tests.integration.store_contract import T0, A, B, all_pages, call_record, run_concurrently, with_seq


# ------------------------------------------------------------------------------------------------------ calls
def test_call_create_duplicate_get_and_save(repository: CallStore) -> None:
    call = call_record("c1", T0)
    assert repository.create_call(A, call) == call
    with pytest.raises(AlreadyExists):
        repository.create_call(A, with_seq(call, 5))
    assert repository.get_call(A, "c1") == call

    advanced = repository.save_call(A, with_seq(call, 2), expected_seq=1)
    assert repository.get_call(A, "c1") == advanced
    with pytest.raises(Conflict):
        repository.save_call(A, with_seq(call, 3), expected_seq=1)
    assert repository.get_call(A, "c1").state.seq == 2
    with pytest.raises(NotFound):
        repository.save_call(A, with_seq(call_record("missing", T0), 2), expected_seq=1)


def test_calls_are_tenant_scoped(repository: CallStore) -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    with pytest.raises(NotFound):
        repository.get_call(B, "c1")
    with pytest.raises(InvalidInput):
        repository.save_call(B, with_seq(call, 2), expected_seq=1)
    assert repository.list_calls(B, 10, None).items == []


def test_concurrent_event_deliveries_advance_a_call_once(repository: CallStore) -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    outcomes = run_concurrently([lambda: repository.save_call(A, with_seq(call, 2), expected_seq=1) for _ in range(5)])
    assert sum(outcome is None for outcome in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None)


def test_list_calls_newest_first_with_filters_and_paging(repository: CallStore) -> None:
    for i in range(7):
        dialed = "+74951111111" if i % 2 else "+74952222222"
        repository.create_call(A, call_record(f"c{i}", T0 + timedelta(minutes=i), dialed=dialed))

    listed, pages = all_pages(lambda cursor: repository.list_calls(A, 3, cursor))
    assert ([c.call_id for c in listed], pages) == ([f"c{i}" for i in range(6, -1, -1)], 3)

    by_number, _ = all_pages(lambda cursor: repository.list_calls(A, 2, cursor, number="+74951111111"))
    assert [c.call_id for c in by_number] == ["c5", "c3", "c1"]

    window = repository.list_calls(A, 10, None, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5))
    assert [c.call_id for c in window.items] == ["c4", "c3", "c2"]
    since_only = repository.list_calls(A, 10, None, since=T0 + timedelta(minutes=5))
    assert [c.call_id for c in since_only.items] == ["c6", "c5"]
    until_only = repository.list_calls(A, 10, None, until=T0 + timedelta(minutes=1))
    assert [c.call_id for c in until_only.items] == ["c0"]


def test_listed_call_is_the_summary_of_its_latest_save(repository: CallStore) -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    ended = with_seq(call, 2, steps=3)
    ended = ended.model_copy(update={"state": ended.state.model_copy(update={"status": "ended", "result": "hangup"})})
    repository.save_call(A, ended, expected_seq=1)

    (listed,) = repository.list_calls(A, 10, None).items
    assert listed == CallSummary.of(repository.get_call(A, "c1"))
    assert (listed.seq, listed.status, listed.result, listed.updated_at) == (2, "ended", "hangup", T0)


def test_expired_call_is_gone_before_ttl_sweeps_it(repository: CallStore, clock: "ManualClock") -> None:
    call = call_record("c1", T0)
    repository.create_call(A, call)
    clock.now = datetime.fromtimestamp(call.expires_at + 1, UTC)
    with pytest.raises(NotFound):
        repository.get_call(A, "c1")
    assert repository.list_calls(A, 10, None).items == []
    assert repository.create_call(A, call) == call  # the id is free again


def test_call_trace_is_bounded(repository: CallStore) -> None:
    call = with_seq(call_record("c1", T0), 1, steps=MAX_TRACE_STEPS + 40)
    stored = repository.create_call(A, call)
    assert len(stored.trace) == MAX_TRACE_STEPS
    assert stored.trace[:TRACE_HEAD_STEPS] == call.trace[:TRACE_HEAD_STEPS]
    assert stored.trace[-1] == call.trace[-1]
    assert repository.get_call(A, "c1") == stored


# ------------------------------------------------------------------------------------------------------ DynamoDB only

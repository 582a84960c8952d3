"""Calls in their own partitions, write-sharded listings merged newest first, sharded statistics, and the calls and
counters written before sharding (the migration), on both implementations where they share behaviour."""

import zlib
from datetime import date, timedelta
from typing import Any

import pytest
from vpbx.domain.errors import Conflict, InvalidInput, NotFound
from vpbx.store import keys
from vpbx.store.dynamodb import DynamoRepository
from vpbx.store.models import CallFilter, CallRecord, CallSummary
from vpbx.store.ports import Repository

from tests.integration.store_contract import T0, A, B, all_pages, call_record, with_seq

NUMBERS = ("+74951111111", "+74952222222")


def started(repository: Repository, count: int, offset: int = 0) -> list[CallRecord]:
    calls = [
        call_record(f"c{i:03d}", T0 + timedelta(seconds=i), dialed=NUMBERS[i % 2])
        for i in range(offset, offset + count)
    ]
    for call in calls:
        repository.create_call(A, call)
    return calls


def ids(summaries: list[CallSummary]) -> list[str]:
    return [summary.call_id for summary in summaries]


def newest_first(calls: list[CallRecord]) -> list[str]:
    return [call.state.call.call_id for call in sorted(calls, key=lambda c: c.state.call.started_at, reverse=True)]


def test_pages_across_shards_are_newest_first_without_gaps_or_duplicates(repository: Repository) -> None:
    calls = started(repository, 60)
    walked, pages = all_pages(lambda cursor: repository.list_calls(A, 7, cursor))
    assert ids(walked) == newest_first(calls)
    assert pages == 9
    by_number, _ = all_pages(lambda cursor: repository.list_calls(A, 4, cursor, number=NUMBERS[1]))
    assert ids(by_number) == [c for c in newest_first(calls) if int(c[1:]) % 2 == 1]
    by_caller, _ = all_pages(
        lambda cursor: repository.list_calls(A, 9, cursor, where=CallFilter(kind="caller", value="+79161234567"))
    )
    assert ids(by_caller) == newest_first(calls)
    assert repository.list_calls(B, 10, None).items == []


def test_a_cursor_resumes_exactly_while_newer_calls_arrive(repository: Repository) -> None:
    calls = started(repository, 40)
    first = repository.list_calls(A, 15, None)
    started(repository, 20, offset=100)  # newer than everything listed so far, in every shard
    rest, _ = all_pages(lambda cursor: repository.list_calls(A, 15, cursor or first.next_cursor))
    assert ids([*first.items, *rest]) == newest_first(calls)


def test_a_cursor_of_another_listing_or_tenant_is_refused(repository: Repository) -> None:
    started(repository, 12)
    cursor = repository.list_calls(A, 5, None).next_cursor
    with pytest.raises(InvalidInput):
        repository.list_calls(A, 5, cursor, number=NUMBERS[0])
    with pytest.raises(InvalidInput):
        repository.list_calls(B, 5, cursor)


def test_since_until_bound_every_shard(repository: Repository) -> None:
    calls = started(repository, 30)
    since, until = T0 + timedelta(seconds=5), T0 + timedelta(seconds=25)
    walked, _ = all_pages(lambda cursor: repository.list_calls(A, 6, cursor, since=since, until=until))
    assert ids(walked) == [c for c in newest_first(calls) if 5 <= int(c[1:]) < 25]


# ------------------------------------------------------------------------------------------------ DynamoDB keys
def table_items(repository: DynamoRepository) -> list[dict[str, Any]]:
    return repository.client.scan(TableName=repository.table_name)["Items"]


def test_each_call_has_its_own_partition_and_listings_are_spread(dynamo_repository: DynamoRepository) -> None:
    calls = started(dynamo_repository, 64)
    items = {item["PK"]["S"]: item for item in table_items(dynamo_repository)}
    for call in calls:
        call_id = call.state.call.call_id
        item = items[f"TENANT#{A}#CALL#{call_id}"]
        assert item["SK"]["S"] == f"CALL#{call_id}"
        shard = zlib.crc32(call_id.encode()) % keys.CALL_LISTING_SHARDS
        assert item["GSI1PK"]["S"] == f"TENANT#{A}#CALLS#{shard:02d}"
        assert item["CALLS_NUMBER_PK"]["S"] == f"TENANT#{A}#CALLS#number#{call.state.call.dialed}#{shard:02d}"
        assert item["CALLS_CALLER_PK"]["S"] == f"TENANT#{A}#CALLS#caller#+79161234567"  # not sharded: see keys.py
    assert len({item["GSI1PK"]["S"] for item in items.values()}) == keys.CALL_LISTING_SHARDS
    assert not [pk for pk in items if pk == f"TENANT#{A}"]  # nothing of the call path in the tenant's partition


# ------------------------------------------------------------------------------------------------ migration
def put_legacy_call(repository: DynamoRepository, call: CallRecord) -> None:
    """A call item as it was written before calls had their own partition (unsharded listing keys)."""
    item = repository._call_item(A, call)  # the same attributes, under the old keys
    summary = CallSummary.of(call)
    item.update(
        {
            "PK": {"S": f"TENANT#{A}"},
            "SK": {"S": f"CALL#{call.state.call.call_id}"},
            "GSI1PK": {"S": f"TENANT#{A}#CALLS"},
            "CALLS_NUMBER_PK": {"S": f"TENANT#{A}#CALLS#number#{summary.dialed}"},
            "CALLS_SCENARIO_PK": {"S": f"TENANT#{A}#CALLS#scenario_id#{summary.scenario_id}"},
        }
    )
    repository.client.put_item(TableName=repository.table_name, Item=item)


def test_a_call_started_before_the_migration_is_read_listed_and_advanced(dynamo_repository: DynamoRepository) -> None:
    calls = started(dynamo_repository, 10)
    legacy = call_record("old", T0 - timedelta(minutes=1), dialed=NUMBERS[0])
    put_legacy_call(dynamo_repository, legacy)
    assert dynamo_repository.get_call(A, "old") == legacy
    with pytest.raises(NotFound):
        dynamo_repository.get_call(B, "old")
    walked, _ = all_pages(lambda cursor: dynamo_repository.list_calls(A, 4, cursor))
    assert ids(walked) == [*newest_first(calls), "old"]
    by_number, _ = all_pages(lambda cursor: dynamo_repository.list_calls(A, 3, cursor, number=NUMBERS[0]))
    assert ids(by_number)[-1] == "old"

    advanced = dynamo_repository.save_call(A, with_seq(legacy, 2), expected_seq=1)
    assert dynamo_repository.get_call(A, "old") == advanced
    stored = dynamo_repository.client.get_item(
        TableName=dynamo_repository.table_name, Key={"PK": {"S": f"TENANT#{A}"}, "SK": {"S": "CALL#old"}}
    )["Item"]
    assert stored["seq"]["N"] == "2"  # saved where it lives; its listing entry moved to its shard
    assert stored["GSI1PK"]["S"] == keys.calls_gsi_pk(A, keys.call_shard("old"))
    with pytest.raises(Conflict, match="sequence 2"):
        dynamo_repository.save_call(A, with_seq(legacy, 3), expected_seq=1)
    walked, _ = all_pages(lambda cursor: dynamo_repository.list_calls(A, 4, cursor))
    assert ids(walked) == [*newest_first(calls), "old"]


def test_statistics_counters_written_before_sharding_still_count(dynamo_repository: DynamoRepository) -> None:
    day = T0.date()
    for shard in (0, 3):  # the old layout: one partition per scenario, `<day>#<shard>` sort keys
        dynamo_repository.client.put_item(
            TableName=dynamo_repository.table_name,
            Item={
                "PK": {"S": f"TENANT#{A}#STATS#main"},
                "SK": {"S": f"{day.isoformat()}#{shard}"},
                "calls": {"N": "2"},
                "r#missed": {"N": "1"},
            },
        )
    (counted,) = dynamo_repository.read_call_counters(A, "main", day, day + timedelta(days=1))
    assert (counted.day, counted.values) == (day, {"calls": 4, "r#missed": 2})
    assert dynamo_repository.read_call_counters(B, "main", date(2000, 1, 1), day) == []


@pytest.fixture
def dynamo_repository(dynamo_table: tuple[str, str], clock: Any) -> DynamoRepository:
    endpoint, table_name = dynamo_table
    return DynamoRepository(table_name, endpoint_url=endpoint, clock=clock)


def test_stream_events_name_the_tenant_of_a_call_in_its_own_partition() -> None:
    from vpbx.store.dynamodb.stream_events import events_of

    keys_of = {"PK": {"S": f"TENANT#{A}#CALL#c-1"}, "SK": {"S": "CALL#c-1"}}
    summary = '{"call_id": "c-1", "status": "in_progress", "started_at": "2026-12-03T12:00:00+00:00"}'
    record = {"eventName": "INSERT", "dynamodb": {"Keys": keys_of, "NewImage": {**keys_of, "summary": {"S": summary}}}}
    (started_event,) = events_of(record)
    assert (started_event.type, started_event.tenant_id) == ("call.started", A)

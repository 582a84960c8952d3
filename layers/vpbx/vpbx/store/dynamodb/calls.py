"""CallStore on DynamoDB: one item per call (24 h) in the call's own partition, its listing summary projected to GSI1
and the filter indexes (write-sharded) while it is routed; once routing is over, a compact history item (its summary,
the tenant's retention) carries the index keys instead, and the call's statistics counters (sharded per scenario) are
added in the same transaction (store/keys.py). Listings merge the shards (store/call_listing.py).

The call item: `body` (the compressed record without its trace and first decision), `trace` (a list of compressed
chunks, one per decision: trace_slot), `first` (the start's decision), `seq`, `expires_at`, `summary`. An event from a
state token (advance_call) SETs body, summary, seq, expiry and its one trace slot with one UpdateItem conditional on the
seq; a failed condition returns the stored item (ALL_OLD), which the service answers from."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from threading import Lock
from typing import Any

from vpbx.domain.calls import TraceStep
from vpbx.domain.errors import NotFound
from vpbx.store import keys
from vpbx.store.call_listing import Bound, Chunk, merged_page
from vpbx.store.codec import bounded_call
from vpbx.store.common import (
    call_is_live,
    calls_filter,
    calls_time_range,
    check_call_owner,
)
from vpbx.store.dynamodb.table import (
    CALL_COMPRESSION_LEVEL,
    ConditionFailed,
    DynamoTable,
    Item,
    TransactionCanceled,
    attr_b,
    attr_n,
    attr_s,
    decode_call,
    encode_trace_chunk,
    table_key,
)
from vpbx.store.models import (
    CallAdvance,
    CallCounters,
    CallFilter,
    CallRecord,
    CallSummary,
    DayCounters,
    Page,
)
from vpbx.store.ports import CallMoved, CallStore, CallTaken

LISTING_QUERY_THREADS = 8  # a listing's Queries of its shards run this many at a time (one round ≈ one Query's latency)
_pool: ThreadPoolExecutor | None = None
_pool_lock = Lock()


def _listing_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=LISTING_QUERY_THREADS, thread_name_prefix="calls-listing")
        return _pool


def index_keys(tenant_id: str, summary: CallSummary, kinds: tuple[str, ...]) -> Item:
    """GSI1's keys and those of the filter indexes `kinds` that have a value for this call, in the call's shard."""
    shard = keys.call_shard(summary.call_id)
    keys_of: Item = {
        "GSI1PK": attr_s(keys.calls_gsi_pk(tenant_id, shard)),
        "GSI1SK": attr_s(keys.calls_gsi_sk(summary.started_at, summary.call_id)),
    }
    values = {
        "result": summary.result,
        "scenario_id": summary.scenario_id,
        "extension": summary.answered_extension,
        "number": summary.dialed,
        "caller": summary.caller,
    }
    for kind in kinds:
        value = values[kind]
        if value:
            keys_of[keys.CALL_INDEXES[kind][1]] = attr_s(keys.calls_index_pk(tenant_id, kind, value, shard))
    return keys_of


TRACE_HEAD_CHUNKS = 16
TRACE_RING_CHUNKS = 64
"""The `trace` attribute is a list of compressed chunks, one per decision, at trace_slot(seq): the first
TRACE_HEAD_CHUNKS decisions (how the call began), then a ring of the latest TRACE_RING_CHUNKS (where it is). An event
written from a state token sets its one slot (SET trace[i]: an index past the end appends) without reading the item,
and the item stays bounded however long a call loops."""

ROUTED_INDEX_ATTRIBUTES = ("GSI1PK", "GSI1SK", *(keys.CALL_INDEXES[kind][1] for kind in keys.LIVE_CALL_FILTERS))


def trace_slot(seq: int) -> int:
    index = seq - 1
    return index if index < TRACE_HEAD_CHUNKS else TRACE_HEAD_CHUNKS + (index - TRACE_HEAD_CHUNKS) % TRACE_RING_CHUNKS


def trace_chunks(steps: list[TraceStep]) -> list[Item]:
    """The trace as chunks in their slots: a later decision replaces the one its ring slot held."""
    by_seq: dict[int, list[TraceStep]] = {}
    for step in steps:
        by_seq.setdefault(step.seq, []).append(step)
    slots = {trace_slot(seq): by_seq[seq] for seq in sorted(by_seq) if seq >= 1}
    return [encode_trace_chunk(slots.get(slot, [])) for slot in range(max(slots, default=-1) + 1)]


def _body(call: CallRecord) -> Item:
    """The record without its trace and first decision (their own attributes): what every event replaces."""
    rest = call.model_copy(update={"trace": [], "first_decision": None})
    return attr_b(zlib.compress(rest.model_dump_json().encode(), CALL_COMPRESSION_LEVEL))


class DynamoCallStore(DynamoTable, CallStore):
    listing_threads = LISTING_QUERY_THREADS  # 1: a listing queries its shards one after another (bench, tests)

    def _call_key(self, tenant_id: str, call_id: str) -> Item:
        return table_key(keys.call_pk(tenant_id, call_id), keys.call_sk(call_id))

    def _call_item(self, tenant_id: str, call: CallRecord) -> Item:
        """The call item. The indexes project only CALL_LISTING_ATTRIBUTES (template.yaml), so each write of the call
        costs one write unit per index however long `body` (the whole record with its trace) grows; once routing is
        over the call leaves the indexes (its history item is listed instead)."""
        info = call.state.call
        summary = CallSummary.of(call)
        routed = call.history_expires_at is None
        item = {
            **self._call_key(tenant_id, info.call_id),
            **(index_keys(tenant_id, summary, keys.LIVE_CALL_FILTERS) if routed else {}),
            "seq": attr_n(call.state.seq),
            "dialed": attr_s(info.dialed),
            "expires_at": attr_n(call.expires_at),
            "summary": attr_s(summary.model_dump_json()),
            "body": _body(call),
            "trace": {"L": trace_chunks(call.trace)},
        }
        if call.first_decision is not None:
            item["first"] = attr_b(zlib.compress(call.first_decision.model_dump_json().encode()))
        return item

    def _history_item(self, tenant_id: str, summary: CallSummary) -> Item:
        return {
            **table_key(keys.call_history_pk(tenant_id, summary.call_id), keys.CALL_HISTORY_SK),
            **index_keys(tenant_id, summary, tuple(keys.CALL_INDEXES)),
            "dialed": attr_s(summary.dialed),
            "expires_at": attr_n(summary.expires_at),
            "summary": attr_s(summary.model_dump_json()),
        }

    def _counters_update(self, tenant_id: str, counters: CallCounters) -> dict[str, object]:
        names = {f"#c{i}": name for i, name in enumerate(counters.values)}
        values = {f":c{i}": attr_n(value) for i, value in enumerate(counters.values.values())}
        return {
            "Update": {
                "Key": table_key(
                    keys.call_stats_pk(tenant_id, counters.scenario_id, counters.shard),
                    keys.call_stats_sk(counters.day),
                ),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _write_call(
        self,
        tenant_id: str,
        call: CallRecord,
        condition: str,
        values: Item,
        counters: CallCounters | None,
        at_key: Item | None = None,
    ) -> None:
        """One request: a conditional PutItem while the call is routed; once routing is over a transaction that also
        writes its history item and adds its counters (ConditionFailed carries the stored call item either way).
        `at_key`: the call item's key when it is not the call's own (a call started before the migration)."""
        item = {**self._call_item(tenant_id, call), **(at_key or {})}
        if call.history_expires_at is None:
            self._conditional("put_item", Item=item, ConditionExpression=condition, ExpressionAttributeValues=values)
            return
        writes: list[dict[str, object]] = [
            {"Put": {"Item": item, "ConditionExpression": condition, "ExpressionAttributeValues": values}},
            {"Put": {"Item": self._history_item(tenant_id, CallSummary.of(call))}},
        ]
        if counters is not None and counters.values:
            writes.append(self._counters_update(tenant_id, counters))
        try:
            self._transact(writes)
        except TransactionCanceled as canceled:
            if canceled.failed(0):
                raise ConditionFailed(canceled.item(0)) from None
            raise

    def _now_epoch(self) -> dict[str, str]:
        return attr_n(int(self._clock().timestamp()))

    def create_call(self, tenant_id: str, call: CallRecord, counters: CallCounters | None = None) -> CallRecord:
        check_call_owner(tenant_id, call)
        stored = bounded_call(call)
        try:
            # an expired call that TTL has not swept yet does not block its id
            self._write_call(
                tenant_id,
                stored,
                "attribute_not_exists(PK) OR expires_at <= :now",
                {":now": self._now_epoch()},
                counters,
            )
        except ConditionFailed as failed:
            taken = decode_call(failed.item) if failed.item else None
            raise CallTaken(f"call {call.state.call.call_id} already exists", taken) from None
        return stored

    def _stored_call_item(self, tenant_id: str, call_id: str) -> Item | None:
        """The call item at its own key, else (a call started before the migration, for its last 24 h) the old one."""
        item = self._get_item(keys.call_pk(tenant_id, call_id), keys.call_sk(call_id))
        if item is None and keys.LEGACY_UNSHARDED_READS:
            item = self._get_item(*keys.legacy_call_key(tenant_id, call_id))
        return item

    def get_call(self, tenant_id: str, call_id: str) -> CallRecord:
        item = self._stored_call_item(tenant_id, call_id)
        if item is None or not call_is_live(int(item["expires_at"]["N"]), self._clock()):
            raise NotFound(f"call {call_id} not found")
        return decode_call(item)

    def get_call_history(self, tenant_id: str, call_id: str) -> CallSummary:
        item = self._get_item(keys.call_history_pk(tenant_id, call_id), keys.CALL_HISTORY_SK)
        if item is None or not call_is_live(int(item["expires_at"]["N"]), self._clock()):
            raise NotFound(f"call {call_id} not found")
        return CallSummary.model_validate_json(item["summary"]["S"])

    def save_call(
        self, tenant_id: str, call: CallRecord, expected_seq: int, counters: CallCounters | None = None
    ) -> CallRecord:
        check_call_owner(tenant_id, call)
        stored = bounded_call(call)
        call_id = call.state.call.call_id
        condition = "seq = :expected AND expires_at > :now"
        values = {":expected": attr_n(expected_seq), ":now": self._now_epoch()}
        try:
            self._write_call(tenant_id, stored, condition, values, counters)
        except ConditionFailed as failed:
            current = failed.item
            if current is None and keys.LEGACY_UNSHARDED_READS:
                return self._save_legacy_call(tenant_id, stored, expected_seq, condition, values, counters)
            raise self._moved(call_id, current, expected_seq) from None
        return stored

    def _save_legacy_call(
        self,
        tenant_id: str,
        stored: CallRecord,
        expected_seq: int,
        condition: str,
        values: Item,
        counters: CallCounters | None,
    ) -> CallRecord:
        """A call started before the migration is saved where it lives (its listing entries move to the shards); a
        call that is nowhere is NotFound. Costs a second write only for such calls, only in their last 24 h."""
        call_id = stored.state.call.call_id
        legacy_key = table_key(*keys.legacy_call_key(tenant_id, call_id))
        try:
            self._write_call(tenant_id, stored, condition, values, counters, at_key=legacy_key)
        except ConditionFailed as failed:
            raise self._moved(call_id, failed.item, expected_seq) from None
        return stored

    def _moved(self, call_id: str, current: Item | None, expected_seq: int) -> CallMoved | NotFound:
        """What a failed seq condition means, from the item it returned (ALL_OLD; in a transaction, the cancellation
        reason's): the call moved on (the caller answers a replay or a conflict from it), or it is gone."""
        if not current or not call_is_live(int(current["expires_at"]["N"]), self._clock()):
            return NotFound(f"call {call_id} not found")
        message = f"call {call_id} is at sequence {current['seq']['N']}, not {expected_seq}"
        return CallMoved(message, decode_call(current))

    def advance_call(self, tenant_id: str, advance: CallAdvance) -> None:
        """One UpdateItem conditional on the seq while the call is routed; once routing is over one
        TransactWriteItems that also writes the history item and adds the counters. No read either way."""
        call = advance.call
        check_call_owner(tenant_id, call)
        call_id = call.state.call.call_id
        new_steps = bounded_call(call).trace
        expression = f"SET #q = :q, #b = :b, #s = :s, #e = :e, #t[{trace_slot(call.state.seq)}] = :c"
        routed = call.history_expires_at is None
        if not routed:
            expression += " REMOVE " + ", ".join(ROUTED_INDEX_ATTRIBUTES)
        update: dict[str, object] = {
            "Key": self._call_key(tenant_id, call_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#q = :expected AND #e > :now",
            "ExpressionAttributeNames": {"#q": "seq", "#b": "body", "#s": "summary", "#e": "expires_at", "#t": "trace"},
            "ExpressionAttributeValues": {
                ":q": attr_n(call.state.seq),
                ":b": _body(call),
                ":s": attr_s(advance.summary.model_dump_json()),
                ":e": attr_n(call.expires_at),
                ":c": encode_trace_chunk(new_steps),
                ":expected": attr_n(advance.expected_seq),
                ":now": self._now_epoch(),
            },
        }
        try:
            if routed:
                self._conditional("update_item", **update)
                return
            writes: list[dict[str, object]] = [
                {"Update": update},
                {"Put": {"Item": self._history_item(tenant_id, advance.summary)}},
            ]
            if advance.counters is not None and advance.counters.values:
                writes.append(self._counters_update(tenant_id, advance.counters))
            try:
                self._transact(writes)
            except TransactionCanceled as canceled:
                if canceled.failed(0):
                    raise ConditionFailed(canceled.item(0)) from None
                raise
        except ConditionFailed as failed:
            raise self._moved(call_id, failed.item, advance.expected_seq) from None

    def list_calls(
        self,
        tenant_id: str,
        limit: int,
        cursor: str | None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        where: CallFilter | None = None,
    ) -> Page[CallSummary]:
        """Newest first, merged from the listing's shards of GSI1 or of one filter's index (summaries, not whole
        calls); since <= started_at < until. The only filter on read is the expiry (items TTL has not swept yet)."""
        chosen = calls_filter(number, where)
        kind, value = (chosen.kind, chosen.value) if chosen else (None, "")
        partitions = keys.calls_listing_partitions(tenant_id, kind, value)
        index, attribute = keys.CALL_INDEXES[kind] if kind else (keys.GSI1, "GSI1PK")
        sort_range = calls_time_range(since, until)
        now = self._now_epoch()

        def read_one(request: tuple[int, Bound], per_read: int) -> Chunk[CallSummary]:
            partition, bound = partitions[request[0]], request[1]
            return self._read_listing_shard(index, attribute, partition, bound, sort_range, now, per_read)

        page = merged_page(tenant_id, partitions, self._read_round(read_one), limit, cursor)
        return Page[CallSummary](items=page.items, next_cursor=page.next_cursor)

    def _read_round(
        self, read_one: Callable[[tuple[int, Bound], int], Chunk[Any]]
    ) -> Callable[[Sequence[tuple[int, Bound]], int], Mapping[int, Chunk[Any]]]:
        def read_round(requests: Sequence[tuple[int, Bound]], per_read: int) -> Mapping[int, Chunk[Any]]:
            if self.listing_threads <= 1 or len(requests) == 1:
                return {request[0]: read_one(request, per_read) for request in requests}
            chunks = _listing_pool().map(lambda request: read_one(request, per_read), requests)
            return {request[0]: chunk for request, chunk in zip(requests, chunks, strict=True)}

        return read_round

    def _read_listing_shard(
        self,
        index: str,
        attribute: str,
        partition: str,
        bound: Bound,
        sort_range: tuple[str | None, str | None],
        now: dict[str, str],
        per_read: int,
    ) -> Chunk[CallSummary]:
        """One Query of one shard, newest first, below `bound` (exclusive) within since/until."""
        low, high = sort_range
        upper = high if bound is None else bound if high is None else min(bound, high)
        names = {"#p": attribute, "#s": "GSI1SK"}
        values: dict[str, Any] = {":p": attr_s(partition), ":now": now}
        if low is not None and upper is not None:  # BETWEEN is inclusive: an entry at `bound` is dropped below
            condition = "#p = :p AND #s BETWEEN :low AND :high"
            values.update({":low": attr_s(low), ":high": attr_s(upper)})
        elif low is not None:
            condition = "#p = :p AND #s >= :low"
            values[":low"] = attr_s(low)
        elif upper is not None:
            condition = "#p = :p AND #s < :high"
            values[":high"] = attr_s(upper)
        else:
            condition = "#p = :p"
            del names["#s"]
        response = self._request(
            "query",
            TableName=self.table_name,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            FilterExpression="expires_at > :now",
            ScanIndexForward=False,
            Limit=per_read,
        )
        entries = [
            (item["GSI1SK"]["S"], CallSummary.model_validate_json(item["summary"]["S"]))
            for item in response.get("Items", [])
            if bound is None or item["GSI1SK"]["S"] < bound
        ]
        last = response.get("LastEvaluatedKey")
        return Chunk(entries=entries, evaluated=last["GSI1SK"]["S"] if last else None)

    def read_call_counters(self, tenant_id: str, scenario_id: str, first: date, last: date) -> list[DayCounters]:
        """The scenario's counters summed over its shards (one Query each, in parallel) and the pre-sharding item."""
        partitions = [keys.call_stats_pk(tenant_id, scenario_id, shard) for shard in range(keys.STATS_SHARDS)]
        partitions.append(keys.legacy_call_stats_pk(tenant_id, scenario_id))
        low, high = attr_s(first.isoformat()), attr_s(last.isoformat() + "#~")
        if self.listing_threads <= 1:
            results = [self._stats_items(partition, low, high) for partition in partitions]
        else:
            results = list(_listing_pool().map(lambda partition: self._stats_items(partition, low, high), partitions))
        days: dict[date, dict[str, int]] = {}
        for items in results:
            for item in items:
                day = days.setdefault(date.fromisoformat(item["SK"]["S"].split("#")[0]), {})
                for name, value in item.items():
                    if "N" in value:
                        day[name] = day.get(name, 0) + int(value["N"])
        return [DayCounters(day=day, values=values) for day, values in sorted(days.items())]

    def _stats_items(self, partition: str, low: dict[str, str], high: dict[str, str]) -> list[Item]:
        params: dict[str, object] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :p AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":p": attr_s(partition), ":low": low, ":high": high},
        }
        items: list[Item] = []
        while True:
            response = self._request("query", **params)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

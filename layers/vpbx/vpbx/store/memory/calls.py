"""CallStore in memory: calls with the same keys, expiry, bounds and listing rules (shards merged by the same code,
the same cursors) as on DynamoDB."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from collections.abc import Mapping, Sequence
from datetime import date, datetime

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
from vpbx.store.memory.table import MemoryTable
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


class MemoryCallStore(MemoryTable, CallStore):
    def _live_call(self, tenant_id: str, call_id: str) -> CallRecord | None:
        stored: CallRecord | None = self._get(keys.call_pk(tenant_id, call_id), keys.call_sk(call_id))
        return stored if stored is not None and call_is_live(stored.expires_at, self._clock()) else None

    def _store_call(self, tenant_id: str, call: CallRecord, counters: CallCounters | None = None) -> CallRecord:
        """The call, and once routing is over its history and counters, under one lock: all or nothing."""
        stored = bounded_call(call)
        call_id = call.state.call.call_id
        self._put(keys.call_pk(tenant_id, call_id), keys.call_sk(call_id), stored)
        if stored.history_expires_at is not None:
            self._put(keys.call_history_pk(tenant_id, call_id), keys.CALL_HISTORY_SK, CallSummary.of(stored))
            if counters is not None:
                sk = keys.call_stats_sk(counters.day)
                pk = keys.call_stats_pk(tenant_id, counters.scenario_id, counters.shard)
                totals: dict[str, int] = dict(self._get(pk, sk) or {})
                for name, value in counters.values.items():
                    totals[name] = totals.get(name, 0) + value
                self._put(pk, sk, totals)
        return stored

    def create_call(self, tenant_id: str, call: CallRecord, counters: CallCounters | None = None) -> CallRecord:
        check_call_owner(tenant_id, call)
        call_id = call.state.call.call_id
        with self._lock:
            taken = self._live_call(tenant_id, call_id)
            if taken is not None:
                raise CallTaken(f"call {call_id} already exists", taken)
            return self._store_call(tenant_id, call, counters)

    def get_call(self, tenant_id: str, call_id: str) -> CallRecord:
        with self._lock:
            stored = self._live_call(tenant_id, call_id)
            if stored is None:
                raise NotFound(f"call {call_id} not found")
            return stored

    def get_call_history(self, tenant_id: str, call_id: str) -> CallSummary:
        with self._lock:
            summary: CallSummary | None = self._get(keys.call_history_pk(tenant_id, call_id), keys.CALL_HISTORY_SK)
        if summary is None or not call_is_live(summary.expires_at, self._clock()):
            raise NotFound(f"call {call_id} not found")
        return summary

    def save_call(
        self, tenant_id: str, call: CallRecord, expected_seq: int, counters: CallCounters | None = None
    ) -> CallRecord:
        check_call_owner(tenant_id, call)
        call_id = call.state.call.call_id
        with self._lock:
            self._check_seq(tenant_id, call_id, expected_seq)
            return self._store_call(tenant_id, call, counters)

    def _check_seq(self, tenant_id: str, call_id: str, expected_seq: int) -> CallRecord:
        current = self.get_call(tenant_id, call_id)
        if current.state.seq != expected_seq:
            raise CallMoved(f"call {call_id} is at sequence {current.state.seq}, not {expected_seq}", current)
        return current

    def advance_call(self, tenant_id: str, advance: CallAdvance) -> None:
        call = advance.call
        check_call_owner(tenant_id, call)
        call_id = call.state.call.call_id
        with self._lock:
            current = self._check_seq(tenant_id, call_id, advance.expected_seq)
            merged = call.model_copy(
                update={"trace": [*current.trace, *call.trace], "first_decision": current.first_decision}
            )
            stored = self._store_call(tenant_id, merged, advance.counters)
            if stored.history_expires_at is not None:  # the path the token kept, as DynamoDB stores it
                self._put(keys.call_history_pk(tenant_id, call_id), keys.CALL_HISTORY_SK, advance.summary)

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
        """Newest first; one filter at most; since <= started_at < until; listed as DynamoDB lists them: a routed
        call by its call item, a call whose routing is over by its history item, each in its shard."""
        chosen = calls_filter(number, where)
        kind, value = (chosen.kind, chosen.value) if chosen else (None, "")
        partitions = keys.calls_listing_partitions(tenant_id, kind, value)
        low, high = calls_time_range(since, until)
        now = self._clock()
        with self._lock:
            by_partition: dict[str, list[tuple[str, CallSummary]]] = {partition: [] for partition in partitions}
            for summary in self._listed_summaries(tenant_id):
                gsi_sk = keys.calls_gsi_sk(summary.started_at, summary.call_id)
                in_range = (low is None or gsi_sk >= low) and (high is None or gsi_sk < high)
                partition = _listing_partition(tenant_id, kind, summary)
                if in_range and partition in by_partition:
                    by_partition[partition].append((gsi_sk, summary))
        ordered = [sorted(by_partition[p], key=lambda entry: entry[0], reverse=True) for p in partitions]

        def read_round(requests: Sequence[tuple[int, Bound]], per_read: int) -> Mapping[int, Chunk[CallSummary]]:
            """As a DynamoDB Query with Limit and the expiry filter: `per_read` evaluated, the expired ones dropped."""
            chunks = {}
            for index, bound in requests:
                below = [entry for entry in ordered[index] if bound is None or entry[0] < bound]
                evaluated = below[:per_read]
                live = [entry for entry in evaluated if call_is_live(entry[1].expires_at, now)]
                chunks[index] = Chunk(live, evaluated[-1][0] if len(below) > per_read else None)
            return chunks

        page = merged_page(tenant_id, partitions, read_round, limit, cursor)
        return Page[CallSummary](items=page.items, next_cursor=page.next_cursor)

    def _listed_summaries(self, tenant_id: str) -> list[CallSummary]:
        """What the indexes hold: routed calls by their call item, the others by their history item."""
        calls_prefix = keys.call_pk(tenant_id, "")
        listed = []
        for pk, rows in self._items.items():
            if not pk.startswith(calls_prefix):
                continue
            call = rows.get(keys.call_sk(pk.removeprefix(calls_prefix)))
            if call is not None and call.history_expires_at is None:
                listed.append(CallSummary.of(call))
            elif keys.CALL_HISTORY_SK in rows:
                listed.append(rows[keys.CALL_HISTORY_SK])
        return listed

    def read_call_counters(self, tenant_id: str, scenario_id: str, first: date, last: date) -> list[DayCounters]:
        days: dict[date, dict[str, int]] = {}
        with self._lock:
            for shard in range(keys.STATS_SHARDS):
                for sk, values in self._rows(keys.call_stats_pk(tenant_id, scenario_id, shard), ""):
                    day = date.fromisoformat(sk["SK"])
                    if first <= day <= last:
                        totals = days.setdefault(day, {})
                        for name, value in values.items():
                            totals[name] = totals.get(name, 0) + value
        return [DayCounters(day=day, values=values) for day, values in sorted(days.items())]


def _listing_partition(tenant_id: str, kind: str | None, summary: CallSummary) -> str | None:
    """The index partition a call's listing entry is in for `kind` (None: it has no value for that filter)."""
    shard = keys.call_shard(summary.call_id)
    if kind is None:
        return keys.calls_gsi_pk(tenant_id, shard)
    values = {
        "result": summary.result,
        "scenario_id": summary.scenario_id,
        "extension": summary.answered_extension,
        "number": summary.dialed,
        "caller": summary.caller,
    }
    value = values[kind]
    return keys.calls_index_pk(tenant_id, kind, value, shard) if value else None

"""CallStore in memory: calls with the same expiry, bounds and listing rules as on DynamoDB."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from collections.abc import Iterator
from datetime import date, datetime

from vpbx.domain.errors import NotFound
from vpbx.store import keys
from vpbx.store.codec import bounded_call
from vpbx.store.common import (
    call_is_live,
    calls_filter,
    calls_time_range,
    check_call_owner,
)
from vpbx.store.memory.table import MemoryTable, Row
from vpbx.store.models import (
    CallAdvance,
    CallCounters,
    CallFilter,
    CallRecord,
    CallSummary,
    DayCounters,
    Page,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import CallMoved, CallStore, CallTaken


class MemoryCallStore(MemoryTable, CallStore):
    def _live_call(self, tenant_id: str, call_id: str) -> CallRecord | None:
        stored: CallRecord | None = self._get(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + call_id)
        return stored if stored is not None and call_is_live(stored.expires_at, self._clock()) else None

    def _store_call(self, tenant_id: str, call: CallRecord, counters: CallCounters | None = None) -> CallRecord:
        """The call, and once routing is over its history and counters, under one lock: all or nothing."""
        stored = bounded_call(call)
        call_id = call.state.call.call_id
        self._put(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + call_id, stored)
        if stored.history_expires_at is not None:
            self._put(keys.call_history_pk(tenant_id, call_id), keys.CALL_HISTORY_SK, CallSummary.of(stored))
            if counters is not None:
                sk = keys.call_stats_sk(counters.day, counters.shard)
                pk = keys.call_stats_pk(tenant_id, counters.scenario_id)
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
        call by its call item, a call whose routing is over by its history item."""
        chosen = calls_filter(number, where)
        if chosen is None:
            scope = ListScope(keys.calls_gsi_pk(tenant_id), "", index=keys.GSI1)
        else:
            index, attribute = keys.CALL_INDEXES[chosen.kind]
            partition = keys.calls_index_pk(tenant_id, chosen.kind, chosen.value)
            scope = ListScope(partition, "", index=index, index_partition_attr=attribute)
        low, high = calls_time_range(since, until)
        now = self._clock()

        def listed(summary: CallSummary) -> bool:
            if chosen is None:
                return True
            values = {
                "result": summary.result,
                "scenario_id": summary.scenario_id,
                "extension": summary.answered_extension,
                "number": summary.dialed,
                "caller": summary.caller,
            }
            return values[chosen.kind] == chosen.value

        def rows() -> Iterator[Row]:
            entries = [
                (row_key, CallSummary.of(call))
                for row_key, call in self._rows(keys.tenant_pk(tenant_id), keys.CALL_PREFIX)
                if call.history_expires_at is None
            ]
            for history_pk, rows_of_call in self._items.items():
                if history_pk.startswith(keys.call_history_pk(tenant_id, "")) and keys.CALL_HISTORY_SK in rows_of_call:
                    entries.append(({"PK": history_pk, "SK": keys.CALL_HISTORY_SK}, rows_of_call[keys.CALL_HISTORY_SK]))
            for row_key, summary in entries:
                gsi_sk = keys.calls_gsi_sk(summary.started_at, summary.call_id)
                in_range = (low is None or gsi_sk >= low) and (high is None or gsi_sk < high)
                if in_range and listed(summary):
                    yield {**row_key, scope.partition_attr: scope.partition, "GSI1SK": gsi_sk}, summary

        def wanted(summary: CallSummary) -> bool:
            return call_is_live(summary.expires_at, now)

        with self._lock:
            return self._page(tenant_id, scope, list(rows()), limit, cursor, descending=True, where=wanted)

    def read_call_counters(self, tenant_id: str, scenario_id: str, first: date, last: date) -> list[DayCounters]:
        days: dict[date, dict[str, int]] = {}
        with self._lock:
            for sk, values in self._rows(keys.call_stats_pk(tenant_id, scenario_id), ""):
                day = date.fromisoformat(sk["SK"].split("#")[0])
                if first <= day <= last:
                    totals = days.setdefault(day, {})
                    for name, value in values.items():
                        totals[name] = totals.get(name, 0) + value
        return [DayCounters(day=day, values=values) for day, values in sorted(days.items())]

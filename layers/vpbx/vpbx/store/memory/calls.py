"""CallStore in memory: calls with the same expiry, bounds and listing rules as on DynamoDB."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from collections.abc import Iterator
from datetime import datetime

from vpbx.domain.errors import AlreadyExists, Conflict, NotFound
from vpbx.store import keys
from vpbx.store.codec import bounded_call
from vpbx.store.common import (
    call_is_live,
    calls_time_range,
    check_call_owner,
)
from vpbx.store.memory.table import MemoryTable, Row
from vpbx.store.models import (
    CallRecord,
    CallSummary,
    Page,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import CallStore


class MemoryCallStore(MemoryTable, CallStore):
    def _live_call(self, tenant_id: str, call_id: str) -> CallRecord | None:
        stored: CallRecord | None = self._get(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + call_id)
        return stored if stored is not None and call_is_live(stored.expires_at, self._clock()) else None

    def _store_call(self, tenant_id: str, call: CallRecord) -> CallRecord:
        stored = bounded_call(call)
        self._put(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + call.state.call.call_id, stored)
        return stored

    def create_call(self, tenant_id: str, call: CallRecord) -> CallRecord:
        check_call_owner(tenant_id, call)
        call_id = call.state.call.call_id
        with self._lock:
            if self._live_call(tenant_id, call_id) is not None:
                raise AlreadyExists(f"call {call_id} already exists")
            return self._store_call(tenant_id, call)

    def get_call(self, tenant_id: str, call_id: str) -> CallRecord:
        with self._lock:
            stored = self._live_call(tenant_id, call_id)
            if stored is None:
                raise NotFound(f"call {call_id} not found")
            return stored

    def save_call(self, tenant_id: str, call: CallRecord, expected_seq: int) -> CallRecord:
        check_call_owner(tenant_id, call)
        call_id = call.state.call.call_id
        with self._lock:
            current = self.get_call(tenant_id, call_id)
            if current.state.seq != expected_seq:
                raise Conflict(f"call {call_id} is at sequence {current.state.seq}, not {expected_seq}")
            return self._store_call(tenant_id, call)

    def list_calls(
        self,
        tenant_id: str,
        limit: int,
        cursor: str | None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[CallSummary]:
        """Newest first; `number` is the dialed number; since <= started_at < until."""
        pk = keys.tenant_pk(tenant_id)
        scope = ListScope(keys.calls_gsi_pk(tenant_id), "", index=keys.GSI1)
        low, high = calls_time_range(since, until)
        now = self._clock()

        def rows() -> Iterator[Row]:
            for row_key, call in self._rows(pk, keys.CALL_PREFIX):
                info = call.state.call
                gsi_sk = keys.calls_gsi_sk(info.started_at, info.call_id)
                if (low is None or gsi_sk >= low) and (high is None or gsi_sk < high):
                    yield {**row_key, "GSI1PK": scope.partition, "GSI1SK": gsi_sk}, call

        def wanted(call: CallRecord) -> bool:
            return call_is_live(call.expires_at, now) and (number is None or call.state.call.dialed == number)

        with self._lock:
            page = self._page(tenant_id, scope, rows(), limit, cursor, descending=True, where=wanted)
        return Page[CallSummary](items=[CallSummary.of(call) for call in page.items], next_cursor=page.next_cursor)

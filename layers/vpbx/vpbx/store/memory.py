"""In-memory Repository: the same rules as the DynamoDB one (uniqueness, versions, paging, conflicts), thread-safe.

It keeps items under the same PK/SK layout (keys.py) and pages with the same cursors (paging.py), so a service unit
test sees exactly what it would see against DynamoDB, minus the network.
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from vpbx.domain.errors import AlreadyExists, Conflict, NotFound, VersionMismatch
from vpbx.domain.scenario import Scenario
from vpbx.store import keys
from vpbx.store.codec import bounded_call, published_refs, ref_token
from vpbx.store.common import (
    NUMBERS,
    SCENARIOS,
    Family,
    VersionedFamilies,
    call_is_live,
    calls_time_range,
    check_call_owner,
    check_version,
    first_version,
    new_scenario_version,
    next_version,
)
from vpbx.store.models import (
    ApiKey,
    CallRecord,
    CallSummary,
    DirectorySnapshot,
    Page,
    PhoneNumber,
    ScenarioDraft,
    ScenarioVersion,
    Tenant,
    Versioned,
)
from vpbx.store.paging import ListScope, clamp_limit, decode_cursor, encode_cursor

Clock = Callable[[], datetime]
Row = tuple[dict[str, str], Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


class InMemoryRepository(VersionedFamilies):
    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._items: dict[str, dict[str, Any]] = {}  # PK -> SK -> stored record
        self._key_by_hash: dict[str, tuple[str, str]] = {}  # sha256 -> (tenant id, key id)
        self._number_owner: dict[str, str] = {}  # e164 -> tenant id (the NUMBER# guard item)
        self._refs: dict[tuple[str, str], frozenset[str]] = {}  # (tenant, scenario) -> published refs

    # ------------------------------------------------------------------------------------------ item primitives
    def _get(self, pk: str, sk: str) -> Any:
        return self._items.get(pk, {}).get(sk)

    def _put(self, pk: str, sk: str, value: Any) -> None:
        self._items.setdefault(pk, {})[sk] = value

    def _delete(self, pk: str, sk: str) -> None:
        self._items.get(pk, {}).pop(sk, None)

    def _rows(self, pk: str, prefix: str) -> Iterator[Row]:
        for sk, value in self._items.get(pk, {}).items():
            if sk.startswith(prefix):
                yield {"PK": pk, "SK": sk}, value

    def _page(
        self,
        tenant_id: str,
        scope: ListScope,
        rows: Iterable[Row],
        limit: int,
        cursor: str | None,
        descending: bool = False,
        where: Callable[[Any], bool] | None = None,
    ) -> Page[Any]:
        start = decode_cursor(cursor, tenant_id, scope)
        size = clamp_limit(limit)
        ordered = sorted(rows, key=lambda row: row[0][scope.sort_attr], reverse=descending)
        if start is not None:
            after = start[scope.sort_attr]
            ordered = [
                r for r in ordered if (r[0][scope.sort_attr] < after if descending else r[0][scope.sort_attr] > after)
            ]
        if where is not None:
            ordered = [r for r in ordered if where(r[1])]
        taken = ordered[: size + 1]
        next_cursor = encode_cursor(tenant_id, taken[size - 1][0]) if len(taken) > size else None
        return Page[Any](items=[value for _, value in taken[:size]], next_cursor=next_cursor)

    # ------------------------------------------------------------------------------------------ versioned items
    def _create_in(self, tenant_id: str, family: Family, ident: str, item: BaseModel) -> Versioned[Any]:
        pk, sk = keys.tenant_pk(tenant_id), family.prefix + ident
        with self._lock:
            if self._get(pk, sk) is not None:
                raise AlreadyExists(f"{family.what(ident)} already exists")
            stored = first_version(item, self._clock())
            self._put(pk, sk, stored)
            return stored

    def _read_in(self, tenant_id: str, family: Family, ident: str) -> Versioned[Any]:
        with self._lock:
            stored = self._get(keys.tenant_pk(tenant_id), family.prefix + ident)
            if stored is None:
                raise NotFound(f"{family.what(ident)} not found")
            return stored

    def _list_in(self, tenant_id: str, family: Family, limit: int, cursor: str | None) -> Page[Any]:
        pk = keys.tenant_pk(tenant_id)
        with self._lock:
            return self._page(tenant_id, ListScope(pk, family.prefix), self._rows(pk, family.prefix), limit, cursor)

    def _read_at(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> Versioned[Any]:
        stored = self._read_in(tenant_id, family, ident)
        check_version(family.what(ident), stored.version, expected_version)
        return stored

    def _update_in(
        self, tenant_id: str, family: Family, ident: str, item: BaseModel, expected_version: int
    ) -> Versioned[Any]:
        with self._lock:
            updated = next_version(self._read_at(tenant_id, family, ident, expected_version), item, self._clock())
            self._put(keys.tenant_pk(tenant_id), family.prefix + ident, updated)
            return updated

    def _delete_in(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> None:
        with self._lock:
            self._read_at(tenant_id, family, ident, expected_version)
            self._delete(keys.tenant_pk(tenant_id), family.prefix + ident)

    # -------------------------------------------------------------------------------------------- tenants and keys
    def create_tenant(self, tenant: Tenant) -> Tenant:
        with self._lock:
            pk = keys.tenant_pk(tenant.id)
            if self._get(pk, keys.TENANT_SK) is not None:
                raise AlreadyExists(f"tenant {tenant.id} already exists")
            self._put(pk, keys.TENANT_SK, tenant)
            return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        with self._lock:
            tenant = self._get(keys.tenant_pk(tenant_id), keys.TENANT_SK)
            if tenant is None:
                raise NotFound(f"tenant {tenant_id} not found")
            return tenant

    def put_api_key(self, key: ApiKey) -> ApiKey:
        with self._lock:
            pk, sk = keys.tenant_pk(key.tenant_id), keys.API_KEY_PREFIX + key.id
            if self._get(pk, sk) is not None or key.key_hash in self._key_by_hash:
                raise AlreadyExists(f"API key {key.id} already exists")
            self._put(pk, sk, key)
            self._key_by_hash[key.key_hash] = (key.tenant_id, key.id)
            return key

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        with self._lock:
            owner = self._key_by_hash.get(key_hash)
            if owner is None:
                return None
            return self._get(keys.tenant_pk(owner[0]), keys.API_KEY_PREFIX + owner[1])

    def list_api_keys(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        pk = keys.tenant_pk(tenant_id)
        scope = ListScope(pk, keys.API_KEY_PREFIX)
        with self._lock:
            return self._page(tenant_id, scope, self._rows(pk, scope.sort_prefix), limit, cursor)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        with self._lock:
            pk, sk = keys.tenant_pk(tenant_id), keys.API_KEY_PREFIX + key_id
            key: ApiKey | None = self._get(pk, sk)
            if key is None:
                raise NotFound(f"API key {key_id} not found")
            if key.revoked_at is None:
                key = key.model_copy(update={"revoked_at": at})
                self._put(pk, sk, key)
            return key

    # --------------------------------------------------------------------------------------------- phone numbers
    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]:
        with self._lock:
            if number.number in self._number_owner:
                raise AlreadyExists(f"number {number.number} is already taken")
            created = self._create_in(tenant_id, NUMBERS, number.number, number)
            self._number_owner[number.number] = tenant_id
            return created

    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]:
        return self._update_in(tenant_id, NUMBERS, number.number, number, expected_version)

    def delete_number(self, tenant_id: str, number: str, expected_version: int) -> None:
        with self._lock:
            self._delete_in(tenant_id, NUMBERS, number, expected_version)
            self._number_owner.pop(number, None)

    def route_number(self, number: str) -> tuple[str, PhoneNumber] | None:
        with self._lock:
            tenant_id = self._number_owner.get(number)
            if tenant_id is None:
                return None
            stored: Versioned[PhoneNumber] = self._get(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number)
            return tenant_id, stored.item

    # ------------------------------------------------------------------------------------------------- scenarios
    def create_scenario(self, tenant_id: str, scenario_id: str, scenario: Scenario) -> Versioned[ScenarioDraft]:
        with self._lock:
            latest = self._get(keys.tenant_pk(tenant_id), keys.scenario_counter_sk(scenario_id)) or 0
            draft = ScenarioDraft(id=scenario_id, scenario=scenario, latest_version=latest)
            return self._create_in(tenant_id, SCENARIOS, scenario_id, draft)

    def get_scenario(self, tenant_id: str, scenario_id: str) -> Versioned[ScenarioDraft]:
        return self._read_in(tenant_id, SCENARIOS, scenario_id)

    def list_scenarios(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[ScenarioDraft]]:
        return self._list_in(tenant_id, SCENARIOS, limit, cursor)

    def update_scenario(
        self, tenant_id: str, scenario_id: str, scenario: Scenario, expected_version: int
    ) -> Versioned[ScenarioDraft]:
        with self._lock:
            draft = self.get_scenario(tenant_id, scenario_id).item.model_copy(update={"scenario": scenario})
            return self._update_in(tenant_id, SCENARIOS, scenario_id, draft, expected_version)

    def delete_scenario(self, tenant_id: str, scenario_id: str, expected_version: int) -> None:
        pk = keys.tenant_pk(tenant_id)
        with self._lock:
            latest = self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version).item.latest_version
            self._delete_in(tenant_id, SCENARIOS, scenario_id, expected_version)
            if latest:
                self._put(pk, keys.scenario_counter_sk(scenario_id), latest)
            for row_key, _ in list(self._rows(pk, keys.scenario_versions_prefix(scenario_id))):
                self._delete(pk, row_key["SK"])
            self._refs.pop((tenant_id, scenario_id), None)

    def _point_draft(
        self, tenant_id: str, stored: Versioned[ScenarioDraft], target: ScenarioVersion, **update: int
    ) -> Versioned[ScenarioDraft]:
        """Re-point the published pointer without touching the draft's version (publish and rollback)."""
        pointed = stored.model_copy(update={"item": stored.item.model_copy(update=update)})
        self._put(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + stored.item.id, pointed)
        self._refs[(tenant_id, stored.item.id)] = published_refs(target)
        return pointed

    def publish_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        expected_version: int,
        snapshot: DirectorySnapshot,
        at: datetime,
        by: str | None,
    ) -> ScenarioVersion:
        with self._lock:
            stored = self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version)
            version = new_scenario_version(stored.item, snapshot, at, by)
            version_sk = keys.scenario_version_sk(scenario_id, version.number)
            if self._get(keys.tenant_pk(tenant_id), version_sk) is not None:
                raise VersionMismatch(f"scenario {scenario_id} version {version.number} was published concurrently")
            self._put(keys.tenant_pk(tenant_id), version_sk, version)
            self._point_draft(
                tenant_id, stored, version, published_version=version.number, latest_version=version.number
            )
            return version

    def published_version_of(self, tenant_id: str, scenario_id: str) -> int | None:
        return self.get_scenario(tenant_id, scenario_id).item.published_version

    def rollback_scenario(
        self, tenant_id: str, scenario_id: str, version: int, expected_version: int
    ) -> Versioned[ScenarioDraft]:
        with self._lock:
            stored = self._read_at(tenant_id, SCENARIOS, scenario_id, expected_version)
            target = self.get_scenario_version(tenant_id, scenario_id, version)
            return self._point_draft(tenant_id, stored, target, published_version=version)

    def get_scenario_version(self, tenant_id: str, scenario_id: str, version: int) -> ScenarioVersion:
        with self._lock:
            found = self._get(keys.tenant_pk(tenant_id), keys.scenario_version_sk(scenario_id, version))
            if found is None:
                raise NotFound(f"scenario {scenario_id} has no version {version}")
            return found

    def list_scenario_versions(
        self, tenant_id: str, scenario_id: str, limit: int, cursor: str | None
    ) -> Page[ScenarioVersion]:
        """Newest first. NotFound when the scenario does not exist."""
        pk = keys.tenant_pk(tenant_id)
        scope = ListScope(pk, keys.scenario_versions_prefix(scenario_id))
        with self._lock:
            page = self._page(tenant_id, scope, self._rows(pk, scope.sort_prefix), limit, cursor, descending=True)
            if not page.items and cursor is None:
                self.get_scenario(tenant_id, scenario_id)
            return page

    def scenarios_using(self, tenant_id: str, kind: str, ref: str) -> list[str]:
        token = ref_token(kind, ref)
        with self._lock:
            return sorted(sid for (tid, sid), refs in self._refs.items() if tid == tenant_id and token in refs)

    # ----------------------------------------------------------------------------------------------------- calls
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

"""The in-memory table every in-memory port implementation shares: items under the same PK/SK layout as DynamoDB
(keys.py), paged with the same cursors (paging.py), one re-entrant lock, and the versioned-item primitives; so a service
unit test sees exactly what it would see against DynamoDB, minus the network.
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store import keys
from vpbx.store.common import (
    Family,
    ReferenceGuard,
    VersionedPrimitives,
    check_version,
    directory_changed,
    first_version,
    next_version,
)
from vpbx.store.models import (
    Page,
    Versioned,
)
from vpbx.store.paging import ListScope, clamp_limit, decode_cursor, encode_cursor

Clock = Callable[[], datetime]
Row = tuple[dict[str, str], Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryTable(VersionedPrimitives, ReferenceGuard):
    """One tenant-partitioned item map and the primitives every in-memory port implementation uses."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._items: dict[str, dict[str, Any]] = {}  # PK -> SK -> stored record
        self._key_by_hash: dict[str, tuple[str, str]] = {}  # sha256 -> (tenant id, key id)
        self._number_owner: dict[str, str] = {}  # e164 -> tenant id (the NUMBER# guard item)
        self._refs: dict[tuple[str, str], frozenset[str]] = {}  # (tenant, scenario) -> published refs
        self._named_refs: dict[tuple[str, str], frozenset[str]] = {}  # (tenant, scenario) -> refs its elements name

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
            self._directory_written(tenant_id, family)
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
            self._directory_written(tenant_id, family)
            return updated

    def _delete_in(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> None:
        with self._lock:
            self._read_at(tenant_id, family, ident, expected_version)
            self._delete(keys.tenant_pk(tenant_id), family.prefix + ident)

    # ------------------------------------------------------------------------------------------ references
    def _revision(self, tenant_id: str) -> int:
        with self._lock:
            revision: int = self._get(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK) or 0
            return revision

    def _directory_written(self, tenant_id: str, family: Family) -> None:
        """A directory object was created or changed: advance the revision live call caches are keyed by."""
        if family.ref_kind is not None:
            pk = keys.tenant_pk(tenant_id)
            self._put(pk, keys.DIRECTORY_REVISION_SK, self._revision(tenant_id) + 1)

    @contextmanager
    def _at_revision(self, tenant_id: str, seen: int | None, what: str) -> Iterator[None]:
        """The writes in the block commit only while the revision is still `seen` (any revision when None or when the
        guard is switched off), and advance it; the DynamoDB implementation's revision step, under the lock."""
        with self._lock:
            current = self._revision(tenant_id)
            if seen is not None and self.guard_references and current != seen:
                raise directory_changed(what)
            yield
            self._put(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK, current + 1)

    def _named_users(self, tenant_id: str, token: str) -> list[str]:
        with self._lock:
            named = self._named_refs.items()
            return sorted(sid for (tid, sid), refs in named if tid == tenant_id and token in refs)

    def _delete_at_revision(self, tenant_id: str, family: Family, ident: str, expected_version: int, seen: int) -> None:
        with self._at_revision(tenant_id, seen, f"the delete of {family.what(ident)}"):
            self._delete_in(tenant_id, family, ident, expected_version)

    def _scenario_exists(self, tenant_id: str, scenario_id: str) -> bool:
        with self._lock:
            return self._get(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + scenario_id) is not None

    def _numbers_pointing_at(self, tenant_id: str, scenario_id: str) -> list[str]:
        with self._lock:
            rows = self._rows(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX)
            return sorted(stored.item.number for _, stored in rows if stored.item.scenario_id == scenario_id)

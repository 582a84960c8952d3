"""DirectoryStore in memory: subscribers, schedules, caller lists and queues, and resolving what a scenario names."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from typing import Any

from vpbx.domain.scenario import References
from vpbx.store import keys
from vpbx.store.common import (
    CALLER_LISTS,
    QUEUES,
    SCHEDULES,
    SUBSCRIBERS,
    DirectoryFamilies,
    Family,
    members_to_resolve,
    snapshot_of,
)
from vpbx.store.memory.table import MemoryTable
from vpbx.store.models import DirectorySnapshot
from vpbx.store.ports import DirectoryStore


class MemoryDirectoryStore(MemoryTable, DirectoryFamilies, DirectoryStore):
    def directory_revision(self, tenant_id: str) -> int:
        with self._lock:
            revision: int = self._get(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK) or 0
            return revision

    def resolve_directory(self, tenant_id: str, refs: References) -> DirectorySnapshot:
        named = None if refs.any_extension else refs.extensions
        with self._lock:
            queues = self._objects_in(tenant_id, QUEUES, refs.queues)
            members = members_to_resolve(queues, named)
            return snapshot_of(
                self._objects_in(tenant_id, SUBSCRIBERS, None if named is None else named | members),
                self._objects_in(tenant_id, SCHEDULES, refs.schedules),
                self._objects_in(tenant_id, CALLER_LISTS, refs.caller_lists),
                queues,
            )

    def _objects_in(self, tenant_id: str, family: Family, idents: frozenset[str] | None) -> list[Any]:
        rows = self._rows(keys.tenant_pk(tenant_id), family.prefix)
        found = [stored.item for _, stored in rows]
        return found if idents is None else [obj for obj in found if family.ident_of(obj) in idents]

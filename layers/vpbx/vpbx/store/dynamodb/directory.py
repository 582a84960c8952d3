"""DirectoryStore on DynamoDB: subscribers, schedules and caller lists, and resolving what a scenario names.

Resolving costs O(1) requests in the number of names: per family, one BatchGetItem when it names at most
BATCH_GET_SIZE objects, else one Query of the family's key range (1 MB pages: a few requests for thousands of
subscribers) filtered here. The tenant's directory revision is one small item (keys.DIRECTORY_REVISION_SK).
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from typing import Any, cast

from pydantic import BaseModel

from vpbx.domain.directory import Subscriber
from vpbx.domain.scenario import References
from vpbx.store import keys
from vpbx.store.common import CALLER_LISTS, SCHEDULES, SUBSCRIBERS, DirectoryFamilies, Family, snapshot_of
from vpbx.store.dynamodb.table import BATCH_GET_SIZE, read_int, table_key
from vpbx.store.dynamodb.versioned import VersionedTable
from vpbx.store.models import DirectorySnapshot
from vpbx.store.ports import DirectoryStore


class DynamoDirectoryStore(VersionedTable, DirectoryFamilies, DirectoryStore):
    def directory_revision(self, tenant_id: str) -> int:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK)
        return (read_int(item, "revision") or 0) if item else 0

    def resolve_directory(self, tenant_id: str, refs: References) -> DirectorySnapshot:
        if refs.any_extension:
            subscribers = self._objects_in(tenant_id, SUBSCRIBERS, None)
        else:
            subscribers = self._objects_in(tenant_id, SUBSCRIBERS, refs.extensions)
        return snapshot_of(
            subscribers,
            self._objects_in(tenant_id, SCHEDULES, refs.schedules),
            self._objects_in(tenant_id, CALLER_LISTS, refs.caller_lists),
        )

    def lookup_subscriber(self, tenant_id: str, extension: str) -> Subscriber | None:
        item = self._get_item(keys.tenant_pk(tenant_id), SUBSCRIBERS.prefix + extension)
        return cast(Subscriber, self._decode_versioned(item, Subscriber).item) if item is not None else None

    def _objects_in(self, tenant_id: str, family: Family, idents: frozenset[str] | None) -> list[Any]:
        """The existing objects of `family` named `idents` (every one when None)."""
        if idents is not None and not idents:
            return []
        pk = keys.tenant_pk(tenant_id)
        if idents is not None and len(idents) <= BATCH_GET_SIZE:
            items = self._batch_get([table_key(pk, family.prefix + ident) for ident in sorted(idents)])
        else:
            items = list(self._query_all(pk, family.prefix))
        found: list[BaseModel] = [self._decode_versioned(item, family.model).item for item in items]
        if idents is None:
            return found
        return [obj for obj in found if family.ident_of(obj) in idents]

"""DirectoryStore on DynamoDB: subscribers, schedules, caller lists and queues, and resolving what a scenario names.

Resolving costs O(1) requests in the number of names: one BatchGetItem for every object named by id, all families
together (a further request per BATCH_GET_SIZE keys), except a family named wholesale (every subscriber, for a CRM or
direct-dial element) or by more than BATCH_GET_SIZE ids, which is one Query of its key range (1 MB pages: a few
requests for thousands of subscribers) filtered here. The members of the queues found are subscribers too: those not
read already cost one more BatchGetItem (they are known only once the queues are read). So a scenario with a queue
resolves in 2 requests (1 when every member is also named elsewhere, or when every subscriber is read anyway).
The tenant's directory revision is one small item (keys.DIRECTORY_REVISION_SK).
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from collections.abc import Mapping
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
from vpbx.store.dynamodb.table import BATCH_GET_SIZE, Item, read_int, table_key
from vpbx.store.dynamodb.versioned import VersionedTable
from vpbx.store.models import DirectorySnapshot
from vpbx.store.ports import DirectoryStore

Wanted = Mapping[Family, frozenset[str] | None]  # family -> the ids named (None: every object of the family)


class DynamoDirectoryStore(VersionedTable, DirectoryFamilies, DirectoryStore):
    def directory_revision(self, tenant_id: str) -> int:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK)
        return (read_int(item, "revision") or 0) if item else 0

    def resolve_directory(self, tenant_id: str, refs: References) -> DirectorySnapshot:
        subscribers = None if refs.any_extension else refs.extensions
        found = self._objects_of(
            tenant_id,
            {SUBSCRIBERS: subscribers, SCHEDULES: refs.schedules, CALLER_LISTS: refs.caller_lists, QUEUES: refs.queues},
        )
        members = members_to_resolve(found[QUEUES], subscribers)
        if members:
            found[SUBSCRIBERS] += self._objects_of(tenant_id, {SUBSCRIBERS: members})[SUBSCRIBERS]
        return snapshot_of(found[SUBSCRIBERS], found[SCHEDULES], found[CALLER_LISTS], found[QUEUES])

    def _objects_of(self, tenant_id: str, wanted: Wanted) -> dict[Family, list[Any]]:
        """The existing objects `wanted` names, by family: the ones named by id in one BatchGetItem together."""
        pk = keys.tenant_pk(tenant_id)
        found: dict[Family, list[Any]] = {family: [] for family in wanted}
        batched: list[Item] = []
        for family, idents in wanted.items():
            if idents is None or len(idents) > BATCH_GET_SIZE:
                decoded = [
                    self._decode_versioned(item, family.model).item for item in self._query_all(pk, family.prefix)
                ]
                found[family] = decoded if idents is None else [o for o in decoded if family.ident_of(o) in idents]
            else:
                batched.extend(table_key(pk, family.prefix + ident) for ident in sorted(idents))
        for item in self._batch_get(batched):
            family = next(f for f in wanted if item["SK"]["S"].startswith(f.prefix))
            found[family].append(self._decode_versioned(item, family.model).item)
        return found

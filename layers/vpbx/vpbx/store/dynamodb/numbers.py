"""NumberStore on DynamoDB: the tenant's number item plus a platform-wide guard item that routes calls.

The guard is the number's route (keys.py): with the tenant and the scenario it carries the scenario's published
version, so a call start reads it and one copy of the tenant's directory revision in one BatchGetItem and nothing
else. A write pointing a number at a scenario reads that scenario's pointer and commits on the directory revision it
read it at; publish and rollback advance that revision, so the pointer a number write copies is never stale."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store import keys
from vpbx.store.common import (
    NUMBERS,
    REFERENCE_ATTEMPTS,
    check_version,
    directory_changed,
    first_version,
    missing_scenario,
    next_version,
    too_many_numbers,
)
from vpbx.store.dynamodb.table import (
    Item,
    TransactionCanceled,
    attr_n,
    attr_s,
    read_int,
    table_key,
)
from vpbx.store.dynamodb.versioned import VersionedTable
from vpbx.store.models import (
    Page,
    PhoneNumber,
    Versioned,
)
from vpbx.store.ports import CallRoute, NumberStore

START_ATTRIBUTES = "PK, tenant_id, scenario_id, published_version, revision"  # of the route and the revision copy
Operations = Callable[[Item], list[dict[str, Any]]]  # the route item → the transaction's writes of the number


def route_version(published_version: int | None) -> dict[str, Any]:
    """The route's published_version: a number, or NULL when unpublished (absent: a route written before routes
    carried it, which a start reads the draft for)."""
    return attr_n(published_version) if published_version is not None else {"NULL": True}


class DynamoNumberStore(VersionedTable, NumberStore):
    def _number_guard(self, tenant_id: str, number: PhoneNumber, published_version: int | None) -> Item:
        guard = {
            **table_key(keys.number_guard_pk(number.number), keys.NUMBER_GUARD_SK),
            "tenant_id": attr_s(tenant_id),
            "data": attr_s(number.model_dump_json()),
            "published_version": route_version(published_version),
        }
        if number.scenario_id:
            guard["scenario_id"] = attr_s(number.scenario_id)
        return guard

    def _number_key(self, tenant_id: str, number: str) -> Item:
        return table_key(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number)

    def _guard_condition(self, tenant_id: str) -> dict[str, Any]:
        return {
            "ConditionExpression": "tenant_id = :tenant",
            "ExpressionAttributeValues": {":tenant": attr_s(tenant_id)},
        }

    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]:
        now = self._clock()
        pk, sk = keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number.number
        item = {"Item": self._versioned_item(pk, sk, number, 1, now), "ConditionExpression": "attribute_not_exists(PK)"}

        def operations(route: Item) -> list[dict[str, Any]]:
            return [{"Put": {"Item": route, "ConditionExpression": "attribute_not_exists(PK)"}}, {"Put": item}]

        try:
            self._write_pointing(tenant_id, number, operations)
        except TransactionCanceled:
            raise AlreadyExists(f"number {number.number} is already taken") from None
        return first_version(number, now)

    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]:
        current = self.get_number(tenant_id, number.number)
        check_version(NUMBERS.what(number.number), current.version, expected_version)
        update = self._update_params({"data": attr_s(number.model_dump_json())}, expected_version)
        now = datetime.fromisoformat(update["ExpressionAttributeValues"][":now"]["S"])

        def operations(route: Item) -> list[dict[str, Any]]:
            number_update = {"Update": {"Key": self._number_key(tenant_id, number.number), **update}}
            return [number_update, {"Put": {"Item": route, **self._guard_condition(tenant_id)}}]

        try:
            self._write_pointing(tenant_id, number, operations)
        except TransactionCanceled as canceled:
            if canceled.failed(0):
                self._raise_stale(canceled.item(0), expected_version, f"number {number.number}")
            raise NotFound(f"number {number.number} not found") from None
        return next_version(current, number, now)

    def _write_pointing(self, tenant_id: str, number: PhoneNumber, operations: Operations) -> None:
        """Commit a number's write with its route; when it points at a scenario, on the directory revision at which
        that scenario was seen to exist with its published pointer and fewer than MAX_NUMBERS_PER_SCENARIO other
        numbers (a concurrent delete, publish, rollback or number write and this write cannot both succeed)."""
        scenario_id = number.scenario_id
        if scenario_id is None:
            self._transact(operations(self._number_guard(tenant_id, number, None)))
            return
        for _ in range(REFERENCE_ATTEMPTS):
            seen = self._revision(tenant_id)
            exists, published = self._published_pointer(tenant_id, scenario_id)
            if not exists:
                raise missing_scenario(scenario_id)
            others = [n for n in self._numbers_pointing_at(tenant_id, scenario_id) if n != number.number]
            if len(others) >= keys.MAX_NUMBERS_PER_SCENARIO:
                raise too_many_numbers(scenario_id, len(others))
            writes = operations(self._number_guard(tenant_id, number, published))
            self._about_to_write("point_number")
            try:
                self._transact([*writes, *self._revision_steps(tenant_id, seen)])
            except TransactionCanceled as canceled:
                if canceled.failed(len(writes)) and not any(canceled.failed(i) for i in range(len(writes))):
                    continue
                raise
            return
        raise directory_changed(f"number {number.number} pointing at scenario {scenario_id!r}")

    def delete_number(self, tenant_id: str, number: str, expected_version: int) -> None:
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "Key": table_key(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number),
                            **self._version_condition(expected_version),
                        }
                    },
                    {
                        "Delete": {
                            "Key": table_key(keys.number_guard_pk(number), keys.NUMBER_GUARD_SK),
                            **self._guard_condition(tenant_id),
                        }
                    },
                ]
            )
        except TransactionCanceled as canceled:
            if canceled.failed(0):
                self._raise_stale(canceled.item(0), expected_version, f"number {number}")
            raise NotFound(f"number {number} not found") from None

    def get_number(self, tenant_id: str, number: str) -> Versioned[PhoneNumber]:
        return self._read_in(tenant_id, NUMBERS, number)

    def list_numbers(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[PhoneNumber]]:
        return self._list_in(tenant_id, NUMBERS, limit, cursor)

    def route_number(self, number: str) -> tuple[str, PhoneNumber] | None:
        guard = self._get_item(keys.number_guard_pk(number), keys.NUMBER_GUARD_SK)
        if guard is None:
            return None
        return guard["tenant_id"]["S"], PhoneNumber.model_validate_json(guard["data"]["S"])

    def call_route(self, tenant_id: str, number: str) -> CallRoute | None:
        route_key = table_key(keys.number_guard_pk(number), keys.NUMBER_GUARD_SK)
        copy = random.randrange(keys.DIRECTORY_REVISION_COPIES)
        revision_key = table_key(keys.directory_revision_copy_pk(tenant_id, copy), keys.DIRECTORY_REVISION_SK)
        items = self._batch_get([route_key, revision_key], projection=START_ATTRIBUTES)
        by_partition = {item["PK"]["S"]: item for item in items}
        route = by_partition.get(route_key["PK"]["S"])
        if route is None or route["tenant_id"]["S"] != tenant_id:
            return None
        scenario_id = route["scenario_id"]["S"] if "scenario_id" in route else None
        copied = by_partition.get(revision_key["PK"]["S"])
        # a tenant whose revision has not advanced since the copies exist: the revision item itself (one more read)
        revision = read_int(copied, "revision") if copied else None
        return CallRoute(
            scenario_id=scenario_id,
            published_version=self._route_version(tenant_id, scenario_id, route),
            directory_revision=revision if revision is not None else self._revision(tenant_id),
        )

    def _route_version(self, tenant_id: str, scenario_id: str | None, route: Item) -> int | None:
        """The route's published version; a route written before routes carried it reads the draft's pointer."""
        if scenario_id is None:
            return None
        stored = route.get("published_version")
        if stored is None:
            return self._published_pointer(tenant_id, scenario_id)[1]
        return None if "NULL" in stored else int(stored["N"])

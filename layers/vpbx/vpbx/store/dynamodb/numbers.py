"""NumberStore on DynamoDB: the tenant's number item plus a platform-wide guard item that routes calls."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

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
)
from vpbx.store.dynamodb.table import (
    Item,
    TransactionCanceled,
    attr_s,
    table_key,
)
from vpbx.store.dynamodb.versioned import VersionedTable
from vpbx.store.models import (
    Page,
    PhoneNumber,
    Versioned,
)
from vpbx.store.ports import NumberStore


class DynamoNumberStore(VersionedTable, NumberStore):
    def _number_guard(self, tenant_id: str, number: PhoneNumber) -> Item:
        guard = {
            **table_key(keys.number_guard_pk(number.number), keys.NUMBER_GUARD_SK),
            "tenant_id": attr_s(tenant_id),
            "data": attr_s(number.model_dump_json()),
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
        guard = {"Item": self._number_guard(tenant_id, number), "ConditionExpression": "attribute_not_exists(PK)"}
        item = {"Item": self._versioned_item(pk, sk, number, 1, now), "ConditionExpression": "attribute_not_exists(PK)"}
        try:
            self._write_pointing(tenant_id, number, [{"Put": guard}, {"Put": item}])
        except TransactionCanceled:
            raise AlreadyExists(f"number {number.number} is already taken") from None
        return first_version(number, now)

    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]:
        current = self.get_number(tenant_id, number.number)
        check_version(NUMBERS.what(number.number), current.version, expected_version)
        update = self._update_params({"data": attr_s(number.model_dump_json())}, expected_version)
        now = datetime.fromisoformat(update["ExpressionAttributeValues"][":now"]["S"])
        guard = {"Item": self._number_guard(tenant_id, number), **self._guard_condition(tenant_id)}
        operations = [{"Update": {"Key": self._number_key(tenant_id, number.number), **update}}, {"Put": guard}]
        try:
            self._write_pointing(tenant_id, number, operations)
        except TransactionCanceled as canceled:
            if canceled.failed(0):
                self._raise_stale(canceled.item(0), expected_version, f"number {number.number}")
            raise NotFound(f"number {number.number} not found") from None
        return next_version(current, number, now)

    def _write_pointing(self, tenant_id: str, number: PhoneNumber, operations: list[dict[str, Any]]) -> None:
        """Commit a number's write; when it points at a scenario, on the directory revision at which that scenario
        was seen to exist (a concurrent delete of the scenario and this write cannot both succeed)."""
        scenario_id = number.scenario_id
        if scenario_id is None:
            self._transact(operations)
            return
        for _ in range(REFERENCE_ATTEMPTS):
            seen = self._revision(tenant_id)
            if not self._scenario_exists(tenant_id, scenario_id):
                raise missing_scenario(scenario_id)
            self._about_to_write("point_number")
            try:
                self._transact([*operations, self._revision_step(tenant_id, seen)])
            except TransactionCanceled as canceled:
                if canceled.failed(len(operations)) and not any(canceled.failed(i) for i in range(len(operations))):
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

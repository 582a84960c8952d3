"""ScenarioStore on DynamoDB: drafts, immutable versions, the published pointer and the version counter.

Publish and rollback move the published pointer of the draft and of every number's route (keys.py) in one
transaction, on the directory revision at which they listed the numbers: a number pointed at the scenario meanwhile
moves the revision (the write is retried), one pointed elsewhere fails its route's condition (likewise)."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from datetime import datetime
from typing import Any

from vpbx.domain.errors import AlreadyExists, Conflict, NotFound, VersionMismatch
from vpbx.domain.scenario import Scenario
from vpbx.store import keys
from vpbx.store.codec import named_refs, ref_token, snapshot_only_refs
from vpbx.store.common import (
    REFERENCE_ATTEMPTS,
    SCENARIOS,
    check_version,
    directory_changed,
    new_scenario_version,
    numbers_in_use,
    too_many_numbers,
)
from vpbx.store.dynamodb.table import (
    TRANSACTION_ATTEMPTS,
    Item,
    TransactionCanceled,
    attr_b,
    attr_n,
    attr_s,
    pack,
    read_int,
    read_time,
    table_key,
    unpack,
)
from vpbx.store.dynamodb.versioned import VersionedTable
from vpbx.store.models import (
    DirectorySnapshot,
    Page,
    ScenarioDraft,
    ScenarioVersion,
    Versioned,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import ScenarioStore


class DynamoScenarioStore(VersionedTable, ScenarioStore):
    def _draft_key(self, tenant_id: str, scenario_id: str) -> Item:
        return table_key(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + scenario_id)

    def _decode_draft(self, item: Item) -> Versioned[ScenarioDraft]:
        draft = ScenarioDraft(
            id=item["SK"]["S"].removeprefix(keys.SCENARIO_PREFIX),
            scenario=unpack(item, Scenario),
            published_version=read_int(item, "published_version"),
            latest_version=read_int(item, "latest_version") or 0,
        )
        return Versioned[Any](
            item=draft,
            version=int(item["version"]["N"]),
            created_at=read_time(item, "created_at"),
            updated_at=read_time(item, "updated_at"),
        )

    def _read_draft(self, tenant_id: str, scenario_id: str, projection: str | None = None) -> Item:
        key = self._draft_key(tenant_id, scenario_id)
        item = self._get_item(key["PK"]["S"], key["SK"]["S"], projection)
        if item is None:
            raise NotFound(f"scenario {scenario_id} not found")
        return item

    def _counter_key(self, tenant_id: str, scenario_id: str) -> Item:
        return table_key(keys.tenant_pk(tenant_id), keys.scenario_counter_sk(scenario_id))

    def create_scenario(self, tenant_id: str, scenario_id: str, scenario: Scenario) -> Versioned[ScenarioDraft]:
        """Numbering starts after a deleted predecessor's latest version, read from its counter item; the write is
        conditional on that counter being unchanged, so a concurrent delete cannot slip an older number in."""
        counter_key = self._counter_key(tenant_id, scenario_id)
        for _ in range(TRANSACTION_ATTEMPTS):
            counter = self._get_item(counter_key["PK"]["S"], counter_key["SK"]["S"])
            seen = read_int(counter, "latest_version") if counter else None
            now = self._clock().isoformat()
            item = {
                **self._draft_key(tenant_id, scenario_id),
                "body": attr_b(pack(scenario)),
                "version": attr_n(1),
                "latest_version": attr_n(seen or 0),
                "created_at": attr_s(now),
                "updated_at": attr_s(now),
            }
            unchanged: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(PK)"}
                if seen is None
                else {
                    "ConditionExpression": "latest_version = :seen",
                    "ExpressionAttributeValues": {":seen": attr_n(seen)},
                }
            )
            try:
                self._transact(
                    [
                        {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                        {"ConditionCheck": {"Key": counter_key, **unchanged}},
                    ]
                )
            except TransactionCanceled as canceled:
                if canceled.failed(0):
                    raise AlreadyExists(f"scenario {scenario_id} already exists") from None
                continue  # the counter moved (a delete of a concurrent incarnation): read it again
            return self._decode_draft(item)
        raise Conflict(f"scenario {scenario_id} was deleted and re-created concurrently; retry")

    def get_scenario(self, tenant_id: str, scenario_id: str) -> Versioned[ScenarioDraft]:
        return self._decode_draft(self._read_draft(tenant_id, scenario_id))

    def list_scenarios(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Versioned[ScenarioDraft]]:
        scope = ListScope(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX)
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor)
        return Page[Any](items=[self._decode_draft(i) for i in items], next_cursor=next_cursor)

    def update_scenario(
        self, tenant_id: str, scenario_id: str, scenario: Scenario, expected_version: int
    ) -> Versioned[ScenarioDraft]:
        key, what = self._draft_key(tenant_id, scenario_id), SCENARIOS.what(scenario_id)
        return self._decode_draft(self._guarded_update(key, {"body": attr_b(pack(scenario))}, expected_version, what))

    def delete_scenario(self, tenant_id: str, scenario_id: str, expected_version: int) -> None:
        """Refused while numbers point at it; that check and the delete commit on one directory revision."""
        what = SCENARIOS.what(scenario_id)
        for _ in range(TRANSACTION_ATTEMPTS):
            draft = self._read_draft(tenant_id, scenario_id, projection="latest_version")
            latest = read_int(draft, "latest_version") or 0
            seen = self._revision(tenant_id)
            numbers = self._numbers_pointing_at(tenant_id, scenario_id)
            if numbers:
                raise numbers_in_use(scenario_id, numbers)
            condition = self._version_condition(expected_version)
            condition["ConditionExpression"] += " AND latest_version = :latest"
            condition["ExpressionAttributeValues"][":latest"] = attr_n(latest)
            operations = [
                {"Delete": {"Key": self._draft_key(tenant_id, scenario_id), **condition}},
                *self._revision_steps(tenant_id, seen),
            ]
            if latest:  # the counter outlives the draft: a re-created scenario numbers its versions after it
                counter = {**self._counter_key(tenant_id, scenario_id), "latest_version": attr_n(latest)}
                operations.append({"Put": {"Item": counter}})
            self._about_to_write("delete_scenario")
            try:
                self._transact(operations)
            except TransactionCanceled as canceled:
                if canceled.failed(1) and not canceled.failed(0):
                    continue  # a number was pointed at it (or the directory moved) since the check: check again
                if not canceled.failed(0):
                    raise Conflict(f"a concurrent change to {what} won; retry") from None
                stored = canceled.item(0)
                if not stored or read_int(stored, "version") != expected_version:
                    self._raise_stale(stored, expected_version, what)
                continue  # a publish moved latest_version between the read and the delete
            self._delete_versions(tenant_id, scenario_id)
            return
        raise Conflict(f"{what} was published or pointed at while being deleted; retry")

    def _delete_versions(self, tenant_id: str, scenario_id: str) -> None:
        """Versions go after their draft (the counter item keeps their numbers from being reused)."""
        versions = self._query_all(
            keys.tenant_pk(tenant_id), keys.scenario_versions_prefix(scenario_id), projection="PK, SK"
        )
        self._batch_delete([{"PK": item["PK"], "SK": item["SK"]} for item in versions])

    def _pointer_update(self, assignments: list[str], version: ScenarioVersion) -> tuple[str, dict[str, Any]]:
        """The UpdateExpression that points the draft at `version`: the assignments plus the string sets of what it
        refers to, `named_refs` (its elements) and `extra_refs` (only its snapshot); an empty set is REMOVEd (DynamoDB
        has none). Tokens are short (codec.ref_token): the largest draft names ~22,000 extensions."""
        sets, removes, values = list(assignments), [], {}
        for name, refs in (("named_refs", named_refs(version)), ("extra_refs", snapshot_only_refs(version))):
            if refs:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = {"SS": sorted(refs)}
            else:
                removes.append(name)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return expression, values

    def publish_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        expected_version: int,
        snapshot: DirectorySnapshot,
        at: datetime,
        by: str | None,
        directory_revision: int | None = None,
    ) -> ScenarioVersion:
        draft = self._decode_draft(self._read_draft(tenant_id, scenario_id))
        check_version(SCENARIOS.what(scenario_id), draft.version, expected_version)
        version = new_scenario_version(draft.item, snapshot, at, by)
        number = version.number
        expression, refs_values = self._pointer_update(["published_version = :n", "latest_version = :n"], version)
        version_item = {
            **table_key(keys.tenant_pk(tenant_id), keys.scenario_version_sk(scenario_id, number)),
            "body": attr_b(pack(version)),
        }
        pointer = {
            "Update": {
                "Key": self._draft_key(tenant_id, scenario_id),
                "UpdateExpression": expression,
                "ConditionExpression": "#version = :expected AND latest_version = :latest",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {
                    ":n": attr_n(number),
                    ":expected": attr_n(expected_version),
                    ":latest": attr_n(number - 1),
                    **refs_values,
                },
            }
        }
        version_put = {"Put": {"Item": version_item, "ConditionExpression": "attribute_not_exists(PK)"}}
        for _ in range(REFERENCE_ATTEMPTS):
            seen = directory_revision if directory_revision is not None else self._revision(tenant_id)
            routes = self._route_updates(tenant_id, scenario_id, number)
            self._about_to_write("publish")
            try:
                self._transact([version_put, pointer, *self._revision_steps(tenant_id, seen), *routes])
            except TransactionCanceled as canceled:
                if canceled.failed(1):
                    self._raise_stale(canceled.item(1), expected_version, f"scenario {scenario_id}")
                if canceled.failed(0):
                    raise VersionMismatch(
                        f"scenario {scenario_id} version {number} was published concurrently"
                    ) from None
                if directory_revision is None:
                    continue  # a number moved since they were listed: list them again
                raise directory_changed(f"scenario {scenario_id}") from None
            return version
        raise directory_changed(f"scenario {scenario_id}")

    def _route_updates(self, tenant_id: str, scenario_id: str, version: int) -> list[dict[str, Any]]:
        """Point the route of every number answered by the scenario at `version`, each on still being the tenant's
        route to this scenario (a number moved or released meanwhile cancels the transaction)."""
        numbers = self._numbers_pointing_at(tenant_id, scenario_id)
        if len(numbers) > keys.MAX_NUMBERS_PER_SCENARIO:  # only numbers pointed before the bound existed
            raise too_many_numbers(scenario_id, len(numbers), ("path", "scenario_id"))
        return [
            {
                "Update": {
                    "Key": table_key(keys.number_guard_pk(number), keys.NUMBER_GUARD_SK),
                    "UpdateExpression": "SET published_version = :version",
                    "ConditionExpression": "tenant_id = :tenant AND scenario_id = :scenario",
                    "ExpressionAttributeValues": {
                        ":version": attr_n(version),
                        ":tenant": attr_s(tenant_id),
                        ":scenario": attr_s(scenario_id),
                    },
                }
            }
            for number in numbers
        ]

    def published_version_of(self, tenant_id: str, scenario_id: str) -> int | None:
        return read_int(self._read_draft(tenant_id, scenario_id, projection="published_version"), "published_version")

    def published_version_and_revision(self, tenant_id: str, scenario_id: str) -> tuple[int | None, int]:
        draft_key = self._draft_key(tenant_id, scenario_id)
        revision_key = table_key(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK)
        items = self._batch_get([draft_key, revision_key], projection="SK, published_version, revision")
        by_sort_key = {item["SK"]["S"]: item for item in items}
        draft = by_sort_key.get(draft_key["SK"]["S"])
        if draft is None:
            raise NotFound(f"scenario {scenario_id} not found")
        revision = by_sort_key.get(keys.DIRECTORY_REVISION_SK)
        return read_int(draft, "published_version"), (read_int(revision, "revision") or 0) if revision else 0

    def rollback_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        version: int,
        expected_version: int,
        directory_revision: int | None = None,
    ) -> Versioned[ScenarioDraft]:
        target = self.get_scenario_version(tenant_id, scenario_id, version)
        expression, refs_values = self._pointer_update(["published_version = :n"], target)
        params = self._version_condition(expected_version)
        params["ExpressionAttributeValues"].update({":n": attr_n(version), **refs_values})
        pointer = {"Update": {"Key": self._draft_key(tenant_id, scenario_id), "UpdateExpression": expression, **params}}
        for _ in range(REFERENCE_ATTEMPTS):
            seen = directory_revision if directory_revision is not None else self._revision(tenant_id)
            routes = self._route_updates(tenant_id, scenario_id, version)
            self._about_to_write("rollback")
            try:
                self._transact([pointer, *self._revision_steps(tenant_id, seen), *routes])
            except TransactionCanceled as canceled:
                if canceled.failed(0):
                    self._raise_stale(canceled.item(0), expected_version, f"scenario {scenario_id}")
                if directory_revision is None:
                    continue  # a number moved since they were listed: list them again
                raise directory_changed(f"the rollback of scenario {scenario_id}") from None
            return self.get_scenario(tenant_id, scenario_id)
        raise directory_changed(f"the rollback of scenario {scenario_id}")

    def get_scenario_version(self, tenant_id: str, scenario_id: str, version: int) -> ScenarioVersion:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.scenario_version_sk(scenario_id, version))
        if item is None:
            raise NotFound(f"scenario {scenario_id} has no version {version}")
        return unpack(item, ScenarioVersion)

    def list_scenario_versions(
        self, tenant_id: str, scenario_id: str, limit: int, cursor: str | None
    ) -> Page[ScenarioVersion]:
        """Newest first. NotFound when the scenario does not exist."""
        scope = ListScope(keys.tenant_pk(tenant_id), keys.scenario_versions_prefix(scenario_id))
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor, descending=True)
        if not items and cursor is None:
            self._read_draft(tenant_id, scenario_id, projection="PK")
        return Page[ScenarioVersion](items=[unpack(i, ScenarioVersion) for i in items], next_cursor=next_cursor)

    def scenarios_using(self, tenant_id: str, kind: str, ref: str) -> list[str]:
        token = ref_token(kind, ref)
        items = self._query_all(
            keys.tenant_pk(tenant_id),
            keys.SCENARIO_PREFIX,
            projection="SK",
            filter_expression="contains(named_refs, :ref) OR contains(extra_refs, :ref)",
            values={":ref": attr_s(token)},
        )
        return sorted(item["SK"]["S"].removeprefix(keys.SCENARIO_PREFIX) for item in items)

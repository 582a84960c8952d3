"""The versioned items of the directory families, numbers and scenario drafts on DynamoDB, and the atomic references
between them (the tenant's directory revision, store/common.py ReferenceGuard): what the directory, number and
scenario stores share beyond the table's request plumbing."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel

from vpbx.domain.errors import AlreadyExists, NotFound
from vpbx.store import keys
from vpbx.store.common import Family, ReferenceGuard, directory_changed, first_version, stale_version
from vpbx.store.dynamodb.table import (
    ConditionFailed,
    DynamoTable,
    Item,
    TransactionCanceled,
    attr_n,
    attr_s,
    read_int,
    read_time,
    table_key,
)
from vpbx.store.models import Page, PhoneNumber, Versioned
from vpbx.store.paging import ListScope

M = TypeVar("M", bound=BaseModel)


def revision_copy_steps(tenant_id: str) -> list[dict[str, Any]]:
    """Advance every call-path copy of the tenant's directory revision by one (keys.py): created together at
    COPY_REVISION_BASE + 1 by the first write, advanced together by each, so they are always equal. No condition: the
    transaction they are part of decides (the primary item's condition, when there is one)."""
    return [
        {
            "Update": {
                "Key": table_key(keys.directory_revision_copy_pk(tenant_id, copy), keys.DIRECTORY_REVISION_SK),
                "UpdateExpression": "SET revision = if_not_exists(revision, :base) + :one",
                "ExpressionAttributeValues": {":base": attr_n(keys.COPY_REVISION_BASE), ":one": attr_n(1)},
            }
        }
        for copy in range(keys.DIRECTORY_REVISION_COPIES)
    ]


class VersionedTable(DynamoTable, ReferenceGuard):
    """Versioned items (a `version` attribute every write is conditional on) and reference-changing writes."""

    # ------------------------------------------------------------------------------------------ versioned items
    def _versioned_item(self, pk: str, sk: str, item: BaseModel, version: int, created: datetime) -> Item:
        return {
            **table_key(pk, sk),
            "data": attr_s(item.model_dump_json()),
            "version": attr_n(version),
            "created_at": attr_s(created.isoformat()),
            "updated_at": attr_s(created.isoformat()),
        }

    def _decode_versioned(self, item: Item, model: type[M]) -> Versioned[M]:
        return Versioned[Any](
            item=model.model_validate_json(item["data"]["S"]),
            version=int(item["version"]["N"]),
            created_at=read_time(item, "created_at"),
            updated_at=read_time(item, "updated_at"),
        )

    def _raise_stale(self, stored: Item | None, expected_version: int, what: str) -> NoReturn:
        if not stored:
            raise NotFound(f"{what} not found")
        raise stale_version(what, read_int(stored, "version"), expected_version)

    def _create_in(self, tenant_id: str, family: Family, ident: str, item: BaseModel) -> Versioned[Any]:
        """Version 1; a directory object (family.ref_kind) advances the tenant's directory revision with it, in one
        transaction, so calls see it from their next start (live directory, service/version_cache.py)."""
        now = self._clock()
        stored = self._versioned_item(keys.tenant_pk(tenant_id), family.prefix + ident, item, 1, now)
        try:
            if family.ref_kind is None:
                self._conditional("put_item", Item=stored, ConditionExpression="attribute_not_exists(PK)")
            else:
                put = {"Put": {"Item": stored, "ConditionExpression": "attribute_not_exists(PK)"}}
                self._transact([put, *self._revision_steps(tenant_id, None)])
        except (ConditionFailed, TransactionCanceled):
            raise AlreadyExists(f"{family.what(ident)} already exists") from None
        return first_version(item, now)

    def _read_in(self, tenant_id: str, family: Family, ident: str) -> Versioned[Any]:
        item = self._get_item(keys.tenant_pk(tenant_id), family.prefix + ident)
        if item is None:
            raise NotFound(f"{family.what(ident)} not found")
        return self._decode_versioned(item, family.model)

    def _list_in(self, tenant_id: str, family: Family, limit: int, cursor: str | None) -> Page[Any]:
        scope = ListScope(keys.tenant_pk(tenant_id), family.prefix)
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor)
        return Page[Any](items=[self._decode_versioned(i, family.model) for i in items], next_cursor=next_cursor)

    def _version_condition(self, expected_version: int) -> dict[str, Any]:
        """The condition of every versioned write: the item exists and is still at `expected_version`."""
        return {
            "ConditionExpression": "attribute_exists(PK) AND #version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": attr_n(expected_version)},
        }

    def _update_params(
        self, assignments: Mapping[str, Any], expected_version: int, now: datetime | None = None
    ) -> dict[str, Any]:
        """SET the given attributes, bump the version and updated_at, on the version condition."""
        params = self._version_condition(expected_version)
        names = {f"#a{i}": name for i, name in enumerate(assignments)}
        values = {f":a{i}": value for i, value in enumerate(assignments.values())}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(assignments)))
        params["UpdateExpression"] = f"SET {sets}, #version = :next, updated_at = :now"
        params["ExpressionAttributeNames"].update(names)
        params["ExpressionAttributeValues"].update(
            {**values, ":next": attr_n(expected_version + 1), ":now": attr_s((now or self._clock()).isoformat())}
        )
        return params

    def _guarded_update(self, key: Item, assignments: Mapping[str, Any], expected_version: int, what: str) -> Item:
        """UpdateItem on the version condition; the item as stored afterwards."""
        try:
            response = self._conditional(
                "update_item", Key=key, ReturnValues="ALL_NEW", **self._update_params(assignments, expected_version)
            )
        except ConditionFailed as failed:
            self._raise_stale(failed.item, expected_version, what)
        attributes: Item = response["Attributes"]
        return attributes

    def _guarded_delete(self, key: Item, expected_version: int, what: str) -> None:
        try:
            self._conditional("delete_item", Key=key, **self._version_condition(expected_version))
        except ConditionFailed as failed:
            self._raise_stale(failed.item, expected_version, what)

    def _update_in(
        self, tenant_id: str, family: Family, ident: str, item: BaseModel, expected_version: int
    ) -> Versioned[Any]:
        key = table_key(keys.tenant_pk(tenant_id), family.prefix + ident)
        if family.ref_kind is not None:
            return self._update_directory_object(tenant_id, family, ident, item, expected_version)
        stored = self._guarded_update(
            key, {"data": attr_s(item.model_dump_json())}, expected_version, family.what(ident)
        )
        return self._decode_versioned(stored, family.model)

    def _update_directory_object(
        self, tenant_id: str, family: Family, ident: str, item: BaseModel, expected_version: int
    ) -> Versioned[Any]:
        """The update and the advance of the tenant's directory revision commit as one (a transaction returns no
        item, so created_at comes from a read first, which also answers a stale If-Match without a write)."""
        current = self._read_in(tenant_id, family, ident)
        if current.version != expected_version:
            raise stale_version(family.what(ident), current.version, expected_version)
        now = self._clock()
        key = table_key(keys.tenant_pk(tenant_id), family.prefix + ident)
        params = self._update_params({"data": attr_s(item.model_dump_json())}, expected_version, now)
        try:
            self._transact([{"Update": {"Key": key, **params}}, *self._revision_steps(tenant_id, None)])
        except TransactionCanceled as canceled:
            self._raise_stale(canceled.item(0), expected_version, family.what(ident))
        return Versioned[Any](item=item, version=expected_version + 1, created_at=current.created_at, updated_at=now)

    def _delete_in(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> None:
        key = table_key(keys.tenant_pk(tenant_id), family.prefix + ident)
        self._guarded_delete(key, expected_version, family.what(ident))

    # ------------------------------------------------------------------------------------------ references
    def _revision(self, tenant_id: str) -> int:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK)
        return (read_int(item, "revision") or 0) if item else 0

    def _revision_steps(self, tenant_id: str, seen: int | None) -> list[dict[str, Any]]:
        """The transaction items that advance the tenant's revision, on the condition that it is still `seen`
        (unconditionally when the caller checked nothing against the directory, or the guard is switched off), and
        its call-path copies with it (keys.py): one item more per copy, each in its own partition."""
        key = table_key(keys.tenant_pk(tenant_id), keys.DIRECTORY_REVISION_SK)
        if seen is None or not self.guard_references:
            primary: dict[str, Any] = {
                "Key": key,
                "UpdateExpression": "ADD revision :one",
                "ExpressionAttributeValues": {":one": attr_n(1)},
            }
        else:
            primary = {
                "Key": key,
                "UpdateExpression": "SET revision = :next",
                "ExpressionAttributeValues": {":next": attr_n(seen + 1)},
            }
            if seen == 0:
                primary["ConditionExpression"] = "attribute_not_exists(revision)"
            else:
                primary["ConditionExpression"] = "revision = :seen"
                primary["ExpressionAttributeValues"][":seen"] = attr_n(seen)
        return [{"Update": primary}, *revision_copy_steps(tenant_id)]

    def _named_users(self, tenant_id: str, token: str) -> list[str]:
        """Drafts whose current version's elements name `token` (their `named_refs` set)."""
        items = self._query_all(
            keys.tenant_pk(tenant_id),
            keys.SCENARIO_PREFIX,
            projection="SK",
            filter_expression="contains(named_refs, :ref)",
            values={":ref": attr_s(token)},
        )
        return sorted(item["SK"]["S"].removeprefix(keys.SCENARIO_PREFIX) for item in items)

    def _delete_at_revision(self, tenant_id: str, family: Family, ident: str, expected_version: int, seen: int) -> None:
        key = table_key(keys.tenant_pk(tenant_id), family.prefix + ident)
        delete = {"Delete": {"Key": key, **self._version_condition(expected_version)}}
        try:
            self._transact([delete, *self._revision_steps(tenant_id, seen)])
        except TransactionCanceled as canceled:
            if canceled.failed(0):
                self._raise_stale(canceled.item(0), expected_version, family.what(ident))
            raise directory_changed(f"the delete of {family.what(ident)}") from None

    def _published_pointer(self, tenant_id: str, scenario_id: str) -> tuple[bool, int | None]:
        """Whether the scenario exists, and its published version (None: unpublished)."""
        item = self._get_item(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + scenario_id, "PK, published_version")
        return item is not None, read_int(item, "published_version") if item else None

    def _numbers_pointing_at(self, tenant_id: str, scenario_id: str) -> list[str]:
        numbers = (
            PhoneNumber.model_validate_json(item["data"]["S"])
            for item in self._query_all(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX)
        )
        return sorted(number.number for number in numbers if number.scenario_id == scenario_id)

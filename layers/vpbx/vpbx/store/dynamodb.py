"""DynamoDB Repository on the single table of template.yaml (key layout: keys.py).

Low-level client with hand-written attribute maps (call events are on the hot path). Objects are stored as JSON in a
`data` string attribute; scenarios and published versions as zlib-compressed JSON in a `body` binary attribute (a
scenario is at most 256 KB serialized, an item at most 400 KB), and so are calls (every event rewrites the call, and
a write costs a unit per started KB). Conditional writes give optimistic locking and
uniqueness; throttling and transient failures are retried by botocore's standard mode, then become Unavailable.
"""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from vpbx.domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    Unavailable,
    VersionMismatch,
    VpbxError,
)
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
    stale_version,
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

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Item = dict[str, Any]
Clock = Callable[[], datetime]

# "max_attempts": 4 is four retries after the first try; the backoff is botocore's (throttling: up to seconds).
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)
TRANSIENT_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
TRANSACTION_ATTEMPTS = 3
MAX_QUERY_ROUNDS = 10  # a filtered listing reads at most this many DynamoDB pages before returning a short page
FILTERED_ROUND_LIMIT = 50
BATCH_WRITE_SIZE = 25
CALL_LISTING_ATTRIBUTES = ("summary", "dialed", "expires_at")  # GSI1's NonKeyAttributes in template.yaml
CALL_COMPRESSION_LEVEL = 6  # ~60 µs for a 2 KB call, which shrinks to about a third


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- attribute helpers
def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _b(value: bytes) -> dict[str, bytes]:
    return {"B": value}


def _key(pk: str, sk: str) -> Item:
    return {"PK": _s(pk), "SK": _s(sk)}


def _decode_call(item: Item) -> CallRecord:
    return CallRecord.model_validate_json(zlib.decompress(item["body"]["B"]))


def _int(item: Item, name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value is not None else None


def _time(item: Item, name: str) -> datetime:
    return datetime.fromisoformat(item[name]["S"])


def _pack(model: BaseModel) -> bytes:
    return zlib.compress(model.model_dump_json(by_alias=True, exclude_none=True).encode(), 6)


def _unpack(item: Item, model: type[M]) -> M:
    return model.model_validate_json(zlib.decompress(item["body"]["B"]))


# ---------------------------------------------------------------------------------------------- failures
class _ConditionFailed(Exception):
    """A single-item write's condition failed; `item` is the stored item (ReturnValuesOnConditionCheckFailure)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


class _TransactionCanceled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction canceled")
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index].get("Code") == "ConditionalCheckFailed"

    def item(self, index: int) -> Item | None:
        return self.reasons[index].get("Item") if index < len(self.reasons) else None

    @property
    def codes(self) -> set[str]:
        return {reason.get("Code", "None") for reason in self.reasons}


def _storage_error(exc: ClientError) -> VpbxError:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or status >= 500:
        return Unavailable("the database is busy or unavailable; retry later")
    if code == "ValidationException" and "size" in message.lower():
        return InvalidInput("the object is too large to store")
    logger.error("unexpected DynamoDB error %s: %s", code, message)
    return Unavailable("the database rejected the request; retry later")


class DynamoRepository(VersionedFamilies):
    def __init__(
        self,
        table_name: str,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._clock = clock
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    session = boto3.session.Session()
                    self._client = session.client(
                        "dynamodb", endpoint_url=self._endpoint_url, region_name=self._region, config=RETRY_CONFIG
                    )
        return self._client

    # ------------------------------------------------------------------------------------------ request plumbing
    def _request(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**params)
            return response
        except ClientError as exc:
            details: dict[str, Any] = dict(exc.response)
            code = details.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise _ConditionFailed(details.get("Item")) from None
            if code == "TransactionCanceledException":
                raise _TransactionCanceled(details.get("CancellationReasons", [])) from None
            raise _storage_error(exc) from None
        except BotoCoreError as exc:
            logger.error("DynamoDB unreachable: %s", exc)
            raise Unavailable("the database is unreachable; retry later") from None

    def _get_item(self, pk: str, sk: str, projection: str | None = None) -> Item | None:
        params: dict[str, Any] = {"TableName": self.table_name, "Key": _key(pk, sk), "ConsistentRead": True}
        if projection:
            params["ProjectionExpression"] = projection
        return self._request("get_item", **params).get("Item")

    def _conditional(self, operation: str, **params: Any) -> dict[str, Any]:
        return self._request(
            operation, TableName=self.table_name, ReturnValuesOnConditionCheckFailure="ALL_OLD", **params
        )

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems; cancellations from a concurrent transaction are retried, throttling is Unavailable."""
        for entry in items:
            operation = next(iter(entry.values()))
            operation["TableName"] = self.table_name
            if "ConditionExpression" in operation:
                operation["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self._request("transact_write_items", TransactItems=items)
                return
            except _TransactionCanceled as canceled:
                if canceled.codes & TRANSIENT_REASONS:
                    raise Unavailable("the database is busy; retry later") from None
                if "ValidationError" in canceled.codes:
                    logger.error("transaction rejected: %s", canceled.reasons)
                    raise InvalidInput("the object cannot be stored (too large or malformed)") from None
                only_conflicts = (
                    "TransactionConflict" in canceled.codes and "ConditionalCheckFailed" not in canceled.codes
                )
                if not only_conflicts:
                    raise
                if attempt + 1 == TRANSACTION_ATTEMPTS:
                    raise Conflict("a concurrent change to the same object won; retry") from None
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    def _query_page(
        self,
        tenant_id: str,
        scope: ListScope,
        limit: int,
        cursor: str | None,
        *,
        descending: bool = False,
        sort_range: tuple[str | None, str | None] = (None, None),
        filter_expression: str | None = None,
        filter_values: Mapping[str, Any] | None = None,
        filter_names: Mapping[str, str] | None = None,
    ) -> tuple[list[Item], str | None]:
        """One page of a listing (Query with Limit, never Scan), `limit + 1` read to know whether more follow."""
        start = decode_cursor(cursor, tenant_id, scope)
        size = clamp_limit(limit)
        names = {"#p": scope.partition_attr, "#s": scope.sort_attr, **(filter_names or {})}
        values: dict[str, Any] = {":p": _s(scope.partition), **(filter_values or {})}
        low, high = sort_range
        if low is not None and high is not None:
            condition = "#p = :p AND #s BETWEEN :low AND :high"
            values.update({":low": _s(low), ":high": _s(high)})
        elif low is not None:
            condition = "#p = :p AND #s >= :low"
            values[":low"] = _s(low)
        elif high is not None:
            condition = "#p = :p AND #s < :high"
            values[":high"] = _s(high)
        elif scope.sort_prefix:
            condition = "#p = :p AND begins_with(#s, :prefix)"
            values[":prefix"] = _s(scope.sort_prefix)
        else:
            condition = "#p = :p"
            del names["#s"]
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not descending,
        }
        if scope.index:
            params["IndexName"] = scope.index
        else:
            params["ConsistentRead"] = True
        if filter_expression:
            params["FilterExpression"] = filter_expression
        exclusive_start = {name: _s(value) for name, value in start.items()} if start else None
        found: list[Item] = []
        last_key: Item | None = None
        for _ in range(MAX_QUERY_ROUNDS):
            wanted = size + 1 - len(found)
            params["Limit"] = max(wanted, FILTERED_ROUND_LIMIT) if filter_expression else wanted
            if exclusive_start:
                params["ExclusiveStartKey"] = exclusive_start
            response = self._query(params, from_cursor=start is not None)
            found.extend(response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if len(found) > size or not last_key:
                break
            exclusive_start = last_key
        if len(found) > size:
            return found[:size], encode_cursor(tenant_id, {a: found[size - 1][a]["S"] for a in scope.key_attrs})
        if last_key:
            return found, encode_cursor(tenant_id, {a: v["S"] for a, v in last_key.items()})
        return found, None

    def _query(self, params: dict[str, Any], from_cursor: bool) -> dict[str, Any]:
        try:
            return self._request("query", **params)
        except InvalidInput:
            raise
        except Unavailable:
            if from_cursor:  # e.g. a start key outside this query's time range
                raise InvalidInput("cursor is not valid for this listing") from None
            raise

    # ------------------------------------------------------------------------------------------ tenants and keys
    def create_tenant(self, tenant: Tenant) -> Tenant:
        item = {**_key(keys.tenant_pk(tenant.id), keys.TENANT_SK), "data": _s(tenant.model_dump_json())}
        try:
            self._conditional("put_item", Item=item, ConditionExpression="attribute_not_exists(PK)")
        except _ConditionFailed:
            raise AlreadyExists(f"tenant {tenant.id} already exists") from None
        return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.TENANT_SK)
        if item is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return Tenant.model_validate_json(item["data"]["S"])

    def _write_api_key(self, key: ApiKey, condition: str) -> None:
        """Both items of a key (the tenant's listing and the authorizer's by-hash lookup), on one condition."""
        data = _s(key.model_dump_json())
        listing = {**_key(keys.tenant_pk(key.tenant_id), keys.API_KEY_PREFIX + key.id), "data": data}
        by_hash = {**_key(keys.api_key_hash_pk(key.key_hash), keys.API_KEY_HASH_SK), "data": data}
        self._transact([{"Put": {"Item": item, "ConditionExpression": condition}} for item in (listing, by_hash)])

    def put_api_key(self, key: ApiKey) -> ApiKey:
        try:
            self._write_api_key(key, "attribute_not_exists(PK)")
        except _TransactionCanceled:
            raise AlreadyExists(f"API key {key.id} already exists") from None
        return key

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._get_item(keys.api_key_hash_pk(key_hash), keys.API_KEY_HASH_SK)
        return ApiKey.model_validate_json(item["data"]["S"]) if item else None

    def list_api_keys(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        scope = ListScope(keys.tenant_pk(tenant_id), keys.API_KEY_PREFIX)
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor)
        return Page[ApiKey](items=[ApiKey.model_validate_json(i["data"]["S"]) for i in items], next_cursor=next_cursor)

    def revoke_api_key(self, tenant_id: str, key_id: str, at: datetime) -> ApiKey:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.API_KEY_PREFIX + key_id)
        if item is None:
            raise NotFound(f"API key {key_id} not found")
        key = ApiKey.model_validate_json(item["data"]["S"])
        if key.revoked_at is not None:
            return key
        revoked = key.model_copy(update={"revoked_at": at})
        try:
            self._write_api_key(revoked, "attribute_exists(PK)")
        except _TransactionCanceled:
            raise NotFound(f"API key {key_id} not found") from None
        return revoked

    # ------------------------------------------------------------------------------------------ versioned items
    def _versioned_item(self, pk: str, sk: str, item: BaseModel, version: int, created: datetime) -> Item:
        return {
            **_key(pk, sk),
            "data": _s(item.model_dump_json()),
            "version": _n(version),
            "created_at": _s(created.isoformat()),
            "updated_at": _s(created.isoformat()),
        }

    def _decode_versioned(self, item: Item, model: type[M]) -> Versioned[M]:
        return Versioned[Any](
            item=model.model_validate_json(item["data"]["S"]),
            version=int(item["version"]["N"]),
            created_at=_time(item, "created_at"),
            updated_at=_time(item, "updated_at"),
        )

    def _raise_stale(self, stored: Item | None, expected_version: int, what: str) -> NoReturn:
        if not stored:
            raise NotFound(f"{what} not found")
        raise stale_version(what, _int(stored, "version"), expected_version)

    def _create_in(self, tenant_id: str, family: Family, ident: str, item: BaseModel) -> Versioned[Any]:
        now = self._clock()
        stored = self._versioned_item(keys.tenant_pk(tenant_id), family.prefix + ident, item, 1, now)
        try:
            self._conditional("put_item", Item=stored, ConditionExpression="attribute_not_exists(PK)")
        except _ConditionFailed:
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
            "ExpressionAttributeValues": {":expected": _n(expected_version)},
        }

    def _update_params(self, assignments: Mapping[str, Any], expected_version: int) -> dict[str, Any]:
        """SET the given attributes, bump the version and updated_at, on the version condition."""
        params = self._version_condition(expected_version)
        names = {f"#a{i}": name for i, name in enumerate(assignments)}
        values = {f":a{i}": value for i, value in enumerate(assignments.values())}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(assignments)))
        params["UpdateExpression"] = f"SET {sets}, #version = :next, updated_at = :now"
        params["ExpressionAttributeNames"].update(names)
        params["ExpressionAttributeValues"].update(
            {**values, ":next": _n(expected_version + 1), ":now": _s(self._clock().isoformat())}
        )
        return params

    def _guarded_update(self, key: Item, assignments: Mapping[str, Any], expected_version: int, what: str) -> Item:
        """UpdateItem on the version condition; the item as stored afterwards."""
        try:
            response = self._conditional(
                "update_item", Key=key, ReturnValues="ALL_NEW", **self._update_params(assignments, expected_version)
            )
        except _ConditionFailed as failed:
            self._raise_stale(failed.item, expected_version, what)
        attributes: Item = response["Attributes"]
        return attributes

    def _guarded_delete(self, key: Item, expected_version: int, what: str) -> None:
        try:
            self._conditional("delete_item", Key=key, **self._version_condition(expected_version))
        except _ConditionFailed as failed:
            self._raise_stale(failed.item, expected_version, what)

    def _update_in(
        self, tenant_id: str, family: Family, ident: str, item: BaseModel, expected_version: int
    ) -> Versioned[Any]:
        key = _key(keys.tenant_pk(tenant_id), family.prefix + ident)
        stored = self._guarded_update(key, {"data": _s(item.model_dump_json())}, expected_version, family.what(ident))
        return self._decode_versioned(stored, family.model)

    def _delete_in(self, tenant_id: str, family: Family, ident: str, expected_version: int) -> None:
        key = _key(keys.tenant_pk(tenant_id), family.prefix + ident)
        self._guarded_delete(key, expected_version, family.what(ident))

    # ------------------------------------------------------------------------------------------ phone numbers
    def _number_guard(self, tenant_id: str, number: PhoneNumber) -> Item:
        guard = {
            **_key(keys.number_guard_pk(number.number), keys.NUMBER_GUARD_SK),
            "tenant_id": _s(tenant_id),
            "data": _s(number.model_dump_json()),
        }
        if number.scenario_id:
            guard["scenario_id"] = _s(number.scenario_id)
        return guard

    def _guard_condition(self, tenant_id: str) -> dict[str, Any]:
        return {
            "ConditionExpression": "tenant_id = :tenant",
            "ExpressionAttributeValues": {":tenant": _s(tenant_id)},
        }

    def create_number(self, tenant_id: str, number: PhoneNumber) -> Versioned[PhoneNumber]:
        now = self._clock()
        pk, sk = keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number.number
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "Item": self._number_guard(tenant_id, number),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "Item": self._versioned_item(pk, sk, number, 1, now),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except _TransactionCanceled:
            raise AlreadyExists(f"number {number.number} is already taken") from None
        return first_version(number, now)

    def update_number(self, tenant_id: str, number: PhoneNumber, expected_version: int) -> Versioned[PhoneNumber]:
        current = self.get_number(tenant_id, number.number)
        check_version(NUMBERS.what(number.number), current.version, expected_version)
        update = self._update_params({"data": _s(number.model_dump_json())}, expected_version)
        now = datetime.fromisoformat(update["ExpressionAttributeValues"][":now"]["S"])
        try:
            self._transact(
                [
                    {"Update": {"Key": _key(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number.number), **update}},
                    {"Put": {"Item": self._number_guard(tenant_id, number), **self._guard_condition(tenant_id)}},
                ]
            )
        except _TransactionCanceled as canceled:
            if canceled.failed(0):
                self._raise_stale(canceled.item(0), expected_version, f"number {number.number}")
            raise NotFound(f"number {number.number} not found") from None
        return next_version(current, number, now)

    def delete_number(self, tenant_id: str, number: str, expected_version: int) -> None:
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "Key": _key(keys.tenant_pk(tenant_id), keys.NUMBER_PREFIX + number),
                            **self._version_condition(expected_version),
                        }
                    },
                    {
                        "Delete": {
                            "Key": _key(keys.number_guard_pk(number), keys.NUMBER_GUARD_SK),
                            **self._guard_condition(tenant_id),
                        }
                    },
                ]
            )
        except _TransactionCanceled as canceled:
            if canceled.failed(0):
                self._raise_stale(canceled.item(0), expected_version, f"number {number}")
            raise NotFound(f"number {number} not found") from None

    def route_number(self, number: str) -> tuple[str, PhoneNumber] | None:
        guard = self._get_item(keys.number_guard_pk(number), keys.NUMBER_GUARD_SK)
        if guard is None:
            return None
        return guard["tenant_id"]["S"], PhoneNumber.model_validate_json(guard["data"]["S"])

    # ------------------------------------------------------------------------------------------ scenarios
    def _draft_key(self, tenant_id: str, scenario_id: str) -> Item:
        return _key(keys.tenant_pk(tenant_id), keys.SCENARIO_PREFIX + scenario_id)

    def _decode_draft(self, item: Item) -> Versioned[ScenarioDraft]:
        draft = ScenarioDraft(
            id=item["SK"]["S"].removeprefix(keys.SCENARIO_PREFIX),
            scenario=_unpack(item, Scenario),
            published_version=_int(item, "published_version"),
            latest_version=_int(item, "latest_version") or 0,
        )
        return Versioned[Any](
            item=draft,
            version=int(item["version"]["N"]),
            created_at=_time(item, "created_at"),
            updated_at=_time(item, "updated_at"),
        )

    def _read_draft(self, tenant_id: str, scenario_id: str, projection: str | None = None) -> Item:
        key = self._draft_key(tenant_id, scenario_id)
        item = self._get_item(key["PK"]["S"], key["SK"]["S"], projection)
        if item is None:
            raise NotFound(f"scenario {scenario_id} not found")
        return item

    def _counter_key(self, tenant_id: str, scenario_id: str) -> Item:
        return _key(keys.tenant_pk(tenant_id), keys.scenario_counter_sk(scenario_id))

    def create_scenario(self, tenant_id: str, scenario_id: str, scenario: Scenario) -> Versioned[ScenarioDraft]:
        """Numbering starts after a deleted predecessor's latest version, read from its counter item; the write is
        conditional on that counter being unchanged, so a concurrent delete cannot slip an older number in."""
        counter_key = self._counter_key(tenant_id, scenario_id)
        for _ in range(TRANSACTION_ATTEMPTS):
            counter = self._get_item(counter_key["PK"]["S"], counter_key["SK"]["S"])
            seen = _int(counter, "latest_version") if counter else None
            now = self._clock().isoformat()
            item = {
                **self._draft_key(tenant_id, scenario_id),
                "body": _b(_pack(scenario)),
                "version": _n(1),
                "latest_version": _n(seen or 0),
                "created_at": _s(now),
                "updated_at": _s(now),
            }
            unchanged: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(PK)"}
                if seen is None
                else {"ConditionExpression": "latest_version = :seen", "ExpressionAttributeValues": {":seen": _n(seen)}}
            )
            try:
                self._transact(
                    [
                        {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                        {"ConditionCheck": {"Key": counter_key, **unchanged}},
                    ]
                )
            except _TransactionCanceled as canceled:
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
        return self._decode_draft(self._guarded_update(key, {"body": _b(_pack(scenario))}, expected_version, what))

    def delete_scenario(self, tenant_id: str, scenario_id: str, expected_version: int) -> None:
        what = SCENARIOS.what(scenario_id)
        for _ in range(TRANSACTION_ATTEMPTS):
            latest = _int(self._read_draft(tenant_id, scenario_id, projection="latest_version"), "latest_version") or 0
            condition = self._version_condition(expected_version)
            condition["ConditionExpression"] += " AND latest_version = :latest"
            condition["ExpressionAttributeValues"][":latest"] = _n(latest)
            operations = [{"Delete": {"Key": self._draft_key(tenant_id, scenario_id), **condition}}]
            if latest:  # the counter outlives the draft: a re-created scenario numbers its versions after it
                counter = {**self._counter_key(tenant_id, scenario_id), "latest_version": _n(latest)}
                operations.append({"Put": {"Item": counter}})
            try:
                self._transact(operations)
            except _TransactionCanceled as canceled:
                if not canceled.failed(0):
                    raise Conflict(f"a concurrent change to {what} won; retry") from None
                stored = canceled.item(0)
                if not stored or _int(stored, "version") != expected_version:
                    self._raise_stale(stored, expected_version, what)
                continue  # a publish moved latest_version between the read and the delete
            self._delete_versions(tenant_id, scenario_id)
            return
        raise Conflict(f"{what} was published while being deleted; retry")

    def _delete_versions(self, tenant_id: str, scenario_id: str) -> None:
        """Versions go after their draft (the counter item keeps their numbers from being reused)."""
        keys_to_delete = [
            {"PK": item["PK"], "SK": item["SK"]}
            for item in self._query_all(
                keys.tenant_pk(tenant_id), keys.scenario_versions_prefix(scenario_id), projection="PK, SK"
            )
        ]
        for start in range(0, len(keys_to_delete), BATCH_WRITE_SIZE):
            requests = [{"DeleteRequest": {"Key": key}} for key in keys_to_delete[start : start + BATCH_WRITE_SIZE]]
            for attempt in range(5):
                response = self._request("batch_write_item", RequestItems={self.table_name: requests})
                requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if not requests:
                    break
                time.sleep(0.05 * (attempt + 1))
            if requests:
                raise Unavailable("the database is busy; retry the delete")

    def _query_all(
        self,
        pk: str,
        prefix: str,
        projection: str | None = None,
        filter_expression: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Iterator[Item]:
        """Every item of one partition under a sort-key prefix, through all pages (Query, never Scan)."""
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": _s(pk), ":prefix": _s(prefix), **(values or {})},
            "ConsistentRead": True,
        }
        if projection:
            params["ProjectionExpression"] = projection
        if filter_expression:
            params["FilterExpression"] = filter_expression
        while True:
            response = self._request("query", **params)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _refs_update(self, refs: frozenset[str]) -> tuple[str, dict[str, Any]]:
        """What to append to a SET clause for the `refs` string set (DynamoDB has no empty sets: REMOVE it then)."""
        if refs:
            return ", refs = :refs", {":refs": {"SS": sorted(refs)}}
        return " REMOVE refs", {}

    def publish_scenario(
        self,
        tenant_id: str,
        scenario_id: str,
        expected_version: int,
        snapshot: DirectorySnapshot,
        at: datetime,
        by: str | None,
    ) -> ScenarioVersion:
        draft = self._decode_draft(self._read_draft(tenant_id, scenario_id))
        check_version(SCENARIOS.what(scenario_id), draft.version, expected_version)
        version = new_scenario_version(draft.item, snapshot, at, by)
        number = version.number
        refs_clause, refs_values = self._refs_update(published_refs(version))
        version_item = {
            **_key(keys.tenant_pk(tenant_id), keys.scenario_version_sk(scenario_id, number)),
            "body": _b(_pack(version)),
        }
        try:
            self._transact(
                [
                    {"Put": {"Item": version_item, "ConditionExpression": "attribute_not_exists(PK)"}},
                    {
                        "Update": {
                            "Key": self._draft_key(tenant_id, scenario_id),
                            "UpdateExpression": f"SET published_version = :n, latest_version = :n{refs_clause}",
                            "ConditionExpression": "#version = :expected AND latest_version = :latest",
                            "ExpressionAttributeNames": {"#version": "version"},
                            "ExpressionAttributeValues": {
                                ":n": _n(number),
                                ":expected": _n(expected_version),
                                ":latest": _n(number - 1),
                                **refs_values,
                            },
                        }
                    },
                ]
            )
        except _TransactionCanceled as canceled:
            if canceled.failed(1):
                self._raise_stale(canceled.item(1), expected_version, f"scenario {scenario_id}")
            raise VersionMismatch(f"scenario {scenario_id} version {number} was published concurrently") from None
        return version

    def published_version_of(self, tenant_id: str, scenario_id: str) -> int | None:
        return _int(self._read_draft(tenant_id, scenario_id, projection="published_version"), "published_version")

    def rollback_scenario(
        self, tenant_id: str, scenario_id: str, version: int, expected_version: int
    ) -> Versioned[ScenarioDraft]:
        target = self.get_scenario_version(tenant_id, scenario_id, version)
        refs_clause, refs_values = self._refs_update(published_refs(target))
        params = self._version_condition(expected_version)
        params["ExpressionAttributeValues"].update({":n": _n(version), **refs_values})
        try:
            response = self._conditional(
                "update_item",
                Key=self._draft_key(tenant_id, scenario_id),
                UpdateExpression=f"SET published_version = :n{refs_clause}",
                ReturnValues="ALL_NEW",
                **params,
            )
        except _ConditionFailed as failed:
            self._raise_stale(failed.item, expected_version, f"scenario {scenario_id}")
        return self._decode_draft(response["Attributes"])

    def get_scenario_version(self, tenant_id: str, scenario_id: str, version: int) -> ScenarioVersion:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.scenario_version_sk(scenario_id, version))
        if item is None:
            raise NotFound(f"scenario {scenario_id} has no version {version}")
        return _unpack(item, ScenarioVersion)

    def list_scenario_versions(
        self, tenant_id: str, scenario_id: str, limit: int, cursor: str | None
    ) -> Page[ScenarioVersion]:
        """Newest first. NotFound when the scenario does not exist."""
        scope = ListScope(keys.tenant_pk(tenant_id), keys.scenario_versions_prefix(scenario_id))
        items, next_cursor = self._query_page(tenant_id, scope, limit, cursor, descending=True)
        if not items and cursor is None:
            self._read_draft(tenant_id, scenario_id, projection="PK")
        return Page[ScenarioVersion](items=[_unpack(i, ScenarioVersion) for i in items], next_cursor=next_cursor)

    def scenarios_using(self, tenant_id: str, kind: str, ref: str) -> list[str]:
        token = ref_token(kind, ref)
        items = self._query_all(
            keys.tenant_pk(tenant_id),
            keys.SCENARIO_PREFIX,
            projection="SK",
            filter_expression="contains(refs, :ref)",
            values={":ref": _s(token)},
        )
        return sorted(item["SK"]["S"].removeprefix(keys.SCENARIO_PREFIX) for item in items)

    # ------------------------------------------------------------------------------------------ calls
    def _call_item(self, tenant_id: str, call: CallRecord) -> Item:
        """The call item. GSI1 projects only CALL_LISTING_ATTRIBUTES (template.yaml), so each write of the call
        costs one write unit on the index however long `body` (the whole record with its trace) grows."""
        info = call.state.call
        return {
            **_key(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + info.call_id),
            "GSI1PK": _s(keys.calls_gsi_pk(tenant_id)),
            "GSI1SK": _s(keys.calls_gsi_sk(info.started_at, info.call_id)),
            "seq": _n(call.state.seq),
            "dialed": _s(info.dialed),
            "expires_at": _n(call.expires_at),
            "summary": _s(CallSummary.of(call).model_dump_json()),
            "body": _b(zlib.compress(call.model_dump_json().encode(), CALL_COMPRESSION_LEVEL)),
        }

    def _now_epoch(self) -> dict[str, str]:
        return _n(int(self._clock().timestamp()))

    def create_call(self, tenant_id: str, call: CallRecord) -> CallRecord:
        check_call_owner(tenant_id, call)
        stored = bounded_call(call)
        try:
            self._request(
                "put_item",
                TableName=self.table_name,
                Item=self._call_item(tenant_id, stored),
                # an expired call that TTL has not swept yet does not block its id
                ConditionExpression="attribute_not_exists(PK) OR expires_at <= :now",
                ExpressionAttributeValues={":now": self._now_epoch()},
            )
        except _ConditionFailed:
            raise AlreadyExists(f"call {call.state.call.call_id} already exists") from None
        return stored

    def get_call(self, tenant_id: str, call_id: str) -> CallRecord:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + call_id)
        if item is None or not call_is_live(int(item["expires_at"]["N"]), self._clock()):
            raise NotFound(f"call {call_id} not found")
        return _decode_call(item)

    def save_call(self, tenant_id: str, call: CallRecord, expected_seq: int) -> CallRecord:
        check_call_owner(tenant_id, call)
        stored = bounded_call(call)
        call_id = call.state.call.call_id
        try:
            self._conditional(
                "put_item",
                Item=self._call_item(tenant_id, stored),
                ConditionExpression="seq = :expected AND expires_at > :now",
                ExpressionAttributeValues={":expected": _n(expected_seq), ":now": self._now_epoch()},
            )
        except _ConditionFailed as failed:
            current = failed.item
            if not current or not call_is_live(int(current["expires_at"]["N"]), self._clock()):
                raise NotFound(f"call {call_id} not found") from None
            raise Conflict(f"call {call_id} is at sequence {current['seq']['N']}, not {expected_seq}") from None
        return stored

    def list_calls(
        self,
        tenant_id: str,
        limit: int,
        cursor: str | None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[CallSummary]:
        """Newest first (GSI1: the calls' CALL_LISTING_ATTRIBUTES, not whole calls); `number` is the dialed number;
        since <= started_at < until."""
        scope = ListScope(keys.calls_gsi_pk(tenant_id), "", index=keys.GSI1)
        conditions, values = ["expires_at > :now"], {":now": self._now_epoch()}
        if number is not None:
            conditions.append("dialed = :dialed")
            values[":dialed"] = _s(number)
        items, next_cursor = self._query_page(
            tenant_id,
            scope,
            limit,
            cursor,
            descending=True,
            sort_range=calls_time_range(since, until),
            filter_expression=" AND ".join(conditions),
            filter_values=values,
        )
        summaries = [CallSummary.model_validate_json(item["summary"]["S"]) for item in items]
        return Page[CallSummary](items=summaries, next_cursor=next_cursor)

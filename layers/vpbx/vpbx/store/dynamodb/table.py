"""The DynamoDB plumbing every port implementation shares: one table (key layout: store/keys.py), the low-level
client with hand-written attribute maps (call events are on the hot path), retries, conditional writes and
transactions, paged and batched reads (versioned.py adds the versioned items and the atomic references on top).

Objects are stored as JSON in a `data` string attribute; scenarios and published versions as zlib-compressed JSON in a
`body` binary attribute (a scenario is at most 256 KB serialized, an item at most 400 KB), and so are calls (every event
rewrites the call, and a write costs a unit per started KB). Conditional writes give optimistic locking and
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
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, TypeAdapter

from vpbx.domain.calls import TraceStep
from vpbx.domain.errors import Conflict, InvalidInput, Unavailable, VpbxError
from vpbx.store.models import CallRecord, StoredDecision
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
BATCH_GET_SIZE = 100  # BatchGetItem's limit of keys per request
BATCH_ATTEMPTS = 5
CALL_LISTING_ATTRIBUTES = ("summary", "dialed", "expires_at")  # GSI1's NonKeyAttributes in template.yaml
CALL_COMPRESSION_LEVEL = 6  # ~60 µs for a 2 KB call, which shrinks to about a third


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- attribute helpers
def attr_s(value: str) -> dict[str, str]:
    return {"S": value}


def attr_n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def attr_b(value: bytes) -> dict[str, bytes]:
    return {"B": value}


def table_key(pk: str, sk: str) -> Item:
    return {"PK": attr_s(pk), "SK": attr_s(sk)}


def decode_call(item: Item) -> CallRecord:
    """A call item: `body` (the record without its trace and first decision), `trace` (one compressed chunk of steps
    per decision, store/dynamodb/calls.py), `first` (the start's decision). An item written before the trace had its
    own attribute carries everything in `body`."""
    record = CallRecord.model_validate_json(zlib.decompress(item["body"]["B"]))
    update: dict[str, Any] = {}
    if "trace" in item:
        steps = [step for chunk in item["trace"]["L"] for step in _trace_steps().validate_json(_inflate(chunk))]
        update["trace"] = sorted(steps, key=lambda step: step.seq)
    if "first" in item:
        update["first_decision"] = StoredDecision.model_validate_json(_inflate(item["first"]))
    return record.model_copy(update=update) if update else record


def encode_trace_chunk(steps: list[TraceStep]) -> dict[str, bytes]:
    return attr_b(zlib.compress(_trace_steps().dump_json(steps), CALL_COMPRESSION_LEVEL))


@cache
def _trace_steps() -> TypeAdapter[list[TraceStep]]:
    return TypeAdapter(list[TraceStep])


def _inflate(value: dict[str, bytes]) -> bytes:
    return zlib.decompress(value["B"])


def read_int(item: Item, name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value is not None else None


def read_time(item: Item, name: str) -> datetime:
    return datetime.fromisoformat(item[name]["S"])


def pack(model: BaseModel) -> bytes:
    return zlib.compress(model.model_dump_json(by_alias=True, exclude_none=True).encode(), 6)


def unpack(item: Item, model: type[M]) -> M:
    return model.model_validate_json(zlib.decompress(item["body"]["B"]))


# ---------------------------------------------------------------------------------------------- failures
class ConditionFailed(Exception):
    """A single-item write's condition failed; `item` is the stored item (ReturnValuesOnConditionCheckFailure)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


class TransactionCanceled(Exception):
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


class DynamoTable:
    """One DynamoDB table and the requests every port implementation makes on it."""

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
                raise ConditionFailed(details.get("Item")) from None
            if code == "TransactionCanceledException":
                raise TransactionCanceled(details.get("CancellationReasons", [])) from None
            raise _storage_error(exc) from None
        except BotoCoreError as exc:
            logger.error("DynamoDB unreachable: %s", exc)
            raise Unavailable("the database is unreachable; retry later") from None

    def _get_item(self, pk: str, sk: str, projection: str | None = None) -> Item | None:
        params: dict[str, Any] = {"TableName": self.table_name, "Key": table_key(pk, sk), "ConsistentRead": True}
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
            except TransactionCanceled as canceled:
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
        values: dict[str, Any] = {":p": attr_s(scope.partition), **(filter_values or {})}
        low, high = sort_range
        if low is not None and high is not None:
            condition = "#p = :p AND #s BETWEEN :low AND :high"
            values.update({":low": attr_s(low), ":high": attr_s(high)})
        elif low is not None:
            condition = "#p = :p AND #s >= :low"
            values[":low"] = attr_s(low)
        elif high is not None:
            condition = "#p = :p AND #s < :high"
            values[":high"] = attr_s(high)
        elif scope.sort_prefix:
            condition = "#p = :p AND begins_with(#s, :prefix)"
            values[":prefix"] = attr_s(scope.sort_prefix)
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
        exclusive_start = {name: attr_s(value) for name, value in start.items()} if start else None
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
            "ExpressionAttributeValues": {":pk": attr_s(pk), ":prefix": attr_s(prefix), **(values or {})},
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

    def _batch_get(self, item_keys: list[Item], projection: str | None = None) -> list[Item]:
        """BatchGetItem in chunks of BATCH_GET_SIZE keys (consistent reads), retrying UnprocessedKeys."""
        found: list[Item] = []
        for start in range(0, len(item_keys), BATCH_GET_SIZE):
            request: dict[str, Any] = {"Keys": item_keys[start : start + BATCH_GET_SIZE], "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
            pending = {self.table_name: request}
            for attempt in range(BATCH_ATTEMPTS):
                response = self._request("batch_get_item", RequestItems=pending)
                found.extend(response.get("Responses", {}).get(self.table_name, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(0.05 * (attempt + 1))
            if pending:
                raise Unavailable("the database is busy; retry later")
        return found

    def _batch_delete(self, item_keys: list[Item]) -> None:
        """BatchWriteItem deletes in chunks of BATCH_WRITE_SIZE, retrying UnprocessedItems."""
        for start in range(0, len(item_keys), BATCH_WRITE_SIZE):
            requests = [{"DeleteRequest": {"Key": key}} for key in item_keys[start : start + BATCH_WRITE_SIZE]]
            for attempt in range(BATCH_ATTEMPTS):
                response = self._request("batch_write_item", RequestItems={self.table_name: requests})
                requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if not requests:
                    break
                time.sleep(0.05 * (attempt + 1))
            if requests:
                raise Unavailable("the database is busy; retry the delete")

"""Idempotency keys: the first answer to a POST, kept 24 hours so that a retry with the same key gets it again.

A port of its own (one DynamoDB and one in-memory implementation), used only by the API's `idempotent` middleware.
The record lives in the tenant's partition (`TENANT#<t>`, `IDEM#<sha256 of the client's key>`) with `expires_at` as
its TTL. Claiming a key is one conditional PutItem that succeeds only when no live record exists (none, expired, or a
pending claim whose lease ran out), so of two concurrent requests with one key exactly one runs.

The stored answer is encrypted with a keystream derived from the client's key, which is stored only as its hash: a
reader of the table learns nothing of an answer, not even the secret of an API key created with an Idempotency-Key.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vpbx.domain.errors import Unavailable

IDEMPOTENCY_TTL = timedelta(hours=24)
PENDING_LEASE = timedelta(seconds=60)  # a claim whose request died (timeout, crash) frees the key after this
IDEMPOTENCY_PREFIX = "IDEM#"
_KEYSTREAM_CONTEXT = b"vpbx idempotent response v1\x00"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class IdempotencyRecord:
    """A live record of a key: the request it was used for, and its answer once there is one."""

    fingerprint: str | None  # None: a claim vanished while we looked (released): treat as still running
    response: StoredResponse | None  # None: the first request is still running


@dataclass(frozen=True)
class Claim:
    """What a request needs to finish the claim it made (`token` tells its claim from a later one)."""

    tenant_id: str
    key: str
    token: str


class IdempotencyStore(abc.ABC):
    @abc.abstractmethod
    def claim(self, claim: Claim, fingerprint: str, now: datetime) -> IdempotencyRecord | None:
        """None when `claim` now owns the key; otherwise the live record an earlier request left."""

    @abc.abstractmethod
    def complete(self, claim: Claim, response: StoredResponse, now: datetime) -> None:
        """Keep the answer for replays (until the claim's 24 hours are over)."""

    @abc.abstractmethod
    def release(self, claim: Claim) -> None:
        """Give the key up (the request failed): a retry with it runs again."""


def encrypt_response(key: str, response: StoredResponse) -> bytes:
    plain = zlib.compress(json.dumps([response.status, response.headers, response.body]).encode("utf-8"))
    return _xor(plain, _keystream(key, len(plain)))


def decrypt_response(key: str, sealed: bytes) -> StoredResponse:
    status, headers, body = json.loads(zlib.decompress(_xor(sealed, _keystream(key, len(sealed)))))
    return StoredResponse(int(status), dict(headers), str(body))


def _keystream(key: str, length: int) -> bytes:
    return hashlib.shake_256(_KEYSTREAM_CONTEXT + key.encode("utf-8")).digest(length)


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# ------------------------------------------------------------------------------------------------ in memory


class InMemoryIdempotencyStore(IdempotencyStore):
    """The same rules on a dict, for tests and the in-memory repository."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def claim(self, claim: Claim, fingerprint: str, now: datetime) -> IdempotencyRecord | None:
        slot = (claim.tenant_id, key_hash(claim.key))
        with self._lock:
            item = self._items.get(slot)
            if item is not None and _is_live(item, _epoch(now)):
                return _record(claim.key, item)
            self._items[slot] = _pending_item(claim, fingerprint, now)
            return None

    def complete(self, claim: Claim, response: StoredResponse, now: datetime) -> None:
        with self._lock:
            item = self._items.get((claim.tenant_id, key_hash(claim.key)))
            if item is not None and item["token"] == claim.token:
                item.update(state="done", response=encrypt_response(claim.key, response), lease_until=0)

    def release(self, claim: Claim) -> None:
        slot = (claim.tenant_id, key_hash(claim.key))
        with self._lock:
            if self._items.get(slot, {}).get("token") == claim.token:
                del self._items[slot]


def _pending_item(claim: Claim, fingerprint: str, now: datetime) -> dict[str, Any]:
    return {
        "state": "pending",
        "token": claim.token,
        "fingerprint": fingerprint,
        "expires_at": _epoch(now + IDEMPOTENCY_TTL),
        "lease_until": _epoch(now + PENDING_LEASE),
    }


def _is_live(item: dict[str, Any], now: int) -> bool:
    if item["expires_at"] <= now:
        return False
    return item["state"] == "done" or item["lease_until"] > now


def _record(key: str, item: dict[str, Any]) -> IdempotencyRecord:
    response = decrypt_response(key, item["response"]) if item["state"] == "done" else None
    return IdempotencyRecord(fingerprint=item["fingerprint"], response=response)


# ------------------------------------------------------------------------------------------------ DynamoDB

# Claimable: no item, an expired one (TTL deletion lags), or a pending claim whose lease ran out.
CLAIMABLE = "attribute_not_exists(PK) OR expires_at <= :now OR (#state = :pending AND lease_until <= :now)"


class DynamoIdempotencyStore(IdempotencyStore):
    def __init__(self, table_name: str, endpoint_url: str | None = None, client: Any = None) -> None:
        self.table_name = table_name
        self._endpoint_url = endpoint_url
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3

                    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
                    session = boto3.session.Session()
                    self._client = session.client("dynamodb", endpoint_url=self._endpoint_url, region_name=region)
        return self._client

    def claim(self, claim: Claim, fingerprint: str, now: datetime) -> IdempotencyRecord | None:
        pending = _pending_item(claim, fingerprint, now)
        item = {
            **self._key(claim),
            "state": {"S": "pending"},
            "token": {"S": claim.token},
            "fingerprint": {"S": fingerprint},
            "expires_at": {"N": str(pending["expires_at"])},
            "lease_until": {"N": str(pending["lease_until"])},
        }
        claimed = self._call(
            "put_item",
            Item=item,
            ConditionExpression=CLAIMABLE,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":now": {"N": str(_epoch(now))}, ":pending": {"S": "pending"}},
        )
        return None if claimed is not None else self._live_record(claim)

    def _live_record(self, claim: Claim) -> IdempotencyRecord:
        found = self._get(claim)
        if found is None:
            return IdempotencyRecord(fingerprint=None, response=None)
        item = {
            "state": found["state"]["S"],
            "fingerprint": found["fingerprint"]["S"],
            "expires_at": int(found["expires_at"]["N"]),
            "lease_until": int(found.get("lease_until", {"N": "0"})["N"]),
            "response": found.get("response", {}).get("B"),
        }
        return _record(claim.key, item)

    def complete(self, claim: Claim, response: StoredResponse, now: datetime) -> None:
        self._if_still_ours(
            claim,
            UpdateExpression="SET #state = :done, #response = :response, lease_until = :zero",
            ExpressionAttributeNames={"#state": "state", "#response": "response"},
            ExpressionAttributeValues={
                ":done": {"S": "done"},
                ":response": {"B": encrypt_response(claim.key, response)},
                ":zero": {"N": "0"},
            },
        )

    def release(self, claim: Claim) -> None:
        # An expired lease frees the key (see CLAIMABLE); UpdateItem needs no DeleteItem permission.
        self._if_still_ours(
            claim,
            UpdateExpression="SET lease_until = :zero",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":zero": {"N": "0"}, ":pending": {"S": "pending"}},
            extra_condition=" AND #state = :pending",
        )

    def _if_still_ours(self, claim: Claim, extra_condition: str = "", **update: Any) -> None:
        """Update the claim unless a later request took the key over after our lease ran out (its answer counts)."""
        values = {**update.pop("ExpressionAttributeValues"), ":token": {"S": claim.token}}
        self._call(
            "update_item",
            Key=self._key(claim),
            ConditionExpression="#token = :token" + extra_condition,
            ExpressionAttributeNames={**update.pop("ExpressionAttributeNames"), "#token": "token"},
            ExpressionAttributeValues=values,
            **update,
        )

    def _get(self, claim: Claim) -> dict[str, Any] | None:
        answer = self._call("get_item", Key=self._key(claim), ConsistentRead=True)
        return answer.get("Item") if answer else None

    def _call(self, operation: str, **arguments: Any) -> dict[str, Any] | None:
        """The operation's answer; None when its condition failed. Storage trouble is a 503 to retry."""
        from botocore.exceptions import BotoCoreError, ClientError  # only when an Idempotency-Key is used

        try:
            answer: dict[str, Any] = getattr(self.client, operation)(TableName=self.table_name, **arguments)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise Unavailable("the idempotency record could not be read or written; retry later") from error
        except BotoCoreError as error:
            raise Unavailable("the idempotency record could not be read or written; retry later") from error
        return answer

    @staticmethod
    def _key(claim: Claim) -> dict[str, Any]:
        return {"PK": {"S": f"TENANT#{claim.tenant_id}"}, "SK": {"S": IDEMPOTENCY_PREFIX + key_hash(claim.key)}}

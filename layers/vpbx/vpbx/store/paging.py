"""Opaque, tenant-bound list cursors and limit clamping, shared by both repositories so they page identically.

A cursor is url-safe base64 of `{"t": tenant id, "k": last key}`; the key names the last item returned (table keys,
plus the GSI1 keys for index listings). A cursor that does not decode, belongs to another tenant or to another
listing is InvalidInput, never a crash and never a peek at someone else's partition.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from vpbx.domain.errors import InvalidInput
from vpbx.store.ports import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT

MAX_CURSOR_LENGTH = 2048
TABLE_KEY_ATTRS = ("PK", "SK")
GSI1_KEY_ATTRS = ("PK", "SK", "GSI1PK", "GSI1SK")


@dataclass(frozen=True)
class ListScope:
    """What one listing walks: a partition of the table (or of GSI1) and the sort-key prefix of its items."""

    partition: str
    sort_prefix: str
    index: str | None = None
    index_partition_attr: str = "GSI1PK"  # the calls' filter indexes have their own partition attribute

    @property
    def partition_attr(self) -> str:
        return self.index_partition_attr if self.index else "PK"

    @property
    def sort_attr(self) -> str:
        return "GSI1SK" if self.index else "SK"

    @property
    def key_attrs(self) -> tuple[str, ...]:
        if not self.index:
            return TABLE_KEY_ATTRS
        return GSI1_KEY_ATTRS if self.partition_attr == "GSI1PK" else ("PK", "SK", self.partition_attr, "GSI1SK")

    def owns(self, key: Mapping[str, str]) -> bool:
        return (
            set(key) == set(self.key_attrs)
            and key[self.partition_attr] == self.partition
            and key[self.sort_attr].startswith(self.sort_prefix)
        )


def clamp_limit(limit: int | None, default: int = DEFAULT_PAGE_LIMIT) -> int:
    if limit is None:
        return default
    return max(1, min(int(limit), MAX_PAGE_LIMIT))


def encode_cursor(tenant_id: str, key: Mapping[str, str]) -> str:
    return encode_payload({"t": tenant_id, "k": dict(key)})


def encode_payload(payload: Mapping[str, object]) -> str:
    """A cursor's JSON payload, url-safe base64 without padding (the merged calls listing has its own payload)."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, tenant_id: str, scope: ListScope) -> dict[str, str] | None:
    """The last key a cursor names, checked against the tenant and the listing; None for the first page."""
    if cursor is None or cursor == "":
        return None
    key = parse_payload(cursor)
    if key is None or not isinstance(key.get("t"), str) or key["t"] != tenant_id:
        raise bad_cursor()
    last_key = key.get("k")
    if not isinstance(last_key, dict) or not all(isinstance(v, str) for v in last_key.values()):
        raise bad_cursor()
    if not scope.owns(last_key):
        raise bad_cursor()
    return last_key


def parse_payload(cursor: str) -> dict[str, object] | None:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def bad_cursor() -> InvalidInput:
    return InvalidInput(
        "cursor is not valid for this listing",
        details=[
            {
                "loc": ["query", "cursor"],
                "msg": "pass back the next_cursor of the previous page unchanged",
                "type": "cursor",
            }
        ],
    )

"""DynamoDB item sizes and write units by DynamoDB's published rules (no pytest; the bench uses this too).

Size of an attribute = UTF-8 length of its name + size of its value: a string its UTF-8 length, a binary its byte
length, a number 1 byte plus 1 byte per two significant digits (plus 1 when negative), a boolean or null 1 byte,
a list or map 3 bytes plus 1 byte per element plus its elements, a set the sum of its members. A write consumes
one write unit per started KB of the item. A global secondary index entry holds the table's keys, the index keys
and the projected attributes; DynamoDB adds 100 bytes of overhead per index entry, counted here too.
"""

import math
from collections.abc import Iterable, Mapping
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
INDEX_ENTRY_OVERHEAD = 100

Item = Mapping[str, Mapping[str, Any]]


def number_size(text: str) -> int:
    digits = text.lstrip("-").lower().split("e")[0].replace(".", "").strip("0")
    return 1 + math.ceil(len(digits) / 2) + (1 if text.startswith("-") else 0)


def value_size(value: Mapping[str, Any]) -> int:
    (kind, content), *rest = value.items()
    if rest:
        raise ValueError(f"an attribute value has exactly one type, got {sorted(value)}")
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode("utf-8")) for member in content)
    if kind == "NS":
        return sum(number_size(member) for member in content)
    if kind == "BS":
        return sum(len(member) for member in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + attribute_size(name, element) for name, element in content.items())
    raise ValueError(f"unknown attribute value type {kind!r}")


def attribute_size(name: str, value: Mapping[str, Any]) -> int:
    return len(name.encode("utf-8")) + value_size(value)


def item_size(item: Item) -> int:
    """Bytes DynamoDB counts for `item` (low-level attribute-value form, as the client sends and returns it)."""
    return sum(attribute_size(name, value) for name, value in item.items())


def write_units(size: int) -> int:
    """Write units of writing an item of `size` bytes (0 bytes: nothing written)."""
    return math.ceil(size / WRITE_UNIT_BYTES)


def read_units(size: int) -> int:
    """Read units of a strongly consistent read of an item of `size` bytes (one per started 4 KB)."""
    return math.ceil(size / READ_UNIT_BYTES)


def index_entry(item: Item, key_attributes: Iterable[str], projection: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry a global secondary index holds for a table item, or None when the item lacks an index key.

    `key_attributes`: the table's and the index's key attribute names; `projection`: the index's Projection as
    DescribeTable returns it (ProjectionType ALL, KEYS_ONLY or INCLUDE with NonKeyAttributes).
    """
    keys = list(key_attributes)
    if any(name not in item for name in keys):
        return None
    kind = projection["ProjectionType"]
    if kind == "ALL":
        return dict(item)
    kept = set(keys) | (set(projection.get("NonKeyAttributes", [])) if kind == "INCLUDE" else set())
    return {name: value for name, value in item.items() if name in kept}


def index_entry_size(entry: Item | None) -> int:
    return 0 if entry is None else item_size(entry) + INDEX_ENTRY_OVERHEAD

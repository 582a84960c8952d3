"""Reading what a client sent: size limits first, then the top level, elements and connections.

Elements and connections are parsed in bulk, in one pydantic pass that keeps what does not parse as it was sent;
only those leftovers are parsed again one by one, to locate each of their problems. A clean scenario and a scenario
with one broken element therefore cost about the same.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, PydanticSerializationError, to_json

from vpbx.domain.base import Name, StrictModel
from vpbx.domain.elements.base import ElementBase, shorten
from vpbx.domain.elements.registry import ELEMENT_TYPES, ENTRY_TYPES, Element
from vpbx.domain.scenario import MAX_CONNECTIONS, MAX_ELEMENTS, MAX_SERIALIZED_BYTES, Connection, Scenario
from vpbx.domain.validation.report import Problems

_HEADER_FIELDS = ("name", "description", "elements", "connections")


class Header(StrictModel):
    """The scenario's top level with elements and connections left raw, so they can be parsed one by one."""

    name: Name
    description: str | None = Field(default=None, max_length=2000)
    elements: list[Any]
    connections: list[Any] = Field(default_factory=list)


@dataclass
class ParsedElements:
    elements: list[ElementBase] = field(default_factory=list)
    ids: list[tuple[int, str]] | None = None  # every (index, id) seen when some element broke; else None
    broken_ids: set[str] = field(default_factory=set)  # ids of elements that did not parse
    broken_entry: bool = False  # an entry element that did not parse: the entry is there, just broken


# Built on first use, not at import: building them costs a Lambda cold start ~10 ms, even in functions that never
# validate. `… | Any` in left-to-right mode keeps an item that does not parse as it was sent instead of failing.
@cache
def _element_adapter() -> TypeAdapter[Element]:
    return TypeAdapter(Element)


@cache
def _elements_adapter() -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[Annotated[Element | Any, Field(union_mode="left_to_right")]])


@cache
def _connections_adapter() -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[Annotated[Connection | Any, Field(union_mode="left_to_right")]])


def bulk_parse(items: list[Any], kind: str) -> list[Any]:
    """Parse `items` ("elements" or "connections") in one pass; what does not parse is kept as it was."""
    adapter = _elements_adapter() if kind == "elements" else _connections_adapter()
    return adapter.validate_python(items)


def serialized_size(raw: object) -> int | None:
    """UTF-8 size of the compact JSON form; None when the value cannot be serialized at all."""
    if isinstance(raw, Scenario):
        return len(raw.model_dump_json(by_alias=True, exclude_none=True).encode())
    try:
        return len(to_json(raw, fallback=str))  # compact UTF-8 JSON, several times faster than json.dumps
    except (PydanticSerializationError, ValueError, TypeError, RecursionError):
        return None


def check_size(elements: object, connections: object, size: int | None, problems: Problems) -> bool:
    """Cheap limits first, so oversized input never reaches the expensive checks. True when within limits."""
    if size is None:
        problems.add("not_serializable", "the scenario cannot be serialized as JSON (circular or too deeply nested)")
        return False
    if isinstance(elements, Sequence) and len(elements) > MAX_ELEMENTS:
        problems.add(
            "too_many_elements",
            f"the scenario has {len(elements)} elements; at most {MAX_ELEMENTS} are allowed",
            field="elements",
        )
    if isinstance(connections, Sequence) and len(connections) > MAX_CONNECTIONS:
        problems.add(
            "too_many_connections",
            f"the scenario has {len(connections)} connections; at most {MAX_CONNECTIONS} are allowed",
            field="connections",
        )
    if size > MAX_SERIALIZED_BYTES:
        problems.add(
            "scenario_too_large",
            f"the scenario is {size / 1024:.0f} KB as JSON; at most {MAX_SERIALIZED_BYTES // 1024} KB is allowed",
        )
    return not problems.items


def list_field(raw: Mapping[Any, Any], key: str) -> list[Any]:
    # A missing or mistyped list is reported by the header check; parse what there is.
    value = raw.get(key)
    return value if isinstance(value, list) else []


def parse_header(raw: Mapping[Any, Any], problems: Problems) -> Header | None:
    try:
        return Header.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = _dotted(error["loc"]) or None
            if error["type"] == "missing":
                problems.add("missing_field", f"the scenario needs '{where}'", field=where)
            elif error["type"] in ("extra_forbidden", "invalid_key"):
                known = ", ".join(_HEADER_FIELDS)
                problems.add("unknown_field", f"unknown field '{where}' (a scenario has {known})", field=where)
            else:
                problems.add("invalid_field", f"'{where}': {error['msg']}", field=where)
    return None


def parse_elements(items: list[Any], problems: Problems) -> ParsedElements:
    parsed = bulk_parse(items, "elements")
    if all(isinstance(item, ElementBase) for item in parsed):
        return ParsedElements(elements=parsed)
    result = ParsedElements()
    ids: list[tuple[int, str]] = []
    for index, (item, raw) in enumerate(zip(parsed, items, strict=True)):
        if isinstance(item, ElementBase):
            ids.append((index, item.id))
            result.elements.append(item)
            continue
        if not isinstance(raw, Mapping):
            problems.add(
                "invalid_element", f"element #{index} must be an object, got {describe_type(raw)}", element_index=index
            )
            continue
        raw_id = raw.get("id")
        element_id = raw_id if isinstance(raw_id, str) else None
        if element_id is not None:
            ids.append((index, element_id))
        element = _parse_element(raw, index, element_id, problems)
        if element is not None:  # the bulk pass left it raw, yet it parses on its own: keep it
            result.elements.append(element)
            continue
        if element_id is not None:
            result.broken_ids.add(element_id)
        kind = raw.get("type")
        result.broken_entry = result.broken_entry or (isinstance(kind, str) and kind in ENTRY_TYPES)
    result.ids = ids
    return result


def _parse_element(item: Mapping[Any, Any], index: int, element_id: str | None, problems: Problems) -> Element | None:
    """The element, or None with each of its problems located."""
    name = f"element '{element_id}'" if element_id is not None else f"element #{index}"
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in ELEMENT_TYPES:
        problem = "has no type" if kind is None else f"has unknown type {shorten(repr(kind))}"
        problems.add(
            "unknown_element_type",
            f"{name} {problem}; known types: {', '.join(ELEMENT_TYPES)}",
            element_id=element_id,
            element_index=index,
            field="type",
        )
        return None
    try:
        return _element_adapter().validate_python(item)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = _dotted(error["loc"][1:]) or None  # loc[0] is the union's tag, i.e. the type
            problems.add(
                "invalid_element",
                f"{name} ({kind}): {_error_text(error, where)}",
                element_id=element_id,
                element_index=index,
                field=where,
            )
    return None


def parse_connections(items: list[Any], problems: Problems) -> tuple[list[Connection], list[int] | None]:
    """The connections that parse, and their positions in `items` (None when every one parsed)."""
    parsed = bulk_parse(items, "connections")
    if all(isinstance(item, Connection) for item in parsed):
        return parsed, None
    connections: list[Connection] = []
    positions: list[int] = []
    for index, (item, raw) in enumerate(zip(parsed, items, strict=True)):
        connection = item if isinstance(item, Connection) else _parse_broken_connection(raw, index, problems)
        if connection is not None:
            connections.append(connection)
            positions.append(index)
    return connections, positions


def _parse_broken_connection(item: object, index: int, problems: Problems) -> Connection | None:
    if not isinstance(item, Mapping):
        problems.add(
            "invalid_connection",
            f"connection #{index} must be an object, got {describe_type(item)}",
            connection_index=index,
        )
        return None
    return _parse_connection(item, index, problems)


def _parse_connection(item: Mapping[Any, Any], index: int, problems: Problems) -> Connection | None:
    try:
        return Connection.model_validate(item)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = _dotted(error["loc"]) or None
            problems.add(
                "invalid_connection",
                f"connection #{index}: {_error_text(error, where)}",
                connection_index=index,
                field=where,
            )
    return None


def _dotted(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _error_text(error: ErrorDetails, where: str | None) -> str:
    if error["type"] == "missing":
        return f"'{where}' is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field '{where}'"
    message = error["msg"].removeprefix("Value error, ")
    return f"'{where}': {message}" if where else message


def describe_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return names.get(type(value), type(value).__name__)

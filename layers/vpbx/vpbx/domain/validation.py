"""Scenario validation: every problem at once, each located, and never an exception (DESIGN.md §2).

`validate()` accepts what a client sent (JSON-like data) or an already-parsed `Scenario`. It parses elements one by
one so that a broken element becomes a located problem while the rest of the graph is still checked.
"""

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, PydanticSerializationError, to_json

from vpbx.domain.base import LazyModel, Name, StrictModel
from vpbx.domain.directory import Directory, Subscriber
from vpbx.domain.phone import InvalidPhoneNumber, dial_delay_for_target, is_sip_uri, normalize_e164
from vpbx.domain.scenario import (
    DEFAULT_WAIT_SECONDS,
    DIGIT_EXITS,
    ELEMENT_TYPES,
    MAX_CONNECTIONS,
    MAX_ELEMENTS,
    MAX_SERIALIZED_BYTES,
    MAX_WAIT_SECONDS,
    MIN_WAIT_SECONDS,
    CallerListCheck,
    Connection,
    Element,
    ElementBase,
    ExternalNumber,
    ExternalRouting,
    Fax,
    Greeting,
    Group,
    Hangup,
    IncomingCall,
    InternalSubscriber,
    IvrMenu,
    Scenario,
    ScheduleCheck,
    Voicemail,
)

Severity = Literal["error", "warning"]

# What the executor rings for when a limited wait names no duration.
# A ring must outlast the network's dial delay by this much, or the target barely rings before we give up.
DIAL_DELAY_MARGIN_SECONDS = 10

CODES: dict[str, str] = {
    # input shape and size
    "not_an_object": "The scenario is not a JSON object.",
    "not_serializable": "The scenario holds values that cannot be serialized as JSON (e.g. a circular reference).",
    "too_many_elements": f"The scenario has more than {MAX_ELEMENTS} elements.",
    "too_many_connections": f"The scenario has more than {MAX_CONNECTIONS} connections.",
    "scenario_too_large": f"The serialized scenario is larger than {MAX_SERIALIZED_BYTES // 1024} KB.",
    "missing_field": "A required top-level field (name, elements) is missing.",
    "unknown_field": "The scenario has a top-level field the format does not define.",
    "invalid_field": "A top-level field has the wrong type or value.",
    "invalid_element": "An element is not an object or one of its fields is missing, unknown or invalid.",
    "unknown_element_type": "An element's type is missing or not one of the element catalogue.",
    "invalid_connection": "A connection is not an object or one of its fields is missing, unknown or invalid.",
    # graph structure
    "missing_entry": "The scenario has no incoming_call element, so no call can enter it.",
    "multiple_entries": "The scenario has more than one incoming_call element; exactly one is allowed.",
    "duplicate_element_id": "Two elements share an id.",
    "unknown_connection_source": "A connection starts at an element id that does not exist.",
    "unknown_connection_target": "A connection points to an element id that does not exist.",
    "arrow_into_entry": "A connection points into the incoming_call element, which only starts calls.",
    "invalid_exit": "A connection leaves by an exit the element type does not have.",
    "duplicate_exit": "Two connections leave the same exit of one element.",
    "exit_on_terminal": "A connection leaves an element that ends the route (including ringing without limit_wait).",
    "unconnected_exit": "An exit is not connected, so the call ends there.",
    "ivr_without_choices": "An IVR menu has no digit connected, so callers cannot choose anything.",
    "unreachable_element": "No path from incoming_call reaches the element.",
    "endless_loop": "A cycle passes through no waiting element, so it would spin forever without telephony.",
    # ringing
    "missing_wait_seconds": "The wait is limited but wait_seconds is not set, so the executor's default applies.",
    "wait_out_of_range": f"wait_seconds is outside {MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS} s.",
    "wait_ignored": "wait_seconds is set but limit_wait is off, so the element rings until answered.",
    "wait_below_dial_delay": (
        f"wait_seconds leaves an external/mobile target less than {DIAL_DELAY_MARGIN_SECONDS} s of real ringing "
        "after its network dial delay."
    ),
    # targets
    "invalid_phone_number": "external_number.number is not a valid E.164 phone number.",
    "invalid_sip_uri": "A SIP URI does not look like sip:user@host.",
    "insecure_url": "external_routing.url is not https.",
    # directory references
    "unknown_extension": "An extension is not in the tenant's directory.",
    "unknown_schedule": "schedule_id is not one of the tenant's schedules.",
    "unknown_caller_list": "list_id is not one of the tenant's caller lists.",
    "disabled_subscriber": "A referenced subscriber is disabled and will not ring.",
    # safety net
    "internal_error": "Validation itself failed; the scenario could not be fully checked.",
}
WARNING_CODES = frozenset(
    {
        "missing_wait_seconds",
        "unconnected_exit",
        "ivr_without_choices",
        "unreachable_element",
        "wait_ignored",
        "wait_below_dial_delay",
        "disabled_subscriber",
    }
)


class Problem(LazyModel):
    """One finding, located as precisely as the input allows."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    message: str
    element_id: str | None = None
    connection_index: int | None = None
    field: str | None = None
    element_index: int | None = None  # position in `elements`; locates elements without a usable id


class ValidationReport(LazyModel):
    problems: list[Problem] = Field(default_factory=list)
    scenario: Scenario | None = Field(default=None, exclude=True)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def validate(raw: object, directory: Directory | None = None) -> ValidationReport:
    """Check a scenario and report every problem at once. Never raises, whatever `raw` is."""
    with _collector_paused():
        problems = _Problems()
        try:
            scenario = _validate(raw, directory, problems)
        except Exception as exc:  # the contract is "never raises": report instead of failing the caller
            problems.add("internal_error", f"validation could not complete ({type(exc).__name__}); please report this")
            scenario = None
        return ValidationReport(problems=problems.items, scenario=scenario)


# ------------------------------------------------------------------------------------------------------ plumbing


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of validation; it resumes afterwards if it was running.

    A large scenario parses into tens of thousands of objects that stay alive until validation ends. Left on, the
    collector scans them again and again while they are built (a few ms per call, plus a full-heap pass every few
    calls) although none of them is cyclic garbage: they are freed by reference counting once dropped.
    """
    if not gc.isenabled():  # someone else manages it (or a concurrent validation paused it): leave it alone
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(
        self,
        code: str,
        message: str,
        *,
        element_id: str | None = None,
        connection_index: int | None = None,
        field: str | None = None,
        element_index: int | None = None,
    ) -> None:
        self.items.append(
            Problem(
                severity="warning" if code in WARNING_CODES else "error",
                code=code,
                message=message,
                element_id=element_id,
                connection_index=connection_index,
                field=field,
                element_index=element_index,
            )
        )


@dataclass
class _Graph:
    """What the graph checks share; adjacency is built once so every check stays linear."""

    elements: list[Element]
    connections: list[tuple[int, Connection]]
    directory: Directory | None
    broken_ids: set[str] = field(default_factory=set)
    broken_entry: bool = False
    by_id: dict[str, ElementBase] = field(default_factory=dict)
    successors: dict[str, list[str]] = field(default_factory=dict)
    used_exits: dict[str, set[str]] = field(default_factory=dict)
    exits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # element id -> its exits, default first
    entries: list[ElementBase] = field(default_factory=list)  # the incoming_call elements, in order
    instant: set[str] = field(default_factory=set)  # ids of elements that never wait for telephony or the caller


# Built on first use, not at import: building them costs a Lambda cold start ~10 ms, even in functions that never
# validate. Whole-list adapters validate a clean list about twice as fast as item by item.
@cache
def _element_adapter() -> TypeAdapter[Element]:
    return TypeAdapter(Element)


@cache
def _elements_adapter() -> TypeAdapter[list[Element]]:
    return TypeAdapter(list[Element])


@cache
def _connections_adapter() -> TypeAdapter[list[Connection]]:
    return TypeAdapter(list[Connection])


_HEADER_FIELDS = ("name", "description", "elements", "connections")


class _Header(StrictModel):
    """The scenario's top level with elements and connections left raw, so they can be parsed one by one."""

    name: Name
    description: str | None = Field(default=None, max_length=2000)
    elements: list[Any]
    connections: list[Any] = Field(default_factory=list)


def _validate(raw: object, directory: Directory | None, problems: _Problems) -> Scenario | None:
    if isinstance(raw, Scenario):
        if not _check_size(raw.elements, raw.connections, _serialized_size(raw), problems):
            return None
        graph = _Graph(elements=list(raw.elements), connections=list(enumerate(raw.connections)), directory=directory)
        _check_graph(graph, None, problems)
        return raw
    if not isinstance(raw, Mapping):
        problems.add("not_an_object", f"a scenario must be a JSON object, got {_describe_type(raw)}")
        return None
    if not _check_size(raw.get("elements"), raw.get("connections"), _serialized_size(raw), problems):
        return None
    parsed = _parse_whole(raw)
    if parsed is not None:  # the common case: nothing to locate, only the graph to check
        graph = _Graph(elements=parsed.elements, connections=list(enumerate(parsed.connections)), directory=directory)
        _check_graph(graph, None, problems)
        return Scenario.model_construct(
            name=parsed.name,
            description=parsed.description,
            elements=parsed.elements,
            connections=list(parsed.connections),
        )
    header = _parse_header(raw, problems)
    graph = _Graph(elements=[], connections=[], directory=directory)
    ids = _parse_elements(_list_field(raw, "elements"), graph, problems)
    _parse_connections(_list_field(raw, "connections"), graph, problems)
    parsed_cleanly = header is not None and not problems.items
    if isinstance(raw.get("elements"), list):  # otherwise the header problem says it all
        _check_graph(graph, ids, problems)
    if header is None or not parsed_cleanly:
        return None
    return Scenario.model_construct(
        name=header.name,
        description=header.description,
        elements=graph.elements,
        connections=[connection for _, connection in graph.connections],
    )


def _parse_whole(raw: Mapping[Any, Any]) -> Scenario | None:
    """One pass of pydantic over the whole scenario; None when anything is wrong, to be located part by part.

    Only for input the part-by-part path reads the same way: it parses `elements` and `connections` only when they
    are real lists, while pydantic would also accept, say, tuples.
    """
    if not isinstance(raw.get("elements"), list) or not isinstance(raw.get("connections", []), list):
        return None
    try:
        return Scenario.model_validate(raw)
    except ValidationError:
        return None


def _list_field(raw: Mapping[Any, Any], key: str) -> list[Any]:
    # A missing or mistyped list is reported by the header check; parse what there is.
    value = raw.get(key)
    return value if isinstance(value, list) else []


def _serialized_size(raw: object) -> int | None:
    """UTF-8 size of the compact JSON form; None when the value cannot be serialized at all."""
    if isinstance(raw, Scenario):
        return len(raw.model_dump_json(by_alias=True, exclude_none=True).encode())
    try:
        return len(to_json(raw, fallback=str))  # compact UTF-8 JSON, several times faster than json.dumps
    except (PydanticSerializationError, ValueError, TypeError, RecursionError):
        return None


def _check_size(elements: object, connections: object, size: int | None, problems: _Problems) -> bool:
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


def _parse_header(raw: Mapping[Any, Any], problems: _Problems) -> _Header | None:
    try:
        return _Header.model_validate(raw)
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


def _parse_elements(items: list[Any], graph: _Graph, problems: _Problems) -> list[tuple[int, str]]:
    """Parse each element on its own; return every (index, id) seen, broken elements included."""
    try:
        graph.elements = _elements_adapter().validate_python(items)
        return _raw_ids(graph.elements)
    except ValidationError:
        pass  # fall through: locate every problem element by element
    ids: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.add(
                "invalid_element",
                f"element #{index} must be an object, got {_describe_type(item)}",
                element_index=index,
            )
            continue
        raw_id = item.get("id")
        element_id = raw_id if isinstance(raw_id, str) else None
        if element_id is not None:
            ids.append((index, element_id))
        element = _parse_element(item, index, element_id, problems)
        if element is None:
            if element_id is not None:
                graph.broken_ids.add(element_id)
            graph.broken_entry = graph.broken_entry or item.get("type") == "incoming_call"
            continue
        graph.elements.append(element)
    return ids


def _parse_element(item: Mapping[Any, Any], index: int, element_id: str | None, problems: _Problems) -> Element | None:
    name = f"element '{element_id}'" if element_id is not None else f"element #{index}"
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in ELEMENT_TYPES:
        problem = "has no type" if kind is None else f"has unknown type {_shorten(repr(kind))}"
        problems.add(
            "unknown_element_type",
            f"{name} {problem}; known types: {', '.join(ELEMENT_TYPES)}",
            element_id=element_id,
            element_index=index,
            field="type",
        )
        return None
    try:
        element: Element = _element_adapter().validate_python(item)
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
    return element


def _parse_connections(items: list[Any], graph: _Graph, problems: _Problems) -> None:
    try:
        graph.connections = list(enumerate(_connections_adapter().validate_python(items)))
        return
    except ValidationError:
        pass  # fall through: locate every broken connection
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.add(
                "invalid_connection",
                f"connection #{index} must be an object, got {_describe_type(item)}",
                connection_index=index,
            )
            continue
        try:
            connection = Connection.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                where = _dotted(error["loc"]) or None
                problems.add(
                    "invalid_connection",
                    f"connection #{index}: {_error_text(error, where)}",
                    connection_index=index,
                    field=where,
                )
            continue
        graph.connections.append((index, connection))


def _dotted(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _error_text(error: ErrorDetails, where: str | None) -> str:
    if error["type"] == "missing":
        return f"'{where}' is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field '{where}'"
    message = error["msg"].removeprefix("Value error, ")
    return f"'{where}': {message}" if where else message


def _describe_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return names.get(type(value), type(value).__name__)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(element: ElementBase) -> str:
    return f"{getattr(element, 'type', 'element')} '{element.id}'"


def _raw_ids(elements: Iterable[ElementBase]) -> list[tuple[int, str]]:
    return [(index, element.id) for index, element in enumerate(elements)]


# ------------------------------------------------------------------------------------------------------ graph checks


def _check_graph(graph: _Graph, ids: list[tuple[int, str]] | None, problems: _Problems) -> None:
    """`ids`: every (index, id) seen, broken elements included; None when every element parsed."""
    _index_elements(graph, ids, problems)
    for check in _GRAPH_CHECKS:
        check(graph, problems)


def _index_elements(graph: _Graph, ids: list[tuple[int, str]] | None, problems: _Problems) -> None:
    """One pass over the elements builds every lookup the checks share (fresh objects are slow to touch twice)."""
    if ids is not None:  # broken elements were dropped, but they still claim their ids
        _report_duplicate_ids(ids, problems)
    by_id, exits, successors, used_exits = graph.by_id, graph.exits, graph.successors, graph.used_exits
    instant = graph.instant
    for element in graph.elements:
        element_id = element.id
        if element_id in by_id:
            continue  # the first element with an id owns it
        by_id[element_id] = element
        exits[element_id] = element.exits()
        successors[element_id] = []
        used_exits[element_id] = set()
        if not element.waits:
            instant.add(element_id)
    if ids is None and len(by_id) != len(graph.elements):
        _report_duplicate_ids(_raw_ids(graph.elements), problems)
    graph.entries = [element for element in graph.elements if isinstance(element, IncomingCall)]


def _report_duplicate_ids(ids: list[tuple[int, str]], problems: _Problems) -> None:
    first_index: dict[str, int] = {}
    for index, element_id in ids:
        if element_id in first_index:
            problems.add(
                "duplicate_element_id",
                f"element id '{element_id}' is used again (first by element #{first_index[element_id]})",
                element_id=element_id,
                element_index=index,
                field="id",
            )
        else:
            first_index[element_id] = index


def _check_entry(graph: _Graph, problems: _Problems) -> None:
    entries = graph.entries
    # A broken incoming_call still counts as present: its own problem says what is wrong with it.
    if not entries and not graph.broken_entry:
        problems.add("missing_entry", "the scenario needs exactly one incoming_call element, where calls enter")
    for extra in entries[1:]:
        problems.add(
            "multiple_entries",
            f"incoming_call '{extra.id}' is a second entry; a scenario has exactly one (first: '{entries[0].id}')",
            element_id=extra.id,
        )


def _check_connections(graph: _Graph, problems: _Problems) -> None:
    """Arrows: both ends exist, the exit exists on the source, and each exit carries at most one arrow.

    The happy path stays inline and touches each arrow once (thousands of arrows); reporting lives in the helpers.
    """
    by_id, broken, exits_of = graph.by_id, graph.broken_ids, graph.exits
    successors, used_exits = graph.successors, graph.used_exits
    for index, connection in graph.connections:
        source_id = connection.from_
        target_id = connection.to
        source = by_id.get(source_id)
        target = by_id.get(target_id)
        if source is None or target is None or isinstance(target, IncomingCall):
            _report_endpoints(graph, index, connection, target, problems)
            if source is None:
                if source_id in broken and target is not None:
                    successors.setdefault(source_id, []).append(target_id)
                continue
            if target is not None or target_id in broken:
                successors[source_id].append(target_id)
        else:
            successors[source_id].append(target_id)
        exits = exits_of[source_id]
        exit_name = connection.exit
        if exit_name is None and exits:
            exit_name = exits[0]
        used = used_exits[source_id]
        if exit_name is None or exit_name in used or exit_name not in exits:
            _report_exit(index, source, exits, exit_name, problems)
        else:
            used.add(exit_name)


def _report_endpoints(
    graph: _Graph, index: int, connection: Connection, target: ElementBase | None, problems: _Problems
) -> None:
    if connection.from_ not in graph.by_id and connection.from_ not in graph.broken_ids:
        problems.add(
            "unknown_connection_source",
            f"connection #{index} starts at '{connection.from_}', which is not an element of this scenario",
            connection_index=index,
            field="from",
        )
    if target is None and connection.to not in graph.broken_ids:
        problems.add(
            "unknown_connection_target",
            f"connection #{index} points to '{connection.to}', which is not an element of this scenario",
            connection_index=index,
            field="to",
        )
    if isinstance(target, IncomingCall):
        problems.add(
            "arrow_into_entry",
            f"connection #{index} points into incoming_call '{target.id}'; the entry only starts calls",
            connection_index=index,
            element_id=target.id,
            field="to",
        )


def _report_exit(
    index: int, source: ElementBase, exits: tuple[str, ...], exit_name: str | None, problems: _Problems
) -> None:
    if not exits:
        problems.add(
            "exit_on_terminal",
            f"connection #{index} leaves {_label(source)}, which ends the route{_terminal_reason(source)}",
            connection_index=index,
            element_id=source.id,
            field="from",
        )
    elif exit_name not in exits:
        problems.add(
            "invalid_exit",
            f"connection #{index} leaves {_label(source)} by exit '{exit_name}'; its exits are {', '.join(exits)}",
            connection_index=index,
            element_id=source.id,
            field="exit",
        )
    else:
        problems.add(
            "duplicate_exit",
            f"connection #{index} is a second arrow on exit '{exit_name}' of {_label(source)}; each exit leads to "
            "one element",
            connection_index=index,
            element_id=source.id,
            field="exit",
        )


def _terminal_reason(element: ElementBase) -> str:
    if isinstance(element, InternalSubscriber | ExternalNumber | Group) and not element.limit_wait:
        return " (without limit_wait it rings until answered; turn limit_wait on and set wait_seconds to continue)"
    return ""


def _check_reachable(graph: _Graph, problems: _Problems) -> None:
    if not graph.entries:
        return  # missing_entry already says it; every element would be "unreachable"
    entries = [entry.id for entry in graph.entries]
    reached = _reachable(entries, graph.successors)
    if reached.issuperset(graph.by_id):
        return
    for element in graph.by_id.values():
        if element.id not in reached:
            problems.add(
                "unreachable_element",
                f"{_label(element)} cannot be reached from incoming_call '{entries[0]}'",
                element_id=element.id,
            )


def _reachable(roots: Iterable[str], successors: Mapping[str, Sequence[str]]) -> set[str]:
    seen = set(roots)
    frontier = list(seen)
    for node in frontier:  # grows while we walk it: a breadth-first search without a deque
        for child in successors.get(node, ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen


def _check_endless_loops(graph: _Graph, problems: _Problems) -> None:
    """A cycle among elements that never wait for telephony would be evaluated forever inside one decision."""
    instant, successors = graph.instant, graph.successors
    instant_successors = {node: [child for child in successors.get(node, ()) if child in instant] for node in instant}
    if not any(instant_successors.values()):
        return  # no arrow joins two instant elements, so there is no cycle among them
    for component in strongly_connected_components(instant, instant_successors):
        if len(component) > 1 or component[0] in instant_successors[component[0]]:
            ordered = sorted(component)
            shape = (
                f"elements {', '.join(ordered)} form a loop" if len(ordered) > 1 else f"'{ordered[0]}' loops to itself"
            )
            problems.add(
                "endless_loop",
                f"{shape} with no waiting element (ring, greeting, menu…) on it; the call would spin forever",
                element_id=ordered[0],
            )


def strongly_connected_components(nodes: Iterable[str], successors: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's algorithm with an explicit stack, so deep graphs cannot hit Python's recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in nodes:
        if root in index:
            continue
        visit(root)
        work = [(root, iter(successors.get(root, ())))]
        while work:
            node, children = work[-1]
            descended = False
            for child in children:
                if child not in index:
                    visit(child)
                    work.append((child, iter(successors.get(child, ()))))
                    descended = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


# ------------------------------------------------------------------------------------------------------ element checks


def _check_elements(graph: _Graph, problems: _Problems) -> None:
    """One pass over the elements; each type runs only the checks that concern it."""
    checks_of = _ELEMENT_CHECKS
    for element in graph.by_id.values():
        for check in checks_of.get(type(element), _DEFAULT_CHECKS):
            check(element, graph, problems)


def _check_exits_connected(element: ElementBase, graph: _Graph, problems: _Problems) -> None:
    element_id = element.id
    exits = graph.exits[element_id]
    used = graph.used_exits[element_id]
    if len(used) == len(exits):
        return
    optional = element.optional_exits()
    for exit_name in exits:
        if exit_name not in used and exit_name not in optional:
            fallback = " (busy/unavailable fall back to it)" if "busy" in optional else ""
            problems.add(
                "unconnected_exit",
                f"exit '{exit_name}' of {_label(element)} is not connected{fallback}: the call ends there",
                element_id=element.id,
                field="exit",
            )


def _check_menu_choices(element: IvrMenu, graph: _Graph, problems: _Problems) -> None:
    if graph.used_exits[element.id].isdisjoint(DIGIT_EXITS):
        problems.add(
            "ivr_without_choices",
            f"ivr_menu '{element.id}' has no digit connected, so no key press leads anywhere",
            element_id=element.id,
        )


def _check_wait(
    element: InternalSubscriber | ExternalNumber | Group | ExternalRouting, graph: _Graph, problems: _Problems
) -> None:
    """The seed's rules: a limited wait needs a sane number of seconds; without a limit the element ends the route."""
    limited = isinstance(element, ExternalRouting) or element.limit_wait
    wait = element.wait_seconds
    if wait is None:
        if limited:
            problems.add(
                "missing_wait_seconds",
                f"{_label(element)} limits the wait but has no wait_seconds, so it rings for the default "
                f"{DEFAULT_WAIT_SECONDS} s; set {MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS} s",
                element_id=element.id,
                field="wait_seconds",
            )
    elif not limited and not isinstance(element, Group):  # a group's wait still paces its members
        problems.add(
            "wait_ignored",
            f"{_label(element)} has wait_seconds but limit_wait is off, so it rings until answered and ends the route",
            element_id=element.id,
            field="wait_seconds",
        )
    elif not MIN_WAIT_SECONDS <= wait <= MAX_WAIT_SECONDS:
        problems.add(
            "wait_out_of_range",
            f"{_label(element)} waits {wait} s; wait_seconds must be {MIN_WAIT_SECONDS}–{MAX_WAIT_SECONDS}",
            element_id=element.id,
            field="wait_seconds",
        )
    else:
        _check_dial_delays(element, wait, graph.directory, problems)


def _check_dial_delays(element: ElementBase, wait: int, directory: Directory | None, problems: _Problems) -> None:
    """The seed's note, automated: mobile and satellite networks need seconds before the target even rings."""
    for where, target, delay in external_dial_delays(element, directory):
        if wait < delay + DIAL_DELAY_MARGIN_SECONDS:
            problems.add(
                "wait_below_dial_delay",
                f"{_label(element)} waits {wait} s, but {target} needs about {delay} s to start ringing; "
                f"allow at least {delay + DIAL_DELAY_MARGIN_SECONDS} s",
                element_id=element.id,
                field=where,
            )


def external_dial_delays(element: ElementBase, directory: Directory | None) -> list[tuple[str, str, int]]:
    """(field, target description, dial delay) for each external/mobile target the element rings."""
    if isinstance(element, ExternalNumber):
        target = element.number or element.sip_uri or ""
        return [("number" if element.number else "sip_uri", target, _target_delay(target))]
    extensions = _extensions_of(element)
    if directory is None or not extensions:
        return []
    subscribers = directory.subscribers
    delays = []
    for position, extension in enumerate(extensions):
        subscriber = subscribers.get(extension)
        if subscriber is not None and subscriber.kind in _DIALLED_KINDS:
            where = _extension_field(element, position)
            delays.append((where, f"{subscriber.kind} subscriber {extension}", _subscriber_delay(subscriber)))
    return delays


_DIALLED_KINDS = ("external", "mobile")  # subscribers reached over a phone network, which takes time to ring


# Parsing a phone number costs tens of microseconds; a tenant's numbers repeat across validations, so remember them.
@lru_cache(maxsize=8192)
def _target_delay(target: str) -> int:
    return dial_delay_for_target(target)


@lru_cache(maxsize=8192)
def _subscriber_delay(subscriber: Subscriber) -> int:
    return subscriber.dial_delay


@lru_cache(maxsize=8192)
def _e164_problem(number: str) -> str | None:
    try:
        normalize_e164(number)
    except InvalidPhoneNumber as exc:
        return str(exc)
    return None


def _check_external_number(element: ExternalNumber, graph: _Graph, problems: _Problems) -> None:
    reason = _e164_problem(element.number) if element.number else None
    if reason is not None:
        problems.add(
            "invalid_phone_number",
            f"external_number '{element.id}': {reason} (use E.164, e.g. +74951234567)",
            element_id=element.id,
            field="number",
        )
    if element.sip_uri and not is_sip_uri(element.sip_uri):
        problems.add(
            "invalid_sip_uri",
            f"external_number '{element.id}': {_shorten(element.sip_uri)!r} is not a SIP URI (sip:user@host)",
            element_id=element.id,
            field="sip_uri",
        )


def _check_crm_url(element: ExternalRouting, graph: _Graph, problems: _Problems) -> None:
    if not element.url.lower().startswith("https://"):
        problems.add(
            "insecure_url",
            f"external_routing '{element.id}' calls {_shorten(element.url)} over plain http; the CRM URL must be https",
            element_id=element.id,
            field="url",
        )


def _check_subscribers(element: InternalSubscriber | Fax | Group, graph: _Graph, problems: _Problems) -> None:
    if graph.directory is None:
        return
    subscribers = graph.directory.subscribers
    for position, extension in enumerate(_extensions_of(element)):
        subscriber = subscribers.get(extension)
        if subscriber is None:
            problems.add(
                "unknown_extension",
                f"{_label(element)} refers to extension {extension}, which is not in the directory",
                element_id=element.id,
                field=_extension_field(element, position),
            )
        elif not subscriber.enabled:
            problems.add(
                "disabled_subscriber",
                f"{_label(element)} refers to extension {extension} ({subscriber.name}), which is disabled",
                element_id=element.id,
                field=_extension_field(element, position),
            )


def _extensions_of(element: ElementBase) -> Sequence[str]:
    """The extensions an element rings, in order; field names are built only when a problem needs one."""
    if isinstance(element, InternalSubscriber) or isinstance(element, Fax):  # noqa: SIM101 (a union is 3x slower)
        return (element.extension,)
    if isinstance(element, Group):
        return element.members
    return ()


def _extension_field(element: ElementBase, position: int) -> str:
    return f"members.{position}" if isinstance(element, Group) else "extension"


def _check_schedule_exists(element: ScheduleCheck, graph: _Graph, problems: _Problems) -> None:
    if graph.directory is not None and element.schedule_id not in graph.directory.schedules:
        problems.add(
            "unknown_schedule",
            f"schedule '{element.id}' refers to schedule '{element.schedule_id}', which does not exist",
            element_id=element.id,
            field="schedule_id",
        )


def _check_caller_list_exists(element: CallerListCheck, graph: _Graph, problems: _Problems) -> None:
    if graph.directory is not None and element.list_id not in graph.directory.caller_lists:
        problems.add(
            "unknown_caller_list",
            f"caller_list '{element.id}' refers to caller list '{element.list_id}', which does not exist",
            element_id=element.id,
            field="list_id",
        )


_ElementCheck = Callable[[Any, _Graph, _Problems], None]
_ELEMENT_CHECKS: dict[type[ElementBase], tuple[_ElementCheck, ...]] = {
    IncomingCall: (_check_exits_connected,),
    InternalSubscriber: (_check_exits_connected, _check_wait, _check_subscribers),
    ExternalNumber: (_check_exits_connected, _check_wait, _check_external_number),
    Group: (_check_exits_connected, _check_wait, _check_subscribers),
    ScheduleCheck: (_check_exits_connected, _check_schedule_exists),
    CallerListCheck: (_check_exits_connected, _check_caller_list_exists),
    Greeting: (_check_exits_connected,),
    IvrMenu: (_check_exits_connected, _check_menu_choices),
    ExternalRouting: (_check_exits_connected, _check_wait, _check_crm_url),
    Voicemail: (),
    Fax: (_check_subscribers,),
    Hangup: (),
}

_DEFAULT_CHECKS: tuple[_ElementCheck, ...] = (_check_exits_connected,)

_GRAPH_CHECKS: tuple[Callable[[_Graph, _Problems], None], ...] = (
    _check_entry,
    _check_connections,
    _check_reachable,
    _check_endless_loops,
    _check_elements,
)

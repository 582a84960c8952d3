"""Render a scenario as a Mermaid flowchart, optionally highlighting the path a simulated call took.

The output is deterministic (same scenario, same text) so that clients can cache it and tests can compare it.
Every piece of user text is escaped, so any scenario that parses renders, whatever its labels contain.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from vpbx.domain.scenario import (
    CallerListCheck,
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
    exit_of,
)

END_NODE = "route_end"
HIGHLIGHT_CLASS = "visited"
HIGHLIGHT_NODE_STYLE = "fill:#fde68a,stroke:#b45309,stroke-width:3px"
HIGHLIGHT_EDGE_STYLE = "stroke:#b45309,stroke-width:3px"
MISSING_NODE_STYLE = "fill:#fee2e2,stroke:#b91c1c,stroke-dasharray:4 2"
PROMPT_PREVIEW_CHARS = 40

# Mermaid shape delimiters around a quoted label, by element type.
_SHAPES: dict[type[ElementBase], tuple[str, str]] = {
    IncomingCall: ("([", "])"),  # stadium: the entry
    ScheduleCheck: ("{", "}"),  # rhombus: decisions
    CallerListCheck: ("{", "}"),
    IvrMenu: ("{", "}"),
    ExternalRouting: ("{{", "}}"),  # hexagon: a lookup that then rings
    Greeting: (">", "]"),  # flag: plays a prompt
    Voicemail: ("[[", "]]"),  # subroutine: terminal handlers
    Fax: ("[[", "]]"),
    Hangup: ("(((", ")))"),  # double circle: the call is over
}
_DEFAULT_SHAPE = ("[", "]")  # rectangle: ringing elements

# Characters that end a label or start Mermaid markup, written as Mermaid entity codes (`#code;`). Parentheses
# are harmless inside a quoted label and keep "101 (20 s)" readable.
_ESCAPES = {
    "#": "#35;",
    '"': "#quot;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
    "|": "#124;",
    "`": "#96;",
    ";": "#59;",
}


def to_mermaid(scenario: Scenario, highlight_path: list[str] | None = None) -> str:
    """A Mermaid `flowchart TD` of the scenario; `highlight_path` (element ids in visiting order) is drawn bold."""
    elements = _unique_elements(scenario)
    edges = _connection_edges(scenario, elements) + _unconnected_exit_edges(scenario, elements)
    endpoints = {edge.source for edge in edges} | {edge.target for edge in edges}
    missing = sorted(endpoints - set(elements) - {END_NODE})

    lines = ["flowchart TD"]
    lines += [f"    {node_id(e.id)}{_shaped(e, _label(e))}" for e in elements.values()]
    lines += [f'    {node_id(m)}["{_escape("missing: " + m)}"]' for m in missing]
    if any(edge.target == END_NODE for edge in edges):
        lines.append(f'    {END_NODE}(("end"))')
    lines += [edge.render() for edge in edges]
    if missing:
        lines.append(f"    classDef missing {MISSING_NODE_STYLE}")
        lines.append(f"    class {','.join(node_id(m) for m in missing)} missing")
    lines += _highlight(highlight_path or [], elements, edges)
    return "\n".join(lines) + "\n"


def node_id(element_id: str) -> str:
    """A Mermaid-safe node id, distinct for distinct element ids (`_` doubles, `.`/`-` become `_d`/`_h`)."""
    safe = "".join(_SAFE_CHARS.get(c, c if c.isascii() and c.isalnum() else f"_u{ord(c):x}_") for c in element_id)
    return f"n_{safe}"


_SAFE_CHARS = {"_": "__", ".": "_d", "-": "_h"}


# ---------------------------------------------------------------------------------------------------- edges


@dataclass(frozen=True)
class _Edge:
    source: str  # element id
    target: str  # element id, or END_NODE
    label: str | None
    dashed: bool = False

    def render(self) -> str:
        arrow = "-.->" if self.dashed else "-->"
        label = f'|"{_escape(self.label)}"|' if self.label else ""
        return f"    {node_id(self.source)} {arrow}{label} {self._target_node()}"

    def _target_node(self) -> str:
        return self.target if self.target == END_NODE else node_id(self.target)


def _unique_elements(scenario: Scenario) -> dict[str, ElementBase]:
    """Elements by id; with duplicate ids (an invalid scenario) the first one is drawn."""
    elements: dict[str, ElementBase] = {}
    for element in scenario.elements:
        elements.setdefault(element.id, element)
    return elements


def _connection_edges(scenario: Scenario, elements: dict[str, ElementBase]) -> list[_Edge]:
    edges = []
    for connection in scenario.connections:
        source = elements.get(connection.from_)
        label = exit_of(connection, source) if source else connection.exit
        edges.append(_Edge(connection.from_, connection.to, label))
    return edges


def _unconnected_exit_edges(scenario: Scenario, elements: dict[str, ElementBase]) -> list[_Edge]:
    """Required exits with no arrow end the call; a dashed edge to `end` makes that visible."""
    connected = {(c.from_, exit_of(c, elements[c.from_])) for c in scenario.connections if c.from_ in elements}
    edges = []
    for element in elements.values():
        optional = set(element.optional_exits())
        for exit_name in element.exits():
            if exit_name not in optional and (element.id, exit_name) not in connected:
                edges.append(_Edge(element.id, END_NODE, exit_name, dashed=True))
    return edges


def _highlight(path: list[str], elements: dict[str, ElementBase], edges: list[_Edge]) -> list[str]:
    visited = [element_id for element_id in dict.fromkeys(path) if element_id in elements]
    if not visited:
        return []
    steps = set(pairwise(path))
    edge_indexes = [str(i) for i, edge in enumerate(edges) if (edge.source, edge.target) in steps]
    lines = [
        f"    classDef {HIGHLIGHT_CLASS} {HIGHLIGHT_NODE_STYLE}",
        f"    class {','.join(node_id(e) for e in visited)} {HIGHLIGHT_CLASS}",
    ]
    if edge_indexes:
        lines.append(f"    linkStyle {','.join(edge_indexes)} {HIGHLIGHT_EDGE_STYLE}")
    return lines


# ---------------------------------------------------------------------------------------------------- labels


def _shaped(element: ElementBase, label: str) -> str:
    opening, closing = _SHAPES.get(type(element), _DEFAULT_SHAPE)
    return f'{opening}"{label}"{closing}'


def _label(element: ElementBase) -> str:
    """Two lines: the element's own label (or id), then its type and key fields."""
    title = element.label or element.id
    describe = _DESCRIBERS.get(type(element))
    summary = describe(element) if describe else type(element).__name__
    return f"{_escape(title)}<br/>{_escape(summary)}"


def _wait(limit_wait: bool, wait_seconds: int | None) -> str:
    if not limit_wait:
        return "no limit"
    return f"{wait_seconds} s" if wait_seconds is not None else "default wait"


def _describe_subscriber(e: InternalSubscriber) -> str:
    return f"Subscriber {e.extension} ({_wait(e.limit_wait, e.wait_seconds)})"


def _describe_external(e: ExternalNumber) -> str:
    return f"External {e.number or e.sip_uri} ({_wait(e.limit_wait, e.wait_seconds)})"


def _describe_group(e: Group) -> str:
    return f"Group {_join(e.members)}, {e.strategy} ({_wait(e.limit_wait, e.wait_seconds)})"


def _describe_greeting(e: Greeting) -> str:
    return f"Greeting: {_prompt_preview(e.prompt.text, e.prompt.audio_url)}"


def _describe_menu(e: IvrMenu) -> str:
    preview = _prompt_preview(e.prompt.text, e.prompt.audio_url)
    return f"Menu: {preview} ({e.timeout_seconds} s, {_count(e.max_retries, 'retry', 'retries')})"


def _describe_routing(e: ExternalRouting) -> str:
    host = e.url.split("://", 1)[-1].split("/", 1)[0]
    return f"CRM lookup {host} ({_wait(True, e.wait_seconds)})"


def _prompt_preview(text: str | None, audio_url: str | None) -> str:
    if not text:
        return f"audio {audio_url}"
    return text if len(text) <= PROMPT_PREVIEW_CHARS else text[: PROMPT_PREVIEW_CHARS - 1] + "…"


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _join(items: Iterable[str]) -> str:
    return "/".join(items)


_DESCRIBERS: dict[type, Callable[..., str]] = {
    IncomingCall: lambda e: "Incoming call",
    InternalSubscriber: _describe_subscriber,
    ExternalNumber: _describe_external,
    Group: _describe_group,
    ScheduleCheck: lambda e: f"Schedule {e.schedule_id}",
    CallerListCheck: lambda e: f"Caller list {e.list_id}",
    Greeting: _describe_greeting,
    IvrMenu: _describe_menu,
    ExternalRouting: _describe_routing,
    Voicemail: lambda e: f"Voicemail {e.mailbox}",
    Fax: lambda e: f"Fax {e.extension}",
    Hangup: lambda e: "Hang up",
}


def _escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label: markup characters become entity codes, newlines become spaces."""
    flat = " ".join(text.split())
    return "".join(_ESCAPES.get(c, c) for c in flat)

"""Render a scenario as a Mermaid flowchart, optionally highlighting the path a simulated call took.

The output is deterministic (same scenario, same text) so that clients can cache it and tests can compare it.
Every piece of user text is escaped, so any scenario that parses renders, whatever its labels contain.
"""

from dataclasses import dataclass
from itertools import pairwise

from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import ElementBase
from vpbx.domain.graph import ScenarioGraph
from vpbx.domain.scenario import Scenario

END_NODE = "route_end"
HIGHLIGHT_CLASS = "visited"
HIGHLIGHT_NODE_STYLE = "fill:#fde68a,stroke:#b45309,stroke-width:3px"
HIGHLIGHT_EDGE_STYLE = "stroke:#b45309,stroke-width:3px"
MISSING_NODE_STYLE = "fill:#fee2e2,stroke:#b91c1c,stroke-dasharray:4 2"

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


def to_mermaid(scenario: Scenario, highlight_path: list[str] | None = None, directory: Directory | None = None) -> str:
    """A Mermaid `flowchart TD` of the scenario; `highlight_path` (element ids in visiting order) is drawn bold;
    `directory`, when given, adds what elements name there to their labels (a queue's name, strategy, max wait)."""
    graph = ScenarioGraph.of(scenario)
    elements = graph.elements
    edges = _connection_edges(scenario, graph) + _unconnected_exit_edges(graph)
    endpoints = {edge.source for edge in edges} | {edge.target for edge in edges}
    missing = sorted(endpoints - set(elements) - {END_NODE})

    lines = ["flowchart TD"]
    lines += [f"    {node_id(e.id)}{_shaped(e, _label(e, directory))}" for e in elements.values()]
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


def _connection_edges(scenario: Scenario, graph: ScenarioGraph) -> list[_Edge]:
    """Every arrow as drawn, labelled with the exit it leaves by (dangling ends included)."""
    return [_Edge(connection.from_, connection.to, graph.exit_of(connection)) for connection in scenario.connections]


def _unconnected_exit_edges(graph: ScenarioGraph) -> list[_Edge]:
    """Required exits with no arrow end the call; a dashed edge to `end` makes that visible."""
    return [
        _Edge(element_id, END_NODE, exit_name, dashed=True)
        for element_id in graph.elements
        for exit_name in graph.unconnected_exits(element_id)
    ]


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
    opening, closing = element.shape
    return f'{opening}"{label}"{closing}'


def _label(element: ElementBase, directory: Directory | None = None) -> str:
    """Two lines: the element's own label (or id), then its type and key fields."""
    title = element.label or element.id
    return f"{_escape(title)}<br/>{_escape(element.describe_in(directory))}"


def _escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label: markup characters become entity codes, newlines become spaces."""
    flat = " ".join(text.split())
    return "".join(_ESCAPES.get(c, c) for c in flat)


# ---------------------------------------------------------------------------------------------------- diff

DIFF_STYLES = {
    "added": ("fill:#dcfce7,stroke:#15803d,stroke-width:2px", "stroke:#15803d,stroke-width:3px"),
    "removed": (
        "fill:#fee2e2,stroke:#b91c1c,stroke-dasharray:4 2",
        "stroke:#b91c1c,stroke-width:2px,stroke-dasharray:4",
    ),
    "changed": ("fill:#fef3c7,stroke:#b45309,stroke-width:2px", ""),
}


def to_mermaid_diff(old: Scenario, new: Scenario) -> str:
    """Both scenarios in one flowchart: elements and arrows that were added (green), removed (red, dashed) or
    changed (amber: the same id with other settings; a position or label alone is no change)."""
    old_graph, new_graph = ScenarioGraph.of(old), ScenarioGraph.of(new)
    elements = {**old_graph.elements, **new_graph.elements}
    status = {element_id: _element_status(old_graph.elements.get(element_id), new_graph.elements.get(element_id))
              for element_id in elements}  # fmt: skip
    old_edges = _connection_edges(old, old_graph) + _unconnected_exit_edges(old_graph)
    new_edges = _connection_edges(new, new_graph) + _unconnected_exit_edges(new_graph)
    edges = new_edges + [edge for edge in old_edges if edge not in new_edges]
    edge_status = ["added" if e not in old_edges else "removed" if e not in new_edges else None for e in edges]
    lines = ["flowchart TD"]
    lines += [f"    {node_id(e.id)}{_shaped(e, _label(e))}" for e in elements.values()]
    if any(edge.target == END_NODE for edge in edges):
        lines.append(f'    {END_NODE}(("end"))')
    lines += [edge.render() for edge in edges]
    for name, (node_style, edge_style) in DIFF_STYLES.items():
        nodes = [node_id(element_id) for element_id, state in status.items() if state == name]
        if nodes:
            lines.append(f"    classDef {name} {node_style}")
            lines.append(f"    class {','.join(nodes)} {name}")
        indexes = [str(i) for i, state in enumerate(edge_status) if state == name]
        if indexes and edge_style:
            lines.append(f"    linkStyle {','.join(indexes)} {edge_style}")
    return "\n".join(lines) + "\n"


def _element_status(before: ElementBase | None, after: ElementBase | None) -> str | None:
    if before is None:
        return "added"
    if after is None:
        return "removed"
    ignored = {"position", "label"}
    return None if before.model_dump(exclude=ignored) == after.model_dump(exclude=ignored) else "changed"

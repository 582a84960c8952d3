"""The scenario graph: elements by id, arrows resolved to exits, reachability and cycles.

Built once per scenario and read by validation, analysis, the executor's compilation and the diagram, so they all
read the arrows the same way:

- the first element with an id owns it (later ones are duplicates);
- an arrow leaves by its own `exit`, or by its source's default exit (the first one);
- `next_of[(element, exit)]` is where the executor goes: the first arrow on a valid exit whose target exists;
- `used` holds the valid exits that carry an arrow (whatever its target), which is what "connected" means when
  checking or drawing; `links` joins every pair of known ends (or placeholders: elements that failed to parse but
  still claim their id), whatever the exit, which is what reachability means when checking;
- `faults` lists, in order, the arrows validation must report: an unknown end, an arrow into the entry, or an exit
  the source does not have (or has already used).
"""

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from vpbx.domain.elements.base import ElementBase

if TYPE_CHECKING:
    from vpbx.domain.scenario import Connection, Scenario


class Fault(NamedTuple):
    position: int  # the arrow's index in the scenario's connections
    connection: "Connection"
    exit: str | None  # the exit it leaves by (own or default)
    exit_fault: bool  # the source exists but has no such exit free: terminal, unknown exit, or a second arrow


class ScenarioGraph:
    """Elements and arrows of one scenario, resolved once (see the module docstring for what each view means).

    `connections` are (position in the scenario, connection) pairs, so that validation can leave out connections
    that did not parse and still report positions; `placeholders` are ids of elements that did not parse.
    """

    def __init__(
        self,
        elements: Iterable[ElementBase],
        connections: Iterable[tuple[int, "Connection"]],
        placeholders: Collection[str] = (),
    ) -> None:
        self.elements: dict[str, ElementBase] = {}
        self.duplicates: list[ElementBase] = []  # elements whose id an earlier element owns
        self.entries: list[ElementBase] = []  # every entry element, duplicates included
        self.exits: dict[str, tuple[str, ...]] = {}
        self.used: dict[str, set[str]] = {}
        self.links: dict[str, list[str]] = {}
        self.next_of: dict[tuple[str, str], str] = {}
        self.faults: list[Fault] = []
        self.placeholders = placeholders
        self._add_elements(elements)
        self._add_connections(connections)

    @classmethod
    def of(cls, scenario: "Scenario") -> "ScenarioGraph":
        """The graph of a parsed scenario."""
        return cls(scenario.elements, enumerate(scenario.connections))

    def _add_elements(self, elements: Iterable[ElementBase]) -> None:
        by_id, exits, used, links = self.elements, self.exits, self.used, self.links
        for element in elements:
            if element.is_entry:
                self.entries.append(element)
            element_id = element.id
            if element_id in by_id:
                self.duplicates.append(element)
                continue
            by_id[element_id] = element
            exits[element_id] = element.exits()
            used[element_id] = set()
            links[element_id] = []

    def _add_connections(self, connections: Iterable[tuple[int, "Connection"]]) -> None:
        """One pass over the arrows; the happy path touches each arrow once (thousands of arrows)."""
        by_id, placeholders, links, next_of = self.elements, self.placeholders, self.links, self.next_of
        exits_of, used_exits, faults = self.exits, self.used, self.faults
        for index, connection in connections:
            source_id = connection.from_
            target_id = connection.to
            exit_name = connection.exit
            target = by_id.get(target_id)
            target_known = target is not None or target_id in placeholders
            if source_id not in by_id:
                if source_id in placeholders and target_known:
                    links.setdefault(source_id, []).append(target_id)
                faults.append(Fault(index, connection, exit_name, False))
                continue
            exits = exits_of[source_id]
            if exit_name is None and exits:
                exit_name = exits[0]
            if target_known:
                links[source_id].append(target_id)
            exit_fault = True
            if exit_name is not None and exit_name in exits:
                if target is not None:
                    next_of.setdefault((source_id, exit_name), target_id)
                used = used_exits[source_id]
                if exit_name not in used:
                    used.add(exit_name)
                    exit_fault = False
            if exit_fault or target is None or target.is_entry:
                faults.append(Fault(index, connection, exit_name, exit_fault))

    # ------------------------------------------------------------------------------------------------ views

    def exit_of(self, connection: "Connection") -> str | None:
        """The exit an arrow leaves by: its own, or its (known) source's default; None when there is neither."""
        if connection.exit is not None:
            return connection.exit
        exits = self.exits.get(connection.from_)
        return exits[0] if exits else None

    @cached_property
    def edges(self) -> dict[str, list[tuple[str, str]]]:
        """(exit, target) of the arrows the executor can follow, per element, in arrow order."""
        edges: dict[str, list[tuple[str, str]]] = {element_id: [] for element_id in self.elements}
        for (source, exit_name), target in self.next_of.items():
            edges[source].append((exit_name, target))
        return edges

    @cached_property
    def successors(self) -> dict[str, list[str]]:
        return {node: [target for _, target in edges] for node, edges in self.edges.items()}

    @cached_property
    def predecessors(self) -> dict[str, list[str]]:
        predecessors: dict[str, list[str]] = {}
        for node, targets in self.successors.items():
            for target in targets:
                predecessors.setdefault(target, []).append(node)
        return predecessors

    def unconnected_exits(self, element_id: str, *, followable: bool = False) -> list[str]:
        """Required exits without an arrow; `followable`: without an arrow the executor can follow."""
        element = self.elements[element_id]
        optional = element.optional_exits()
        if followable:
            return [e for e in self.exits[element_id] if (element_id, e) not in self.next_of and e not in optional]
        used = self.used[element_id]
        return [e for e in self.exits[element_id] if e not in used and e not in optional]

    def reachable(self, roots: Iterable[str], pinned: Mapping[str, str] | None = None) -> set[str]:
        """Elements the executor can reach from `roots`; an element in `pinned` leaves only by the exit given."""
        seen = set(roots)
        queue = deque(seen)
        edges = self.edges
        while queue:
            node = queue.popleft()
            only = pinned.get(node) if pinned else None
            for exit_name, target in edges[node]:
                if target not in seen and (only is None or exit_name == only):
                    seen.add(target)
                    queue.append(target)
        return seen

    def linked(self, roots: Iterable[str]) -> set[str]:
        """Elements (and placeholders) that some chain of arrows leads to from `roots`, whatever the exits."""
        return walk(roots, self.links)

    def path(self, source: str, target: str) -> list[str]:
        """A shortest path the executor can follow, both ends included; [] when there is none."""
        parents: dict[str, str | None] = {source: None}
        queue = deque([source])
        while queue:
            node = queue.popleft()
            if node == target:
                return unwind(parents, target)
            for child in self.successors[node]:
                if child not in parents:
                    parents[child] = node
                    queue.append(child)
        return []


def walk(roots: Iterable[str], successors: Mapping[str, Sequence[str]]) -> set[str]:
    """Every node reachable from `roots` (roots included)."""
    seen = set(roots)
    frontier = list(seen)
    for node in frontier:  # grows while we walk it: a breadth-first search without a deque
        for child in successors.get(node, ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen


def unwind(parents: Mapping[str, str | None], last: str) -> list[str]:
    path = [last]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    return path[::-1]


def cycles(nodes: Iterable[str], successors: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The strongly connected components of `nodes` that hold a cycle (several nodes, or one that loops to itself)."""
    return [
        component
        for component in strongly_connected_components(nodes, successors)
        if len(component) > 1 or component[0] in successors.get(component[0], ())
    ]


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

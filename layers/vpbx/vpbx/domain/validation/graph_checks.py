"""Checks of the scenario graph as a whole: ids, the entry, arrows, reachability, loops; then each element's own.

Every check reads the one ScenarioGraph built for the scenario (vpbx.domain.graph), so each stays linear.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import ElementBase, label_of
from vpbx.domain.elements.registry import ENTRY_TYPE
from vpbx.domain.graph import Fault, ScenarioGraph, cycles
from vpbx.domain.validation.element_checks import check_elements
from vpbx.domain.validation.report import Problems


@dataclass
class Draft:
    """What the graph checks read: the graph, the directory (None: skip directory checks), parsing's leftovers."""

    graph: ScenarioGraph
    elements: Sequence[ElementBase]  # as parsed, duplicates included
    directory: Directory | None
    ids: list[tuple[int, str]] | None = None  # every (index, id) seen when some element broke; None: all parsed
    broken_entry: bool = False


def check_graph(draft: Draft, problems: Problems) -> None:
    for check in GRAPH_CHECKS:
        check(draft, problems)


def _check_ids(draft: Draft, problems: Problems) -> None:
    ids = draft.ids
    if ids is None:
        if not draft.graph.duplicates:
            return
        ids = list(enumerate(element.id for element in draft.elements))
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


def _check_entry(draft: Draft, problems: Problems) -> None:
    entries = draft.graph.entries
    # A broken entry element still counts as present: its own problem says what is wrong with it.
    if not entries and not draft.broken_entry:
        problems.add("missing_entry", f"the scenario needs exactly one {ENTRY_TYPE} element, where calls enter")
    for extra in entries[1:]:
        problems.add(
            "multiple_entries",
            f"{label_of(extra)} is a second entry; a scenario has exactly one (first: '{entries[0].id}')",
            element_id=extra.id,
        )


def _check_connections(draft: Draft, problems: Problems) -> None:
    """Arrows: both ends exist, the target is not the entry, the exit exists on the source and is free."""
    graph = draft.graph
    for fault in graph.faults:
        source = graph.elements.get(fault.connection.from_)
        _report_endpoints(graph, fault, problems)
        if source is not None and fault.exit_fault:
            _report_exit(fault, source, graph.exits[source.id], problems)


def _report_endpoints(graph: ScenarioGraph, fault: Fault, problems: Problems) -> None:
    index, connection = fault.position, fault.connection
    known = graph.elements
    if connection.from_ not in known and connection.from_ not in graph.placeholders:
        problems.add(
            "unknown_connection_source",
            f"connection #{index} starts at '{connection.from_}', which is not an element of this scenario",
            connection_index=index,
            field="from",
        )
    target = known.get(connection.to)
    if target is None and connection.to not in graph.placeholders:
        problems.add(
            "unknown_connection_target",
            f"connection #{index} points to '{connection.to}', which is not an element of this scenario",
            connection_index=index,
            field="to",
        )
    if target is not None and target.is_entry:
        problems.add(
            "arrow_into_entry",
            f"connection #{index} points into {label_of(target)}; the entry only starts calls",
            connection_index=index,
            element_id=target.id,
            field="to",
        )


def _report_exit(fault: Fault, source: ElementBase, exits: tuple[str, ...], problems: Problems) -> None:
    index, exit_name = fault.position, fault.exit
    if not exits:
        message = f"connection #{index} leaves {label_of(source)}, which ends the route{source.terminal_reason()}"
        problems.add("exit_on_terminal", message, connection_index=index, element_id=source.id, field="from")
    elif exit_name not in exits:
        problems.add(
            "invalid_exit",
            f"connection #{index} leaves {label_of(source)} by exit '{exit_name}'; its exits are {', '.join(exits)}",
            connection_index=index,
            element_id=source.id,
            field="exit",
        )
    else:
        problems.add(
            "duplicate_exit",
            f"connection #{index} is a second arrow on exit '{exit_name}' of {label_of(source)}; each exit leads to "
            "one element",
            connection_index=index,
            element_id=source.id,
            field="exit",
        )


def _check_reachable(draft: Draft, problems: Problems) -> None:
    graph = draft.graph
    if not graph.entries:
        return  # missing_entry already says it; every element would be "unreachable"
    reached = graph.linked(entry.id for entry in graph.entries)
    if reached.issuperset(graph.elements):
        return
    for element in graph.elements.values():
        if element.id not in reached:
            problems.add(
                "unreachable_element",
                f"{label_of(element)} cannot be reached from {label_of(graph.entries[0])}",
                element_id=element.id,
            )


def _check_loops(draft: Draft, problems: Problems) -> None:
    """A cycle the executor can run inside one decision, without telephony, would spin: `endless_loop` when no
    element on it ever waits, `instant_loop` when one that usually waits can leave by an instant exit (the CRM's
    `not_found`)."""
    graph = draft.graph
    spin: dict[str, list[str]] = {}  # element -> where it can lead within the decision that entered it
    for element_id, element in graph.elements.items():
        if not element.waits:
            spin[element_id] = graph.links[element_id]
        elif element.instant_exits:
            leads = (graph.next_of.get((element_id, exit_name)) for exit_name in element.instant_exits)
            spin[element_id] = [target for target in leads if target is not None]
    # Only an element with an arrow in and an arrow out among these can be on a cycle of them.
    entered = {child for children in spin.values() for child in children if child in spin}
    candidates = {node: [c for c in children if c in entered] for node, children in spin.items() if node in entered}
    candidates = {node: children for node, children in candidates.items() if children}  # in element order
    if not candidates:
        return
    for component in cycles(candidates, candidates):
        ordered = sorted(component)
        shape = f"elements {', '.join(ordered)} form a loop" if len(ordered) > 1 else f"'{ordered[0]}' loops to itself"
        waiting = [node for node in ordered if graph.elements[node].waits]
        if not waiting:
            message = f"{shape} with no waiting element (ring, greeting, menu…) on it; the call would spin forever"
            problems.add("endless_loop", message, element_id=ordered[0])
            continue
        leaving = ", ".join(f"'{node}' by {'/'.join(graph.elements[node].instant_exits)}" for node in waiting)
        problems.add(
            "instant_loop",
            f"{shape} that a call can run without waiting for telephony (leaving {leaving}); one decision would "
            "spin through it, calling the CRM each time",
            element_id=ordered[0],
        )


GRAPH_CHECKS: tuple[Callable[[Draft, Problems], None], ...] = (
    _check_ids,
    _check_entry,
    _check_connections,
    _check_reachable,
    _check_loops,
    lambda draft, problems: check_elements(draft.graph, draft.directory, problems),
)

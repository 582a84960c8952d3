"""Each element's own checks, run through one context that hands them the directory and the graph's exits."""

from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import label_of
from vpbx.domain.graph import ScenarioGraph
from vpbx.domain.validation.report import Problems


class _Context:
    """The CheckContext (vpbx.domain.elements.base) elements report through."""

    __slots__ = ("directory", "graph", "problems")

    def __init__(self, graph: ScenarioGraph, directory: Directory | None, problems: Problems) -> None:
        self.graph = graph
        self.directory = directory
        self.problems = problems

    def used_exits(self, element_id: str) -> set[str]:
        return self.graph.used[element_id]

    def add(self, code: str, message: str, *, element_id: str | None = None, field: str | None = None) -> None:
        self.problems.add(code, message, element_id=element_id, field=field)


def check_elements(graph: ScenarioGraph, directory: Directory | None, problems: Problems) -> None:
    """One pass over the elements: required exits connected, then the element's own checks."""
    context = _Context(graph, directory, problems)
    exits_of, used_exits = graph.exits, graph.used
    for element_id, element in graph.elements.items():
        if len(used_exits[element_id]) != len(exits_of[element_id]):
            _report_unconnected(graph, element_id, problems)
        element.check(context)


def _report_unconnected(graph: ScenarioGraph, element_id: str, problems: Problems) -> None:
    element = graph.elements[element_id]
    fallback = " (busy/unavailable fall back to it)" if "busy" in element.optional_exits() else ""
    for exit_name in graph.unconnected_exits(element_id):
        problems.add(
            "unconnected_exit",
            f"exit '{exit_name}' of {label_of(element)} is not connected{fallback}: the call ends there",
            element_id=element_id,
            field="exit",
        )

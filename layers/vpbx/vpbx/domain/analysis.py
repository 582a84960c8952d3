"""What a scenario means for callers: worst-case waits per route end, and who is reachable in and out of hours.

Worst-case figures are upper bounds from the scenario's own numbers, assuming nobody answers:

- ringing costs its wait plus the target's network dial delay (the executor adds the delay to the ring timeout);
  a sequential or random group rings every member in turn, a simultaneous one waits for the slowest network;
- an IVR menu costs `timeout_seconds × (max_retries + 1)`: every attempt times out (prompt playback not counted);
  a multi-key menu adds `inter_digit_timeout_seconds` per further key to each attempt, and a direct dial's
  `no_answer` (or `invalid`) adds the ring of the dialled extension with the directory's slowest dial delay;
- a greeting costs NOMINAL_GREETING_SECONDS, since its audio length is unknown here;
- external routing costs its CRM timeout, plus the ring of the returned extension (not on `not_found`); the
  extension is unknown until the call, so the slowest dial delay in the directory is assumed;
- a queue's `timeout` costs its max_wait_seconds plus one last offer (member_ring_seconds and the slowest member's
  dial delay); its `no_agents` and `full` are decided on entry, at once;
- schedule, caller-list and entry checks are instantaneous.

A route end that can be reached through a cycle (necessarily through waiting elements in a valid scenario) has no
bound other than the executor's loop guard, and is reported as such with the elements that loop.
"""

from collections import deque
from collections.abc import Iterable

from pydantic import Field

from vpbx.domain.base import LazyModel
from vpbx.domain.directory import Directory
from vpbx.domain.elements.base import DEFAULT_WAIT_SECONDS, ElementBase
from vpbx.domain.elements.prompts import NOMINAL_GREETING_SECONDS, IvrMenu
from vpbx.domain.graph import ScenarioGraph, cycles, unwind
from vpbx.domain.scenario import Scenario

ASSUMPTIONS = (
    "Nobody answers: every ring lasts its full wait_seconds plus the target's network dial delay.",
    "Sequential and random groups ring every member in turn; simultaneous groups wait for the slowest network.",
    "IVR menus time out on every attempt: timeout_seconds × (max_retries + 1); prompt playback is not counted. "
    "A multi-key attempt also waits inter_digit_timeout_seconds per further key; a direct dial rings for "
    "direct_dial_wait_seconds plus the directory's slowest dial delay.",
    f"A greeting takes a nominal {NOMINAL_GREETING_SECONDS} s.",
    "External routing takes its full CRM timeout, then rings the returned extension with the directory's slowest "
    "dial delay.",
    f"A limited ring without wait_seconds lasts the executor's default {DEFAULT_WAIT_SECONDS} s.",
    "A queue's caller waits its max_wait_seconds, plus a last offer ringing member_ring_seconds and the slowest "
    "member's dial delay, before the timeout exit; no_agents and full are taken at once.",
)


class RouteEnd(LazyModel):
    """Where a call can end up: a terminal element, or an exit with no arrow (the call ends there)."""

    element_id: str
    element_type: str
    exit: str | None = None  # set when the route ends because this exit has no arrow
    worst_case_seconds: float | None  # None: unbounded, up to the executor's loop guard
    path: list[str]  # element ids from the entry to this end, the worst case when bounded
    loop_elements: list[str] = Field(default_factory=list)  # cycles that can precede this end
    rings_until_answered: bool = False  # the seed's terminal ring: no limit_wait
    loop_guard: bool = False  # the call can cycle here until the executor's loop guard hangs up

    @property
    def bounded(self) -> bool:
        return self.worst_case_seconds is not None

    def describe(self) -> str:
        what = f"{self.element_type} '{self.element_id}'"
        if self.exit is not None:
            what = f"exit '{self.exit}' of {what} (unconnected: the call ends there)"
        if self.loop_guard:
            loops = ", ".join(self.loop_elements)
            return f"the loop through {loops} can repeat until the executor's loop guard hangs up"
        if self.worst_case_seconds is None:
            loops = ", ".join(self.loop_elements)
            return f"{what}: no bound — the call can loop through {loops} until the executor's loop guard ends it"
        when = f"after at most {_seconds(self.worst_case_seconds)}"
        if self.rings_until_answered:
            return f"{what} starts ringing {when} and rings until answered (no limit_wait)"
        verb = "ends the call" if self.exit is not None else "reached"
        return f"{what} {verb} {when}"


class ScheduleReach(LazyModel):
    """Extensions that can ring after one schedule element's `open` branch versus its `closed` branch."""

    element_id: str
    schedule_id: str
    open_extensions: list[str]
    closed_extensions: list[str]


class Analysis(LazyModel):
    entry: str | None
    route_ends: list[RouteEnd] = Field(default_factory=list)
    worst_case_seconds: float | None = None  # the largest bounded figure; see `unbounded`
    unbounded: bool = False
    loops: list[list[str]] = Field(default_factory=list)  # reachable cycles (through waiting elements)
    schedules: list[ScheduleReach] = Field(default_factory=list)
    reachable_extensions: list[str] = Field(default_factory=list)
    reachable_when_open: list[str] = Field(default_factory=list)  # every schedule takes its `open` exit
    reachable_when_closed: list[str] = Field(default_factory=list)  # every schedule takes its `closed` exit
    crm_routing: bool = False  # a CRM lookup is reachable: the CRM may pick any extension
    direct_dial: bool = False  # a direct-dial menu is reachable: callers may dial any enabled extension
    assumptions: list[str] = Field(default_factory=lambda: list(ASSUMPTIONS))

    def lines(self) -> list[str]:
        """A readable summary, one statement per line (the CLI prints it)."""
        if self.entry is None:
            return ["No incoming_call element: calls cannot enter this scenario."]
        lines = ["Worst-case wait before the call is answered or the route ends (nobody answers):"]
        lines += [f"  - {end.describe()}; path {' → '.join(end.path)}" for end in self.route_ends]
        if self.unbounded:
            loops = "; ".join(", ".join(loop) for loop in self.loops)
            lines.append(f"Overall: unbounded — loops through {loops} are capped only by the executor's loop guard")
        elif self.worst_case_seconds is not None:
            lines.append(f"Overall: at most {_seconds(self.worst_case_seconds)} before answer or route end")
        for reach in self.schedules:
            lines.append(
                f"Schedule '{reach.element_id}' ({reach.schedule_id}): open → {_listed(reach.open_extensions)}; "
                f"closed → {_listed(reach.closed_extensions)}"
            )
        if self.schedules:
            lines.append(f"All schedules open: {_listed(self.reachable_when_open)}")
            lines.append(f"All schedules closed: {_listed(self.reachable_when_closed)}")
        else:
            lines.append(f"Reachable extensions: {_listed(self.reachable_extensions)}")
        if self.crm_routing:
            lines.append("External routing is reachable: the CRM may also send calls to any other extension.")
        if self.direct_dial:
            lines.append("A direct-dial menu is reachable: callers may also dial any enabled extension.")
        lines.append("Assumptions:")
        lines += [f"  - {assumption}" for assumption in self.assumptions]
        return lines


def analyze(scenario: Scenario, directory: Directory) -> Analysis:
    """Analyse a scenario (meant for valid ones; tolerates invalid ones without raising)."""
    graph = ScenarioGraph.of(scenario)
    if not graph.entries:
        return Analysis(entry=None)
    entry = graph.entries[0].id
    reachable = graph.reachable([entry])
    loops = _loops(graph, reachable)
    ends = _route_ends(graph, entry, reachable, loops, directory)
    bounded = [end.worst_case_seconds for end in ends if end.worst_case_seconds is not None]
    schedules = {node: _schedule_of(graph.elements[node]) for node in graph.elements}
    checks = {node: schedule_id for node, schedule_id in schedules.items() if schedule_id is not None}
    return Analysis(
        entry=entry,
        route_ends=ends,
        worst_case_seconds=max(bounded, default=None),
        unbounded=any(not end.bounded for end in ends),
        loops=[sorted(loop) for loop in loops],
        schedules=_schedule_reach(graph, reachable, checks),
        reachable_extensions=_extensions(graph, reachable),
        reachable_when_open=_extensions(graph, graph.reachable([entry], dict.fromkeys(checks, "open"))),
        reachable_when_closed=_extensions(graph, graph.reachable([entry], dict.fromkeys(checks, "closed"))),
        crm_routing=any(graph.elements[node].references().crm_urls for node in reachable),
        direct_dial=any(_dials_directly(graph.elements[node]) for node in reachable),
    )


def _dials_directly(element: ElementBase) -> bool:
    return isinstance(element, IvrMenu) and element.direct_dial


def _loops(graph: ScenarioGraph, nodes: set[str]) -> list[list[str]]:
    within = {node: [t for t in graph.successors[node] if t in nodes] for node in nodes}
    return cycles([node for node in graph.elements if node in nodes], within)


def _extensions(graph: ScenarioGraph, nodes: Iterable[str]) -> list[str]:
    found: set[str] = set()
    for node in nodes:
        found.update(graph.elements[node].ring_extensions())
    return sorted(found, key=lambda extension: (len(extension), extension))


def _schedule_of(element: ElementBase) -> str | None:
    """The schedule an element checks (its `open`/`closed` exits follow it), if it is a schedule check."""
    schedules = element.references().schedules
    return next(iter(schedules)) if len(schedules) == 1 and "open" in element.exits() else None


def _route_ends(
    graph: ScenarioGraph, entry: str, reachable: set[str], loops: list[list[str]], directory: Directory
) -> list[RouteEnd]:
    worst = _WorstCase(graph, entry, reachable, loops, directory)
    ends: list[RouteEnd] = []
    for node, element in graph.elements.items():
        if node not in reachable:
            continue
        if not element.exits():
            ends.append(worst.end(element, None))
        ends += [worst.end(element, name) for name in graph.unconnected_exits(node, followable=True)]
    return ends + [worst.loop_end(loop) for loop in loops]


class _WorstCase:
    """Longest waits from the entry over the loop-free part; anything downstream of a loop is unbounded."""

    def __init__(
        self, graph: ScenarioGraph, entry: str, reachable: set[str], loops: list[list[str]], directory: Directory
    ) -> None:
        self.graph = graph
        self.entry = entry
        self.directory = directory
        self.looping = {node for loop in loops for node in loop}
        self.after_loop = graph.reachable(self.looping) if self.looping else set()
        self.longest: dict[str, float] = {}
        self.parents: dict[str, str | None] = {}
        self._longest_paths(reachable - self.after_loop)

    def _longest_paths(self, acyclic: set[str]) -> None:
        """Relax arrows in topological order (Kahn): linear, and no recursion."""
        graph = self.graph
        indegree = dict.fromkeys(acyclic, 0)
        for node in acyclic:
            for target in graph.successors[node]:
                if target in acyclic:
                    indegree[target] += 1
        if self.entry in acyclic:
            self.longest[self.entry] = 0
            self.parents[self.entry] = None
        ready = deque(node for node, count in indegree.items() if count == 0)
        while ready:
            node = ready.popleft()
            for exit_name, target in graph.edges[node]:
                if target not in acyclic:
                    continue
                if node in self.longest:
                    candidate = self.longest[node] + graph.elements[node].worst_case_seconds(exit_name, self.directory)
                    if candidate > self.longest.get(target, -1):
                        self.longest[target] = candidate
                        self.parents[target] = node
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)

    def end(self, element: ElementBase, exit_name: str | None) -> RouteEnd:
        facts = {
            "element_id": element.id,
            "element_type": str(getattr(element, "type", "element")),
            "exit": exit_name,
            "rings_until_answered": exit_name is None and element.awaits == "ring",
        }
        if element.id in self.after_loop:
            loop_elements = self._loops_before(element.id)
            via = loop_elements[0]
            path = self.graph.path(self.entry, via) + self.graph.path(via, element.id)[1:]
            return RouteEnd(**facts, worst_case_seconds=None, path=path, loop_elements=loop_elements)
        seconds = self.longest.get(element.id, 0.0)
        if exit_name is not None:
            seconds += element.worst_case_seconds(exit_name, self.directory)
        path = unwind(self.parents, element.id) if element.id in self.parents else [element.id]
        return RouteEnd(**facts, worst_case_seconds=seconds, path=path)

    def loop_end(self, loop: list[str]) -> RouteEnd:
        members = [node for node in self.graph.elements if node in loop]
        first = self.graph.elements[members[0]]
        return RouteEnd(
            element_id=first.id,
            element_type=str(getattr(first, "type", "element")),
            worst_case_seconds=None,
            path=self.graph.path(self.entry, first.id),
            loop_elements=members,
            loop_guard=True,
        )

    def _loops_before(self, node: str) -> list[str]:
        """Looping elements from which `node` can be reached (walking the arrows backwards)."""
        seen = {node}
        queue = deque(seen)
        while queue:
            for parent in self.graph.predecessors.get(queue.popleft(), ()):
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        return [n for n in self.graph.elements if n in seen and n in self.looping]


# ------------------------------------------------------------------------------------------------------ schedules


def _schedule_reach(graph: ScenarioGraph, reachable: set[str], checks: dict[str, str]) -> list[ScheduleReach]:
    reach: list[ScheduleReach] = []
    for node, schedule_id in checks.items():
        if node not in reachable:
            continue
        branches = {
            name: _extensions(graph, graph.reachable([t for e, t in graph.edges[node] if e == name]))
            for name in ("open", "closed")
        }
        reach.append(
            ScheduleReach(
                element_id=node,
                schedule_id=schedule_id,
                open_extensions=branches["open"],
                closed_extensions=branches["closed"],
            )
        )
    return reach


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _listed(extensions: list[str]) -> str:
    return ", ".join(extensions) if extensions else "none"

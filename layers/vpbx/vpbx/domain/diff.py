"""Behavioural diff: what a change of scenario does to callers, found by running both versions through the same calls.

Two scenario graphs are compared over one directory (the tenant's current one: a published version runs against it).
A *situation* is one call: when it arrives, who calls, what the CRM answers, and what telephony reports for each
element the call reaches (scripted per element, as in `simulate`). The diff explores every class of situation that
can make the two versions behave differently, runs the live executor on both, and keeps the situations whose
behaviour (the actions asked of telephony, in order, and how the call ends) differs.

The classes explored, and their bounds:

- **time**: every instant at which a schedule named by either version opens or closes in the next `days` days
  (holidays, short days, transferred working days and overrides included, from the schedules themselves), and the
  instants a call must arrive at to reach a schedule check just after such a boundary (a call that rings into
  closing time). Instants are grouped by what every schedule check of every explored call sees, so a pattern that
  repeats each week is explored once. At most MAX_DAYS days.
- **caller**: for each caller list named by either version, a number that matches it (from its own patterns; a
  list none of whose patterns yields a number is reported in `unexplored`), and a withheld number (in no list).
- **CRM**: when either version routes through a CRM, "not found" and each extension it may answer: those the
  versions name, then others of the directory, MAX_CRM_CLASSES in all (the rest are listed in `unexplored`; an
  extension neither version names behaves like any other but for its own ring target). Every CRM of a call gives
  the same answer.
- **outcomes**: each ring is answered, not answered, busy or unavailable (the latter two only where a `busy` or
  `unavailable` arrow makes them differ); each menu gets each connected key, an entry that is no key, each enabled
  extension when it dials directly, or no entry. The first MAX_OUTCOMES_PER_ELEMENT outcomes of an element are
  explored; later ones repeat the last, as a simulation script does. At most MAX_DECISIONS decided outcomes per call
  (later ones take the simulator's defaults: no answer, no entry) and MAX_RUNS runs in all; `truncated` says when a
  bound cut the exploration. A caller may also give a time budget (the API does): past it the exploration stops and
  says so, the one bound that depends on the machine. A caller hanging up is not explored (it ends the call where it
  is in both versions).

Days when clocks change: a schedule edge inside the skipped or repeated hour may be explored at the wrong instant.
An element that is renamed counts as another element: scripts name elements. Positions, labels and element ids do not
matter otherwise: only what telephony is asked to do does.
"""

from __future__ import annotations

import json
import time as time_module
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import Field

from vpbx.domain.analysis import RouteEnd, analyze
from vpbx.domain.base import LazyModel
from vpbx.domain.calls import (
    Action,
    CallInfo,
    CallState,
    CollectAction,
    Decision,
    FaxAction,
    HangupAction,
    Outcome,
    PlayAction,
    RingAction,
    VoicemailAction,
)
from vpbx.domain.directory import CallerList, Directory, Schedule
from vpbx.domain.elements.base import DIGIT_EXITS
from vpbx.domain.elements.prompts import IvrMenu
from vpbx.domain.scenario import Scenario, exit_of, references_of

if TYPE_CHECKING:
    from vpbx.domain.executor import CompiledScenario

DEFAULT_DAYS = 14
MAX_DAYS = 62
MAX_DECISIONS = 12
MAX_OUTCOMES_PER_ELEMENT = 3
MAX_RUNS = 20_000
MAX_CRM_CLASSES = 12
MAX_OFFSET_ROUNDS = 4
MAX_SITUATIONS_LISTED = 200
MAX_STEPS_PER_RUN = 200  # the executor's own loop guard ends looping calls well before this

_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ANY_TIME = "any time"
_ANY_CALLER = "any caller"


# ------------------------------------------------------------------------------------------------ public models


class TimeWindow(LazyModel):
    start: datetime
    end: datetime


class Situation(LazyModel):
    """One call that behaves differently: when, who, what the CRM said, the outcomes, and both behaviours."""

    when: str = Field(description="The arrival times, in words (local time of the first schedule)")
    windows: list[TimeWindow] = Field(description="Arrival windows within the explored days")
    caller: str
    caller_number: str | None
    crm: str | None = Field(description="What the CRM answered, when a version asks one")
    outcomes: dict[str, list[str]] = Field(description="Element id -> the outcomes telephony reported, in order")
    was: str
    now: str


class Statement(LazyModel):
    """Situations with the same change, summarised: "<when>, <who>: was <old>, now <new>"."""

    text: str
    when: str
    callers: list[str]
    was: str
    now: str
    situations: int


class WaitChange(LazyModel):
    """A route end whose worst-case wait changed, appeared or disappeared (None: not a route end in that version)."""

    element_id: str
    exit: str | None
    was_seconds: float | None
    now_seconds: float | None
    was_bounded: bool
    now_bounded: bool
    text: str


class DiffBounds(LazyModel):
    days: int
    start: datetime
    time_classes: int
    caller_classes: int
    crm_classes: int
    runs: int
    truncated: bool
    truncated_by: list[str] = Field(default_factory=list, description="The bounds that cut the exploration")
    unexplored: list[str] = Field(default_factory=list)
    limits: dict[str, int]


class ScenarioDiff(LazyModel):
    changed: bool = Field(description="Whether any explored call behaves differently, or a worst-case wait changed")
    statements: list[Statement]
    situations: list[Situation] = Field(description="The differing situations (the first ones, at most 200 by default)")
    situation_count: int
    wait_changes: list[WaitChange]
    bounds: DiffBounds

    def lines(self) -> list[str]:
        """The diff in words, one statement per line (the CLI prints it)."""
        if not self.changed:
            lines = ["No behavioural change in the explored situations."]
        else:
            lines = [f"{len(self.statements)} behavioural change(s) ({self.situation_count} situations):"]
            lines += [f"  - {statement.text}" for statement in self.statements]
            if self.wait_changes:
                lines.append("Worst-case waits:")
                lines += [f"  - {change.text}" for change in self.wait_changes]
        bounds = self.bounds
        lines.append(
            f"Explored {bounds.days} days from {bounds.start.date().isoformat()}: {bounds.time_classes} time "
            f"class(es) × {bounds.caller_classes} caller class(es) × {bounds.crm_classes} CRM answer(s), "
            f"{bounds.runs} runs" + (f" (truncated: {', '.join(bounds.truncated_by)})" if bounds.truncated else "")
        )
        lines += [f"Not explored: {item}" for item in bounds.unexplored]
        return lines


# ------------------------------------------------------------------------------------------------ entry point


def diff(
    old: Scenario,
    new: Scenario,
    directory: Directory,
    *,
    start: datetime,
    days: int = DEFAULT_DAYS,
    sip_domain: str | None = None,
    max_situations: int = MAX_SITUATIONS_LISTED,
    time_budget_seconds: float | None = None,
) -> ScenarioDiff:
    """The behavioural differences between `old` and `new` over `directory`, for calls in the `days` days from the
    local midnight of `start` (in the first named schedule's time zone, else UTC). `max_situations` bounds the
    situations listed (all are counted and summarised in the statements); `time_budget_seconds` stops the exploration
    (flagged `truncated`) when it runs out."""
    from vpbx.domain.executor import compile_scenario  # the executor loads on first use, as in simulate

    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1–{MAX_DAYS}, got {days}")
    schedule_ids = sorted(references_of(old).schedules | references_of(new).schedules)
    schedules = [directory.schedules[s] for s in schedule_ids if s in directory.schedules]
    zone = ZoneInfo(schedules[0].timezone if schedules else "UTC")
    begin = datetime.combine(start.astimezone(zone).date(), time(), tzinfo=zone)
    end = begin + timedelta(days=days)
    compiled = tuple(compile_scenario(s, directory, sip_domain=sip_domain) for s in (old, new))
    deadline = time_module.monotonic() + time_budget_seconds if time_budget_seconds is not None else None
    explorer = _Explorer((compiled[0], compiled[1]), _outcome_options(old, new, directory), deadline)
    callers, unexplored = _caller_classes(old, new, directory)
    crm_answers, crm_unexplored = _crm_classes(old, new, directory)
    unexplored += crm_unexplored
    timeline = _Timeline(schedules, begin, end)
    found = _explore(explorer, timeline, callers, crm_answers)
    statements = _statements(found, timeline, callers, crm_answers, zone)
    waits = _wait_changes(old, new, directory)
    return ScenarioDiff(
        changed=bool(found) or bool(waits),
        statements=statements,
        situations=[_situation(d, timeline, zone) for d in found[:max_situations]],
        situation_count=len(found),
        wait_changes=waits,
        bounds=DiffBounds(
            days=days,
            start=begin,
            time_classes=len(timeline.classes()),
            caller_classes=len(callers),
            crm_classes=len(crm_answers),
            runs=explorer.runs,
            truncated=bool(explorer.truncated_by),
            truncated_by=sorted(explorer.truncated_by),
            unexplored=unexplored,
            limits={
                "max_days": MAX_DAYS,
                "max_decisions_per_call": MAX_DECISIONS,
                "max_outcomes_per_element": MAX_OUTCOMES_PER_ELEMENT,
                "max_runs": MAX_RUNS,
                "max_crm_answers": MAX_CRM_CLASSES,
            },
        ),
    )


# ------------------------------------------------------------------------------------------------ situations


@dataclass(frozen=True)
class CallerClass:
    label: str
    number: str | None


Outcomes = tuple[tuple[str, tuple[str, ...]], ...]  # element id -> the outcomes it reported, in order


@dataclass(frozen=True)
class _Difference:
    time_class: int
    caller: CallerClass
    crm: str | None
    outcomes: Outcomes
    was: str
    now: str


def _explore(
    explorer: _Explorer, timeline: _Timeline, callers: list[CallerClass], crm_answers: list[str | None]
) -> list[_Difference]:
    """Every differing situation. Time classes are refined until the schedule checks' offsets stop growing; an
    arrival instant explored in an earlier round is not explored again."""
    explored: dict[tuple[datetime, str | None, str | None], list[tuple[Outcomes, str, str]]] = {}
    found: list[_Difference] = []
    for round_number in range(1, MAX_OFFSET_ROUNDS + 1):
        offsets_before = set(timeline.offsets)
        found = []
        for index, instant in enumerate(timeline.classes()):
            for caller in callers:
                for crm in crm_answers:
                    key = (instant, caller.number, crm)
                    if key not in explored:
                        explored[key] = explorer.differences(instant, caller.number, crm, timeline.offsets)
                    found += [_Difference(index, caller, crm, *change) for change in explored[key]]
        if timeline.offsets == offsets_before:
            break
        if round_number == MAX_OFFSET_ROUNDS:  # keep the classes `found` refers to; say the refinement stopped
            explorer.truncated_by.add(f"{MAX_OFFSET_ROUNDS} rounds of schedule-check offsets")
            break
        timeline.refresh()
    return found


def _caller_classes(old: Scenario, new: Scenario, directory: Directory) -> tuple[list[CallerClass], list[str]]:
    classes: list[CallerClass] = []
    unexplored: list[str] = []
    for list_id in sorted(references_of(old).caller_lists | references_of(new).caller_lists):
        caller_list = directory.caller_lists.get(list_id)
        if caller_list is None:
            continue  # an unknown list matches nobody: the withheld caller covers it
        number = _matching_number(caller_list)
        if number is None:
            unexplored.append(f"callers of list '{list_id}': none of its patterns yields a number to try")
        else:
            classes.append(CallerClass(f"a caller in list '{list_id}' ({number})", number))
    label = "a caller in no list (withheld number)" if classes else _ANY_CALLER
    return [*classes, CallerClass(label, None)], unexplored


def _matching_number(caller_list: CallerList) -> str | None:
    for candidate in _candidates(caller_list):
        if caller_list.matches(candidate):
            return candidate
    return None


def _candidates(caller_list: CallerList) -> Iterable[str]:
    import phonenumbers  # only when a caller list is involved

    for pattern in caller_list.patterns:
        value = pattern.value
        if pattern.kind == "exact":
            yield value
        elif pattern.kind in ("prefix", "mask"):
            digits = value.replace("?", "0").replace("X", "0").replace("x", "0")
            for filler in ("1234567", "2345678", "9123456", "5550123"):
                for length in range(8, 16):
                    yield (digits + filler * 3)[: length + 1] if pattern.kind == "prefix" else digits
        elif pattern.kind == "country":
            example = phonenumbers.example_number(value)
            if example is not None:
                yield phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        else:  # region or operator: try every region's example numbers of the usual types
            for region in sorted(phonenumbers.SUPPORTED_REGIONS):
                for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
                    example = phonenumbers.example_number_for_type(region, kind)
                    if example is not None:
                        yield phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _crm_classes(old: Scenario, new: Scenario, directory: Directory) -> tuple[list[str | None], list[str]]:
    """Extensions the CRM may answer (named ones first), capped, and "not found" (None)."""
    if not (references_of(old).crm_urls or references_of(new).crm_urls):
        return [None], []
    named = references_of(old).extensions | references_of(new).extensions

    def order(extension: str) -> tuple[bool, int, str]:
        return extension not in named, len(extension), extension

    extensions = sorted(directory.subscribers, key=order)
    kept, left = extensions[: MAX_CRM_CLASSES - 1], extensions[MAX_CRM_CLASSES - 1 :]
    unexplored = [f"CRM answers {_few(left)}: only {len(kept)} extensions are tried"] if left else []
    return [*kept, None], unexplored


def _few(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


# ------------------------------------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class _Options:
    """The outcome classes worth trying for each element, by what it waits for."""

    ring: Mapping[str, tuple[str, ...]]
    collect: Mapping[str, tuple[str, ...]]

    def of(self, element_id: str, awaiting: str) -> tuple[str, ...]:
        if awaiting == "ring":
            return self.ring.get(element_id, _RING_BASIC)
        if awaiting == "collect":
            return self.collect.get(element_id, ("timeout",))
        return ()  # a greeting plays: nothing to choose


_RING_BASIC = ("answered", "no_answer")


def _outcome_options(old: Scenario, new: Scenario, directory: Directory) -> _Options:
    used_exits: dict[str, set[str]] = defaultdict(set)
    for scenario in (old, new):
        elements = {e.id: e for e in scenario.elements}
        for connection in scenario.connections:
            element = elements.get(connection.from_)
            name = exit_of(connection, element) if element is not None else None
            if name is not None:
                used_exits[connection.from_].add(name)
    ring: dict[str, tuple[str, ...]] = {}
    direct_dial: dict[str, bool] = {}
    for scenario in (old, new):
        for element in scenario.elements:
            exits = used_exits[element.id]
            ring[element.id] = (*_RING_BASIC, *(kind for kind in ("busy", "unavailable") if kind in exits))
            if isinstance(element, IvrMenu):
                direct_dial[element.id] = direct_dial.get(element.id, False) or element.direct_dial
    dialable = sorted((ext for ext, s in directory.subscribers.items() if s.enabled), key=lambda e: (len(e), e))
    collect = {
        menu_id: _menu_options(used_exits[menu_id], dialable if dials else []) for menu_id, dials in direct_dial.items()
    }
    return _Options(ring, collect)


def _menu_options(exits: set[str], dialable: list[str]) -> tuple[str, ...]:
    """Each connected key (of either version), each extension a direct dial reaches, one entry that is neither,
    and no entry."""
    entries = list(dict.fromkeys([*(d for d in DIGIT_EXITS if d in exits), *dialable]))
    invalid = next((key for key in reversed(DIGIT_EXITS) if key not in entries), None)
    return (*(f"digits:{entry}" for entry in entries), *([f"digits:{invalid}"] if invalid else []), "timeout")


_DEFAULTS = {"ring": "no_answer", "play": "played", "collect": "timeout"}


@lru_cache(maxsize=256)
def _parse_outcome(text: str) -> Outcome:
    kind, _, digits = text.partition(":")
    return Outcome(kind="digits", digits=digits) if kind == "digits" else Outcome.model_validate({"kind": kind})


# ------------------------------------------------------------------------------------------------ running calls


@dataclass
class _Run:
    behaviour: tuple[str, ...]
    text: str
    query: tuple[str, int, str] | None  # (element id, n-th outcome, awaiting): the first undecided outcome
    check_offsets: set[int] = field(default_factory=set)
    used: dict[str, list[str]] = field(default_factory=dict)


class _Explorer:
    """Runs both versions on the same situations, branching on each undecided outcome (depth-first)."""

    def __init__(
        self, compiled: tuple[CompiledScenario, CompiledScenario], options: _Options, deadline: float | None = None
    ) -> None:
        self.compiled = compiled
        self.options = options
        self.runs = 0
        self.truncated_by: set[str] = set()
        self.deadline = deadline

    def differences(
        self, at: datetime, caller: str | None, crm: str | None, offsets: set[int]
    ) -> list[tuple[Outcomes, str, str]]:
        found: list[tuple[Outcomes, str, str]] = []
        pending: list[dict[tuple[str, int], str]] = [{}]
        while pending:
            script = pending.pop()
            if self.runs >= MAX_RUNS:
                self.truncated_by.add(f"{MAX_RUNS} runs")
                break
            if self.deadline is not None and time_module.monotonic() > self.deadline:
                self.truncated_by.add("time budget")
                break
            runs = [self._run(compiled, at, caller, crm, script) for compiled in self.compiled]
            self.runs += 2
            for run in runs:
                offsets.update(run.check_offsets)
            query = runs[0].query or runs[1].query
            if query is not None:
                element_id, index, awaiting = query
                choices = self.options.of(element_id, awaiting)
                pending.extend({**script, (element_id, index): choice} for choice in reversed(choices))
                continue
            if runs[0].behaviour != runs[1].behaviour:
                # Both runs read the same script, so one element's outcomes in one run prefix those in the other.
                used = {
                    e: max(runs[0].used.get(e, []), runs[1].used.get(e, []), key=len)
                    for e in {*runs[0].used, *runs[1].used}
                }
                found.append((tuple(sorted((k, tuple(v)) for k, v in used.items())), runs[0].text, runs[1].text))
        return found

    def _run(
        self,
        compiled: CompiledScenario,
        at: datetime,
        caller: str | None,
        crm: str | None,
        script: dict[tuple[str, int], str],
    ) -> _Run:
        from vpbx.domain.executor import Executor

        clock = [at]
        lookup = (lambda url, number, timeout: crm) if crm is not None else (lambda url, number, timeout: None)
        executor = Executor(compiled, clock=lambda: clock[0], crm_lookup=lookup)
        call = CallInfo(call_id="diff", caller=caller, dialed="diff", started_at=at)
        state, decision = executor.start(call)
        actions: list[Action] = []
        offsets: set[int] = set()
        used: dict[str, list[str]] = {}
        counts: dict[str, int] = defaultdict(int)
        decided = len(script)
        for _ in range(MAX_STEPS_PER_RUN):
            _note(decision, at, actions, offsets)
            if state.status != "in_progress" or state.element_id is None:
                break
            element_id = state.element_id
            awaiting = str(state.element_state.get("awaiting"))
            index = counts[element_id]
            counts[element_id] += 1
            outcome, query = self._outcome(script, element_id, index, awaiting, decided)
            if query is not None:
                return _Run((), "", query)
            used.setdefault(element_id, []).append(outcome)
            parsed = _parse_outcome(outcome)
            _spend(clock, decision, parsed)
            state, decision = executor.advance(state, parsed)
        behaviour = tuple(json.dumps(a.model_dump(mode="json"), sort_keys=True) for a in actions)
        ending = _ending(state, decision)
        return _Run((*behaviour, ending), _behaviour_text(actions, ending), None, offsets, used)

    def _outcome(
        self, script: dict[tuple[str, int], str], element_id: str, index: int, awaiting: str, decided: int
    ) -> tuple[str, tuple[str, int, str] | None]:
        default = _DEFAULTS.get(awaiting, "no_answer")
        options = self.options.of(element_id, awaiting)
        if not options:
            return default, None
        if index >= MAX_OUTCOMES_PER_ELEMENT:  # the last scripted outcome repeats, when it fits
            last = script.get((element_id, MAX_OUTCOMES_PER_ELEMENT - 1))
            return (last if last is not None and last in options else default), None
        chosen = script.get((element_id, index))
        if chosen is not None:
            return (chosen if chosen in options else default), None
        if decided >= MAX_DECISIONS:
            self.truncated_by.add(f"{MAX_DECISIONS} decisions per call")
            return default, None
        return default, (element_id, index, awaiting)


def _note(decision: Decision, at: datetime, actions: list[Action], offsets: set[int]) -> None:
    for step in decision.steps:
        if step.element_type == "schedule":
            offsets.add(round((step.at - at).total_seconds()))
    if decision.action is not None:
        actions.append(decision.action)


def _spend(clock: list[datetime], decision: Decision, outcome: Outcome) -> None:
    """The simulator's clock: an unanswered ring and a menu's timeout take their time; the rest is instant."""
    action = decision.action
    seconds = 0
    if isinstance(action, RingAction) and outcome.kind != "answered":
        seconds = action.timeout_seconds or 0
    elif isinstance(action, CollectAction) and outcome.kind == "timeout":
        seconds = action.timeout_seconds
    clock[0] += timedelta(seconds=seconds)


def _ending(state: CallState, decision: Decision) -> str:
    result = state.result or "hangup"
    if result == "connected":
        return "answered"
    if isinstance(decision.action, HangupAction):
        return f"hang up ({decision.action.reason})"
    return result


def _behaviour_text(actions: Sequence[Action], ending: str) -> str:
    parts = [_action_text(action) for action in actions if not isinstance(action, HangupAction)]
    if ending.startswith("hang up") or ending == "answered" or not parts:
        parts.append(ending)
    return " → ".join(parts)


def _action_text(action: Action) -> str:
    if isinstance(action, RingAction):
        targets = ", ".join(t.extension or t.number or t.uri or "?" for t in action.targets)
        limit = f"{action.timeout_seconds} s" if action.timeout_seconds is not None else "until answered"
        return f"ring {targets} ({limit})"
    if isinstance(action, CollectAction):
        return f"menu “{action.prompt.preview(40)}”"
    if isinstance(action, PlayAction):
        return f"play “{action.prompt.preview(40)}”"
    if isinstance(action, VoicemailAction):
        return f"voicemail {action.mailbox}"
    if isinstance(action, FaxAction):
        return f"fax {action.extension}"
    return str(getattr(action, "type", "action"))


# ------------------------------------------------------------------------------------------------ time


class _Timeline:
    """The explored days cut into time classes: arrivals whose schedule checks all see the same statuses.

    A check made `e` seconds into a call that arrives at T sees the schedule at T + e, so the cut points are the
    schedules' boundaries b and every b − e for the offsets e seen so far; between two cut points nothing changes."""

    def __init__(self, schedules: list[Schedule], begin: datetime, end: datetime) -> None:
        self.schedules = schedules
        self.begin = begin
        self.end = end
        self.offsets: set[int] = {0}
        self.boundaries = sorted({b for s in schedules for b in _boundaries(s, begin, end)})
        self.refresh()

    def refresh(self) -> None:
        cuts = {self.begin}
        for boundary in self.boundaries:
            for offset in self.offsets:
                cut = boundary - timedelta(seconds=offset)
                if self.begin < cut < self.end:
                    cuts.add(cut)
        self.cuts = sorted(cuts)
        offsets = sorted(self.offsets)
        self._class_of: list[int] = []
        signatures: dict[tuple[bool, ...], int] = {}
        self._representatives: list[datetime] = []
        for cut in self.cuts:
            signature = tuple(s.is_open(cut + timedelta(seconds=o)) for s in self.schedules for o in offsets)
            if signature not in signatures:
                signatures[signature] = len(self._representatives)
                self._representatives.append(cut)
            self._class_of.append(signatures[signature])

    def classes(self) -> list[datetime]:
        """One arrival instant per time class."""
        return list(self._representatives)

    def windows(self, index: int) -> list[tuple[datetime, datetime]]:
        """The arrival windows of a time class, neighbours merged."""
        windows: list[tuple[datetime, datetime]] = []
        for position, cut in enumerate(self.cuts):
            if self._class_of[position] != index:
                continue
            stop = self.cuts[position + 1] if position + 1 < len(self.cuts) else self.end
            if windows and windows[-1][1] == cut:
                windows[-1] = (windows[-1][0], stop)
            else:
                windows.append((cut, stop))
        return windows

    def class_at(self, instant: datetime) -> int:
        """The time class of an arrival instant within the explored days (for tests and callers)."""
        position = max(i for i, cut in enumerate(self.cuts) if cut <= instant)
        return self._class_of[position]


def _boundaries(schedule: Schedule, begin: datetime, end: datetime) -> list[datetime]:
    """Instants at which the schedule may open or close: its day plans' span edges and local midnights."""
    zone = ZoneInfo(schedule.timezone)
    first = begin.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found: list[datetime] = []
    day = first
    while day <= last:
        # The schedule's own day plan (override, holiday, transferred day, short day already applied).
        spans = schedule._plan(day).spans
        minutes = {0, *(edge for span in spans for edge in span)}
        found += [_local_instant(day, minute, zone) for minute in minutes]
        day += timedelta(days=1)
    return found


def _local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return (datetime.combine(day, time()) + timedelta(minutes=minute)).replace(tzinfo=zone)


# ------------------------------------------------------------------------------------------------ statements


def _statements(
    found: list[_Difference],
    timeline: _Timeline,
    callers: list[CallerClass],
    crm_answers: list[str | None],
    zone: ZoneInfo,
) -> list[Statement]:
    """One statement per change of behaviour; the outcome variants of one change ("answered" after any ring) fold
    into one when, for the same arrival times and callers, they tell one story."""
    groups: dict[tuple[str, str], list[_Difference]] = defaultdict(list)
    for difference in found:
        groups[(difference.was, difference.now)].append(difference)
    described = []
    for (was, now), members in groups.items():
        time_classes = sorted({m.time_class for m in members})
        windows = [w for index in time_classes for w in timeline.windows(index)]
        when = _ANY_TIME if len(time_classes) == len(timeline.classes()) else describe_windows(windows, zone)
        caller_labels = [c.label for c in callers if any(m.caller == c for m in members)]
        who = _ANY_CALLER if len(caller_labels) == len(callers) else "; ".join(caller_labels)
        described.append((when, who + _crm_text(members, crm_answers), caller_labels, was, now, len(members)))
    by_audience: dict[tuple[str, str], list[tuple[str, str, int, list[str]]]] = defaultdict(list)
    for when, who, labels, was, now, count in described:
        by_audience[(when, who)].append((was, now, count, labels))
    statements = []
    for (when, who), changes in by_audience.items():
        was_texts = _fold_answered({was for was, _, _, _ in changes})
        now_texts = _fold_answered({now for _, now, _, _ in changes})
        if len(was_texts) == 1 and len(now_texts) == 1:
            changes = [(was_texts[0], now_texts[0], sum(c[2] for c in changes), changes[0][3])]
        for was, now, count, labels in changes:
            text = f"{when}, {who}: was {was}, now {now}"
            statements.append(Statement(text=text, when=when, callers=labels, was=was, now=now, situations=count))
    return statements


def _fold_answered(texts: set[str]) -> list[str]:
    """Behaviours that differ only by a ring being answered, as one: "ring 101 (20 s) → voicemail 101 (or answered
    at a ring)"; the texts as they are when they are not such a family."""
    answered = {text.removesuffix(f"{_STEP}answered") for text in texts if text.endswith(f"{_STEP}answered")}
    others = sorted(texts - {f"{prefix}{_STEP}answered" for prefix in answered})
    if len(others) == 1 and all(others[0].startswith(prefix + _STEP) for prefix in answered):
        return [others[0] + (" (or answered at a ring)" if answered else "")]
    return sorted(texts)


_STEP = " → "


def _crm_text(members: list[_Difference], crm_answers: list[str | None]) -> str:
    if len(crm_answers) < 2:
        return ""  # neither version asks a CRM
    answers = [answer for answer in crm_answers if any(m.crm == answer for m in members)]
    if len(answers) == len(crm_answers):
        return ", whatever the CRM answers"
    return ", CRM answers " + " or ".join(answer or "not found" for answer in answers)


def _situation(difference: _Difference, timeline: _Timeline, zone: ZoneInfo) -> Situation:
    windows = timeline.windows(difference.time_class)
    everywhen = len(timeline.classes()) == 1
    return Situation(
        when=_ANY_TIME if everywhen else describe_windows(windows, zone),
        windows=[TimeWindow(start=start, end=end) for start, end in windows],
        caller=difference.caller.label,
        caller_number=difference.caller.number,
        crm=difference.crm,
        outcomes={element_id: list(outcomes) for element_id, outcomes in difference.outcomes},
        was=difference.was,
        now=difference.now,
    )


def describe_windows(windows: Sequence[tuple[datetime, datetime]], zone: ZoneInfo) -> str:
    """Windows in words: weekly patterns by weekday ("Mon–Fri 18:00–09:00"), one-off ones by date."""
    shapes: dict[tuple[str, str, int], list[date]] = defaultdict(list)
    for start, end in windows:
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        span = (local_end.date() - local_start.date()).days
        if local_end.time() == time() and span > 0:
            span -= 1  # ends at midnight: "–24:00" of the day before
            end_text = "24:00"
        else:
            end_text = _clock(local_end)
        shapes[(_clock(local_start), end_text, span)].append(local_start.date())
    parts = []
    for (start_text, end_text, span), days in sorted(shapes.items(), key=lambda item: min(item[1])):
        weekly = len(days) > 1
        if weekly:
            names = _weekday_ranges(sorted({d.weekday() for d in days}))
            if span == 0:
                parts.append(f"{names} {start_text}–{end_text}")
            elif span == 1:
                parts.append(f"{names} {start_text}–{end_text} (next day)")
            else:
                parts.append(f"{names} {start_text} – {span} days later {end_text}")
        else:
            day = days[0]
            last = day + timedelta(days=span)
            until = f"{last.isoformat()} {end_text}" if span else end_text
            parts.append(f"{_WEEKDAY_NAMES[day.weekday()]} {day.isoformat()} {start_text}–{until}")
    return "; ".join(parts)


def _clock(moment: datetime) -> str:
    text = f"{moment.hour:02d}:{moment.minute:02d}"
    return text + (f":{moment.second:02d}" if moment.second else "")


def _weekday_ranges(weekdays: list[int]) -> str:
    runs: list[list[int]] = []
    for weekday in weekdays:
        if runs and runs[-1][-1] == weekday - 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    names = []
    for run in runs:
        first, last = _WEEKDAY_NAMES[run[0]], _WEEKDAY_NAMES[run[-1]]
        names.append(first if len(run) == 1 else f"{first}–{last}" if len(run) > 2 else f"{first}, {last}")
    return ", ".join(names)


# ------------------------------------------------------------------------------------------------ waits


def _wait_changes(old: Scenario, new: Scenario, directory: Directory) -> list[WaitChange]:
    before = _ends(analyze(old, directory).route_ends)
    after = _ends(analyze(new, directory).route_ends)
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        was, now = before.get(key), after.get(key)
        if (
            was is not None
            and now is not None
            and (was.worst_case_seconds, was.loop_guard)
            == (
                now.worst_case_seconds,
                now.loop_guard,
            )
        ):
            continue
        element_id, exit_name = key
        either = was or now
        where = f"{either.element_type if either else 'element'} '{element_id}'"
        if exit_name is not None:
            where = f"exit '{exit_name}' of {where}"
        text = f"{where}: {_wait_text(was)} → {_wait_text(now)}"
        changes.append(
            WaitChange(
                element_id=element_id,
                exit=exit_name,
                was_seconds=was.worst_case_seconds if was else None,
                now_seconds=now.worst_case_seconds if now else None,
                was_bounded=bool(was and was.bounded),
                now_bounded=bool(now and now.bounded),
                text=text,
            )
        )
    return changes


def _ends(ends: list[RouteEnd]) -> dict[tuple[str, str | None], RouteEnd]:
    return {(end.element_id, end.exit): end for end in ends if not end.loop_guard}


def _wait_text(end: RouteEnd | None) -> str:
    if end is None:
        return "no route end"
    if end.worst_case_seconds is None:
        return "unbounded (loop)"
    return f"at most {end.worst_case_seconds:g} s"

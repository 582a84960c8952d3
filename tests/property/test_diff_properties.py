"""Property: the behavioural diff agrees with brute force.

Pairs of small scenarios (a random graph over a fixed pool of elements, and a copy with some arrows and fields
redrawn) are compared by `diff`, and independently by `simulate` over a grid of arrival times (around every opening
and closing, across a public holiday), callers (in the list, withheld, another number), CRM answers and outcome
scripts (one outcome per element, repeated, as simulation scripts do):

- none invented: every situation the diff reports behaves differently when simulated at its windows' edges;
- none missed: every grid point where the simulations differ lies in a reported situation of the same caller class
  and CRM answer whose outcomes, simulated there, give the same pair of behaviours.
"""

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vpbx.domain import diff as diff_module
from vpbx.domain.diff import ScenarioDiff, Situation, diff
from vpbx.domain.directory import CallerList, CallerPattern, Directory, HolidayCalendar, Schedule, Subscriber
from vpbx.domain.scenario import Scenario
from vpbx.domain.simulation import simulate

START = datetime(2026, 12, 30, tzinfo=ZoneInfo("Europe/Moscow"))  # Wed; 31 Dec and 1 Jan are holidays in Russia
DAYS = 3
VIP = "+74951112233"
CALLERS = [VIP, None]
ORDER = ["start", "hours", "vip", "crm", "menu", "mgr", "grp", "vm", "bye"]
EXITS = {
    "start": ["next"],
    "hours": ["open", "closed"],
    "vip": ["match", "no_match"],
    "crm": ["no_answer", "not_found"],
    "menu": ["1", "2", "timeout", "invalid"],
    "mgr": ["no_answer", "busy"],
    "grp": ["no_answer"],
}
OUTCOMES = {
    "mgr": ["answered", "no_answer", "busy", "unavailable"],
    "grp": ["answered", "no_answer"],
    "crm": ["answered", "no_answer"],
    "menu": ["digits:1", "digits:2", "digits:9", "timeout"],
}


def directory(opens: str, closes: str) -> Directory:
    hours = {day: [f"{opens}-{closes}"] for day in ("mon", "tue", "wed", "thu", "fri")}
    return Directory.of(
        [Subscriber(extension=ext, name=f"S{ext}") for ext in ("101", "102", "103")],
        [Schedule(id="office", name="Office", timezone="Europe/Moscow", weekly=hours,
                  holidays=HolidayCalendar(country="RU"))],
        [CallerList(id="vip", name="VIP", patterns=[CallerPattern(kind="exact", value=VIP)])],
    )  # fmt: skip


def scenario(config: dict[str, Any]) -> Scenario:
    elements: list[dict[str, Any]] = [
        {"id": "start", "type": "incoming_call"},
        {"id": "hours", "type": "schedule", "schedule_id": "office"},
        {"id": "vip", "type": "caller_list", "list_id": "vip"},
        {"id": "crm", "type": "external_routing", "url": "https://crm.example/route", "wait_seconds": 15},
        {"id": "menu", "type": "ivr_menu", "prompt": {"text": "1 or 2"}, "timeout_seconds": 5, "max_retries": 1},
        {"id": "mgr", "type": "internal_subscriber", "extension": "101", "limit_wait": True,
         "wait_seconds": config["mgr_wait"]},
        {"id": "grp", "type": "group", "members": ["102", "103"], "strategy": config["grp_strategy"],
         "wait_seconds": 20},
        {"id": "vm", "type": "voicemail", "mailbox": config["mailbox"]},
        {"id": "bye", "type": "hangup"},
    ]  # fmt: skip
    connections = [
        {"from": source, "exit": exit_name, "to": target}
        for (source, exit_name), target in config["arrows"].items()
        if target is not None
    ]
    return Scenario.model_validate({"name": "S", "elements": elements, "connections": connections})


def arrows() -> st.SearchStrategy[dict[tuple[str, str], str | None]]:
    """Each exit leads to a later element of ORDER (so every call ends) or nowhere."""
    fields = {
        (source, exit_name): st.sampled_from([None, *ORDER[ORDER.index(source) + 1 :]])
        for source, names in EXITS.items()
        for exit_name in names
    }
    fields[("start", "next")] = st.sampled_from(ORDER[1:])
    return st.fixed_dictionaries(fields)


configs = st.fixed_dictionaries(
    {
        "arrows": arrows(),
        "mgr_wait": st.sampled_from([10, 20, 40]),
        "grp_strategy": st.sampled_from(["simultaneous", "sequential"]),
        "mailbox": st.sampled_from(["101", "102"]),
    }
)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    old: dict[str, Any] = draw(configs)
    other: dict[str, Any] = draw(configs)
    keep = st.sampled_from([True, True, True, False])
    new: dict[str, Any] = {
        key: old[key] if draw(keep) else other[key] for key in ("mgr_wait", "grp_strategy", "mailbox")
    }
    new["arrows"] = {key: old["arrows"][key] if draw(keep) else target for key, target in other["arrows"].items()}
    return old, new


# ------------------------------------------------------------------------------------------------ brute force


def behaviour(result: Any) -> tuple[Any, ...]:
    actions = [step.action for step in result.steps if step.action is not None]
    return (*map(repr, actions), result.result.status, result.result.reason)


def simulate_once(scenario_: Scenario, dir_: Directory, at: datetime, caller: str | None, crm: str | None,
                  outcomes: dict[str, Any]) -> tuple[Any, ...]:  # fmt: skip
    present = {e.id for e in scenario_.elements}
    script = {element: listed for element, listed in outcomes.items() if element in present}
    lookup = (lambda url, number, timeout: crm) if crm is not None else None
    return behaviour(simulate(scenario_, dir_, outcomes=script, caller=caller, at=at, crm_lookup=lookup))


def grid(opens: str, closes: str) -> Iterator[datetime]:
    """Around each opening and closing (before, at, after, and far enough back for a ring to cross it), and at night."""
    for day in range(DAYS):
        midnight = START + timedelta(days=day)
        for clock in (opens, closes):
            hour, minute = map(int, clock.split(":"))
            edge = midnight + timedelta(hours=hour, minutes=minute)
            for seconds in (-45, -12, -1, 0, 30):
                yield edge + timedelta(seconds=seconds)
        yield midnight + timedelta(hours=3)


def reachable(config: dict[str, Any]) -> set[str]:
    seen, todo = {"start"}, ["start"]
    while todo:
        source = todo.pop()
        for (element, _), target in config["arrows"].items():
            if element == source and target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def scripts(elements: set[str]) -> Iterator[dict[str, list[str]]]:
    waiting = sorted(e for e in elements if e in OUTCOMES)
    for chosen in itertools.product(*(OUTCOMES[e] for e in waiting)):
        yield {element: [outcome] for element, outcome in zip(waiting, chosen, strict=True)}


def same_class(number: str | None, caller: str | None, dir_: Directory) -> bool:
    vip = dir_.caller_lists["vip"]
    return vip.matches(number) == vip.matches(caller)


def covering(
    result: ScenarioDiff, at: datetime, caller: str | None, crm: str | None, dir_: Directory
) -> list[Situation]:
    return [
        s
        for s in result.situations
        if s.crm == crm and same_class(s.caller_number, caller, dir_) and any(w.start <= at < w.end for w in s.windows)
    ]


def check(old_config: dict[str, Any], new_config: dict[str, Any], opens: str, closes: str) -> tuple[int, int]:
    """Assert the diff against brute force; (grid points, differing points)."""
    dir_ = directory(opens, closes)
    old, new = scenario(old_config), scenario(new_config)
    memo: dict[Any, tuple[Any, ...]] = {}
    reach = {id(old): reachable(old_config), id(new): reachable(new_config)}

    def run(scenario_: Scenario, dir_: Directory, at: datetime, caller: str | None, crm: str | None,
            outcomes: dict[str, list[str]]) -> tuple[Any, ...]:  # fmt: skip
        """Simulations memoised on what can matter: outcomes of elements this scenario can reach."""
        relevant = tuple(sorted((k, tuple(v)) for k, v in outcomes.items() if k in reach[id(scenario_)]))
        key = (id(scenario_), at, caller, crm, relevant)
        if key not in memo:
            memo[key] = simulate_once(scenario_, dir_, at, caller, crm, dict(relevant))
        return memo[key]

    result = diff(old, new, dir_, start=START, days=DAYS, max_situations=100_000)
    assert result.situation_count == len(result.situations)
    for situation in result.situations:  # none invented
        for window in situation.windows:
            for at in (window.start, window.end - timedelta(seconds=1)):
                args = (at, situation.caller_number, situation.crm, situation.outcomes)
                assert run(old, dir_, *args) != run(new, dir_, *args), (situation, at)
    elements = reachable(old_config) | reachable(new_config)
    crm_answers = ["101", "102", None] if "crm" in elements else [None]
    points = differing = 0
    for at in grid(opens, closes):
        for caller in CALLERS:
            for crm in crm_answers:
                for script in scripts(elements):
                    points += 1
                    pair = run(old, dir_, at, caller, crm, script), run(new, dir_, at, caller, crm, script)
                    if pair[0] == pair[1]:
                        continue
                    differing += 1
                    replays = (
                        (run(old, dir_, at, s.caller_number, crm, s.outcomes),
                         run(new, dir_, at, s.caller_number, crm, s.outcomes))
                        for s in covering(result, at, caller, crm, dir_)
                    )  # fmt: skip
                    assert any(replay == pair for replay in replays), (at, caller, crm, script, pair)  # none missed
    assert result.changed or differing == 0
    return points, differing


hours_strategy = st.tuples(st.sampled_from(["08:00", "09:00", "09:30"]), st.sampled_from(["17:00", "18:00", "20:15"]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=pairs(), hours=hours_strategy)
def test_diff_agrees_with_brute_force_simulation(
    pair: tuple[dict[str, Any], dict[str, Any]], hours: tuple[str, str]
) -> None:
    check(*pair, *hours)


# A fixed pair where only the ring time of the manager differs on the open branch, and VIP callers are sent elsewhere:
# differences depend on the time (a 40 s ring crosses closing time), the caller and the outcomes.
FIXED_OLD: dict[str, Any] = {
    "arrows": {("start", "next"): "vip", ("vip", "match"): "hours", ("vip", "no_match"): "mgr",
               ("hours", "open"): "mgr", ("hours", "closed"): "vm", ("mgr", "no_answer"): "grp",
               ("grp", "no_answer"): "vm"},
    "mgr_wait": 10, "grp_strategy": "simultaneous", "mailbox": "101",
}  # fmt: skip
FIXED_NEW: dict[str, Any] = {
    **FIXED_OLD,
    "arrows": {**FIXED_OLD["arrows"], ("vip", "match"): "menu", ("menu", "1"): "hours"},
}


def _full(arrows_: dict[tuple[str, str], Any]) -> dict[tuple[str, str], str | None]:
    return {(source, name): arrows_.get((source, name)) for source, names in EXITS.items() for name in names}


def test_fixed_pair_agrees_and_finds_differences() -> None:
    old = {**FIXED_OLD, "arrows": _full(FIXED_OLD["arrows"])}
    new = {**FIXED_NEW, "arrows": _full(FIXED_NEW["arrows"])}
    points, differing = check(old, new, "09:00", "18:00")
    assert differing > 0
    assert points > differing


def test_the_check_catches_a_dropped_caller_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """The brute-force check can fail: a diff that forgets the callers of a list misses their differences."""
    original = diff_module._caller_classes

    def without_lists(*args: Any) -> Any:
        classes, unexplored = original(*args)
        return classes[-1:], unexplored

    monkeypatch.setattr(diff_module, "_caller_classes", without_lists)
    old = {**FIXED_OLD, "arrows": _full(FIXED_OLD["arrows"])}
    new = {**FIXED_NEW, "arrows": _full(FIXED_NEW["arrows"])}
    with pytest.raises(AssertionError, match=r"\+74951112233"):  # a VIP call missed
        check(old, new, "09:00", "18:00")


def test_the_check_catches_a_dropped_crossing_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    """And a diff that ignores calls ringing across a boundary (time classes from arrival only) misses them too."""
    monkeypatch.setattr(diff_module, "MAX_OFFSET_ROUNDS", 1)
    monkeypatch.setattr(diff_module._Timeline, "refresh", _arrival_only_refresh(diff_module._Timeline.refresh))
    old = {
        **FIXED_OLD,
        "arrows": _full({**FIXED_OLD["arrows"], ("vip", "no_match"): "grp", ("grp", "no_answer"): "hours"}),
    }
    new = {**old, "mgr_wait": 40}
    with pytest.raises(AssertionError, match="Situation"):  # its window's last second rings into closing time
        check(old, new, "09:00", "18:00")


def _arrival_only_refresh(refresh: Any) -> Any:
    def arrival_only(self: Any) -> None:
        self.offsets.intersection_update({0})
        refresh(self)

    return arrival_only


def test_no_change_no_difference() -> None:
    old = {**FIXED_OLD, "arrows": _full(FIXED_OLD["arrows"])}
    result = diff(scenario(old), scenario(old), directory("09:00", "18:00"), start=START, days=DAYS)
    assert not result.changed
    assert result.situations == []
    assert result.wait_changes == []
    assert result.bounds.runs > 0


@pytest.mark.parametrize("when", [UTC, ZoneInfo("Asia/Tokyo")])
def test_deterministic(when: Any) -> None:
    old = scenario({**FIXED_OLD, "arrows": _full(FIXED_OLD["arrows"])})
    new = scenario({**FIXED_NEW, "arrows": _full(FIXED_NEW["arrows"])})
    first = diff(old, new, directory("09:00", "18:00"), start=START.astimezone(when), days=DAYS)
    again = diff(old, new, directory("09:00", "18:00"), start=START.astimezone(when), days=DAYS)
    assert first == again

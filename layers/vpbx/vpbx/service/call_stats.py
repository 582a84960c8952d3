"""Per-scenario call statistics from counters, never from reading calls (`GET /v1/scenarios/{id}/stats`).

When a call's routing ends (connected or ended) and again when a connected call reports `completed`, the calls service
hands `record_call_end` counters to the store, which adds them to the scenario's counter item for the call's start day
(UTC) in the same conditional write that saves the call: a call is counted exactly once, whatever the retries or
duplicate deliveries (the seq condition lets one write win), and the counters cost no extra request.

Counter names (flat attributes, so a DynamoDB `ADD` can update them; element ids never contain `#`):

| name                  | counts                                                                       |
|-----------------------|------------------------------------------------------------------------------|
| `calls`               | calls whose routing ended                                                    |
| `r#<result>`          | routing results (connected, missed, voicemail, …) and `completed`            |
| `v#<element>`         | visits of an element                                                         |
| `x#<element>#<exit>`  | exits taken from an element                                                  |
| `o#<element>`         | ring actions of an element (calls offered)                                    |
| `a#<element>`         | answers at an element                                                        |
| `w#<element>`         | seconds from the call's start to its answer at that element (summed)        |
| `e#<element>`         | calls whose route ended at an element                                        |
| `talk_seconds`        | talk time of completed calls (summed)                                        |
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from vpbx.domain.base import LazyModel
from vpbx.domain.calls import COMPLETED, TraceStep
from vpbx.domain.errors import InvalidInput
from vpbx.store import keys
from vpbx.store.models import CallCounters, CallRecord, DayCounters

COUNTER_SHARDS = keys.STATS_SHARDS  # a scenario's counters over this many partitions (store/keys.py)
MAX_COUNTERS_PER_CALL = 120  # keeps one call's ADD expression far below DynamoDB's 4 KB expression limit
MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30


def _day_text(value: Any) -> Any:
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise PydanticCustomError("date_format", "Input should be a date, YYYY-MM-DD")
    return value


StatsDay = Annotated[date, BeforeValidator(_day_text)]
"""A day of the statistics (UTC), YYYY-MM-DD."""


def record_call_end(
    previous: CallRecord | None,
    current: CallRecord,
    *,
    tally: Mapping[str, int] | None = None,
    result: str | None = None,
) -> CallCounters | None:
    """The counters one save adds: the routing's when it has just ended, the talk time when `completed` was just
    reported, None otherwise (and for a call without a scenario).

    A call advanced from a state token has no whole trace: `tally` (step_tally of its earlier steps plus the new ones)
    and `result` come from the token, and `current.trace` holds the latest steps (where the call was answered or
    ended)."""
    scenario_id = current.state.scenario_id
    if scenario_id is None or current.state.status == "in_progress":
        return None
    previous_status = previous.state.status if previous is not None else "in_progress"
    if previous_status == "in_progress":
        steps = step_tally(current.trace) if tally is None else tally
        values = _routing_counters(current, steps, result or current.result)
    elif current.state.result == COMPLETED and previous_status == "connected":
        values = {f"r#{COMPLETED}": 1, "talk_seconds": current.duration_seconds or 0}
    else:
        return None
    info = current.state.call
    return CallCounters(
        scenario_id=scenario_id,
        day=info.started_at.astimezone(UTC).date(),
        shard=keys.call_shard(info.call_id, COUNTER_SHARDS),
        values=values,
    )


def step_tally(steps: Iterable[TraceStep], into: Mapping[str, int] | None = None) -> dict[str, int]:
    """Visits, exits, ring offers and answers of `steps`, added to `into`; at most MAX_COUNTERS_PER_CALL names (a
    state token carries this between events)."""
    counts = dict(into or {})

    def add(name: str) -> None:
        if name in counts or len(counts) < MAX_COUNTERS_PER_CALL:
            counts[name] = counts.get(name, 0) + 1

    for step in steps:
        if step.outcome is None:
            add(f"v#{step.element_id}")
        if step.exit is not None:
            add(f"x#{step.element_id}#{step.exit}")
        if step.action is not None and step.action.type == "ring":
            add(f"o#{step.element_id}")
        if step.outcome == "answered":
            add(f"a#{step.element_id}")
    return counts


def _routing_counters(call: CallRecord, tally: Mapping[str, int], result: str | None) -> dict[str, int]:
    counts: Counter[str] = Counter({"calls": 1, f"r#{result}": 1})
    counts.update(tally)
    if call.answered_at is not None:
        wait = max(0, round((call.answered_at - call.state.call.started_at).total_seconds()))
        for step in call.trace:
            if step.outcome == "answered":
                counts[f"w#{step.element_id}"] += wait
    ended_at = call.state.result_element or (call.trace[-1].element_id if call.trace else None)
    if ended_at:
        counts[f"e#{ended_at}"] += 1
    return dict(list(counts.items())[:MAX_COUNTERS_PER_CALL])


# ------------------------------------------------------------------------------------------------ the report


class RingStats(LazyModel):
    offered: int = Field(description="Times the element rang somebody")
    answered: int
    answer_rate: float | None = Field(description="answered / offered; null when never offered")
    average_wait_seconds: float | None = Field(description="From the call's start to the answer; null: no answers")


class ElementStats(LazyModel):
    element_id: str
    visits: int = Field(description="Times calls entered the element")
    exits: dict[str, int] = Field(description="Exit → times taken")
    ended_here: int = Field(description="Calls whose route ended at this element (answered here, voicemail, hangup…)")
    ring: RingStats | None = Field(description="For elements that ring (subscriber, group, external number…)")


class DayStats(LazyModel):
    date: date
    calls: int
    results: dict[str, int]


class ScenarioStats(LazyModel):
    """Chart-friendly: totals, one entry per element, and one point per day (days without calls included)."""

    scenario_id: str
    since: date
    until: date = Field(description="Inclusive")
    calls: int = Field(description="Calls whose routing ended in the period (by start day, UTC)")
    results: dict[str, int] = Field(description="connected (answered), missed, voicemail, …; completed ⊆ connected")
    answer_rate: float | None
    average_wait_seconds: float | None = Field(description="Average wait before an answer, over answered calls")
    average_talk_seconds: float | None = Field(description="Over completed calls")
    elements: list[ElementStats]
    days: list[DayStats]


class CounterSource(Protocol):
    def read_call_counters(self, tenant_id: str, scenario_id: str, first: date, last: date) -> list[DayCounters]: ...

    def get_scenario(self, tenant_id: str, scenario_id: str) -> object: ...


_EARLY = date.min + timedelta(days=DEFAULT_STATS_DAYS)


def stats_period(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """Inclusive days; default the last DEFAULT_STATS_DAYS days; at most MAX_STATS_DAYS."""
    last = until or today
    default_first = last - timedelta(days=DEFAULT_STATS_DAYS - 1) if last > _EARLY else date.min
    first = since or default_first
    if first > last:
        raise InvalidInput(
            "`since` must not be after `until`",
            [{"loc": ["query", "since"], "msg": "must not be after until", "type": "range"}],
        )
    if (last - first).days >= MAX_STATS_DAYS:
        raise InvalidInput(
            f"the period is at most {MAX_STATS_DAYS} days",
            [{"loc": ["query", "since"], "msg": f"at most {MAX_STATS_DAYS} days before until", "type": "range"}],
        )
    return first, last


def scenario_stats(
    source: CounterSource, tenant_id: str, scenario_id: str, since: date | None, until: date | None, now: datetime
) -> ScenarioStats:
    first, last = stats_period(since, until, now.astimezone(UTC).date())
    source.get_scenario(tenant_id, scenario_id)  # another tenant's or a missing scenario is 404
    per_day = {day.day: day.values for day in source.read_call_counters(tenant_id, scenario_id, first, last)}
    total: Counter[str] = Counter()
    for values in per_day.values():
        total.update(values)
    results = {name[2:]: count for name, count in total.items() if name.startswith("r#")}
    answered = results.get("connected", 0)
    waited = sum(count for name, count in total.items() if name.startswith("w#"))
    return ScenarioStats(
        scenario_id=scenario_id,
        since=first,
        until=last,
        calls=total["calls"],
        results=results,
        answer_rate=_ratio(answered, total["calls"]),
        average_wait_seconds=_ratio(waited, answered),
        average_talk_seconds=_ratio(total["talk_seconds"], results.get(COMPLETED, 0)),
        elements=_elements(total),
        days=[_day(first + timedelta(days=i), per_day) for i in range((last - first).days + 1)],
    )


def _elements(total: Counter[str]) -> list[ElementStats]:
    ids = sorted({name.split("#", 2)[1] for name in total if name[:2] in ("v#", "x#", "o#", "e#", "a#")})
    elements = []
    for element in ids:
        exits = {name.split("#", 2)[2]: count for name, count in total.items() if name.startswith(f"x#{element}#")}
        offered, answered = total[f"o#{element}"], total[f"a#{element}"]
        ring = None
        if offered or answered:
            ring = RingStats(
                offered=offered,
                answered=answered,
                answer_rate=_ratio(answered, offered),
                average_wait_seconds=_ratio(total[f"w#{element}"], answered),
            )
        elements.append(
            ElementStats(
                element_id=element,
                visits=total[f"v#{element}"],
                exits=dict(sorted(exits.items())),
                ended_here=total[f"e#{element}"],
                ring=ring,
            )
        )
    return elements


def _day(day: date, per_day: dict[date, dict[str, int]]) -> DayStats:
    values = per_day.get(day, {})
    results = {name[2:]: count for name, count in values.items() if name.startswith("r#")}
    return DayStats(date=day, calls=values.get("calls", 0), results=results)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None

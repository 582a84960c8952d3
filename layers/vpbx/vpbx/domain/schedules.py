"""Schedules: weekly hours in a time zone, a production calendar, date overrides, and "is it open at T, and why".

Rules, in the order they apply to a local date:
1. an override for the date defines it completely (closed, open all day, or its own hours);
2. a holiday of the calendar is closed;
3. a transferred working day (a weekend day made a working day) takes the weekly hours of the day it works as;
4. a short pre-holiday day loses `short_day_minutes` from the end of its hours (see vpbx.domain.calendar);
5. otherwise the weekly hours of the weekday.
An interval may cross midnight (`22:00-06:00`): it belongs to the day it starts on, so its early-morning part is open
even when the next date is a holiday, but not on a date with an override (which defines that date completely).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, StringConstraints, field_validator, model_validator

from vpbx.domain.base import LazyModel, Name, ResourceId, StrictModel
from vpbx.domain.calendar import calendar_day

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INTERVAL_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
Interval = Annotated[str, StringConstraints(pattern=INTERVAL_PATTERN)]
"""`HH:MM-HH:MM`, end exclusive; `24:00` closes at midnight; an end before the start crosses midnight."""

DAY_MINUTES = 24 * 60
DEFAULT_SHORT_DAY_MINUTES = 60
StatusReason = Literal["weekly_hours", "override", "holiday", "transferred_working_day", "short_day"]


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def interval_span(text: str) -> tuple[int, int]:
    """Minutes from the start of its day: (start, end), end > start; an interval crossing midnight ends after 1440."""
    start, end = (_minutes(part) for part in text.split("-"))
    return start, end if end > start else end + DAY_MINUTES


def _format_span(start: int, end: int) -> str:
    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return f"{clock(start)}-{clock(end if end <= DAY_MINUTES else end - DAY_MINUTES)}"


def _shortened(spans: list[tuple[int, int]], minutes: int) -> list[tuple[int, int]]:
    """The spans with `minutes` taken off the end of the day's working time."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans, reverse=True):
        cut = min(minutes, end - start)
        minutes -= cut
        if end - cut > start:
            kept.append((start, end - cut))
    return sorted(kept)


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _check_intervals(intervals: Iterable[str]) -> None:
    for text in intervals:
        start, end = text.split("-")
        if start == end:
            raise ValueError(f"interval {text!r} is empty (start equals end); use 00:00-24:00 for a whole day")


class HolidayCalendar(StrictModel):
    """Public holidays of a country (ISO 3166-1 alpha-2) and optional subdivision, from the `holidays` package;
    also its transferred working days and (where labour law has them: RU) short pre-holiday days."""

    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    subdivision: str | None = Field(default=None, max_length=10)
    short_day_minutes: int = Field(
        default=DEFAULT_SHORT_DAY_MINUTES,
        ge=0,
        le=DAY_MINUTES,
        description="How much shorter a pre-holiday day is (RU: Labor Code art. 95, one hour); 0 keeps full days",
    )

    @model_validator(mode="after")
    def _known_country(self) -> "HolidayCalendar":
        import holidays  # imported when used: ~30 ms of every cold start otherwise

        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"no holiday calendar for country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(f"unknown subdivision {self.subdivision!r} for {self.country}")
        return self


class DateOverride(StrictModel):
    """A specific date that is closed all day, or open (all day, or with its own hours)."""

    date: date
    open: bool
    hours: list[Interval] = Field(default_factory=list, max_length=8)
    note: str | None = Field(default=None, max_length=200)

    @field_validator("hours")
    @classmethod
    def _non_empty_hours(cls, value: list[str]) -> list[str]:
        _check_intervals(value)
        return value


class ScheduleStatus(LazyModel):
    """Whether a schedule is open at an instant, and why."""

    open: bool
    reason: StatusReason
    detail: str = Field(description="In words: the hours, holiday or override that decided")
    local_time: datetime = Field(description="The instant in the schedule's time zone")


@dataclass(frozen=True, slots=True)
class _DayPlan:
    spans: list[tuple[int, int]]
    reason: StatusReason
    detail: str


class Schedule(StrictModel):
    id: ResourceId
    name: Name
    timezone: str = Field(max_length=64)
    weekly: dict[Weekday, list[Interval]] = Field(default_factory=dict)
    holidays: HolidayCalendar | None = None
    overrides: list[DateOverride] = Field(default_factory=list, max_length=366)

    @field_validator("timezone")
    @classmethod
    def _iana_timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value

    @field_validator("weekly")
    @classmethod
    def _bounded_week(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if any(len(intervals) > 8 for intervals in value.values()):
            raise ValueError("at most 8 intervals per day")
        for intervals in value.values():
            _check_intervals(intervals)
        return value

    def is_open(self, at: datetime) -> bool:
        """Whether the schedule is open at the instant `at` (timezone-aware; naive means UTC)."""
        return self.status(at).open

    def status(self, at: datetime) -> ScheduleStatus:
        local = _as_aware(at).astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        today = self._plan(local.date())
        if any(start <= minute < end for start, end in today.spans):
            return ScheduleStatus(open=True, reason=today.reason, detail=today.detail, local_time=local)
        if today.reason != "override" and local.date() > date.min:
            yesterday = self._plan(local.date() - timedelta(days=1))
            if any(start <= minute + DAY_MINUTES < end for start, end in yesterday.spans):
                detail = f"{yesterday.detail} (from the day before, past midnight)"
                return ScheduleStatus(open=True, reason=yesterday.reason, detail=detail, local_time=local)
        return ScheduleStatus(open=False, reason=today.reason, detail=today.detail, local_time=local)

    def is_holiday(self, day: date) -> bool:
        if self.holidays is None:
            return False
        return calendar_day(self.holidays.country, self.holidays.subdivision, day).holiday is not None

    def _plan(self, day: date) -> _DayPlan:
        for override in self.overrides:
            if override.date == day:
                return _override_plan(override)
        weekday = day
        reason: StatusReason = "weekly_hours"
        notes: list[str] = []
        short = False
        if self.holidays is not None:
            facts = calendar_day(self.holidays.country, self.holidays.subdivision, day)
            if facts.holiday is not None:
                return _DayPlan([], "holiday", f"holiday: {facts.holiday}")
            if facts.works_as is not None:
                weekday, reason = facts.works_as, "transferred_working_day"
                notes.append(f"transferred working day, works as {facts.works_as.isoformat()}")
            short = facts.short and self.holidays.short_day_minutes > 0
        name = WEEKDAYS[weekday.weekday()]
        spans = [interval_span(text) for text in self.weekly.get(name, [])]
        if short and spans and self.holidays is not None:
            spans = _shortened(spans, self.holidays.short_day_minutes)
            reason = "short_day" if reason == "weekly_hours" else reason
            notes.append(f"pre-holiday day, {self.holidays.short_day_minutes} min shorter")
        hours = ", ".join(_format_span(*span) for span in spans) or "closed"
        return _DayPlan(spans, reason, "; ".join([f"{name} hours {hours}", *notes]))


def _override_plan(override: DateOverride) -> _DayPlan:
    note = f" ({override.note})" if override.note else ""
    if not override.open:
        return _DayPlan([], "override", f"override {override.date.isoformat()}: closed{note}")
    spans = [interval_span(text) for text in override.hours] or [(0, DAY_MINUTES)]
    hours = ", ".join(_format_span(*span) for span in spans)
    return _DayPlan(spans, "override", f"override {override.date.isoformat()}: open {hours}{note}")


def _as_aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))

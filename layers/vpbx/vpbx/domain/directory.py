"""The tenant's directory: subscribers, schedules and caller lists, and the rules that read them."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, StringConstraints, field_validator, model_validator

from vpbx.domain.base import Extension, Name, ResourceId, StrictModel
from vpbx.domain.phone import (
    DIAL_DELAY_SECONDS,
    InvalidPhoneNumber,
    dial_delay_for_target,
    is_sip_uri,
    normalize_e164,
    number_facts,
)

if TYPE_CHECKING:
    from holidays import HolidayBase

SubscriberKind = Literal["internal", "external", "mobile"]


class Subscriber(StrictModel):
    """An employee reachable by a short extension.

    `internal` rings a SIP device (`sip_uri` optional: the switch derives it from the tenant's domain when absent);
    `external` and `mobile` forward to `target`, an E.164 number or a SIP URI.
    """

    extension: Extension
    name: Name
    kind: SubscriberKind = "internal"
    target: str | None = Field(default=None, max_length=256)
    sip_uri: str | None = Field(default=None, max_length=256)
    dial_delay_seconds: int | None = Field(default=None, ge=0, le=120)
    enabled: bool = True

    @field_validator("target")
    @classmethod
    def _target_is_number_or_uri(cls, value: str | None) -> str | None:
        if value is None or is_sip_uri(value):
            return value
        try:
            return normalize_e164(value)
        except InvalidPhoneNumber as exc:
            raise ValueError(f"target must be an E.164 number or a sip: URI ({exc})") from None

    @field_validator("sip_uri")
    @classmethod
    def _sip_uri_shape(cls, value: str | None) -> str | None:
        if value is not None and not is_sip_uri(value):
            raise ValueError("sip_uri must look like sip:user@host")
        return value

    @model_validator(mode="after")
    def _target_matches_kind(self) -> "Subscriber":
        if self.kind in ("external", "mobile") and not self.target:
            raise ValueError(f"a {self.kind} subscriber needs a target (E.164 number or SIP URI)")
        if self.kind == "internal" and self.target:
            raise ValueError("an internal subscriber rings its SIP device; use sip_uri, not target")
        return self

    @property
    def dial_delay(self) -> int:
        """Seconds the network needs before the target rings; added to ring timeouts."""
        if self.dial_delay_seconds is not None:
            return self.dial_delay_seconds
        if self.kind == "internal":
            return DIAL_DELAY_SECONDS["internal"]
        if self.kind == "mobile" and self.target and not is_sip_uri(self.target):
            return max(DIAL_DELAY_SECONDS["mobile"], dial_delay_for_target(self.target))
        return dial_delay_for_target(self.target)


# ---------------------------------------------------------------------------------------------------- schedules

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$")]
"""`HH:MM-HH:MM`, end exclusive; `24:00` closes at midnight."""


def _parse_interval(text: str) -> tuple[time, time | None]:
    start, end = text.split("-")
    end_time = None if end == "24:00" else time.fromisoformat(end)
    return time.fromisoformat(start), end_time


def _within(intervals: list[str], moment: time) -> bool:
    for text in intervals:
        start, end = _parse_interval(text)
        if start <= moment and (end is None or moment < end):
            return True
    return False


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


class HolidayCalendar(StrictModel):
    """Public holidays of a country (ISO 3166-1 alpha-2) and optional subdivision, from the `holidays` package."""

    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    subdivision: str | None = Field(default=None, max_length=10)

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
    """A specific date that is closed all day, or open with its own hours (e.g. a short pre-holiday day)."""

    date: date
    open: bool
    hours: list[Interval] = Field(default_factory=list, max_length=8)
    note: str | None = Field(default=None, max_length=200)


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
        return value

    def is_open(self, at: datetime) -> bool:
        """Whether the schedule is open at the instant `at` (timezone-aware; naive means UTC)."""
        local = _as_aware(at).astimezone(ZoneInfo(self.timezone))
        day = local.date()
        for override in self.overrides:
            if override.date == day:
                return override.open and (not override.hours or _within(override.hours, local.time()))
        if self.is_holiday(day):
            return False
        return _within(self.weekly.get(WEEKDAYS[local.weekday()], []), local.time())

    def is_holiday(self, day: date) -> bool:
        if self.holidays is None:
            return False
        return day in _holiday_calendar(self.holidays.country, self.holidays.subdivision, day.year)


@lru_cache(maxsize=256)
def _holiday_calendar(country: str, subdivision: str | None, year: int) -> "HolidayBase":
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision, years=year)


def _as_aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))


# ---------------------------------------------------------------------------------------------------- caller lists

PatternKind = Literal["exact", "prefix", "mask", "country", "region", "operator"]


class CallerPattern(StrictModel):
    """One rule of a caller list.

    - `exact`: an E.164 number; `prefix`: `+` and digits the number starts with;
    - `mask`: `+` then digits and `?`/`X` wildcards (one digit each), matched against the whole number;
    - `country`: ISO region code of the number ("RU"); `region`: geographic description ("Moscow");
    - `operator`: carrier name ("MTS"), both from phonenumbers metadata, case-insensitive.
    """

    kind: PatternKind
    value: str = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _value_fits_kind(self) -> "CallerPattern":
        checks = {
            "exact": r"^\+[1-9][0-9]{1,14}$",
            "prefix": r"^\+[0-9]{1,15}$",
            "mask": r"^\+[0-9?Xx]{1,15}$",
            "country": r"^[A-Z]{2}$",
        }
        pattern = checks.get(self.kind)
        if pattern and not re.match(pattern, self.value):
            raise ValueError(f"{self.value!r} is not a valid {self.kind} pattern")
        return self

    def matches(self, e164: str) -> bool:
        if self.kind == "exact":
            return e164 == self.value
        if self.kind == "prefix":
            return e164.startswith(self.value)
        if self.kind == "mask":
            return len(e164) == len(self.value) and all(
                m in "?Xx" or m == c for m, c in zip(self.value, e164, strict=True)
            )
        facts = number_facts(e164)
        if self.kind == "country":
            return facts.region == self.value
        if self.kind == "region":
            return facts.description.casefold() == self.value.casefold()
        return bool(facts.operator) and facts.operator.casefold() == self.value.casefold()


class CallerList(StrictModel):
    id: ResourceId
    name: Name
    patterns: list[CallerPattern] = Field(default_factory=list, max_length=10_000)

    def matches(self, caller: str | None) -> bool:
        """Whether the caller's number matches any pattern; withheld or invalid numbers never match."""
        if not caller:
            return False
        try:
            e164 = normalize_e164(caller)
        except InvalidPhoneNumber:
            return False
        return any(pattern.matches(e164) for pattern in self.patterns)


# ---------------------------------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class Directory:
    """What a scenario refers to, looked up by key. Immutable, so a compiled scenario may share it."""

    subscribers: Mapping[str, Subscriber] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    caller_lists: Mapping[str, CallerList] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        subscribers: list[Subscriber] | None = None,
        schedules: list[Schedule] | None = None,
        caller_lists: list[CallerList] | None = None,
    ) -> "Directory":
        return cls(
            subscribers={s.extension: s for s in subscribers or []},
            schedules={s.id: s for s in schedules or []},
            caller_lists={c.id: c for c in caller_lists or []},
        )

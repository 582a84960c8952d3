"""Production calendars: which days are holidays, which weekend days are working days, which days are short.

Everything comes from the `holidays` package; the two rules on top of it are:

- A transferred working day (a weekend day the government made a working day, in `weekend_workdays`) works as the
  day whose day off it gave: the date labelled "Day off (substituted from <it>)". It takes that day's weekly hours,
  and is short when that day would be. Russia 2025: Saturday 2025-11-01 works as Monday 2025-11-03.
- A short day (Russia, Labor Code art. 95): a working day whose next calendar day is a public holiday is one hour
  shorter (the schedule sets how much). A day off moved by decree ("Day off (substituted …)") or a holiday observed on
  another date is not a public holiday for this rule, so 2025-12-30 (before the moved day off of 12-31) is a full day,
  as the official calendar has it.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from holidays import HolidayBase

SHORT_DAY_COUNTRIES = frozenset({"RU"})
"""Countries whose labour law shortens the working day before a public holiday."""


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """What the calendar says of one date."""

    holiday: str | None = None  # the day is not worked: the holiday's name (or the moved day off's label)
    works_as: date | None = None  # a transferred working day: the date whose weekly hours it takes
    short: bool = False  # a pre-holiday day, shortened


def calendar_day(country: str, subdivision: str | None, day: date) -> CalendarDay:
    calendar = _calendar(country, subdivision, day.year)
    names = calendar.get_list(day)
    if names:
        return CalendarDay(holiday="; ".join(names))
    works_as = _works_as(country, subdivision, day) if day in calendar.weekend_workdays else None
    eve_of = works_as or day
    short = (
        country in SHORT_DAY_COUNTRIES
        and eve_of < date.max
        and _is_public_holiday(country, subdivision, eve_of + timedelta(days=1))
    )
    return CalendarDay(works_as=works_as, short=short)


def _works_as(country: str, subdivision: str | None, workday: date) -> date | None:
    """The day off that `workday` gave, found by its "substituted from" label (same or next year)."""
    for year in (workday.year, workday.year + 1):
        calendar = _calendar(country, subdivision, year)
        label = calendar.tr(calendar.substituted_label) % workday.strftime(
            calendar.tr(calendar.substituted_date_format)
        )
        for day, name in calendar.items():
            if label in name.split("; "):
                return day
    return None


def _is_public_holiday(country: str, subdivision: str | None, day: date) -> bool:
    calendar = _calendar(country, subdivision, day.year)
    moved = _moved_label_patterns(country, subdivision, day.year)
    return any(not any(pattern.fullmatch(name) for pattern in moved) for name in calendar.get_list(day))


@lru_cache(maxsize=64)
def _moved_label_patterns(country: str, subdivision: str | None, year: int) -> tuple[re.Pattern[str], ...]:
    calendar = _calendar(country, subdivision, year)
    labels = [calendar.tr(calendar.substituted_label), calendar.tr(getattr(calendar, "observed_label", "%s"))]
    return tuple(re.compile(re.escape(label).replace("%s", ".+")) for label in labels if label != "%s")


@lru_cache(maxsize=256)
def _calendar(country: str, subdivision: str | None, year: int) -> "HolidayBase":
    import holidays  # imported when used: ~30 ms of every cold start otherwise

    return holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")

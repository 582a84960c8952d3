"""Schedules: overnight hours, the Russian production calendar (transferred working days, short pre-holiday days),
overrides, and the reason a schedule gives for being open or closed."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError
from vpbx.domain.base import Instant
from vpbx.domain.calendar import calendar_day
from vpbx.domain.schedules import DateOverride, HolidayCalendar, Schedule

MSK = ZoneInfo("Europe/Moscow")
WORKDAYS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}

# The official Russian production calendars (Government decrees on moved days off; Labor Code art. 95).
RU_SHORT_DAYS = {
    2025: {date(2025, 3, 7), date(2025, 4, 30), date(2025, 6, 11), date(2025, 11, 1)},
    2026: {date(2026, 4, 30), date(2026, 5, 8), date(2026, 6, 11), date(2026, 11, 3)},
}


def office(**changes: object) -> Schedule:
    fields: dict[str, object] = {
        "id": "office",
        "name": "Office",
        "timezone": "Europe/Moscow",
        "weekly": WORKDAYS,
        "holidays": {"country": "RU"},
    }
    return Schedule.model_validate(fields | changes)


def msk(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def test_short_days_match_the_official_russian_calendar() -> None:
    for year, expected in RU_SHORT_DAYS.items():
        days = [date(year, 1, 1) + timedelta(days=n) for n in range(365)]
        facts = {day: calendar_day("RU", None, day) for day in days}
        five_day_week = [day for day in days if day.weekday() < 5 or facts[day].works_as is not None]
        short = {day for day in five_day_week if facts[day].short}
        assert short == expected, year


@pytest.mark.parametrize("day", sorted(RU_SHORT_DAYS[2025] | RU_SHORT_DAYS[2026]))
def test_a_short_day_closes_an_hour_early(day: date) -> None:
    schedule = office()
    assert schedule.is_open(msk(day.year, day.month, day.day, 16, 59))
    status = schedule.status(msk(day.year, day.month, day.day, 17, 0))
    assert not status.open
    assert status.reason in ("short_day", "transferred_working_day")
    assert "60 min shorter" in status.detail


@pytest.mark.parametrize(
    "day",
    [date(2025, 12, 30), date(2025, 5, 7), date(2026, 2, 20), date(2026, 3, 6), date(2026, 12, 30)],
    ids=str,
)
def test_the_eve_of_a_moved_day_off_or_a_weekend_is_a_full_day(day: date) -> None:
    assert office().is_open(msk(day.year, day.month, day.day, 17, 30))


def test_a_saturday_shop_has_its_own_short_eve() -> None:
    schedule = office(weekly=WORKDAYS | {"sat": ["10:00-16:00"]})
    assert not schedule.is_open(msk(2025, 2, 22, 15, 30))  # Saturday before Defender of the Fatherland Day


def test_a_transferred_working_saturday_takes_the_hours_of_the_day_it_works_as() -> None:
    schedule = office(weekly=WORKDAYS | {"mon": ["10:00-19:00"]})
    status = schedule.status(msk(2025, 11, 1, 10, 30))  # Saturday, works as Monday 2025-11-03
    assert status.open
    assert status.reason == "transferred_working_day"
    assert "2025-11-03" in status.detail
    assert not schedule.is_open(msk(2025, 11, 1, 9, 30))  # Monday's hours, not Friday's
    assert not schedule.is_open(msk(2025, 11, 1, 18, 0))  # and short: Monday 11-03 is the eve of Unity Day


def test_the_day_off_it_gave_is_closed_and_named() -> None:
    status = office().status(msk(2025, 11, 3, 12, 0))
    assert not status.open
    assert status.reason == "holiday"
    assert "11/01/2025" in status.detail


def test_a_holiday_is_closed_with_its_name() -> None:
    status = office().status(msk(2026, 11, 4, 10, 0))
    assert (status.open, status.reason) == (False, "holiday")
    assert "Unity Day" in status.detail


def test_weekly_hours_give_the_reason_both_ways() -> None:
    schedule = office()
    assert schedule.status(msk(2026, 11, 23, 10, 0)).model_dump(include={"open", "reason"}) == {
        "open": True,
        "reason": "weekly_hours",
    }
    closed = schedule.status(msk(2026, 11, 23, 20, 0))
    assert (closed.open, closed.reason) == (False, "weekly_hours")
    assert "09:00-18:00" in closed.detail


def test_short_day_minutes_is_a_schedule_option() -> None:
    half_hour = office(holidays={"country": "RU", "short_day_minutes": 30})
    assert half_hour.is_open(msk(2025, 3, 7, 17, 29))
    assert not half_hour.is_open(msk(2025, 3, 7, 17, 30))
    full = office(holidays={"country": "RU", "short_day_minutes": 0})
    assert full.is_open(msk(2025, 3, 7, 17, 59))


def test_shortening_takes_time_off_the_end_across_intervals() -> None:
    schedule = office(weekly={"fri": ["09:00-13:00", "13:30-14:00"]})
    assert schedule.is_open(msk(2025, 3, 7, 12, 29))
    assert not schedule.is_open(msk(2025, 3, 7, 12, 30))
    assert not schedule.is_open(msk(2025, 3, 7, 13, 45))


def test_no_short_days_where_labour_law_has_none() -> None:
    schedule = office(timezone="Europe/Berlin", holidays={"country": "DE"})
    assert schedule.is_open(datetime(2025, 12, 23, 17, 30, tzinfo=ZoneInfo("Europe/Berlin")))  # eve of Christmas Eve
    assert not schedule.is_open(datetime(2025, 12, 25, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")))


def test_an_interval_crossing_midnight_is_open_on_both_sides() -> None:
    night = office(weekly={"mon": ["22:00-06:00"]}, holidays=None)
    assert not night.is_open(msk(2026, 11, 23, 21, 59))
    assert night.is_open(msk(2026, 11, 23, 22, 0))
    assert night.is_open(msk(2026, 11, 23, 23, 59))
    tail = night.status(msk(2026, 11, 24, 5, 59))  # Tuesday morning: Monday's shift
    assert tail.open
    assert "day before" in tail.detail
    assert not night.is_open(msk(2026, 11, 24, 6, 0))
    assert not night.is_open(msk(2026, 11, 24, 22, 30))  # Tuesday has no shift of its own


def test_a_night_shift_runs_into_a_holiday_but_not_into_an_overridden_date() -> None:
    night = office(weekly={"tue": ["22:00-06:00"], "wed": ["22:00-06:00"]})
    assert night.is_open(msk(2026, 11, 4, 3, 0))  # Tuesday 11-03's shift ends on Unity Day morning
    assert not night.is_open(msk(2026, 11, 4, 22, 30))  # no shift starts on the holiday...
    assert not night.is_open(msk(2026, 11, 5, 3, 0))  # ...so none runs into Thursday
    closed = night.model_copy(update={"overrides": [DateOverride(date=date(2026, 11, 4), open=False)]})
    assert not closed.is_open(msk(2026, 11, 4, 3, 0))  # an override defines its date completely


def test_an_override_wins_over_holidays_and_short_days() -> None:
    schedule = office(
        overrides=[
            {"date": "2026-11-04", "open": True, "hours": ["10:00-14:00"], "note": "duty day"},
            {"date": "2025-03-07", "open": True},
        ]
    )
    status = schedule.status(msk(2026, 11, 4, 11, 0))
    assert (status.open, status.reason) == (True, "override")
    assert "duty day" in status.detail
    assert schedule.is_open(msk(2025, 3, 7, 23, 0))  # open all day


def test_an_empty_interval_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="00:00-24:00"):
        office(weekly={"mon": ["09:00-09:00"]})


def test_the_calendar_has_no_overflow_at_the_edges_of_time() -> None:
    schedule = office(holidays={"country": "RU"})
    assert calendar_day("RU", None, date.max).short is False
    assert schedule.status(datetime(1, 1, 1, 12, 0, tzinfo=MSK)).reason in ("weekly_hours", "holiday")


def test_holiday_calendar_rejects_a_negative_shortening() -> None:
    with pytest.raises(ValidationError):
        HolidayCalendar(country="RU", short_day_minutes=-1)


@pytest.mark.parametrize("value", [0, 1.5, "0.5", "1700000000"])
def test_dates_and_instants_are_iso_text_never_unix_times(value: object) -> None:
    with pytest.raises(ValidationError, match="ISO-8601"):
        DateOverride.model_validate({"date": value, "open": False})
    with pytest.raises(ValidationError, match="ISO-8601"):
        TypeAdapter(Instant).validate_python(value)

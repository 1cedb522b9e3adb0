"""Business-time arithmetic: add working minutes to an instant, count working minutes
between two instants. Pure functions over a BusinessCalendar (or None = 24x7)."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from .models import BusinessCalendar

# A deadline further than this many days of searching means a broken calendar.
MAX_DAYS = 3 * 366


@lru_cache(maxsize=64)
def _holidays_for(country: str, year: int):
    return holidays.country_holidays(country, years=year)


def is_working_day(day: date, calendar: BusinessCalendar) -> bool:
    if calendar.holiday_country:
        table = _holidays_for(calendar.holiday_country, day.year)
        if day in table:
            return False
        if day in getattr(table, "weekend_workdays", ()):
            return True
    return day.weekday() in calendar.working_weekdays


def _windows(start: datetime, calendar: BusinessCalendar, until: datetime | None = None):
    """Working windows [open, close) in UTC-aware datetimes, from the day of ``start`` to
    the day of ``until`` (when given), else for at most MAX_DAYS days."""
    tz = zoneinfo.ZoneInfo(calendar.timezone)
    day = start.astimezone(tz).date()
    last = day + timedelta(days=MAX_DAYS - 1) if until is None else until.astimezone(tz).date()
    opens, closes = _as_time(calendar.workday_start), _as_time(calendar.workday_end)
    while day <= last:
        if is_working_day(day, calendar):
            # In UTC: arithmetic on two datetimes of the same zone is wall-clock time, which
            # would count a DST gap inside working hours as worked.
            yield (
                datetime.combine(day, opens, tzinfo=tz).astimezone(UTC),
                datetime.combine(day, closes, tzinfo=tz).astimezone(UTC),
            )
        day += timedelta(days=1)
    if until is None:
        raise ValueError(f"calendar {calendar} has no working time within {MAX_DAYS} days")


def _as_time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def add_business_minutes(
    start: datetime, minutes: float, calendar: BusinessCalendar | None
) -> datetime:
    """The instant ``minutes`` of working time after ``start``."""
    if calendar is None or calendar.is_24x7:
        return start + timedelta(minutes=minutes)
    remaining = timedelta(minutes=minutes)
    for opens, closes in _windows(start, calendar):
        if closes <= start:
            continue
        begin = max(opens, start)
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable")  # pragma: no cover


def business_minutes_between(
    start: datetime, end: datetime, calendar: BusinessCalendar | None
) -> float:
    """Working minutes in [start, end) (0 when end is not after start)."""
    if end <= start:
        return 0.0
    if calendar is None or calendar.is_24x7:
        return (end - start).total_seconds() / 60
    total = timedelta(0)
    # Bounded by ``end``, not MAX_DAYS: a long span (a pause of years) is counted, not refused.
    for opens, closes in _windows(start, calendar, until=end):
        if opens >= end:
            break
        begin, finish = max(opens, start), min(closes, end)
        if finish > begin:
            total += finish - begin
    return total.total_seconds() / 60

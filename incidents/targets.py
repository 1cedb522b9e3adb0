"""Response and resolution targets of each incident level (seed 003 "事件分级").

P0 respond ≤ 5 min / resolve ≤ 1 h; P1 15 min / 4 h; P2 1 h / 1 working day; P3 1
working day / 1 week. Working days come from the partner's default business calendar
(``BusinessCalendar.is_partner_default``); without one, or with a 24x7 one, a working
day is 24 hours.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sla.calendar import add_business_minutes
from sla.models import BusinessCalendar

from .models import Level

WORKING_DAY = "working_day"
WEEK = timedelta(days=7)

# level -> (respond, resolve): a timedelta of wall-clock time, or WORKING_DAY.
TARGETS: dict[str, tuple] = {
    Level.P0: (timedelta(minutes=5), timedelta(hours=1)),
    Level.P1: (timedelta(minutes=15), timedelta(hours=4)),
    Level.P2: (timedelta(hours=1), WORKING_DAY),
    Level.P3: (WORKING_DAY, WEEK),
}


@dataclass(frozen=True)
class Due:
    respond: datetime
    resolve: datetime


def partner_calendar() -> BusinessCalendar | None:
    return BusinessCalendar.objects.filter(is_partner_default=True).first()


def _working_day_minutes(calendar: BusinessCalendar | None) -> float:
    if calendar is None or calendar.is_24x7:
        return 24 * 60
    start, end = calendar.workday_start, calendar.workday_end
    if isinstance(start, str):  # unsaved defaults
        from datetime import time

        start, end = time.fromisoformat(start), time.fromisoformat(end)
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def _add(start: datetime, target, calendar) -> datetime:
    if target == WORKING_DAY:
        return add_business_minutes(start, _working_day_minutes(calendar), calendar)
    return start + target


def due_times(level: str, start: datetime, calendar: BusinessCalendar | None = None) -> Due:
    calendar = calendar if calendar is not None else partner_calendar()
    respond, resolve = TARGETS[level]
    return Due(respond=_add(start, respond, calendar), resolve=_add(start, resolve, calendar))


def describe(target) -> str:
    """For pages: '5 min', '4 h', '1 working day', '1 week'."""
    from django.utils.translation import gettext

    if target == WORKING_DAY:
        return gettext("1 working day")
    if target == WEEK:
        return gettext("1 week")
    minutes = int(target.total_seconds() // 60)
    if minutes < 60:
        return gettext("%(n)d min") % {"n": minutes}
    return gettext("%(n)d h") % {"n": minutes // 60}


def propose_level(*, service_down: bool, core_affected: bool, degraded: bool) -> str:
    """Seed 003's triage decision tree."""
    if service_down:
        return Level.P0
    if core_affected:
        return Level.P1
    if degraded:
        return Level.P2
    return Level.P3

"""iCal feeds of on-call shifts (subscribe in a calendar app), via the icalendar package.

Calendar apps cannot sign in, so each feed URL carries a signed token naming what it shows
(a schedule, or one engineer's shifts); the token reveals nothing and cannot be forged.
"""

from datetime import timedelta

from django.core import signing
from django.utils import timezone
from icalendar import Calendar, Event

SALT = "spt-oncall-ical"
FEED_DAYS_BACK = 7
FEED_DAYS_AHEAD = 90


def feed_token(*, schedule_id: int, user_id: int | None = None) -> str:
    return signing.dumps({"s": schedule_id, "u": user_id}, salt=SALT, compress=True)


def read_token(token: str) -> dict | None:
    try:
        return signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None


def build_calendar(*, schedule, shifts, title: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//SPT Portal//on-call//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-timezone", schedule.timezone)
    stamp = timezone.now()
    for shift in shifts:
        event = Event()
        kind = "override" if shift.override else "rotation"
        event.add(
            "uid",
            f"oncall-{schedule.pk}-{shift.level}-{shift.user.pk}-{shift.start:%Y%m%dT%H%M%S}"
            f"-{kind}@spt-portal",
        )
        level = "primary" if shift.level == 1 else "secondary"
        event.add("summary", f"On call ({level}): {shift.user.get_full_name()}")
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("dtstamp", stamp)
        event.add("description", f"{schedule.name} · {level} · {kind}")
        calendar.add_component(event)
    return calendar.to_ical()


def window():
    now = timezone.now()
    return now - timedelta(days=FEED_DAYS_BACK), now + timedelta(days=FEED_DAYS_AHEAD)

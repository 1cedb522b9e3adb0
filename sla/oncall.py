"""Who is on call, for any instant; coverage gaps; shifts for calendars (iCal).

A layer's rotation counts shifts in the schedule's wall-clock time from its first
hand-over, so a daily shift hands over at the same local time every day. An explicit
shift (override) of a level wins over that level's rotation for its time range.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from .models import Level, OnCallLayer, OnCallSchedule, OnCallShift


@dataclass(frozen=True)
class Shift:
    user: object
    level: int
    start: datetime
    end: datetime
    override: bool


def default_schedule() -> OnCallSchedule | None:
    return OnCallSchedule.objects.filter(is_active=True).order_by("-is_default", "name").first()


def _layers(schedule: OnCallSchedule) -> list[OnCallLayer]:
    cached = getattr(schedule, "_layers_cache", None)
    if cached is None:
        cached = list(schedule.layers.prefetch_related("members__user"))
        schedule._layers_cache = cached
    return cached


def _rotation_shift(layer: OnCallLayer, tz, at: datetime) -> Shift | None:
    members = [m.user for m in layer.members.all() if m.user.is_active]
    if not members:
        return None
    start_local = datetime.combine(layer.rotation_start, layer.handover_time)
    at_local = at.astimezone(tz).replace(tzinfo=None)
    if at_local < start_local:
        return None
    length = timedelta(hours=layer.shift_hours)
    index = int((at_local - start_local) / length)
    begins = start_local + index * length
    return Shift(
        user=members[index % len(members)],
        level=layer.level,
        start=begins.replace(tzinfo=tz),
        end=(begins + length).replace(tzinfo=tz),
        override=False,
    )


def on_call(
    *, at: datetime | None = None, schedule: OnCallSchedule | None = None, overrides=None
) -> dict[int, Shift]:
    """The shift of each level (1 primary, 2 secondary) at ``at``; missing level = gap."""
    at = at or timezone.now()
    schedule = schedule or default_schedule()
    if schedule is None:
        return {}
    tz = zoneinfo.ZoneInfo(schedule.timezone)
    result: dict[int, Shift] = {}
    for layer in _layers(schedule):
        shift = _rotation_shift(layer, tz, at)
        if shift is not None:
            result[layer.level] = shift
    if overrides is None:
        overrides = OnCallShift.objects.filter(
            schedule=schedule, start_time__lte=at, end_time__gt=at
        ).select_related("user")
    for override in overrides:
        if override.start_time <= at < override.end_time and override.user.is_active:
            level = Level.PRIMARY if override.is_primary else Level.SECONDARY
            result[level] = Shift(
                override.user, level, override.start_time, override.end_time, True
            )
    return result


def primary_on_call(at: datetime | None = None):
    shift = on_call(at=at).get(Level.PRIMARY)
    return shift.user if shift else None


def on_call_users(at: datetime | None = None) -> list:
    """Primary first, then secondary (distinct)."""
    shifts = on_call(at=at)
    users = [shifts[level].user for level in sorted(shifts)]
    return list(dict.fromkeys(users))


def coverage_gaps(
    *, start: datetime | None = None, days: int = 14, step_minutes: int = 30, schedule=None
) -> list[tuple[datetime, datetime]]:
    """Time ranges in the next ``days`` with nobody on primary call (sampled)."""
    start = start or timezone.now()
    schedule = schedule or default_schedule()
    end = start + timedelta(days=days)
    if schedule is None:
        return [(start, end)]
    overrides = list(
        OnCallShift.objects.filter(
            schedule=schedule, end_time__gt=start, start_time__lt=end
        ).select_related("user")
    )
    gaps: list[tuple[datetime, datetime]] = []
    step = timedelta(minutes=step_minutes)
    at = start
    while at < end:
        covered = Level.PRIMARY in on_call(at=at, schedule=schedule, overrides=overrides)
        if not covered:
            if gaps and gaps[-1][1] == at:
                gaps[-1] = (gaps[-1][0], at + step)
            else:
                gaps.append((at, at + step))
        at += step
    return gaps


def shifts_between(
    *, schedule: OnCallSchedule, start: datetime, end: datetime, user=None
) -> list[Shift]:
    """Every shift (rotation and overrides) overlapping [start, end), for calendars.

    Rotation shifts are listed as scheduled; overrides are listed separately, flagged.
    """
    tz = zoneinfo.ZoneInfo(schedule.timezone)
    shifts: list[Shift] = []
    for layer in _layers(schedule):
        at = start
        seen = set()
        while at < end:
            shift = _rotation_shift(layer, tz, at)
            if shift is None:
                # Before the rotation starts: jump to its first hand-over.
                first = datetime.combine(layer.rotation_start, layer.handover_time, tzinfo=tz)
                if first >= end:
                    break
                at = first
                continue
            if shift.start not in seen:
                seen.add(shift.start)
                shifts.append(shift)
            at = shift.end
    overrides = OnCallShift.objects.filter(
        schedule=schedule, end_time__gt=start, start_time__lt=end
    ).select_related("user")
    for override in overrides:
        level = Level.PRIMARY if override.is_primary else Level.SECONDARY
        shifts.append(Shift(override.user, level, override.start_time, override.end_time, True))
    if user is not None:
        shifts = [s for s in shifts if s.user.pk == user.pk]
    return sorted(shifts, key=lambda s: (s.start, s.level))

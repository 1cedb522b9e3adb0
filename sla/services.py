"""SLA policy reads and writes, and deadline maths (pure: never imports tickets)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from .models import DEFAULT_TARGETS, Priority, SLAConfig, SLAPolicyVersion


class SLAError(ValueError):
    pass


@dataclass(frozen=True)
class Deadlines:
    first_response_due_at: datetime
    resolution_due_at: datetime


def current_policy() -> SLAPolicyVersion:
    """The policy version in force now (the newest); creates the seeds' defaults if none."""
    policy = SLAPolicyVersion.objects.order_by("-id").first()
    if policy is None:
        policy = sla_policy_create(
            targets={
                p: (response, resolution)
                for p, (response, resolution, *_) in DEFAULT_TARGETS.items()
            },
            descriptions={p: (en, zh) for p, (_r, _s, en, zh) in DEFAULT_TARGETS.items()},
            note="defaults from the seeds",
            actor=None,
        )
    return policy


@transaction.atomic
def sla_policy_create(*, targets, descriptions=None, note="", actor) -> SLAPolicyVersion:
    """Record a new policy version; ``targets`` maps every priority to (response, resolution)
    minutes, ``descriptions`` to (English, Chinese). Existing tickets keep their version."""
    missing = set(Priority.values) - {str(p) for p in targets}
    if missing:
        raise SLAError(f"targets missing for: {', '.join(sorted(missing))}")
    policy = SLAPolicyVersion.objects.create(created_by=actor, note=note)
    SLAConfig.objects.bulk_create(
        SLAConfig(
            policy=policy,
            priority=str(priority),
            response_minutes=response,
            resolution_minutes=resolution,
            description=(descriptions or {}).get(priority, ("", ""))[0],
            description_zh_hans=(descriptions or {}).get(priority, ("", ""))[1],
        )
        for priority, (response, resolution) in targets.items()
    )
    return policy


def target_for(policy: SLAPolicyVersion, priority: str) -> SLAConfig:
    for target in policy.targets.all():  # prefetch-friendly
        if target.priority == priority:
            return target
    raise SLAError(f"policy v{policy.pk} has no target for priority {priority!r}")


def deadlines_for(*, policy: SLAPolicyVersion, priority: str, opened_at: datetime) -> Deadlines:
    """Due times on the 24x7 calendar (business calendars and pauses come with the SLA issue)."""
    target = target_for(policy, priority)
    return Deadlines(
        first_response_due_at=opened_at + timedelta(minutes=target.response_minutes),
        resolution_due_at=opened_at + timedelta(minutes=target.resolution_minutes),
    )


class ClockState:
    """How one SLA clock stands, for display and filtering (icon + text, never colour only)."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"


# Less than this share of the target left means "at risk" (the SLA issue's definition).
AT_RISK_SHARE = 0.2


def clock_state(
    *,
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    stopped_at: datetime | None = None,
    paused: bool = False,
) -> tuple[str, timedelta]:
    """The state of a clock and the time left (negative when overdue).

    A stopped clock (the response was given, the ticket resolved) is met or breached for
    good; a paused one (waiting for the customer) shows paused.
    """
    if stopped_at is not None:
        return (
            ClockState.MET if stopped_at <= due_at else ClockState.BREACHED
        ), due_at - stopped_at
    left = due_at - now
    if paused:
        return ClockState.PAUSED, left
    if left < timedelta(0):
        return ClockState.BREACHED, left
    if left < (due_at - started_at) * AT_RISK_SHARE:
        return ClockState.AT_RISK, left
    return ClockState.ON_TRACK, left

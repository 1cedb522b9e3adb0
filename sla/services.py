"""SLA policy reads and writes, and deadline maths (pure: never imports tickets)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from spt_portal import config_cache

from .calendar import add_business_minutes
from .models import (
    DEFAULT_TARGETS,
    BusinessCalendar,
    Priority,
    SLAConfig,
    SLAPolicyVersion,
    TierCalendar,
)


class SLAError(ValueError):
    pass


@dataclass(frozen=True)
class Deadlines:
    first_response_due_at: datetime
    resolution_due_at: datetime
    # When less than AT_RISK_SHARE of each target is left (for the warning scan).
    first_response_at_risk_at: datetime
    resolution_at_risk_at: datetime


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
    # The policy documents show these targets: record their new version, by this actor.
    transaction.on_commit(lambda: _record_document_versions(actor))
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


def _record_document_versions(actor) -> None:
    from spt_portal.documents import record_versions

    record_versions(actor=actor)


# A version's targets never change once written (a change is a new version), so each
# process keeps them after the first read: one query less for every ticket opened. Keyed by
# id and creation time; cleared whenever a target row is saved (the signal below).
_TARGETS: dict[tuple, dict[str, SLAConfig]] = {}


def _targets_of(policy: SLAPolicyVersion) -> dict[str, SLAConfig]:
    prefetched = getattr(policy, "_prefetched_objects_cache", {}).get("targets")
    if prefetched is not None:
        return {target.priority: target for target in prefetched}
    key = (policy.pk, policy.__dict__.get("created_at"))  # never loads a deferred field
    targets = _TARGETS.get(key)
    if targets is None:
        targets = {target.priority: target for target in policy.targets.all()}
        if len(_TARGETS) > 64:
            _TARGETS.clear()
        _TARGETS[key] = targets
    return targets


def forget_targets(**kwargs) -> None:
    _TARGETS.clear()


def target_for(policy: SLAPolicyVersion, priority: str) -> SLAConfig:
    target = _targets_of(policy).get(priority)
    if target is None:
        raise SLAError(f"policy v{policy.pk} has no target for priority {priority!r}")
    return target


def deadlines_for(
    *,
    policy: SLAPolicyVersion,
    priority: str,
    opened_at: datetime,
    calendar: BusinessCalendar | None = None,
    paused_minutes: float = 0,
) -> Deadlines:
    """Due times for a ticket opened at ``opened_at``, on ``calendar`` (None: 24x7).

    Time paused while waiting for the customer extends the resolution deadline only (the
    first response is owed regardless), measured in the calendar's working minutes.
    """
    target = target_for(policy, priority)
    response, resolution = target.response_minutes, target.resolution_minutes
    return Deadlines(
        first_response_due_at=add_business_minutes(opened_at, response, calendar),
        resolution_due_at=add_business_minutes(opened_at, resolution + paused_minutes, calendar),
        first_response_at_risk_at=add_business_minutes(
            opened_at, response * (1 - AT_RISK_SHARE), calendar
        ),
        resolution_at_risk_at=add_business_minutes(
            opened_at, resolution * (1 - AT_RISK_SHARE) + paused_minutes, calendar
        ),
    )


def calendar_for_tier(service_tier: str | None) -> BusinessCalendar | None:
    """The calendar of a customer service tier; None (24x7) when none is configured."""
    if not service_tier:
        return None
    mapping = TierCalendar.objects.select_related("calendar").filter(service_tier=service_tier)
    entry = mapping.first()
    return entry.calendar if entry else None


def policy_and_calendar(
    service_tier: str | None,
) -> tuple[SLAPolicyVersion, BusinessCalendar | None]:
    """``current_policy()`` and ``calendar_for_tier()``, read when a ticket is opened: kept
    per process until a policy, target, calendar or tier mapping changes
    (spt_portal/config_cache.py; the signals are connected in apps.py)."""
    return config_cache.cached(
        "sla", service_tier or "", lambda: (current_policy(), calendar_for_tier(service_tier))
    )


def partner_calendar() -> BusinessCalendar | None:
    return BusinessCalendar.objects.filter(is_partner_default=True).first()


# Less than this share of the target left means "at risk" (the SLA issue's definition).
AT_RISK_SHARE = 0.2


class ClockState:
    """How one SLA clock stands, for display and filtering (icon + text, never colour only)."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"


def clock_state(
    *,
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    stopped_at: datetime | None = None,
    paused: bool = False,
    at_risk_at: datetime | None = None,
) -> tuple[str, timedelta]:
    """The state of a clock and the time left (negative when overdue).

    A stopped clock (the response was given, the ticket resolved) is met or breached for
    good; a paused one (waiting for the customer) shows paused. ``at_risk_at`` (computed on
    the business calendar) overrides the wall-clock 20 % rule.
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
    if at_risk_at is not None:
        if now >= at_risk_at:
            return ClockState.AT_RISK, left
    elif left < (due_at - started_at) * AT_RISK_SHARE:
        return ClockState.AT_RISK, left
    return ClockState.ON_TRACK, left

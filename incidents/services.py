"""Every write to an incident goes through here: pages, the admin, the API, alerts, jobs.

Each service is atomic, validates, saves with ``update_fields`` and writes the timeline
entry for its change. Paging and escalation live in ``paging.py``; the services call it.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sla.oncall import primary_on_call
from spt_portal import access

from . import targets, timeline
from .models import (
    OPEN_ALERT_STATUSES,
    POSTMORTEM_LEVELS,
    ROLE_FIELDS,
    TRANSITIONS,
    AlertLevel,
    AlertStatus,
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentTimelineEntry,
    Level,
    Role,
    Severity,
    TimelineKind,
)


class IncidentError(ValueError):
    """A domain error: shown as a form error or a 4xx JSON body."""


# Apps built on incidents (postmortems) add rules about closing and hear about status
# changes without this app importing them; each registers in its AppConfig.ready().
# A close check returns the reason closing is refused, or None; a listener is called
# inside the status change's transaction as listener(incident, old, new, actor).
CLOSE_CHECKS: list = []
STATUS_LISTENERS: list = []


def register_close_check(check) -> None:
    if check not in CLOSE_CHECKS:
        CLOSE_CHECKS.append(check)


def register_status_listener(listener) -> None:
    if listener not in STATUS_LISTENERS:
        STATUS_LISTENERS.append(listener)


# Seed 004: alert level -> incident level. P0 is only ever set by a person at triage.
ALERT_TO_INCIDENT_LEVEL = {
    AlertLevel.CRITICAL: Level.P1,
    AlertLevel.MAJOR: Level.P2,
    AlertLevel.HIGH: Level.P2,
}
LEVEL_TO_SEVERITY = {
    Level.P0: Severity.CRITICAL,
    Level.P1: Severity.HIGH,
    Level.P2: Severity.MEDIUM,
    Level.P3: Severity.LOW,
}
DETAIL_FIELDS = (
    "title",
    "description",
    "severity",
    "category",
    "subcategory",
    "service",
    "impact_analysis",
    "root_cause",
    "resolution_steps",
)


def level_for_alert(level: str) -> str:
    return ALERT_TO_INCIDENT_LEVEL.get(level, Level.P3)


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _apply_targets(incident: Incident) -> list[str]:
    due = targets.due_times(incident.level, incident.detected_at)
    incident.respond_due_at, incident.resolve_due_at = due.respond, due.resolve
    return ["respond_due_at", "resolve_due_at"]


def _check_worker(user) -> None:
    if user is not None and not access.is_engineer_or_manager(user):
        raise IncidentError(_("%(name)s cannot take an incident role.") % {"name": user})


@transaction.atomic
def incident_create(
    *,
    title: str,
    description: str = "",
    level: str = Level.P2,
    severity: str | None = None,
    category: str = "",
    subcategory: str = "",
    service: str = "",
    source: str = IncidentSource.MANUAL,
    detected_at=None,
    alerts=(),
    affected_customers=(),
    tickets=(),
    actor,
) -> Incident:
    """Open a ``pending`` incident numbered INC-000042 with its level's targets.

    The primary on-call engineer takes the on-call role (recorded on the timeline), the
    given alerts are linked, and paging starts (``paging.start_escalation``).
    """
    title = (title or "").strip()
    if not title:
        raise IncidentError(_("A title is required."))
    if level not in Level.values:
        raise IncidentError(_("Unknown level %(value)s.") % {"value": level})
    severity = severity or LEVEL_TO_SEVERITY[level]
    if severity not in Severity.values:
        raise IncidentError(_("Unknown severity %(value)s.") % {"value": severity})
    if source not in IncidentSource.values:
        raise IncidentError(_("Unknown source %(value)s.") % {"value": source})
    incident = Incident(
        title=title[:500],
        description=description or "",
        level=level,
        severity=severity,
        category=(category or "")[:100],
        subcategory=(subcategory or "")[:100],
        service=(service or "")[:200],
        source=source,
        detected_at=detected_at or timezone.now(),
        reporter=actor if actor is not None and actor.is_authenticated else None,
    )
    _apply_targets(incident)
    incident.save()
    incident.number = f"INC-{incident.pk:06d}"
    incident.save(update_fields=["number"])
    timeline.record(
        incident,
        kind=TimelineKind.CREATED,
        actor=actor,
        pinned=True,
        at=incident.detected_at,
        text=_("Incident opened at %(level)s: %(title)s")
        % {"level": incident.level, "title": incident.title},
    )
    if affected_customers:
        incident.affected_customers.add(*affected_customers)
    for ticket in tickets:
        incident_link_ticket(incident=incident, ticket=ticket, actor=actor)
    if alerts:
        incident_link_alerts(incident=incident, alerts=alerts, actor=actor)
    on_call = primary_on_call()
    if on_call is not None and not access.is_engineer_or_manager(on_call):
        timeline.record(
            incident,
            kind=TimelineKind.ROLE,
            text=_(
                "%(name)s is on call but is not an engineer or manager: "
                "assign the on-call role by hand."
            )
            % {"name": on_call.get_full_name()},
        )
    elif on_call is not None:
        incident_assign_role(
            incident=incident,
            role=Role.ON_CALL,
            user=on_call,
            actor=None,
            note=_("Assigned automatically: on call now."),
        )
    from . import paging

    incident.refresh_from_db()
    paging.start_escalation(incident=incident, actor=actor)
    return incident


def check_transition(*, incident: Incident, status: str) -> None:
    """Raise IncidentError unless ``incident`` may move to ``status`` now."""
    if status not in IncidentStatus.values:
        raise IncidentError(_("Unknown status %(value)s.") % {"value": status})
    old = incident.status
    if status == old:
        return
    if status not in TRANSITIONS[old]:
        raise IncidentError(
            _("An incident cannot go from %(old)s to %(new)s.")
            % {"old": _label(IncidentStatus, old), "new": _label(IncidentStatus, status)}
        )
    if (
        status == IncidentStatus.CLOSED
        and old == IncidentStatus.RECOVERED
        and incident.level in POSTMORTEM_LEVELS
    ):
        raise IncidentError(
            _("%(level)s incidents need a postmortem: move it to pending postmortem.")
            % {"level": incident.level}
        )
    if status == IncidentStatus.CLOSED and old == IncidentStatus.PENDING_POSTMORTEM:
        for check in CLOSE_CHECKS:
            reason = check(incident)
            if reason:
                raise IncidentError(reason)


_STAMPS = {
    IncidentStatus.IN_PROGRESS: "acknowledged_at",
    IncidentStatus.RECOVERING: "mitigated_at",
    IncidentStatus.RECOVERED: "recovered_at",
    IncidentStatus.CLOSED: "closed_at",
}


@transaction.atomic
def incident_change_status(
    *, incident: Incident, status: str, actor, note: str = "", via: str = ""
) -> Incident:
    """Move along the transition table, stamping the time of each step once.

    Leaving ``pending`` acknowledges the incident and stops its escalation. Recovery of a
    P0/P1 incident moves it straight on to ``pending_postmortem``.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    check_transition(incident=incident, status=status)
    old = incident.status
    if status == old:
        return incident
    now = timezone.now()
    incident.status = status
    fields = ["status", "updated_at"]
    stamp = _STAMPS.get(status)
    if stamp and getattr(incident, stamp) is None:
        setattr(incident, stamp, now)
        fields.append(stamp)
    if status == IncidentStatus.IN_PROGRESS and old == IncidentStatus.RECOVERED:
        incident.recovered_at = None  # a relapse: recovery will be stamped again
        fields.append("recovered_at")
    incident.save(update_fields=fields)
    text = _("Status: %(old)s → %(new)s") % {
        "old": _label(IncidentStatus, old),
        "new": _label(IncidentStatus, status),
    }
    if via:
        text = f"{text} ({via})"
    timeline.record(
        incident,
        kind=TimelineKind.STATUS,
        actor=actor,
        text=f"{text}\n{note}".strip(),
        pinned=status in (IncidentStatus.IN_PROGRESS, IncidentStatus.RECOVERED),
        data={"old": old, "new": status},
    )
    from . import paging

    if old == IncidentStatus.PENDING:
        paging.stop_escalation(incident=incident, actor=actor, via=via)
    if status in (IncidentStatus.RECOVERED, IncidentStatus.CLOSED):
        paging.resolve_pages(incident=incident)
    for listener in STATUS_LISTENERS:
        listener(incident, old, status, actor)
    if status == IncidentStatus.RECOVERED and incident.level in POSTMORTEM_LEVELS:
        return incident_change_status(
            incident=incident,
            status=IncidentStatus.PENDING_POSTMORTEM,
            actor=None,
            note=_("%(level)s incidents require a postmortem.") % {"level": incident.level},
        )
    return incident


def incident_acknowledge(*, incident: Incident, actor, via: str = "") -> Incident:
    """Acknowledge: a pending incident goes in progress (idempotent otherwise)."""
    if incident.status != IncidentStatus.PENDING:
        return incident
    return incident_change_status(
        incident=incident, status=IncidentStatus.IN_PROGRESS, actor=actor, via=via
    )


@transaction.atomic
def incident_change_level(*, incident: Incident, level: str, actor, reason: str = "") -> Incident:
    """Set the level (P0 only by a person); the targets are recomputed from detection."""
    if level not in Level.values:
        raise IncidentError(_("Unknown level %(value)s.") % {"value": level})
    if level == Level.P0 and (actor is None or not actor.is_authenticated):
        raise IncidentError(_("Only a person sets P0, at triage."))
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    old = incident.level
    if old == level:
        return incident
    incident.level = level
    fields = ["level", "updated_at", *_apply_targets(incident)]
    if incident.escalation_id and incident.next_escalation_at:
        # A stricter level's response target may come before the next escalation step.
        incident.next_escalation_at = min(incident.next_escalation_at, incident.respond_due_at)
        fields.append("next_escalation_at")
    incident.save(update_fields=fields)
    text = _("Level: %(old)s → %(new)s") % {"old": old, "new": level}
    timeline.record(
        incident,
        kind=TimelineKind.LEVEL,
        actor=actor,
        text=f"{text}\n{reason}".strip(),
        pinned=True,
        data={"old": old, "new": level},
    )
    return incident


@transaction.atomic
def incident_assign_role(*, incident: Incident, role: str, user, actor, note: str = "") -> Incident:
    """Give a role (commander, tech lead, communications lead, on-call) to a person, or
    take it back (``user=None``); recorded on the timeline."""
    if role not in Role.values:
        raise IncidentError(_("Unknown role %(value)s.") % {"value": role})
    _check_worker(user)
    field = ROLE_FIELDS[role]
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    old = getattr(incident, field)
    if old == user:
        return incident
    setattr(incident, field, user)
    incident.save(update_fields=[field, "updated_at"])
    role_label = _label(Role, role)
    if user is None:
        text = _("%(role)s: %(old)s stepped down") % {"role": role_label, "old": old}
    else:
        text = _("%(role)s: %(name)s") % {"role": role_label, "name": user.get_full_name()}
    timeline.record(
        incident,
        kind=TimelineKind.ROLE,
        actor=actor,
        text=f"{text}\n{note}".strip(),
        data={"role": role, "user": user.pk if user else None},
    )
    return incident


@transaction.atomic
def incident_update_details(*, incident: Incident, actor, **changes) -> Incident:
    """Change descriptive fields (title, analysis, root cause, ...); one timeline entry."""
    unknown = set(changes) - set(DETAIL_FIELDS)
    if unknown:
        raise IncidentError(_("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    if "title" in changes and not (changes["title"] or "").strip():
        raise IncidentError(_("A title is required."))
    if "severity" in changes and changes["severity"] not in Severity.values:
        raise IncidentError(_("Unknown severity %(value)s.") % {"value": changes["severity"]})
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    changed = []
    for name, value in changes.items():
        value = value if value is not None else ""
        if getattr(incident, name) != value:
            setattr(incident, name, value)
            changed.append(name)
    if not changed:
        return incident
    incident.save(update_fields=[*changed, "updated_at"])
    names = ", ".join(str(Incident._meta.get_field(n).verbose_name) for n in changed)
    timeline.record(
        incident,
        kind=TimelineKind.UPDATE,
        actor=actor,
        text=_("Updated: %(fields)s") % {"fields": names},
        data={"fields": changed},
    )
    return incident


def incident_add_note(
    *, incident: Incident, text: str, actor, pinned: bool = False
) -> IncidentTimelineEntry:
    text = (text or "").strip()
    if not text:
        raise IncidentError(_("The note is empty."))
    return timeline.record(incident, kind=TimelineKind.NOTE, actor=actor, text=text, pinned=pinned)


def timeline_pin(*, entry: IncidentTimelineEntry, pinned: bool, actor) -> IncidentTimelineEntry:
    """Mark a timeline entry as a key moment (or not): the postmortem starts from these."""
    if entry.pinned != pinned:
        entry.pinned = pinned
        entry.save(update_fields=["pinned"])
    return entry


@transaction.atomic
def incident_link_alerts(*, incident: Incident, alerts, actor) -> int:
    """Link alerts to the incident (open ones become ``linked``); returns how many."""
    linked = 0
    for alert in alerts:
        if alert.incident_id == incident.pk:
            continue
        alert.incident = incident
        fields = ["incident"]
        if alert.status in OPEN_ALERT_STATUSES or alert.status == AlertStatus.IGNORED:
            alert.status = AlertStatus.LINKED
            fields.append("status")
        alert.save(update_fields=fields)
        linked += 1
        timeline.record(
            incident,
            kind=TimelineKind.ALERT,
            actor=actor,
            text=_("Alert linked: [%(level)s] %(title)s (fired %(at)s)")
            % {
                "level": alert.get_level_display(),
                "title": alert.title,
                "at": timezone.localtime(alert.starts_at).strftime("%Y-%m-%d %H:%M:%S"),
            },
            data={"alert": alert.pk},
        )
    return linked


@transaction.atomic
def incident_link_ticket(*, incident: Incident, ticket, actor) -> None:
    """Link a customer ticket; its customer becomes an affected customer."""
    if incident.tickets.filter(pk=ticket.pk).exists():
        return
    incident.tickets.add(ticket)
    if ticket.customer_id:
        incident.affected_customers.add(ticket.customer_id)
    timeline.record(
        incident,
        kind=TimelineKind.TICKET,
        actor=actor,
        text=_("Ticket linked: %(number)s %(title)s")
        % {"number": ticket.number, "title": ticket.title},
        data={"ticket": ticket.pk},
    )


@transaction.atomic
def incident_from_alerts(*, alerts, actor, title: str = "", level: str | None = None) -> Incident:
    """Open an incident from selected alerts: the worst level and the first service."""
    alerts = list(alerts)
    if not alerts:
        raise IncidentError(_("Select at least one alert."))
    worst = min(alerts, key=lambda a: list(AlertLevel.values).index(a.level))
    service = next((a.service for a in alerts if a.service), "")
    return incident_create(
        title=title or worst.title,
        description="\n".join(f"- {a.title}" for a in alerts),
        level=level or level_for_alert(worst.level),
        service=service,
        source=IncidentSource.ALERT,
        detected_at=timezone.now(),
        alerts=alerts,
        actor=actor,
    )

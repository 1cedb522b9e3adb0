"""The SLA of tickets: which clock runs now and how it stands; the breach scan."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sla.calendar import add_business_minutes
from sla.oncall import on_call_users
from sla.services import ClockState, clock_state, target_for
from spt_portal.notifications import notify_channels, notify_email

from .models import (
    SCAN_RESOLUTION,
    SCAN_RESPONSE,
    EventKind,
    SLAAlertKind,
    SLAClock,
    Status,
    Ticket,
    TicketEvent,
    TicketSLAAlert,
)

STATE_LABELS = {
    ClockState.ON_TRACK: (_("On track"), "✓", "success"),
    ClockState.AT_RISK: (_("At risk"), "⚠", "warning"),
    ClockState.BREACHED: (_("Breached"), "✗", "danger"),
    ClockState.MET: (_("Met"), "✓", "secondary"),
    ClockState.PAUSED: (_("Paused"), "⏸", "info"),
}


@dataclass(frozen=True)
class TicketSLA:
    clock: str  # "response" or "resolution"
    state: str
    left: timedelta

    @property
    def label(self):
        return STATE_LABELS[self.state][0]

    @property
    def icon(self) -> str:
        return STATE_LABELS[self.state][1]

    @property
    def colour(self) -> str:
        return STATE_LABELS[self.state][2]


def ticket_sla(ticket: Ticket, now=None) -> TicketSLA:
    """The clock that matters now: first response until answered, then resolution."""
    now = now or timezone.now()
    if ticket.first_responded_at is None and ticket.status not in (
        Status.RESOLVED,
        Status.CLOSED,
    ):
        state, left = clock_state(
            started_at=ticket.created_at,
            due_at=ticket.first_response_due_at,
            now=now,
            at_risk_at=ticket.first_response_at_risk_at,
        )
        return TicketSLA("response", state, left)
    paused = ticket.status == Status.WAITING_CUSTOMER
    state, left = clock_state(
        started_at=ticket.created_at,
        due_at=ticket.resolution_due_at,
        # While paused the time left stands still at what it was when the pause began.
        now=ticket.paused_at if paused and ticket.paused_at else now,
        stopped_at=ticket.resolved_at
        if ticket.status in (Status.RESOLVED, Status.CLOSED)
        else None,
        paused=paused,
        at_risk_at=ticket.resolution_at_risk_at,
    )
    return TicketSLA("resolution", state, left)


def format_left(left: timedelta) -> str:
    minutes = int(abs(left.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = f"{days}d {hours}h" if days else (f"{hours}h {mins}m" if hours else f"{mins}m")
    return f"-{text}" if left < timedelta(0) else text


# --- the breach scan (cron, every minute) ---------------------------------------------


def _managers():
    from spt_portal.models import User

    return list(
        User.objects.filter(is_active=True, is_staff=True, groups__name="manager").distinct()
    )


def _kinds_due(ticket: Ticket, clock: str, due, now) -> list[str]:
    """Which alerts apply now: at risk before the deadline; breached after it; escalated
    when still open one more full target period (working time) after the deadline."""
    if now < due:
        return [SLAAlertKind.AT_RISK]
    kinds = [SLAAlertKind.BREACHED]
    target = target_for(ticket.sla_policy, ticket.priority)
    minutes = target.response_minutes if clock == SLAClock.RESPONSE else target.resolution_minutes
    if now >= add_business_minutes(due, minutes, ticket.sla_calendar):
        kinds.append(SLAAlertKind.ESCALATED)
    return kinds


def _raise(ticket_id: int, clock: str, now, counts: dict) -> None:
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("assignee", "sla_policy", "sla_calendar", "customer")
            .get(pk=ticket_id)
        )
        if clock == SLAClock.RESPONSE:
            if ticket.first_responded_at is not None or not ticket.is_open:
                return
            due = ticket.first_response_due_at
        else:
            if ticket.status not in (Status.NEW, Status.IN_PROGRESS):
                return
            due = ticket.resolution_due_at
        kinds = _kinds_due(ticket, clock, due, now)
        for kind in kinds:
            alert, created = TicketSLAAlert.objects.get_or_create(
                ticket=ticket, clock=clock, kind=kind, due_at=due
            )
            if not created:
                continue
            counts[kind] += 1
            _act(ticket, alert)
        if SLAAlertKind.ESCALATED in kinds:
            # Nothing more to raise for this deadline: the scan skips the ticket until its
            # deadline changes (SCAN_*). A bookkeeping column, not a change of the ticket.
            field = "first_response" if clock == SLAClock.RESPONSE else "resolution"
            Ticket.objects.filter(pk=ticket.pk).update(**{f"{field}_escalated_for": due})


def _act(ticket: Ticket, alert) -> None:
    clock_label = SLAClock(alert.clock).label
    kind_label = SLAAlertKind(alert.kind).label
    level = {SLAAlertKind.BREACHED: 1, SLAAlertKind.ESCALATED: 2}.get(alert.kind, 0)
    if level > ticket.escalation_level:
        old = ticket.escalation_level
        ticket.escalation_level = level
        ticket.save(update_fields=["escalation_level"])
        TicketEvent.objects.create(
            ticket=ticket,
            kind=EventKind.SLA,
            old_value=str(old),
            new_value=gettext("Escalation level %(level)d") % {"level": level},
            internal=True,
        )
    TicketEvent.objects.create(
        ticket=ticket,
        kind=EventKind.SLA,
        new_value=f"{clock_label}: {kind_label}"[:200],
        note=gettext("Due %(due)s")
        % {"due": timezone.localtime(alert.due_at).strftime("%Y-%m-%d %H:%M")},
        internal=True,
    )
    if alert.kind == SLAAlertKind.ESCALATED:
        recipients = _managers()
    else:
        recipients = [u for u in [ticket.assignee, *on_call_users()] if u is not None]
    template = "sla_warning" if alert.kind == SLAAlertKind.AT_RISK else "sla_breach"
    link = f"{settings.SITE_URL}{reverse('admin:tickets_ticket_change', args=[ticket.pk])}"
    for person in dict.fromkeys(recipients):
        if not person.is_active or not person.email:
            continue
        notify_email(
            to=person.email,
            template=template,
            language=person.preferred_language,
            tz=person.effective_timezone,
            context={
                "ticket": ticket,
                "clock": clock_label,
                "violation": f"{clock_label} · {kind_label}",
                "due": alert.due_at,
                "escalated": alert.kind == SLAAlertKind.ESCALATED,
                "link": link,
            },
            obj=ticket,
            dedupe_key=f"sla:{alert.pk}:{person.email}",
        )
    if alert.kind != SLAAlertKind.AT_RISK:
        notify_channels(
            event=f"ticket.sla_{alert.kind}",
            text=f"[{ticket.number}] SLA {clock_label}: {kind_label} ({link})",
            data={"number": ticket.number, "clock": alert.clock, "kind": alert.kind},
            obj=ticket,
            dedupe_key=f"sla:{alert.pk}",
        )


def scan_sla(*, now=None) -> dict[str, int]:
    """Raise each at-risk warning, breach and level-2 escalation once per deadline.

    Reads only open tickets whose at-risk instant has passed and whose deadline is not
    escalated yet (partial indexes), so its cost grows neither with closed history nor
    with a backlog of overdue tickets already escalated. Idempotent: alerts are unique
    per ticket, clock, kind and deadline, so a second run (or a second scheduler) raises
    nothing.
    """
    now = now or timezone.now()
    counts = {kind: 0 for kind in SLAAlertKind.values}
    warned = TicketSLAAlert.objects.filter(ticket=OuterRef("pk"), kind=SLAAlertKind.AT_RISK)
    response_ids = (
        Ticket.objects.filter(SCAN_RESPONSE, first_response_at_risk_at__lte=now)
        .exclude(  # warned, deadline still ahead: nothing to do until it passes
            Q(first_response_due_at__gt=now)
            & Exists(
                warned.filter(clock=SLAClock.RESPONSE, due_at=OuterRef("first_response_due_at"))
            )
        )
        .order_by()
        .values_list("id", flat=True)
    )
    resolution_ids = (
        Ticket.objects.filter(SCAN_RESOLUTION, resolution_at_risk_at__lte=now)
        .exclude(
            Q(resolution_due_at__gt=now)
            & Exists(warned.filter(clock=SLAClock.RESOLUTION, due_at=OuterRef("resolution_due_at")))
        )
        .order_by()
        .values_list("id", flat=True)
    )
    for ticket_id in list(response_ids):
        _raise(ticket_id, SLAClock.RESPONSE, now, counts)
    for ticket_id in list(resolution_ids):
        _raise(ticket_id, SLAClock.RESOLUTION, now, counts)
    return counts

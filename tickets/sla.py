"""The SLA state of a ticket: which clock runs now and how it stands."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sla.services import ClockState, clock_state

from .models import Status, Ticket

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

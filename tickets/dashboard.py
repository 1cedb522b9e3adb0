"""The tickets panel of the staff dashboard (admin index): my queue and breaching soon."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import OPEN_STATUSES, Status, Ticket
from .sla import format_left, ticket_sla


def tickets_panel(request) -> dict:
    now = timezone.now()
    soon = now + timedelta(hours=1)
    working = Ticket.objects.filter(status__in=[Status.NEW, Status.IN_PROGRESS])
    response_open = Q(first_responded_at__isnull=True)
    due_soon = (
        response_open & Q(first_response_due_at__gt=now, first_response_due_at__lte=soon)
    ) | Q(resolution_due_at__gt=now, resolution_due_at__lte=soon)
    overdue = (response_open & Q(first_response_due_at__lte=now)) | Q(resolution_due_at__lte=now)
    mine = list(
        Ticket.objects.filter(assignee=request.user, status__in=OPEN_STATUSES)
        .select_related("customer")
        .order_by("resolution_due_at")[:10]
    )
    rows = [(t, ticket_sla(t, now), format_left(ticket_sla(t, now).left)) for t in mine]
    return {
        "template": "tickets/dashboard_panel.html",
        "title": _("Tickets"),
        "my_rows": rows,
        "unassigned": Ticket.objects.filter(
            assignee__isnull=True, status__in=OPEN_STATUSES
        ).count(),
        "breaching_soon": working.filter(due_soon).count(),
        "breached": working.filter(overdue).count(),
    }

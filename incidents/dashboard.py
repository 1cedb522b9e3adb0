"""The incidents panel of the staff dashboard: open incidents, unacknowledged pages,
firing alerts."""

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from .models import OPEN_INCIDENT_STATUSES, Alert, AlertStatus, Incident, Page, PageStatus


def incidents_panel(request) -> dict:
    open_incidents = list(
        Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES).order_by("level", "detected_at")[
            :10
        ]
    )
    firing = dict(
        Alert.objects.filter(status=AlertStatus.FIRING)
        .order_by()
        .values_list("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    return {
        "template": "incidents/dashboard_panel.html",
        "title": _("Incidents"),
        "open_incidents": open_incidents,
        "firing_total": sum(firing.values()),
        "firing_critical": firing.get("critical", 0),
        "pages_waiting": Page.objects.filter(status=PageStatus.ACTIVE).count(),
    }

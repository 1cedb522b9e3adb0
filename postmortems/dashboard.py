"""The postmortems panel of the staff dashboard: overdue action items and postmortems."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import OPEN_ACTION_STATUSES, ActionItem
from .services import overdue_postmortem_incidents


def postmortems_panel(request) -> dict:
    overdue = (
        ActionItem.objects.filter(
            status__in=OPEN_ACTION_STATUSES, due_date__lt=timezone.localdate()
        )
        .select_related("owner", "postmortem__incident")
        .order_by("due_date", "id")
    )
    return {
        "template": "postmortems/dashboard_panel.html",
        "title": _("Postmortems"),
        "overdue_items": list(overdue[:10]),
        "overdue_count": overdue.count(),
        "late_postmortems": list(overdue_postmortem_incidents().order_by("recovered_at")[:5]),
    }

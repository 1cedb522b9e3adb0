"""The admin is the engineer workspace; its index is the staff dashboard."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from .health import check_database, check_redis
from .models import JobOutbox

# Later apps add dashboard panels: a callable (request) -> dict with "title", "template"
# and its context; registered from their AppConfig.ready() without importing upward.
DASHBOARD_PANELS: list = []


def register_dashboard_panel(panel) -> None:
    if panel not in DASHBOARD_PANELS:
        DASHBOARD_PANELS.append(panel)


class SPTAdminSite(admin.AdminSite):
    site_header = _("SPT Portal: engineer workspace")
    site_title = _("SPT Portal")
    index_title = _("Dashboard")
    index_template = "admin/spt_index.html"

    def index(self, request, extra_context=None):
        outbox_counts = dict(
            JobOutbox.objects.exclude(status=JobOutbox.Status.DISPATCHED)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        db_ok, _db = check_database()
        redis_ok, _redis, heartbeat = check_redis()
        context = {
            "panels": [panel(request) for panel in DASHBOARD_PANELS],
            "system": {
                "database_ok": db_ok,
                "redis_ok": redis_ok,
                "worker_heartbeat": heartbeat,
                "outbox_pending": outbox_counts.get(JobOutbox.Status.PENDING, 0),
                "outbox_failed": outbox_counts.get(JobOutbox.Status.FAILED, 0),
            },
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)

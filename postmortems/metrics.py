"""Postmortem figures (seed 004 "复盘完成率"): for the metrics page and /metrics."""

import logging
from datetime import timedelta
from statistics import mean

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from incidents.models import POSTMORTEM_LEVELS, Incident

from .models import OPEN_ACTION_STATUSES, ActionItem, PostMortem, PostMortemStatus

logger = logging.getLogger(__name__)


def summary(*, days: int = 90, now=None) -> dict:
    """Over incidents recovered in the last ``days``: how many needed a postmortem (P0/P1,
    or sent to pending postmortem by hand), how many have a published one, the completion
    rate, and the mean hours from recovery to publication; open and overdue action items
    now. A handful of queries whatever the volume."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    needing = Incident.objects.filter(recovered_at__gte=since).filter(
        Q(level__in=POSTMORTEM_LEVELS) | Q(postmortem__isnull=False)
    )
    counts = needing.aggregate(
        required=Count("id", distinct=True),
        published=Count(
            "id", filter=Q(postmortem__status=PostMortemStatus.PUBLISHED), distinct=True
        ),
    )
    publish_hours = [
        (published - recovered).total_seconds() / 3600
        for published, recovered in PostMortem.objects.filter(
            published_at__gte=since, incident__recovered_at__isnull=False
        ).values_list("published_at", "incident__recovered_at")
    ]
    today = timezone.localdate(now)
    items = ActionItem.objects.filter(status__in=OPEN_ACTION_STATUSES).aggregate(
        open=Count("id"), overdue=Count("id", filter=Q(due_date__lt=today))
    )
    by_status = dict(PostMortem.objects.order_by().values_list("status").annotate(n=Count("id")))
    required = counts["required"]
    return {
        "days": days,
        "required": required,
        "published": counts["published"],
        "completion_rate": (counts["published"] / required) if required else None,
        "hours_to_publish": mean(publish_hours) if publish_hours else None,
        "action_items_open": items["open"],
        "action_items_overdue": items["overdue"],
        "by_status": {status: by_status.get(status, 0) for status in PostMortemStatus.values},
    }


class PostmortemCollector:
    """/metrics: postmortems by status, the 90-day completion rate and time to publish,
    open and overdue action items; computed at scrape time."""

    def describe(self):
        yield from self._families().values()

    @staticmethod
    def _families():
        return {
            "status": GaugeMetricFamily(
                "spt_postmortems", "Postmortems by status", labels=["status"]
            ),
            "rate": GaugeMetricFamily(
                "spt_postmortem_completion_ratio",
                "Published postmortems / incidents needing one, recovered in the last 90 days",
            ),
            "publish": GaugeMetricFamily(
                "spt_postmortem_time_to_publish_seconds",
                "Mean time from recovery to publication, last 90 days",
            ),
            "open": GaugeMetricFamily("spt_action_items_open", "Action items not done"),
            "overdue": GaugeMetricFamily(
                "spt_action_items_overdue", "Action items past their due date"
            ),
        }

    def collect(self):
        families = self._families()
        try:
            data = summary(days=90)
        except Exception as exc:  # the database may be down; the scrape still answers
            logger.warning("metrics: postmortem queries failed: %s", exc)
            return
        for status, n in data["by_status"].items():
            families["status"].add_metric([status], n)
        if data["completion_rate"] is not None:
            families["rate"].add_metric([], data["completion_rate"])
        if data["hours_to_publish"] is not None:
            families["publish"].add_metric([], data["hours_to_publish"] * 3600)
        families["open"].add_metric([], data["action_items_open"])
        families["overdue"].add_metric([], data["action_items_overdue"])
        yield from families.values()

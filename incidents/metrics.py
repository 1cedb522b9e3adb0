"""Incident metrics (seed 004 "性能监控"): MTTD, MTTA, MTTR per level and month, alert
handling time, impact of one incident, and the Prometheus gauges.

- MTTD: detected − the first linked alert fired (incidents opened from alerts only); once
  alert retention has deleted the alerts, the time it kept on the incident.
- MTTA: acknowledged − detected.
- MTTR: recovered − detected.
- Alert handling time: acknowledged (or ignored, or linked) − fired.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from statistics import mean

from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from .models import (
    OPEN_INCIDENT_STATUSES,
    Alert,
    AlertStatus,
    Incident,
    Level,
)

logger = logging.getLogger(__name__)


def _minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 60, 1)


def _avg(values: list[float]) -> float | None:
    return round(mean(values), 1) if values else None


# The first alert's time: kept on the incident by alert retention, else from its alerts.
FIRST_ALERT = Coalesce("first_alert_at", Min("alerts__starts_at"))


def incident_durations(incident: Incident, first_alert_at=None) -> dict[str, float | None]:
    detected = incident.detected_at
    return {
        "mttd": _minutes(detected - first_alert_at)
        if first_alert_at and detected >= first_alert_at
        else None,
        "mtta": _minutes(incident.acknowledged_at - detected) if incident.acknowledged_at else None,
        "mttr": _minutes(incident.recovered_at - detected) if incident.recovered_at else None,
    }


def _incidents_between(start: datetime, end: datetime, category: str | None = None):
    queryset = Incident.objects.filter(detected_at__gte=start, detected_at__lt=end).annotate(
        first_alert=FIRST_ALERT
    )
    if category:
        queryset = queryset.filter(category=category)
    return list(queryset)


def summary_by_level_and_month(*, months: int = 6, now=None) -> list[dict]:
    """Rows (month, level, count, mttd, mtta, mttr in minutes), newest month first."""
    now = now or timezone.now()
    start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(months - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    buckets: dict[tuple[str, str], list] = defaultdict(list)
    for incident in _incidents_between(start, now + timedelta(seconds=1)):
        month = timezone.localtime(incident.detected_at).strftime("%Y-%m")
        buckets[(month, incident.level)].append(incident_durations(incident, incident.first_alert))
    rows = []
    for (month, level), items in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rows.append(
            {
                "month": month,
                "level": level,
                "count": len(items),
                **{
                    key: _avg([i[key] for i in items if i[key] is not None])
                    for key in ("mttd", "mtta", "mttr")
                },
            }
        )
    rows.sort(key=lambda r: (r["month"], r["level"]), reverse=False)
    rows.sort(key=lambda r: r["month"], reverse=True)
    return rows


def alert_handling_minutes(*, since: datetime) -> float | None:
    handled = Alert.objects.filter(starts_at__gte=since, acknowledged_at__isnull=False).values_list(
        "starts_at", "acknowledged_at"
    )
    values = [(ack - fired).total_seconds() / 60 for fired, ack in handled if ack >= fired]
    return _avg(values)


def window_summary(*, start: datetime, end: datetime, category: str | None = None) -> dict:
    incidents = _incidents_between(start, end, category)
    by_status: dict[str, int] = defaultdict(int)
    by_level: dict[str, int] = defaultdict(int)
    durations = []
    for incident in incidents:
        by_status[incident.status] += 1
        by_level[incident.level] += 1
        durations.append(incident_durations(incident, incident.first_alert))
    return {
        "start_time": start,
        "end_time": end,
        "category": category,
        "total": len(incidents),
        "by_status": dict(by_status),
        "by_level": dict(by_level),
        "mttd_minutes": _avg([d["mttd"] for d in durations if d["mttd"] is not None]),
        "mtta_minutes": _avg([d["mtta"] for d in durations if d["mtta"] is not None]),
        "mttr_minutes": _avg([d["mttr"] for d in durations if d["mttr"] is not None]),
        "alerts": Alert.objects.filter(starts_at__gte=start, starts_at__lt=end).count(),
    }


def impact_of(incident: Incident, *, now) -> dict:
    first_alert_at = (
        incident.first_alert_at or incident.alerts.aggregate(first=Min("starts_at"))["first"]
    )
    end = incident.recovered_at or now
    by_level = dict(
        incident.alerts.order_by()
        .values_list("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    durations = incident_durations(incident, first_alert_at)
    return {
        "incident": incident.number,
        "level": incident.level,
        "status": incident.status,
        "service": incident.service,
        "duration_minutes": _minutes(end - incident.detected_at),
        "ongoing": incident.recovered_at is None,
        "affected_customers": [
            {"id": c.pk, "short_code": c.short_code, "name": c.name}
            for c in incident.affected_customers.all()
        ],
        "linked_tickets": list(incident.tickets.values_list("number", flat=True)),
        "alerts_by_level": by_level,
        "services": sorted(
            {s for s in incident.alerts.values_list("service", flat=True) if s}
            | ({incident.service} if incident.service else set())
        ),
        "response_target_met": None
        if incident.acknowledged_at is None
        else incident.acknowledged_at <= incident.respond_due_at,
        "resolution_target_met": None
        if incident.recovered_at is None
        else incident.recovered_at <= incident.resolve_due_at,
        "impact_analysis": incident.impact_analysis,
        **{f"{k}_minutes": v for k, v in durations.items()},
    }


class IncidentCollector:
    """/metrics: open incidents by level and state, firing alerts by level, and the last
    30 days' mean MTTD/MTTA/MTTR per level (seconds). One query each, at scrape time."""

    def describe(self):
        yield from self._families().values()

    @staticmethod
    def _families():
        return {
            "open": GaugeMetricFamily(
                "spt_incidents_open",
                "Open incidents by level and state",
                labels=["level", "status"],
            ),
            "alerts": GaugeMetricFamily(
                "spt_alerts_open",
                "Open monitoring alerts by level and state",
                labels=["level", "status"],
            ),
            "mttd": GaugeMetricFamily(
                "spt_incident_mttd_seconds", "Mean time to detect, last 30 days", labels=["level"]
            ),
            "mtta": GaugeMetricFamily(
                "spt_incident_mtta_seconds",
                "Mean time to acknowledge, last 30 days",
                labels=["level"],
            ),
            "mttr": GaugeMetricFamily(
                "spt_incident_mttr_seconds", "Mean time to recover, last 30 days", labels=["level"]
            ),
            "pages": GaugeMetricFamily(
                "spt_incident_pages_unacknowledged", "Pages waiting for an acknowledgement"
            ),
            "critical": GaugeMetricFamily(
                "spt_incident_critical_open_seconds",
                "Open P0/P1 incidents, one series each (few at a time): seconds since detected",
                labels=["number", "level", "status", "service"],
            ),
        }

    def collect(self):
        from .models import Page, PageStatus

        families = self._families()
        try:
            open_counts = (
                Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES)
                .order_by()
                .values_list("level", "status")
                .annotate(n=Count("id"))
            )
            alert_counts = (
                Alert.objects.filter(
                    status__in=[AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED, AlertStatus.LINKED]
                )
                .order_by()
                .values_list("level", "status")
                .annotate(n=Count("id"))
            )
            since = timezone.now() - timedelta(days=30)
            recent = list(
                Incident.objects.filter(detected_at__gte=since)
                .annotate(first_alert=FIRST_ALERT)
                .only("level", "detected_at", "acknowledged_at", "recovered_at", "first_alert_at")
            )
            unacknowledged = Page.objects.filter(status=PageStatus.ACTIVE).count()
            critical = list(
                Incident.objects.filter(
                    status__in=OPEN_INCIDENT_STATUSES, level__in=[Level.P0, Level.P1]
                )
                .order_by("detected_at")
                .values_list("number", "level", "status", "service", "detected_at")[:50]
            )
        except Exception as exc:  # the database may be down; the scrape still answers
            logger.warning("metrics: incident queries failed: %s", exc)
            return
        seen = {(level, status): n for level, status, n in open_counts}
        for level in Level.values:
            for status in OPEN_INCIDENT_STATUSES:
                families["open"].add_metric([level, status], seen.get((level, status), 0))
        for level, status, n in alert_counts:
            families["alerts"].add_metric([level, status], n)
        per_level: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for incident in recent:
            for key, value in incident_durations(incident, incident.first_alert).items():
                if value is not None:
                    per_level[incident.level][key].append(value * 60)
        for level, values in per_level.items():
            for key in ("mttd", "mtta", "mttr"):
                if values[key]:
                    families[key].add_metric([level], mean(values[key]))
        families["pages"].add_metric([], unacknowledged)
        now = timezone.now()
        for number, level, status, service, detected in critical:
            families["critical"].add_metric(
                [number, level, status, service], (now - detected).total_seconds()
            )
        yield from families.values()

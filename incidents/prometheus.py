"""Prometheus into incidents (seed 002 "CollectMetricsFromPrometheus"): the active
``MetricQuery`` rows are evaluated with ``query_range`` over the incident's window and
each returned series is kept as one ``IncidentMetric`` (its points in ``metadata``), which
the incident page draws as a small chart.

Prometheus is an outside service: a query that fails (unreachable, timeout, bad PromQL)
is reported with Prometheus's own message and never stops the others, and nothing already
collected is removed when a query fails.
"""

import hashlib
import json
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import timeline
from .models import Incident, IncidentMetric, MetricQuery, TimelineKind

logger = logging.getLogger(__name__)

METRIC_TYPE = "prometheus"
BEFORE = timedelta(minutes=30)  # the window starts before detection, to show the onset
AFTER = timedelta(minutes=10)
POINTS = 60  # about this many points per series
MAX_SERIES = 5  # per query; the rest are counted, not kept


class PrometheusError(Exception):
    """Prometheus did not answer the query; the message says why (shown to people)."""


@dataclass
class Outcome:
    query: str
    series: int = 0
    error: str = ""
    dropped: int = 0
    names: list = field(default_factory=list)


def enabled() -> bool:
    return bool(settings.PROMETHEUS_URL)


def window(incident: Incident, now=None) -> tuple[datetime, datetime, int]:
    """(start, end, step seconds) of an incident: 30 minutes before detection until 10
    minutes after recovery (or now), about 60 points."""
    now = now or timezone.now()
    start = incident.detected_at - BEFORE
    end = min(now, (incident.recovered_at or now) + AFTER)
    step = max(15, math.ceil((end - start).total_seconds() / POINTS))
    return start, end, step


def query_range(promql: str, start: datetime, end: datetime, step: int) -> list[dict]:
    """The ``result`` of /api/v1/query_range (a matrix), or PrometheusError."""
    params = urllib.parse.urlencode(
        {"query": promql, "start": start.timestamp(), "end": end.timestamp(), "step": step}
    )
    url = f"{settings.PROMETHEUS_URL.rstrip('/')}/api/v1/query_range?{params}"
    if not url.startswith(("http://", "https://")):
        raise PrometheusError(_("PROMETHEUS_URL is not an http(s) URL."))
    headers = {"Accept": "application/json", "User-Agent": "spt-portal"}
    if settings.PROMETHEUS_BEARER_TOKEN:
        headers["Authorization"] = f"Bearer {settings.PROMETHEUS_BEARER_TOKEN}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.PROMETHEUS_TIMEOUT_SECONDS
        ) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        # Prometheus answers 400/422/503 with a JSON body that says what is wrong.
        try:
            body = json.loads(exc.read())
        except ValueError:
            raise PrometheusError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(_("Prometheus unreachable: %(reason)s") % {"reason": reason}) from exc
    except ValueError as exc:
        raise PrometheusError(_("Prometheus sent something that is not JSON.")) from exc
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        kind = body.get("errorType") if isinstance(body, dict) else None
        raise PrometheusError(f"{kind}: {error}" if kind else str(error or body)[:300])
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise PrometheusError(
            _("Expected a range of values, got %(type)s.") % {"type": data.get("resultType")}
        )
    return data.get("result") or []


def _points(values) -> list[list[float]]:
    out = []
    for stamp, raw in values or []:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append([float(stamp), number])
    return out


def _series_key(query: str, labels: dict) -> str:
    text = json.dumps([query, labels], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _label_text(labels: dict) -> str:
    shown = {k: v for k, v in sorted(labels.items()) if k != "__name__"}
    return ", ".join(f"{k}={v}" for k, v in shown.items())[:200]


def collect(incident: Incident, *, actor=None, now=None, budget: float | None = None):
    """Evaluate every active query over the incident's window and keep each series
    (replacing the earlier collection of the same query and series). With ``budget``
    (seconds, for a page that waits), queries left when it is spent are skipped."""
    queries = list(MetricQuery.objects.filter(is_active=True))
    if not enabled():
        return [Outcome(query="", error=_("PROMETHEUS_URL is not set."))]
    start, end, step = window(incident, now)
    outcomes = []
    started = time.monotonic()
    for query in queries:
        promql = query.promql.replace("$service", incident.service or "")
        outcome = Outcome(query=query.name)
        if budget is not None and time.monotonic() - started > budget:
            outcome.error = _("skipped: Prometheus is too slow to ask everything now")
            outcomes.append(outcome)
            continue
        try:
            result = query_range(promql, start, end, step)
        except PrometheusError as exc:
            outcome.error = str(exc)
            logger.warning("prometheus: %s for %s failed: %s", query.name, incident.number, exc)
            outcomes.append(outcome)
            continue
        outcome.dropped = max(0, len(result) - MAX_SERIES)
        with transaction.atomic():
            for series in result[:MAX_SERIES]:
                labels = {str(k): str(v) for k, v in (series.get("metric") or {}).items()}
                points = _points(series.get("values"))
                if not points:
                    continue
                key = _series_key(query.name, labels)
                shown = _label_text(labels)
                name = f"{query.name} ({shown})" if shown else query.name
                IncidentMetric.objects.update_or_create(
                    incident=incident,
                    metric_type=METRIC_TYPE,
                    tags__series=key,
                    defaults={
                        "metric_name": name[:255],
                        "metric_value": Decimal(str(round(points[-1][1], 4))),
                        "unit": query.unit,
                        "measured_at": datetime.fromtimestamp(points[-1][0], tz=UTC),
                        "tags": {**labels, "series": key, "query": query.name},
                        "metadata": {
                            "promql": promql,
                            "points": points,
                            "start": start.isoformat(),
                            "end": end.isoformat(),
                            "step": step,
                        },
                    },
                )
                outcome.series += 1
                outcome.names.append(name)
        outcomes.append(outcome)
    if queries:
        good = sum(o.series for o in outcomes)
        failed = [o for o in outcomes if o.error]
        text = _("Prometheus: %(series)d series from %(queries)d queries") % {
            "series": good,
            "queries": len(queries),
        }
        if failed:
            text += "; " + _("failed: %(names)s") % {"names": ", ".join(o.query for o in failed)}
        timeline.record(incident, kind=TimelineKind.UPDATE, actor=actor, text=text)
    logger.info(
        "prometheus: %s: %d queries, %d series, %d failed, %.2fs",
        incident.number,
        len(queries),
        sum(o.series for o in outcomes),
        sum(1 for o in outcomes if o.error),
        time.monotonic() - started,
    )
    return outcomes


def chart(metric: IncidentMetric, width: int = 280, height: int = 60) -> dict | None:
    """An SVG polyline (in a width × height box) of a collected series, with its range."""
    points = (metric.metadata or {}).get("points") or []
    if len(points) < 2:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    span_x = (x1 - x0) or 1
    span_y = (y1 - y0) or 1
    pad = 2
    coords = " ".join(
        f"{pad + (x - x0) / span_x * (width - 2 * pad):.1f},"
        f"{height - pad - (y - y0) / span_y * (height - 2 * pad):.1f}"
        for x, y in points
    )
    return {
        "points": coords,
        "width": width,
        "height": height,
        "min": round(y0, 2),
        "max": round(y1, 2),
        "last": round(ys[-1], 2),
        "start": datetime.fromtimestamp(x0, tz=UTC),
        "end": datetime.fromtimestamp(x1, tz=UTC),
    }


def on_incident_status(incident: Incident, old: str, new: str, actor) -> None:
    """Registered with the incident services: collect once the incident has recovered
    (its whole window is known), in a job."""
    from spt_portal import outbox

    if new == "recovered" and enabled() and MetricQuery.objects.filter(is_active=True).exists():
        outbox.enqueue("incidents.jobs.collect_prometheus_metrics", incident.pk)

"""Prometheus metrics: the registry /metrics serves, per-view request metrics, and the
business collectors the apps register.

Under gunicorn every worker is a process. Request counters and latency histograms are
written to ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, set up by
``gunicorn.conf.py``) and summed at scrape time, whichever worker answers. Business figures
(open tickets, incidents, ages of the last AWS syncs, ...) are computed from the database
or Redis at scrape time, one cheap query each, so every process reports the same values;
counters such as "tickets created" are counts of stored rows, which never go backwards and
survive restarts.
"""

import logging
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import REGISTRY

logger = logging.getLogger(__name__)

COLLECTORS: list = []

REQUESTS = Counter(
    "spt_http_requests_total",
    "HTTP requests by view (URL name), method and status code",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "spt_http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL name) and method",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def register_collector(collector) -> None:
    """Add a scrape-time collector (once per class, whatever the number of ready() calls)."""
    if any(type(existing) is type(collector) for existing in COLLECTORS):
        return
    COLLECTORS.append(collector)
    REGISTRY.register(collector)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry_for_scrape():
    """The process registry, or in multiprocess mode a fresh one that sums every worker's
    files and adds the business collectors."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in COLLECTORS:
        registry.register(collector)
    return registry


class RequestMetricsMiddleware:
    """Count and time every request by its URL name (bounded: the URL conf's names; a
    path that matches nothing is "unmatched"), never by raw path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.url_name or "unnamed") if match else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        try:
            LATENCY.labels(view, method).observe(time.perf_counter() - started)
            REQUESTS.labels(view, method, str(response.status_code)).inc()
        except Exception as exc:  # a metrics problem never breaks a request
            logger.warning("request metrics not recorded: %s", exc)
        return response


KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class SafeCollector:
    """Wrap a third-party collector so that its backend being down (Redis for rq) leaves
    the rest of the scrape intact; the failure is logged."""

    def __init__(self, inner, name: str):
        self.inner, self.name = inner, name

    def describe(self):
        return []

    def collect(self):
        try:
            families = list(self.inner.collect())
        except Exception as exc:
            logger.warning("metrics: %s collector failed: %s", self.name, exc)
            return
        yield from families

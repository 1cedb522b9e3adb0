"""Operations endpoints: /healthz (and /health, the seeds' name) and /metrics."""

import hmac
import logging

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from .jobs import HEARTBEAT_KEY
from .models import JobOutbox

logger = logging.getLogger(__name__)


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not answering"
        logger.warning("healthz: database check failed: %s", exc)
        return False, "error"
    return True, "ok"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def check_redis() -> tuple[bool, str, str | None]:
    try:
        client = redis_client()
        client.ping()
        heartbeat = client.get(HEARTBEAT_KEY)
    except (redis.RedisError, OSError) as exc:
        logger.warning("healthz: redis check failed: %s", exc)
        return False, "error", None
    return True, "ok", heartbeat.decode() if heartbeat else None


@never_cache
@require_GET
def healthz(request):
    """200 while the database answers (status "degraded" if Redis does not), else 503."""
    db_ok, db_state = check_database()
    redis_ok, redis_state, heartbeat = check_redis()
    status = "ok" if db_ok and redis_ok else "degraded"
    body = {
        "status": status,
        "database": db_state,
        "redis": redis_state,
        "worker_heartbeat": heartbeat,
    }
    return JsonResponse(body, status=200 if db_ok else 503)


class PortalCollector:
    """Business gauges computed at scrape time, one cheap query each."""

    def describe(self):
        # Lets the registry learn the metric names without querying the database at import.
        yield self._outbox_family()

    @staticmethod
    def _outbox_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "spt_outbox_jobs", "Background jobs in the outbox by status", labels=["status"]
        )

    def collect(self):
        outbox = self._outbox_family()
        try:
            counts = dict(
                JobOutbox.objects.exclude(status=JobOutbox.Status.DISPATCHED)
                .order_by()
                .values_list("status")
                .annotate(n=Count("id"))
            )
        except Exception as exc:  # the database may be down; the scrape still answers
            logger.warning("metrics: outbox query failed: %s", exc)
            return
        for status in (JobOutbox.Status.PENDING, JobOutbox.Status.FAILED):
            outbox.add_metric([status.value], counts.get(status.value, 0))
        yield outbox


_collector = PortalCollector()
REGISTRY.register(_collector)


def _authorised(request) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


@never_cache
@require_GET
def metrics(request):
    if not _authorised(request):
        response = JsonResponse({"error": "a valid bearer token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

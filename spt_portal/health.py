"""Operations endpoints: /healthz (and /health, the seeds' name), /readyz and /metrics."""

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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .jobs import HEARTBEAT_KEY
from .models import JobOutbox, NotificationLog
from .observability import SafeCollector, register_collector, registry_for_scrape
from .outbox import waiting

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


def _age(stamp, now) -> int | None:
    return None if stamp is None else max(0, int((now - stamp).total_seconds()))


def check_redis() -> tuple[bool, str, str | None]:
    try:
        client = redis_client()
        client.ping()
        heartbeat = client.get(HEARTBEAT_KEY)
    except (redis.RedisError, OSError) as exc:
        logger.warning("healthz: redis check failed: %s", exc)
        return False, "error", None
    return True, "ok", heartbeat.decode() if heartbeat else None


def cron_heartbeat():
    """When the rq cron scheduler last said it is alive (rq keeps a registry of them)."""
    from datetime import UTC, datetime

    from rq import cron_scheduler_registry

    newest = redis_client().zrange(
        cron_scheduler_registry.get_registry_key(), -1, -1, withscores=True
    )
    return datetime.fromtimestamp(newest[0][1], tz=UTC) if newest else None


def _sync_ages(now) -> dict:
    """Seconds since the last successful AWS Support sync (oldest enabled account), the
    last Health poll and the last Health/SQS message; None when never."""
    from aws_integrations.evidence import health_ages, support_sync_ages

    ages = support_sync_ages(now)
    synced = [age for age in ages.values() if age is not None]
    health = health_ages(now)
    return {
        "aws_support_accounts": len(ages),
        "aws_support_never_synced": len(ages) - len(synced),
        "aws_support_oldest_sync": int(max(synced)) if synced else None,
        "aws_health_poll": None if health["poll"] is None else int(health["poll"]),
        "aws_health_message": None if health["message"] is None else int(health["message"]),
    }


@never_cache
@require_GET
def healthz(request):
    """200 while the database answers (status "degraded" if Redis, the worker or the cron
    scheduler is not), else 503. Ages are in seconds."""
    from datetime import datetime

    from django.utils import timezone

    now = timezone.now()
    db_ok, db_state = check_database()
    redis_ok, redis_state, heartbeat = check_redis()
    worker_age = cron_age = None
    if heartbeat:
        try:
            worker_age = _age(datetime.fromisoformat(heartbeat), now)
        except ValueError:
            worker_age = None
    if redis_ok:
        try:
            cron_age = _age(cron_heartbeat(), now)
        except (redis.RedisError, OSError) as exc:
            logger.warning("healthz: cron heartbeat unreadable: %s", exc)
    stale = settings.HEALTH_HEARTBEAT_STALE_SECONDS
    worker_ok = worker_age is not None and worker_age <= stale
    cron_ok = cron_age is not None and cron_age <= stale
    body = {
        "status": "ok" if db_ok and redis_ok and worker_ok and cron_ok else "degraded",
        "database": db_state,
        "redis": redis_state,
        "worker_heartbeat": heartbeat,
        "worker_heartbeat_age": worker_age,
        "worker": "ok" if worker_ok else "stale",
        "cron_heartbeat_age": cron_age,
        "cron": "ok" if cron_ok else "stale",
    }
    if db_ok:
        try:
            body["sync_ages"] = _sync_ages(now)
        except Exception as exc:  # a half-migrated database, say: health still answers
            logger.warning("healthz: sync ages unreadable: %s", exc)
    return JsonResponse(body, status=200 if db_ok else 503)


@never_cache
@require_GET
def readyz(request):
    """For load balancers: 200 when this process can serve requests (the database
    answers), else 503. Redis, workers and cron do not matter here: pages and ticket
    creation work without them (jobs wait in the outbox)."""
    db_ok, db_state = check_database()
    return JsonResponse(
        {"status": "ready" if db_ok else "unavailable", "database": db_state},
        status=200 if db_ok else 503,
    )


def outbox_counts() -> dict[str, int]:
    """Outbox rows that need someone: ``pending`` waiting to reach RQ (never handed over,
    or unconfirmed after their claim ran out; not the rows just handed over, which their
    worker confirms within moments) and ``failed`` (given up)."""
    return {
        JobOutbox.Status.PENDING.value: waiting().count(),
        JobOutbox.Status.FAILED.value: JobOutbox.objects.filter(
            status=JobOutbox.Status.FAILED
        ).count(),
    }


class PortalCollector:
    """Business gauges computed at scrape time, one cheap query each."""

    def describe(self):
        # Lets the registry learn the metric names without querying the database at import.
        yield self._outbox_family()
        yield self._notifications_family()

    @staticmethod
    def _outbox_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "spt_outbox_jobs", "Background jobs in the outbox by status", labels=["status"]
        )

    @staticmethod
    def _notifications_family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "spt_notifications",
            "Notifications recorded, by channel and delivery status (sent, failed, ...)",
            labels=["channel", "status"],
        )

    def collect(self):
        outbox = self._outbox_family()
        notifications = self._notifications_family()
        try:
            counts = outbox_counts()
            sent = list(
                NotificationLog.objects.order_by()
                .values_list("channel", "status")
                .annotate(n=Count("id"))
            )
        except Exception as exc:  # the database may be down; the scrape still answers
            logger.warning("metrics: outbox query failed: %s", exc)
            return
        for status, n in counts.items():
            outbox.add_metric([status], n)
        for channel, status, n in sent:
            notifications.add_metric([channel, status], n)
        yield outbox
        yield notifications


register_collector(PortalCollector())


def _rq_collector():
    from django_rq.contrib.prometheus import RQCollector

    return SafeCollector(RQCollector(), "rq") if RQCollector else None


_rq = _rq_collector()
if _rq is not None:
    register_collector(_rq)


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
    return HttpResponse(generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST)

import time

import pytest
from django.db.utils import OperationalError
from django.test import override_settings
from rq import cron_scheduler_registry

from spt_portal import health
from spt_portal.jobs import HEARTBEAT_KEY
from spt_portal.models import JobOutbox

pytestmark = pytest.mark.django_db
CRON_KEY = cron_scheduler_registry.get_registry_key()


@pytest.fixture
def heartbeats():
    """No heartbeat before the test (Redis outlives tests); none left after it."""
    client = health.redis_client()
    client.delete(HEARTBEAT_KEY, CRON_KEY)
    yield client
    client.delete(HEARTBEAT_KEY, CRON_KEY)


@pytest.mark.parametrize("path", ["/healthz", "/health"])
def test_health_ok(client, path, heartbeats):
    from spt_portal.jobs import worker_heartbeat

    worker_heartbeat()
    heartbeats.zadd(CRON_KEY, {"cron-test": time.time() - 30})
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["worker"] == "ok" and body["worker_heartbeat_age"] <= 5
    assert body["cron"] == "ok" and 25 <= body["cron_heartbeat_age"] <= 40
    assert body["sync_ages"] == {
        "aws_support_accounts": 0,
        "aws_support_never_synced": 0,
        "aws_support_oldest_sync": None,
        "aws_health_poll": None,
        "aws_health_message": None,
    }


def test_health_degraded_when_the_worker_or_cron_is_stale(client, heartbeats):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["redis"] == "ok"
    assert body["worker"] == "stale" and body["worker_heartbeat_age"] is None
    assert body["cron"] == "stale" and body["cron_heartbeat_age"] is None
    heartbeats.zadd(CRON_KEY, {"cron-test": time.time() - 3600})
    assert client.get("/healthz").json()["cron_heartbeat_age"] >= 3600


def test_health_degraded_when_redis_is_down(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok" and body["redis"] == "error"
    assert body["worker"] == "stale" and body["cron"] == "stale"


def test_readyz_follows_the_database_only(client, monkeypatch):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"

    class BrokenCursor:
        def __enter__(self):
            raise OperationalError("connection refused")

        def __exit__(self, *args):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


def test_health_503_when_database_does_not_answer(client, monkeypatch):
    class BrokenCursor:
        def __enter__(self):
            raise OperationalError("connection refused")

        def __exit__(self, *args):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error"
    assert response.json()["status"] == "degraded"


def test_health_shows_worker_heartbeat(client, heartbeats):
    from spt_portal.jobs import worker_heartbeat

    stamp = worker_heartbeat()
    assert client.get("/healthz").json()["worker_heartbeat"] == stamp


def test_metrics_in_prometheus_format(client):
    JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.PENDING)
    JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.FAILED)
    JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.FAILED)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'spt_outbox_jobs{status="pending"} 1.0' in text
    assert 'spt_outbox_jobs{status="failed"} 2.0' in text


@override_settings(METRICS_BEARER_TOKEN="s3cret-token")
def test_metrics_requires_the_bearer_token_when_set(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200


def test_health_is_get_only(client):
    assert client.post("/healthz").status_code == 405

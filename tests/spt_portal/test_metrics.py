"""/metrics: request metrics by view, business gauges and counters, rq queues; a backend
that is down leaves the rest of the scrape intact."""

from datetime import timedelta

import pytest
from django.utils import timezone

from spt_portal.models import NotificationLog
from tickets.models import Ticket
from tickets.services import ticket_create

pytestmark = pytest.mark.django_db


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in /metrics")


def test_requests_are_counted_and_timed_by_view_name(client):
    before = scrape(client)
    key = 'spt_http_requests_total{method="GET",status="200",view="readyz"}'
    start = value(before, key) if key in before else 0
    for _ in range(3):
        client.get("/readyz")
    client.get("/no-such-page/")
    text = scrape(client)
    assert value(text, key) == start + 3
    assert 'view="unmatched"' in text  # never the raw path
    assert "no-such-page" not in text
    assert 'spt_http_request_duration_seconds_bucket{le="0.5",method="GET",view="readyz"}' in text


def test_ticket_gauges_and_counters(client, acme, acme_user, engineer):
    for source, priority in (("web", "high"), ("email", "medium"), ("api", "high")):
        ticket_create(
            customer=acme,
            requester=acme_user,
            title=f"{source} ticket",
            priority=priority,
            source=source,
            actor=acme_user,
        )
    late = Ticket.objects.get(source="api")
    Ticket.objects.filter(pk=late.pk).update(first_response_due_at=timezone.now() - timedelta(1))
    warned = Ticket.objects.get(source="web")
    Ticket.objects.filter(pk=warned.pk).update(
        first_response_at_risk_at=timezone.now() - timedelta(minutes=1)
    )
    text = scrape(client)
    assert value(text, 'spt_tickets_open{priority="high",status="new"}') == 2
    assert value(text, 'spt_tickets_created_total{source="email"}') == 1
    assert value(text, 'spt_tickets_sla{state="breaching"}') == 1
    assert value(text, 'spt_tickets_sla{state="at_risk"}') == 1
    assert "# TYPE spt_sla_breaches_total counter" in text


def test_notifications_by_channel_and_status(client):
    NotificationLog.objects.create(channel="email", recipient="a@x", template="t", status="sent")
    NotificationLog.objects.create(channel="email", recipient="b@x", template="t", status="failed")
    NotificationLog.objects.create(channel="sms", recipient="+86", template="t", status="sent")
    text = scrape(client)
    assert value(text, 'spt_notifications_total{channel="email",status="failed"}') == 1
    assert value(text, 'spt_notifications_total{channel="sms",status="sent"}') == 1


def test_rq_queues_are_exported_and_redis_down_leaves_the_rest(client, monkeypatch, caplog):
    import redis
    from django_rq.contrib.prometheus import RQCollector

    text = scrape(client)
    assert 'rq_jobs{queue="default",status="queued"}' in text
    assert 'rq_jobs{queue="notifications",status="failed"}' in text

    def down(self):
        raise redis.ConnectionError("Error 111 connecting to redis:6379")
        yield  # a generator, like the real one

    monkeypatch.setattr(RQCollector, "collect", down)
    text = scrape(client)
    assert "rq_jobs{" not in text
    assert "spt_tickets_sla" in text and "spt_outbox_jobs" in text
    assert "rq collector failed" in caplog.text

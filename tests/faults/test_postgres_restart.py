"""PostgreSQL restarts under the running portal: the web, the worker and the SQS consumer
keep their processes, reconnect by themselves and carry on with new work."""

import pytest

from .servers import wait_for
from .sqs import HealthQueue, health_event

pytestmark = pytest.mark.faults


def test_worker_and_consumer_survive_a_database_restart(portal, moto):
    queue = HealthQueue(moto, "pg-restart-events")
    portal.env.update(queue.env)
    web, worker = portal.start_web(), portal.start_worker()
    consumer = portal.start_manage("events", "consume_health_queue")
    consumer.ready = lambda: "consuming" in consumer.output()
    seeded = portal.seeded
    portal.wait_ready(web, worker, consumer)
    running = [web, worker, consumer]
    pids = {proc.name: proc.pid for proc in running}

    def events():
        return portal.value("SELECT count(*) FROM aws_integrations_healthevent")

    before = portal.api_create_ticket(seeded["token"], "Before the database restart")
    queue.send(health_event(1))
    wait_for(
        lambda: portal.emails(f"[{before['number']}]") and events() == 1,
        timeout=60,
        what="the worker and the consumer to work before the restart",
        alive=running,
    )

    portal.postgres.stop("fast")
    # An event arrives while the database is down: the consumer (in its long poll) takes
    # it, cannot store it, and waits for the database; the message comes back later.
    queue.send(health_event(2))
    wait_for(
        lambda: "database unavailable" in consumer.output(),
        timeout=40,
        what="the consumer to meet the database outage",
        alive=running,
    )
    status, _body = portal.get("/readyz")
    assert status == 503
    portal.postgres.start()

    after = portal.api_create_ticket(seeded["token"], "After the database restart")
    queue.send(health_event(3))
    wait_for(
        lambda: portal.emails(f"[{after['number']}]") and events() == 3,
        timeout=60,
        what="the same worker and consumer to work after the restart",
        alive=running,
    )
    wait_for(lambda: queue.counts() == (0, 0), timeout=30, what="an empty queue", alive=running)
    assert {proc.name: proc.pid for proc in running if proc.alive} == pids, portal.logs()

    # Each event once, with its internal ticket and the customer's ticket; nothing sent to
    # the dead-letter queue.
    assert portal.rows(
        "SELECT count(*), count(DISTINCT arn), count(ticket_id) FROM aws_integrations_healthevent"
    ) == [(3, 3, 3)]
    assert portal.value("SELECT count(*) FROM aws_integrations_healtheventcustomer") == 3
    assert portal.value("SELECT count(*) FROM tickets_ticket WHERE source = 'aws_health'") == 6
    assert queue.counts(queue.dlq) == (0, 0)
    for number in (before["number"], after["number"]):
        assert len(portal.emails(f"[{number}]")) == 1, number

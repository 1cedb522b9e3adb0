"""A process SIGKILLed in the middle of its work: the next run completes it, once.

The processes are the real commands (consume_health_queue, poll_support_cases) started by
tests/faults/child.py, which pauses them at the interesting moment and says so; the test
then kills them with SIGKILL from outside, as the OOM killer or a lost host would.
"""

import pytest

from .child import ACCOUNT_ID, CASES, CONTACT, FIRST_CASE
from .servers import wait_for
from .sqs import HealthQueue, health_event

pytestmark = pytest.mark.faults

EVENTS = 4


def test_consumer_killed_in_the_middle_of_a_batch(portal, moto):
    queue = HealthQueue(moto, "killed-batch-events")
    portal.env.update(queue.env)
    for n in range(EVENTS):
        queue.send(health_event(n))

    def events():
        return portal.value("SELECT count(*) FROM aws_integrations_healthevent")

    # One receive takes the whole batch; its events are committed together, their messages
    # not deleted yet: SIGKILL.
    consumer = portal.start_child("consumer-killed", "consume-slow")
    wait_for(
        lambda: "FAULT-POINT" in consumer.output(),
        timeout=60,
        what="the consumer to commit its batch",
        alive=[consumer],
    )
    assert events() == EVENTS
    assert sum(queue.counts()) == EVENTS  # none deleted
    consumer.sigkill()

    # The service again (its supervisor restarts it): every message comes back after its
    # visibility timeout and is processed a second time, which stores nothing new.
    again = portal.start_manage("events", "consume_health_queue")
    wait_for(
        lambda: queue.counts() == (0, 0),
        timeout=60,
        what="the consumer to process the batch again",
        alive=[again],
    )
    again.stop(timeout=1)  # it waits in a 20-second long poll
    assert events() == EVENTS

    # The customers' notices are jobs (the batch's new events: one job for their links;
    # redelivered, each link not yet notified is queued again). A worker runs them.
    notified = portal.rows(
        "SELECT DISTINCT (n ->> 0)::int FROM spt_portal_joboutbox, "
        "jsonb_array_elements(CASE func WHEN 'aws_integrations.jobs.notify_health_customers' "
        "THEN args -> 0 ELSE jsonb_build_array(args) END) AS n "
        "WHERE func LIKE 'aws_integrations.jobs.notify_health_customer%%'"
    )
    assert sorted(row[0] for row in notified) == sorted(
        row[0] for row in portal.rows("SELECT id FROM aws_integrations_healtheventcustomer")
    )
    worker = portal.start_worker()
    portal.wait_ready(worker)
    portal.wait_idle(worker)
    worker.stop()

    # One event, one internal ticket, one customer ticket and one notice per event.
    assert portal.rows(
        "SELECT count(*), count(DISTINCT arn), count(ticket_id) FROM aws_integrations_healthevent"
    ) == [(EVENTS, EVENTS, EVENTS)]
    assert portal.value("SELECT count(*) FROM aws_integrations_healtheventcustomer") == EVENTS
    assert portal.value("SELECT count(*) FROM tickets_ticket WHERE source = 'aws_health'") == (
        2 * EVENTS
    )
    assert (
        portal.value(
            "SELECT count(*) FROM spt_portal_notificationlog WHERE template = 'health_notice'"
        )
        == EVENTS
    )
    assert queue.counts(queue.dlq) == (0, 0)
    # One delivery job per notice (the worker sends it once: see test_redis_down).
    assert portal.rows(
        "SELECT count(*), count(DISTINCT args::text) FROM spt_portal_joboutbox "
        "WHERE func = 'spt_portal.jobs.deliver_notification' AND args::text IN ("
        "  SELECT '[' || id || ']' FROM spt_portal_notificationlog"
        "  WHERE template = 'health_notice' AND recipient = %s)",
        CONTACT,
    ) == [(EVENTS, EVENTS)]


def test_support_poll_killed_in_the_middle_of_an_account(portal):
    from aws_integrations import support

    # The lock of a poller that died must expire well before the next poll (10 minutes).
    assert support.POLL_LOCK_SECONDS * 2 <= 600
    lock_seconds = 3

    def comments(case_id):
        return portal.value(
            "SELECT count(*) FROM tickets_comment c "
            "JOIN aws_integrations_supportcase s ON s.ticket_id = c.ticket_id "
            "WHERE s.case_id = %s AND c.aws_communication_key <> ''",
            case_id,
        )

    # First case imported and committed; the second half imported (uncommitted): SIGKILL.
    poller = portal.start_child(
        "poller-killed", "poll-support", "first", FAULT_POLL_LOCK_SECONDS=str(lock_seconds)
    )
    wait_for(
        lambda: "FAULT-POINT" in poller.output(),
        timeout=60,
        what="the poller to reach the second case",
        alive=[poller],
    )
    assert comments(FIRST_CASE) == CASES[FIRST_CASE]
    poller.sigkill()
    second = list(CASES)[1]
    assert comments(second) == 0  # rolled back with the dead process's transaction

    # The dead poller's lock outlives it by at most its lifetime (renewed after each case),
    # not by the half hour it used to; then the next poll runs.
    redis = portal.redis.client()
    key = f"spt:support-poll:{portal.value('SELECT id FROM spt_portal_customerawsaccount')}"
    assert redis.ttl(key) <= lock_seconds
    wait_for(
        lambda: not redis.exists(key),
        timeout=lock_seconds + 5,
        what="the dead poller's lock to expire",
    )
    result = portal.child("poll-support", "rerun", FAULT_POLL_LOCK_SECONDS=str(lock_seconds))
    assert f"{ACCOUNT_ID} (ACME): ok, 3 cases, 1 new tickets, 6 comments imported" in (
        result.stdout
    ), result.stdout + result.stderr

    # Every case once, with one ticket, and every communication once (AWS's one new reply
    # on the first case included).
    assert portal.rows(
        "SELECT count(*), count(DISTINCT case_id), count(DISTINCT ticket_id) "
        "FROM aws_integrations_supportcase"
    ) == [(3, 3, 3)]
    assert portal.value("SELECT count(*) FROM tickets_ticket WHERE source = 'aws_support'") == 3
    expected = dict(CASES)
    expected[FIRST_CASE] += 1
    assert {case_id: comments(case_id) for case_id in CASES} == expected
    assert (
        portal.value(
            "SELECT count(*) - count(DISTINCT aws_communication_key) FROM tickets_comment "
            "WHERE aws_communication_key <> ''"
        )
        == 0
    )

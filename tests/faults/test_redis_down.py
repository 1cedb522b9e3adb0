"""Redis goes away under a running portal: pages and writes keep working, the jobs wait in
the outbox, and once Redis is back the relay hands them over and the worker runs each once.
"""

import json

import pytest

from .servers import wait_for

pytestmark = pytest.mark.faults


def outbox(portal) -> dict[int, tuple[str, str]]:
    return {
        pk: (status, error)
        for pk, status, error in portal.rows(
            "SELECT id, status, last_error FROM spt_portal_joboutbox ORDER BY id"
        )
    }


def sent_message_ids(portal) -> list[str]:
    return [str(message["Message-ID"]) for message in portal.mailbox()]


def ticket_emails(portal, number: str) -> list:
    return portal.emails(f"[{number}]")


def test_redis_down_pages_and_tickets_work_and_jobs_wait_in_the_outbox(portal):
    web, worker = portal.start_web(), portal.start_worker()
    seeded = portal.seeded
    portal.wait_ready(web, worker)
    running = [web, worker]

    # Control: with Redis up, a new ticket's confirmation email goes out at once.
    before = portal.api_create_ticket(seeded["token"], "Before the outage")
    wait_for(
        lambda: ticket_emails(portal, before["number"]),
        timeout=30,
        what="the confirmation email of a ticket made while Redis is up",
        alive=running,
    )
    jobs_before = set(outbox(portal))
    # An idle worker rides out the outage (rq retries with backoff). One busy with a job
    # when Redis vanishes exits ("unhandled exception, quitting"): rq's own behaviour,
    # left to the supervisor (docker-compose.yml: restart: unless-stopped).
    portal.wait_idle(worker)

    portal.redis.stop()

    # Pages are served; /healthz says degraded (200) and names Redis.
    status, body = portal.get("/healthz")
    assert status == 200, body
    health = json.loads(body)
    assert health["status"] == "degraded" and health["redis"] == "error", body

    # A ticket through the API ...
    by_api = portal.api_create_ticket(seeded["token"], "Filed while Redis is down (API)")
    # ... and one through the portal's form, signed in with the sign-in page.
    browser = portal.browser()
    status, page = portal.submit_form(
        browser, "/accounts/login/", {"username": seeded["contact"], "password": seeded["password"]}
    )
    assert status == 200 and 'name="password"' not in page, "sign-in failed:\n" + page[-2000:]
    title = "Filed while Redis is down (form)"
    status, page = portal.submit_form(
        browser, "/portal/tickets/new/", {"title": title, "description": "x", "priority": "high"}
    )
    assert status == 200, page[-2000:]
    by_form = portal.value("SELECT number FROM tickets_ticket WHERE title = %s", title)
    assert by_form in page  # the new ticket's page
    status, page = portal.get("/portal/", opener=browser)
    assert status == 200 and by_api["number"] in page and by_form in page

    # The jobs of both tickets wait in the outbox: pending, with Redis's error, none lost.
    # (A new ticket's notices are decided by its job: no notice exists before it runs.)
    waiting = {pk: row for pk, row in outbox(portal).items() if pk not in jobs_before}
    assert waiting, "no job was recorded for the tickets filed while Redis was down"
    assert {status for status, _error in waiting.values()} == {"pending"}, waiting
    assert all("Error" in error for _status, error in waiting.values()), waiting
    new_tickets = portal.rows(
        "SELECT t.number FROM spt_portal_joboutbox o JOIN tickets_ticket t "
        "ON o.args::text = '[' || t.id || ']' "
        "WHERE o.id = ANY(%s) AND o.func = 'tickets.jobs.notify_ticket_created'",
        list(waiting),
    )
    assert {number for (number,) in new_tickets} == {by_api["number"], by_form}, new_tickets
    assert not ticket_emails(portal, by_api["number"]) and not ticket_emails(portal, by_form)
    assert worker.alive, "the worker exited when Redis went away\n" + portal.logs()

    # Redis is back (empty: it keeps nothing on disk here). Every minute the cron
    # scheduler (spt_portal/cron.py) queues the relay_outbox job; here it is queued the way
    # rqcron does, without waiting for the minute. The worker runs it, then the jobs.
    portal.redis.start()
    wait_for(
        lambda: portal.value(
            "SELECT bool_and(next_attempt_at <= now()) FROM spt_portal_joboutbox WHERE id = ANY(%s)",
            list(waiting),
        ),
        timeout=30,
        what="the outbox's retry time (OUTBOX_RETRY_SECONDS=1 here, with backoff)",
    )
    portal.queue_job("spt_portal.jobs.relay_outbox")

    def all_handed_over():
        rows = outbox(portal)
        return all(rows[pk][0] == "dispatched" for pk in waiting)

    wait_for(all_handed_over, timeout=60, what="the relay to hand the jobs over", alive=running)
    wait_for(
        lambda: ticket_emails(portal, by_api["number"]) and ticket_emails(portal, by_form),
        timeout=60,
        what="the worker to send the emails of the tickets filed while Redis was down",
        alive=running,
    )

    # Nothing lost, nothing twice: the relay's next run finds nothing to hand over.
    again = portal.queue_job("spt_portal.jobs.relay_outbox")
    assert portal.wait_job(again, worker) == {
        "due": 0,
        "confirmed": 0,
        "removed": 0,
        "dispatched": 0,
        "pending": 0,
    }
    portal.wait_idle(worker)
    unsent = portal.rows("SELECT id, status FROM spt_portal_notificationlog WHERE status <> 'sent'")
    assert not unsent, unsent
    ids = sent_message_ids(portal)
    assert len(ids) == len(set(ids)), f"an email was sent twice: {ids}"
    expected = {mid for (mid,) in portal.rows("SELECT message_id FROM spt_portal_notificationlog")}
    assert set(ids) == expected
    for number in (before["number"], by_api["number"], by_form):
        assert len(ticket_emails(portal, number)) == 1, number
    left = portal.value("SELECT count(*) FROM spt_portal_joboutbox WHERE status <> 'dispatched'")
    assert left == 0, outbox(portal)
    assert web.alive and worker.alive, portal.logs()

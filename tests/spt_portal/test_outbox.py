import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from spt_portal import outbox
from spt_portal.jobs import relay_outbox
from spt_portal.models import JobOutbox, Skill

from .sample_jobs import make_skill

pytestmark = pytest.mark.django_db(transaction=True)

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _queues_at(url):
    from django.conf import settings

    return {name: {**conf, "URL": url} for name, conf in settings.RQ_QUEUES.items()}


def test_job_runs_after_commit_through_redis():
    with transaction.atomic():
        row = outbox.enqueue(make_skill, "ec2", name="EC2")
        # Not before the transaction commits: a rolled-back change must not run its job.
        assert not Skill.objects.filter(slug="ec2").exists()
    assert Skill.objects.get(slug="ec2").name == "EC2"
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED
    assert row.rq_job_id == f"outbox-{row.pk}"
    assert row.attempts == 1


def test_rolled_back_change_leaves_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(make_skill, "rolled-back")
        raise RuntimeError("the change failed")
    assert not JobOutbox.objects.exists()
    assert not Skill.objects.filter(slug="rolled-back").exists()


def test_unknown_queue_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown queue"):
        outbox.enqueue(make_skill, "x", queue="nope")


def test_redis_down_never_fails_the_caller_and_loses_nothing(caplog):
    caplog.set_level(logging.WARNING, logger="spt_portal.outbox")
    with override_settings(RQ_QUEUES=_queues_at(DEAD_REDIS)):
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "while-down", queue="notifications")
        row.refresh_from_db()
        assert row.status == JobOutbox.Status.PENDING
        assert "ConnectionError" in row.last_error
        assert row.next_attempt_at is not None
        assert "could not hand job" in caplog.text
        # The relay while Redis is still down changes nothing.
        JobOutbox.objects.update(next_attempt_at=None)
        counts = outbox.relay_pending()
        assert counts["dispatched"] == 0
        assert JobOutbox.objects.get().status == JobOutbox.Status.PENDING
    assert not Skill.objects.filter(slug="while-down").exists()

    # Redis is back: the relay (the cron job run by a worker) hands the job over; it runs.
    JobOutbox.objects.update(next_attempt_at=None)
    counts = relay_outbox()
    assert counts == {"due": 1, "confirmed": 0, "removed": 0, "dispatched": 1, "pending": 0}
    assert Skill.objects.filter(slug="while-down").exists()
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED
    assert row.attempts == 3


def test_relay_respects_backoff_and_gives_up_after_max_attempts():
    with override_settings(RQ_QUEUES=_queues_at(DEAD_REDIS), OUTBOX_MAX_ATTEMPTS=2):
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "never")
        # Backoff: not due yet, so the relay does not touch it.
        assert outbox.relay_pending()["due"] == 0
        JobOutbox.objects.update(next_attempt_at=None)
        outbox.relay_pending()
        row.refresh_from_db()
        assert row.status == JobOutbox.Status.FAILED
        assert row.attempts == 2


def test_a_row_is_handed_over_once():
    with override_settings(RQ_QUEUES=_queues_at(DEAD_REDIS)), transaction.atomic():
        row = outbox.enqueue(make_skill, "once")
    JobOutbox.objects.update(next_attempt_at=None)
    assert outbox.dispatch(row.pk) is True
    # A second relay (say a second cron) finds nothing to do.
    assert outbox.dispatch(row.pk) is False
    assert outbox.relay_pending()["due"] == 0


def test_jobs_of_one_transaction_are_handed_over_together(django_assert_max_num_queries):
    """Several jobs on two queues, one of them in a savepoint that rolled back: after commit
    the rest reach Redis in one pipeline per queue, with a fixed number of SQL statements."""
    import django_rq
    from django.conf import settings

    queues = {name: {**conf, "ASYNC": True} for name, conf in settings.RQ_QUEUES.items()}
    with override_settings(RQ_QUEUES=queues):
        for name in ("default", "notifications"):
            django_rq.get_queue(name).empty()
        # 4 inserts, a savepoint and its rollback, begin and commit; the flush: a read
        # (no mark: each job's worker marks its row).
        with django_assert_max_num_queries(10), transaction.atomic():
            rows = [outbox.enqueue(make_skill, f"batch-{i}") for i in range(2)]
            try:
                with transaction.atomic():
                    outbox.enqueue(make_skill, "rolled-back")
                    raise RuntimeError
            except RuntimeError:
                pass
            rows.append(outbox.enqueue(make_skill, "batch-n", queue="notifications"))
        default_ids = django_rq.get_queue("default").job_ids
        notification_ids = django_rq.get_queue("notifications").job_ids
        for name in ("default", "notifications"):
            django_rq.get_queue(name).empty()
    assert default_ids == [f"outbox-{rows[0].pk}", f"outbox-{rows[1].pk}"]
    assert notification_ids == [f"outbox-{rows[2].pk}"]
    assert JobOutbox.objects.count() == 3
    # Handed over and claimed until their worker starts them: pending, not waiting.
    assert set(JobOutbox.objects.values_list("status", "last_error")) == {("pending", "")}
    assert not outbox.waiting().exists()


def test_a_transaction_longer_than_the_claim_leaves_its_jobs_to_the_relay():
    """A row is claimed for CLAIM_SECONDS from its insert. When the transaction outlives
    the claim, the relay may already take the row: the flush leaves it alone, so nothing is
    handed over twice, and the relay delivers it."""
    import time_machine
    from django.utils import timezone

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "slow")
            clock.shift(outbox.CLAIM_SECONDS + 1)
        row.refresh_from_db()
        assert row.status == JobOutbox.Status.PENDING
        assert not Skill.objects.filter(slug="slow").exists()
        assert relay_outbox()["dispatched"] == 1
    assert Skill.objects.filter(slug="slow").exists()


def test_retention_deletes_only_old_dispatched_rows(settings, caplog):
    from datetime import timedelta

    from django.utils import timezone

    from spt_portal.jobs import delete_old_outbox_rows

    now = timezone.now()
    old = now - timedelta(days=20)
    rows = {
        name: JobOutbox.objects.create(func="x.y", status=status, dispatched_at=when)
        for name, status, when in [
            ("old", JobOutbox.Status.DISPATCHED, old),
            ("old2", JobOutbox.Status.DISPATCHED, old),
            ("recent", JobOutbox.Status.DISPATCHED, now - timedelta(days=1)),
            ("pending", JobOutbox.Status.PENDING, None),
            ("failed", JobOutbox.Status.FAILED, None),
        ]
    }
    settings.OUTBOX_RETENTION_DAYS = 14
    caplog.set_level(logging.INFO, logger="spt_portal.outbox")
    assert outbox.delete_dispatched(batch_size=1) == 2
    left = set(JobOutbox.objects.values_list("pk", flat=True))
    assert left == {rows[name].pk for name in ("recent", "pending", "failed")}
    assert "batch 2 deleted 1 rows" in caplog.text
    assert "2 rows dispatched before" in caplog.text
    settings.OUTBOX_RETENTION_DAYS = 0
    JobOutbox.objects.filter(pk=rows["recent"].pk).update(dispatched_at=old)
    assert delete_old_outbox_rows() == 0
    assert JobOutbox.objects.filter(pk=rows["recent"].pk).exists()


def _async_queues():
    from django.conf import settings

    return {name: {**conf, "ASYNC": True} for name, conf in settings.RQ_QUEUES.items()}


def _job_ids(name="default"):
    import django_rq

    return django_rq.get_queue(name).job_ids


def _empty_queues():
    import django_rq

    for name in ("default", "notifications"):
        django_rq.get_queue(name).empty()
    django_rq.get_queue("default").connection.delete(outbox.HANDED_KEY)


def test_rows_outside_savepoints_are_handed_over_without_a_read(django_assert_num_queries):
    """The usual write (no savepoint): its rows exist exactly when it committed, so the flush
    hands them over from memory: no read back, and no mark (their worker marks them)."""
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        # begin, two inserts, commit; the flush: nothing.
        with django_assert_num_queries(4), transaction.atomic():
            rows = [outbox.enqueue(make_skill, f"plain-{i}", name=(1, 2)) for i in range(2)]
        job_ids = _job_ids()
        import django_rq

        job = django_rq.get_queue("default").fetch_job(job_ids[0])
        _empty_queues()
    assert job_ids == [f"outbox-{row.pk}" for row in rows]
    # The arguments as stored (a tuple is a JSON list), as the relay would hand them over.
    assert job.args == ["plain-0"] and job.kwargs == {"name": [1, 2]}
    assert set(JobOutbox.objects.values_list("status", flat=True)) == {"pending"}


def test_rows_of_a_rolled_back_transaction_never_reach_redis():
    """A transaction that rolled back leaves its rows in this thread's list (its on_commit
    callbacks are dropped, the list is not): the next transaction's flush reads its rows
    back and hands over only those stored."""
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.enqueue(make_skill, "rolled-back")
            raise RuntimeError("the change failed")
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "kept")
        job_ids = _job_ids()
        _empty_queues()
    assert job_ids == [f"outbox-{row.pk}"]
    assert list(JobOutbox.objects.values_list("pk", "status")) == [(row.pk, "pending")]
    assert not outbox.waiting().exists()


def test_a_claim_that_ran_out_during_the_transaction_is_left_to_the_relay():
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "slow")
            row.next_attempt_at = timezone.now() - timedelta(seconds=1)  # 60 s went by
            JobOutbox.objects.filter(pk=row.pk).update(next_attempt_at=row.next_attempt_at)
        job_ids = _job_ids()
        row.refresh_from_db()
        assert row.status == JobOutbox.Status.PENDING
        assert outbox.relay_pending()["dispatched"] == 1
        relayed = _job_ids()
        _empty_queues()
    assert job_ids == []
    assert relayed == [f"outbox-{row.pk}"]


def test_a_flush_failing_after_commit_never_fails_the_committed_caller(monkeypatch, caplog):
    """The change is committed: an error handing its jobs over (the database gone that very
    moment) is logged and the rows are left to the relay, never raised to the caller (an API
    client would take the error for a failed create and open a twin)."""
    from django.db import OperationalError

    def broken(rows, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(outbox, "_hand_over_rows", broken)
    with transaction.atomic():
        row = outbox.enqueue(make_skill, "after-commit", queue="notifications")
        Skill.objects.create(slug="committed", name="Committed")
    assert Skill.objects.filter(slug="committed").exists()
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.PENDING  # the relay's after its claim runs out
    assert "server closed the connection" in caplog.text


def _run_worker():
    """What ``manage.py rqworker`` runs (settings.RQ), in this process: it may use this
    test's database connection."""
    import django_rq

    from spt_portal.worker import InProcessWorker

    queues = [django_rq.get_queue(name) for name in ("default", "notifications")]
    InProcessWorker(queues, connection=queues[0].connection).work(burst=True)


def test_the_worker_marks_the_row_when_it_starts_the_job():
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "by-worker", queue="notifications")
        assert not Skill.objects.filter(slug="by-worker").exists()
        _run_worker()
    assert Skill.objects.filter(slug="by-worker").exists()
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED
    assert row.rq_job_id == f"outbox-{row.pk}"
    assert row.dispatched_at is not None


def test_the_portals_worker_is_rqs_with_the_outbox_mark():
    from django_rq.workers import get_worker_class
    from rq import Worker as RQWorker

    from spt_portal.worker import OutboxConfirming

    worker_class = get_worker_class()
    assert issubclass(worker_class, RQWorker) and issubclass(worker_class, OutboxConfirming)


def test_confirm_started_ignores_jobs_that_are_not_the_outboxs():
    row = JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.PENDING)
    assert outbox.confirm_started("spt_portal.jobs.relay_outbox") is False
    assert outbox.confirm_started("outbox-x") is False
    assert outbox.confirm_started(f"outbox-{row.pk + 1}") is False
    assert outbox.confirm_started(f"outbox-{row.pk}") is True
    assert outbox.confirm_started(f"outbox-{row.pk}") is False  # once
    assert JobOutbox.objects.get().status == JobOutbox.Status.DISPATCHED


def test_a_worker_that_cannot_mark_still_runs_the_job(monkeypatch, caplog):
    from django.db import OperationalError

    def broken(job_id):
        raise OperationalError("the database went away")

    monkeypatch.setattr(outbox, "confirm_started", broken)
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "unmarked")
        _run_worker()
    assert Skill.objects.filter(slug="unmarked").exists()
    assert "could not mark job" in caplog.text
    # Its claim runs out: the relay finds it in Redis (finished) and marks it, without
    # running it again.
    JobOutbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    Skill.objects.filter(slug="unmarked").delete()
    with override_settings(RQ_QUEUES=_async_queues()):
        counts = outbox.relay_pending()
        _empty_queues()
    assert counts == {"due": 1, "confirmed": 1, "removed": 0, "dispatched": 0, "pending": 0}
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED
    assert not Skill.objects.filter(slug="unmarked").exists()


def test_the_relay_marks_a_job_still_queued_without_handing_it_over_again():
    """Workers busy or stopped: the claim runs out while the job waits in its queue."""
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "queued")
        JobOutbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert list(outbox.waiting()) == [row]
        counts = outbox.relay_pending()
        job_ids = _job_ids()
        _empty_queues()
    assert counts == {"due": 1, "confirmed": 1, "removed": 0, "dispatched": 0, "pending": 0}
    assert job_ids == [f"outbox-{row.pk}"]  # once
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED and row.attempts == 1


def test_a_job_redis_lost_is_handed_over_again():
    """Redis restarted without persistence after the hand-over: no job, no mark. The relay
    hands the row over again once its claim runs out, and the worker runs it."""
    import django_rq
    from rq.job import Job

    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "lost")
        connection = django_rq.get_queue("default").connection
        assert connection.zscore(outbox.HANDED_KEY, row.pk) is not None
        _empty_queues()  # the queue, and the handed set: all Redis had
        connection.delete(Job.key_for(f"outbox-{row.pk}"))
        JobOutbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        counts = outbox.relay_pending()
        assert _job_ids() == [f"outbox-{row.pk}"]
        _run_worker()
    assert counts == {"due": 1, "confirmed": 0, "removed": 0, "dispatched": 1, "pending": 0}
    assert Skill.objects.filter(slug="lost").exists()
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED and row.attempts == 2


def test_the_relay_works_through_more_than_one_batch(monkeypatch):
    monkeypatch.setattr(outbox, "RELAY_BATCH", 2)
    past = timezone.now() - timedelta(seconds=1)
    JobOutbox.objects.bulk_create(
        JobOutbox(
            func=f"{make_skill.__module__}.make_skill", args=[f"many-{i}"], next_attempt_at=past
        )
        for i in range(5)
    )
    counts = outbox.relay_pending(limit=4)
    assert counts["due"] == 4 and counts["dispatched"] == 4 and counts["pending"] == 1
    assert Skill.objects.filter(slug__startswith="many-").count() == 4
    assert outbox.relay_pending()["dispatched"] == 1


def test_waiting_counts_rows_that_need_the_relay_only():
    now = timezone.now()
    claimed = JobOutbox.objects.create(func="x.y", next_attempt_at=now + timedelta(seconds=60))
    JobOutbox.objects.create(func="x.y", next_attempt_at=now - timedelta(seconds=1))
    JobOutbox.objects.create(func="x.y", next_attempt_at=None)
    JobOutbox.objects.create(
        func="x.y", last_error="ConnectionError", next_attempt_at=now + timedelta(seconds=60)
    )
    JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.FAILED)
    JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.DISPATCHED)
    assert outbox.waiting().count() == 3
    assert claimed not in outbox.waiting()


def test_an_older_job_of_the_same_id_is_not_this_rows():
    """A database restored from a backup reuses row ids; RQ may still hold a job of that id
    from before (failed jobs are kept a year). The relay hands the row over."""
    import django_rq
    from rq.job import Job

    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        row = JobOutbox.objects.create(
            func=f"{make_skill.__module__}.make_skill",
            args=["restored"],
            next_attempt_at=timezone.now() - timedelta(seconds=1),
        )
        connection = django_rq.get_queue("default").connection
        connection.hset(
            Job.key_for(f"outbox-{row.pk}"), "created_at", "2026-01-01T00:00:00.000000Z"
        )
        counts = outbox.relay_pending()
        queued = _job_ids()
        _empty_queues()
    assert counts["confirmed"] == 0 and counts["dispatched"] == 1
    assert queued == [f"outbox-{row.pk}"]


def test_a_job_removed_from_redis_on_purpose_is_not_run_again():
    """An operator empties a flooded queue (django-rq's "Empty queue"): the rows of the
    jobs it held are marked, not handed over again."""
    import django_rq

    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "flood")
        django_rq.get_queue("default").empty()  # the jobs only: the handed set stays
        JobOutbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        counts = outbox.relay_pending()
        queued = _job_ids()
        handed = django_rq.get_queue("default").connection.zscore(outbox.HANDED_KEY, row.pk)
        _empty_queues()
    assert counts == {"due": 1, "confirmed": 0, "removed": 1, "dispatched": 0, "pending": 0}
    assert queued == [] and handed is None  # settled: out of the handed set
    row.refresh_from_db()
    assert row.status == JobOutbox.Status.DISPATCHED
    assert not Skill.objects.filter(slug="flood").exists()


def test_the_worker_drops_the_row_from_the_handed_set():
    import django_rq

    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "handed")
        connection = django_rq.get_queue("default").connection
        assert connection.zscore(outbox.HANDED_KEY, row.pk) is not None
        _run_worker()
        assert connection.zscore(outbox.HANDED_KEY, row.pk) is None


def test_the_relay_trims_the_handed_set():
    import django_rq

    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        connection = django_rq.get_queue("default").connection
        old = (timezone.now() - outbox.HANDED_KEEP - timedelta(minutes=1)).timestamp()
        connection.zadd(outbox.HANDED_KEY, {"999999": old, "999998": timezone.now().timestamp()})
        JobOutbox.objects.create(func="x.y", status=JobOutbox.Status.PENDING, next_attempt_at=None)
        with transaction.atomic():
            outbox.enqueue(make_skill, "trim")
        JobOutbox.objects.filter(func="x.y").update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        outbox.relay_pending()
        members = set(connection.zrange(outbox.HANDED_KEY, 0, -1))
        _empty_queues()
    assert b"999999" not in members and b"999998" in members


def test_a_job_never_handed_over_is_handed_over_by_the_relay(monkeypatch):
    """The process died between its commit and the hand-over (or the flush failed): no
    job, no place in the handed set. The relay hands it over."""
    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        monkeypatch.setattr(outbox, "_flush", lambda: None)
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "orphan")
        monkeypatch.undo()
        outbox._unflushed.rows = []
        assert _job_ids() == []
        JobOutbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        counts = outbox.relay_pending()
        queued = _job_ids()
        _empty_queues()
    assert counts["dispatched"] == 1 and counts["removed"] == 0
    assert queued == [f"outbox-{row.pk}"]


def test_a_redis_that_does_not_answer_the_look_up_leaves_rows_alone(monkeypatch, caplog):
    """Workers behind, then a Redis blip during the relay's look-up: the rows are not
    handed over again (their jobs may well be queued); the next run settles them."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    with override_settings(RQ_QUEUES=_async_queues()):
        _empty_queues()
        with transaction.atomic():
            row = outbox.enqueue(make_skill, "blip")
        JobOutbox.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        real = outbox.queues.connection

        class Blip:
            def pipeline(self, **kwargs):
                raise RedisConnectionError("Connection reset by peer")

            def zremrangebyscore(self, *args):
                raise RedisConnectionError("Connection reset by peer")

        monkeypatch.setattr(outbox.queues, "connection", lambda name="default": Blip())
        counts = outbox.relay_pending()
        monkeypatch.setattr(outbox.queues, "connection", real)
        after_blip = _job_ids()
        again = outbox.relay_pending()
        _empty_queues()
    assert counts == {"due": 1, "confirmed": 0, "removed": 0, "dispatched": 0, "pending": 1}
    assert "could not look for jobs" in caplog.text
    assert after_blip == [f"outbox-{row.pk}"]  # once
    assert again["confirmed"] == 1


def test_rows_of_a_queue_no_longer_configured_are_given_up(caplog):
    row = JobOutbox.objects.create(func="x.y", queue="retired", next_attempt_at=None)
    later = JobOutbox.objects.create(
        func=f"{make_skill.__module__}.make_skill", args=["after-retired"], next_attempt_at=None
    )
    counts = outbox.relay_pending()
    row.refresh_from_db()
    later.refresh_from_db()
    assert row.status == JobOutbox.Status.FAILED and "retired" in row.last_error
    assert later.status == JobOutbox.Status.DISPATCHED  # not held up behind it
    assert counts["dispatched"] == 1
    assert "not in RQ_QUEUES" in caplog.text


def test_the_dashboard_counts_and_lists_the_waiting_rows_only(admin_client):
    now = timezone.now()
    in_flight = JobOutbox.objects.create(
        func="a.in_flight", next_attempt_at=now + timedelta(seconds=60)
    )
    stuck = JobOutbox.objects.create(func="a.stuck", next_attempt_at=now - timedelta(seconds=5))
    JobOutbox.objects.create(func="a.failed", status=JobOutbox.Status.FAILED)
    index = admin_client.get("/admin/").content.decode()
    assert '?waiting=yes">1</a>' in index and "?status__exact=failed" in index
    listed = admin_client.get("/admin/spt_portal/joboutbox/?waiting=yes").content.decode()
    assert stuck.func in listed and in_flight.func not in listed and "a.failed" not in listed
    everything = admin_client.get("/admin/spt_portal/joboutbox/").content.decode()
    assert in_flight.func in everything

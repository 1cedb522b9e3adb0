"""Enqueueing that never fails the caller.

``enqueue()`` writes the job into ``JobOutbox`` inside the caller's transaction, so the job
exists exactly when the change that caused it exists. After commit it tries to hand the job
to RQ at once; if Redis is unreachable the row stays pending and the relay (a cron job run
by the worker, and ``manage.py relay_outbox``) hands it over later. A request never turns
into a 500 because Redis is down, and no job is lost.

A job may run twice in rare crash cases (handed to RQ, then the process died before marking
the row), so every job must be idempotent, as STYLE.md asks anyway.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from redis.exceptions import RedisError

from .models import JobOutbox

logger = logging.getLogger(__name__)

# While one process hands a row to RQ, others leave it alone for this long.
CLAIM_SECONDS = 60


def _path_of(func: Callable | str) -> str:
    if isinstance(func, str):
        return func
    return f"{func.__module__}.{func.__qualname__}"


def enqueue(func: Callable | str, *args, queue: str = "default", **kwargs) -> JobOutbox:
    """Record a job to run after the current transaction commits.

    Arguments must be JSON-serialisable (pass ids, not objects). Returns the outbox row.
    """
    if queue not in settings.RQ_QUEUES:
        raise ValueError(f"Unknown queue {queue!r}; known: {sorted(settings.RQ_QUEUES)}")
    row = JobOutbox.objects.create(func=_path_of(func), args=list(args), kwargs=kwargs, queue=queue)
    transaction.on_commit(lambda: dispatch(row.pk))
    return row


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(settings.OUTBOX_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 3600))


def dispatch(outbox_id: int) -> bool:
    """Hand one pending row to RQ. Returns True when it was handed over by this call."""
    now = timezone.now()
    claimed = JobOutbox.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=outbox_id,
        status=JobOutbox.Status.PENDING,
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    if not claimed:
        return False
    row = JobOutbox.objects.get(pk=outbox_id)
    try:
        job = django_rq.get_queue(row.queue).enqueue_call(
            row.func, args=row.args, kwargs=row.kwargs, job_id=f"outbox-{row.pk}"
        )
    except (RedisError, OSError) as exc:
        give_up = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        JobOutbox.objects.filter(pk=row.pk).update(
            status=JobOutbox.Status.FAILED if give_up else JobOutbox.Status.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=timezone.now() + _backoff(row.attempts),
        )
        logger.warning(
            "outbox: could not hand job %s (%s) to queue %s, attempt %s%s: %s",
            row.pk,
            row.func,
            row.queue,
            row.attempts,
            ", giving up" if give_up else ", will retry",
            exc,
        )
        return False
    JobOutbox.objects.filter(pk=row.pk).update(
        status=JobOutbox.Status.DISPATCHED,
        dispatched_at=timezone.now(),
        rq_job_id=job.id,
        last_error="",
    )
    return True


def relay_pending(limit: int = 1000) -> dict[str, int]:
    """Hand every due pending row to RQ (oldest first). Logs and returns the counts."""
    started = time.monotonic()
    now = timezone.now()
    due_ids = list(
        JobOutbox.objects.filter(status=JobOutbox.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    handed = 0
    for outbox_id in due_ids:
        if dispatch(outbox_id):
            handed += 1
        else:
            # Redis is still down: the rest would fail the same way; try again next run.
            still_pending = JobOutbox.objects.filter(
                pk=outbox_id, status=JobOutbox.Status.PENDING
            ).exists()
            if still_pending:
                break
    counts = {
        "due": len(due_ids),
        "dispatched": handed,
        "pending": JobOutbox.objects.filter(status=JobOutbox.Status.PENDING).count(),
    }
    logger.info(
        "outbox relay: %(due)s due, %(dispatched)s handed to RQ, %(pending)s still pending "
        "in %(ms)d ms",
        {**counts, "ms": (time.monotonic() - started) * 1000},
    )
    return counts

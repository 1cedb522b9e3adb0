"""Enqueueing that never fails the caller.

``enqueue()`` writes the job into ``JobOutbox`` inside the caller's transaction, so the job
exists exactly when the change that caused it exists. After commit it tries to hand the job
to RQ at once; if Redis is unreachable the row stays pending and the relay (a cron job run
by the worker, and ``manage.py relay_outbox``) hands it over later. A request never turns
into a 500 because Redis is down, and no job is lost.

A row handed over after commit is marked by the worker that starts its job
(``spt_portal.worker``), not by the process that handed it over: marking it there was a
second statement and commit on every write that makes a job, a third of an API create
under load (bench/README.md). Until a worker confirms it the row stays ``pending`` under its
claim; when the claim runs out the relay asks Redis about the job (``relay_pending``): held
by RQ, or handed over and removed on purpose since (an emptied queue), the row is marked;
never handed over, or lost with Redis's data (a restart without persistence), the job is
handed over again instead of lost.

A job may run twice in rare cases (it ran, and both its worker's mark and Redis's data were
lost), so every job must be idempotent, as STYLE.md asks anyway.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.utils import str_to_date

from . import queues
from .models import JobOutbox

logger = logging.getLogger(__name__)

# While one process hands a row to RQ, others leave it alone for this long.
CLAIM_SECONDS = 60
# A claim with less than this left is not used: the relay may take the row any moment.
CLAIM_MARGIN = timedelta(seconds=5)
# Redis sorted set (in each queue's Redis) of the rows whose job was handed over and not
# yet started by a worker, scored by the time of the hand-over: it tells the relay a job
# removed from Redis on purpose (queue emptied, job deleted) from one never handed over or
# lost with Redis's data. Members older than HANDED_KEEP are dropped by the relay.
HANDED_KEY = "spt:outbox:handed"
HANDED_KEEP = timedelta(days=1)
# The relay hands rows over this many at a time.
RELAY_BATCH = 200
# RQ job id of a row's job: the prefix and the row's id.
JOB_ID_PREFIX = "outbox-"
# One relay run looks at this many due rows at most (the rest wait for the next run).
RELAY_LIMIT = 20_000


def _path_of(func: Callable | str) -> str:
    if isinstance(func, str):
        return func
    return f"{func.__module__}.{func.__qualname__}"


# Rows enqueued by this thread whose transaction has not been flushed yet. The first
# on_commit callback of a transaction hands all of them to RQ in one batch; the others find
# the list empty.
#
# A row written outside any savepoint exists exactly when its transaction committed, so the
# flush hands it over as it is in memory. A row written inside a savepoint may have been
# rolled back with it while the transaction committed; and rows of a transaction that rolled
# back linger here until the next flush. In either case (``verify``) the flush reads the rows
# back and hands over only those stored (the rows as stored, not ours: SQLite may give a
# rolled-back row's id to a later row). Telling them apart costs nothing and saves a read
# after most writes (bench/README.md).
_unflushed = threading.local()


def enqueue(func: Callable | str, *args, queue: str = "default", **kwargs) -> JobOutbox:
    """Record a job to run after the current transaction commits.

    Arguments must be JSON-serialisable (pass ids, not objects). Returns the outbox row.
    """
    _check_queue(queue)
    # Claimed by this process from the start: the relay leaves it alone for CLAIM_SECONDS,
    # so the hand-over after commit needs no claim of its own.
    row = JobOutbox.objects.create(**_fields(func, args, kwargs, queue))
    _remember([row])
    return row


def _check_queue(queue: str) -> None:
    if queue not in settings.RQ_QUEUES:
        raise ValueError(f"Unknown queue {queue!r}; known: {sorted(settings.RQ_QUEUES)}")


def _fields(func, args, kwargs, queue: str) -> dict:
    return {
        "func": _path_of(func),
        # As stored (tuples become lists...): the job gets the same arguments whether it
        # is handed over from memory or read back by the flush or the relay.
        "args": json.loads(json.dumps(list(args))),
        "kwargs": json.loads(json.dumps(kwargs)),
        "queue": queue,
        "attempts": 1,
        "next_attempt_at": timezone.now() + timedelta(seconds=CLAIM_SECONDS),
    }


def _remember(new_rows: list[JobOutbox]) -> None:
    """Keep the rows for the flush after commit (see ``_unflushed``)."""
    connection = transaction.get_connection()
    state = _unflushed
    rows = getattr(state, "rows", None)
    if not rows:
        state.rows = rows = []
        state.verify = False
        # Django gives every transaction (and every savepoint rollback) a new list of
        # on_commit callbacks: another list here means the rows before are not all ours.
        state.callbacks = connection.run_on_commit
    elif state.callbacks is not connection.run_on_commit:
        state.verify = True
    if any(connection.savepoint_ids):  # None: an atomic block without a savepoint
        state.verify = True
    rows.extend(new_rows)
    # Robust: a flush that fails after the commit (the database or Redis gone that very
    # moment) is logged and leaves the rows to the relay; the committed change must not
    # turn into an error for its caller (an API client would retry and open a twin).
    transaction.on_commit(_flush, robust=True)


def _flush() -> None:
    rows = getattr(_unflushed, "rows", None)
    if not rows:
        return
    verify = _unflushed.verify
    _unflushed.rows = []
    _unflushed.callbacks = None
    now = timezone.now()
    if verify:
        rows = list(
            JobOutbox.objects.filter(
                pk__in={row.pk for row in rows},
                status=JobOutbox.Status.PENDING,
                next_attempt_at__gt=now + CLAIM_MARGIN,
            ).order_by("pk")
        )
    else:
        # A claim that ran out during a long transaction (or is about to) is the relay's.
        rows = [row for row in rows if row.next_attempt_at > now + CLAIM_MARGIN]
    # The worker that starts each job marks its row (see the module's docstring).
    _hand_over_rows(rows, mark=False)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(settings.OUTBOX_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 3600))


def dispatch(outbox_id: int) -> bool:
    """Hand one pending row to RQ. Returns True when it was handed over by this call."""
    return dispatch_many([outbox_id]) == 1


def dispatch_many(outbox_ids: list[int]) -> int:
    """Hand these pending rows to RQ (the relay's way): one claim, one read, one Redis
    pipeline per queue and one update for the lot. Returns how many this call handed
    over; rows another process holds, or that are not due, are left alone."""
    return _dispatch(outbox_ids)[0]


def _dispatch(outbox_ids: list[int]) -> tuple[int, int]:
    """(handed over, failed to hand over) for dispatch_many and the relay."""
    now = timezone.now()
    claim_until = now + timedelta(seconds=CLAIM_SECONDS)
    claimed = JobOutbox.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk__in=outbox_ids,
        status=JobOutbox.Status.PENDING,
    ).update(next_attempt_at=claim_until, attempts=F("attempts") + 1)
    if not claimed:
        return 0, 0
    rows = list(
        JobOutbox.objects.filter(
            pk__in=outbox_ids, status=JobOutbox.Status.PENDING, next_attempt_at=claim_until
        ).order_by("pk")
    )
    return _hand_over_rows(rows)


def _hand_over_rows(rows: list[JobOutbox], *, mark: bool = True) -> tuple[int, int]:
    """Hand claimed rows to RQ (one pipeline per queue), then mark the lot in one update;
    with ``mark=False`` rows of asynchronous queues are left for their worker to mark
    (jobs of a synchronous queue have run by then: they are marked here)."""
    by_queue: dict[str, list[JobOutbox]] = {}
    for row in rows:
        by_queue.setdefault(row.queue, []).append(row)
    handed = 0
    to_mark: list[int] = []
    failed = 0
    for name, queue_rows in by_queue.items():
        if name not in settings.RQ_QUEUES:
            _give_up_unknown_queue(name, queue_rows)
            continue
        try:
            ran = _hand_over(name, queue_rows)
        except (RedisError, OSError) as exc:
            _hand_over_failed(queue_rows, exc)
            failed += len(queue_rows)
        else:
            handed += len(queue_rows)
            if mark or ran:
                to_mark += [row.pk for row in queue_rows]
    _mark_dispatched(to_mark)
    return handed, failed


def _mark_dispatched(ids: list[int]) -> int:
    """Mark these rows handed over (only those still pending). Returns how many."""
    if not ids:
        return 0
    # One row (the usual transaction) takes its job id as a value; several, as an
    # expression (compiling Concat/Cast cost more than the rest of the update).
    job_id = (
        f"{JOB_ID_PREFIX}{ids[0]}"
        if len(ids) == 1
        else Concat(Value(JOB_ID_PREFIX), Cast("pk", CharField()))
    )
    return JobOutbox.objects.filter(pk__in=ids, status=JobOutbox.Status.PENDING).update(
        status=JobOutbox.Status.DISPATCHED,
        dispatched_at=timezone.now(),
        rq_job_id=job_id,
        last_error="",
    )


def confirm_started(job_id: str, connection=None) -> bool:
    """The worker starts job ``job_id``: mark its outbox row handed over, if it has one
    still pending, then drop it from the handed set in ``connection`` (the worker's
    Redis). Returns True when a row was marked."""
    if not job_id.startswith(JOB_ID_PREFIX):
        return False  # rqcron's and other jobs that did not come through the outbox
    try:
        pk = int(job_id.removeprefix(JOB_ID_PREFIX))
    except ValueError:
        return False
    marked = _mark_dispatched([pk]) == 1
    if connection is not None:
        try:
            connection.zrem(HANDED_KEY, pk)
        except (RedisError, OSError) as exc:  # the relay drops it after HANDED_KEEP
            logger.warning("outbox: could not drop job %s from the handed set: %s", job_id, exc)
    return marked


def _look_up(rows: list[JobOutbox]) -> tuple[set[int], set[int], set[int]]:
    """What Redis says of these rows' jobs, one pipeline per queue: (rows whose job RQ
    holds, queued, running, finished or failed; rows handed over whose job is gone;
    rows that could not be looked up). The rest were never handed over, or Redis lost
    its data since: their jobs must be handed over.

    A job, or a place in the handed set, counts only if it came after its row: a database
    restored from a backup reuses row ids, and an older job of the same id (RQ keeps
    failed jobs for a year) must not pass for this row's."""
    by_queue: dict[str, list[JobOutbox]] = {}
    for row in rows:
        by_queue.setdefault(row.queue, []).append(row)
    held: set[int] = set()
    gone: set[int] = set()
    unknown: set[int] = set()
    for name, queue_rows in by_queue.items():
        if name not in settings.RQ_QUEUES:
            continue  # a queue since removed from the settings: _dispatch gives up on it
        try:
            pipe = queues.connection(name).pipeline(transaction=False)
            for row in queue_rows:
                pipe.hget(Job.key_for(f"{JOB_ID_PREFIX}{row.pk}"), "created_at")
                pipe.zscore(HANDED_KEY, row.pk)
            answers = pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("outbox relay: could not look for jobs in queue %s: %s", name, exc)
            unknown.update(row.pk for row in queue_rows)
            continue
        for row, job_created, handed_at in zip(
            queue_rows, answers[::2], answers[1::2], strict=True
        ):
            if job_created and str_to_date(job_created) >= row.created_at - CLOCK_SKEW:
                held.add(row.pk)
            elif handed_at is not None and handed_at >= (row.created_at - CLOCK_SKEW).timestamp():
                gone.add(row.pk)
    return held, gone, unknown


def _forget_handed(rows: list[JobOutbox]) -> None:
    """Drop settled rows from the handed set."""
    by_queue: dict[str, list[int]] = {}
    for row in rows:
        by_queue.setdefault(row.queue, []).append(row.pk)
    for name, ids in by_queue.items():
        try:
            queues.connection(name).zrem(HANDED_KEY, *ids)
        except (RedisError, OSError) as exc:  # trimmed after HANDED_KEEP
            logger.warning("outbox relay: could not update the handed set of %s: %s", name, exc)


def _trim_handed() -> None:
    """Drop members older than HANDED_KEEP (a worker that could not remove its own)."""
    oldest = (timezone.now() - HANDED_KEEP).timestamp()
    done = set()
    for name in settings.RQ_QUEUES:
        client = queues.connection(name)
        if id(client) in done:
            continue
        done.add(id(client))
        try:
            client.zremrangebyscore(HANDED_KEY, "-inf", oldest)
        except (RedisError, OSError) as exc:
            logger.warning("outbox relay: could not trim the handed set: %s", exc)


# How far the clocks of the processes that write rows and create jobs may disagree.
CLOCK_SKEW = timedelta(seconds=2)


def _hand_over(queue_name: str, rows: list[JobOutbox]) -> bool:
    """Enqueue the rows' jobs. True when they have run already (a synchronous queue)."""
    queue = queues.get_queue(queue_name)
    if not queue.is_async:  # RQ_SYNC / tests: each job runs right here, in turn
        for row in rows:
            queue.enqueue_call(
                row.func, args=row.args, kwargs=row.kwargs, job_id=f"{JOB_ID_PREFIX}{row.pk}"
            )
        return True
    # One round trip (MULTI/EXEC): the jobs, and the rows in the handed set.
    pipe = queue.connection.pipeline()
    queue.enqueue_many(
        [
            Queue.prepare_data(
                row.func, args=row.args, kwargs=row.kwargs, job_id=f"{JOB_ID_PREFIX}{row.pk}"
            )
            for row in rows
        ],
        pipeline=pipe,
    )
    now = time.time()
    pipe.zadd(HANDED_KEY, {str(row.pk): now for row in rows})
    pipe.execute()
    return False


def _give_up_unknown_queue(name: str, rows: list[JobOutbox]) -> None:
    """A queue removed from RQ_QUEUES since its rows were written: no retry can help."""
    error = f"queue {name!r} is not in RQ_QUEUES"
    JobOutbox.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=JobOutbox.Status.FAILED, last_error=error
    )
    logger.error("outbox: gave up %d job(s): %s", len(rows), error)


def _hand_over_failed(rows: list[JobOutbox], exc: Exception) -> None:
    for row in rows:
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


def relay_pending(limit: int = RELAY_LIMIT) -> dict[str, int]:
    """Settle every due pending row (oldest first, batches of RELAY_BATCH), by what Redis
    says of its job (``_look_up``): held by RQ, the row is marked (its worker has not
    started it yet, or could not mark it); handed over and since removed from Redis (a
    queue emptied, a job deleted, or a finished job of a worker that does not mark rows),
    the row is marked and the job not run again; never handed over, or lost with Redis's
    data, the job is handed over. Rows Redis could not be asked about wait for the next
    run. Logs and returns the counts."""
    started = time.monotonic()
    now = timezone.now()
    due = JobOutbox.objects.filter(status=JobOutbox.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    seen = confirmed = removed = handed = 0
    after = 0
    while seen < limit:
        batch = list(
            due.filter(pk__gt=after)
            .order_by("id")
            .only("id", "queue", "created_at", "last_error")[: min(RELAY_BATCH, limit - seen)]
        )
        if not batch:
            break
        seen += len(batch)
        after = batch[-1].pk
        held, gone, unknown = _look_up(batch)
        confirmed += _mark_dispatched(sorted(held))
        removed += _mark_dispatched(sorted(gone))
        _forget_handed([row for row in batch if row.pk in held | gone])
        # Not looked up: left alone, unless their last hand-over failed (never reached
        # Redis: trying again counts an attempt, as before, towards giving up).
        done, failed = _dispatch(
            [
                row.pk
                for row in batch
                if row.pk not in held | gone and (row.pk not in unknown or row.last_error)
            ]
        )
        handed += done
        if failed or unknown:
            break  # Redis is down: the rest would fail the same way; next run.
    _trim_handed()
    counts = {
        "due": seen,
        "confirmed": confirmed,
        "removed": removed,
        "dispatched": handed,
        "pending": waiting().count(),
    }
    logger.info(
        "outbox relay: %(due)s due, %(confirmed)s found queued, %(removed)s found removed "
        "from Redis (not run again), %(dispatched)s handed to RQ, %(pending)s still waiting "
        "in %(ms)d ms",
        {**counts, "ms": (time.monotonic() - started) * 1000},
    )
    return counts


def waiting():
    """Pending rows not on their way: never handed over, or handed over and unconfirmed
    after their claim ran out. (A row just handed over is pending, under its claim, until
    the worker starts its job: it is not waiting.)"""
    return JobOutbox.objects.filter(status=JobOutbox.Status.PENDING).exclude(
        last_error="", next_attempt_at__gt=timezone.now()
    )


def delete_dispatched(now=None, batch_size: int = 5000) -> int:
    """Delete rows handed to RQ more than OUTBOX_RETENTION_DAYS ago, in batches (the
    outbox is plumbing, not evidence: each job's effects are recorded where they happen).
    Pending and failed rows are kept. Logs each batch and the total."""
    days = settings.OUTBOX_RETENTION_DAYS
    if days <= 0:
        logger.info("outbox retention is off (OUTBOX_RETENTION_DAYS=0)")
        return 0
    started = time.monotonic()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = JobOutbox.objects.filter(
        status=JobOutbox.Status.DISPATCHED, dispatched_at__lt=cutoff
    ).order_by("id")  # ids follow time: the oldest rows are found first on the primary key
    total = batches = 0
    while ids := list(old.values_list("id", flat=True)[:batch_size]):
        JobOutbox.objects.filter(pk__in=ids).delete()
        total += len(ids)
        batches += 1
        logger.info("outbox retention: batch %d deleted %d rows", batches, len(ids))
    logger.info(
        "outbox retention: %d rows dispatched before %s deleted in %d batches, %.1fs",
        total,
        cutoff.date().isoformat(),
        batches,
        time.monotonic() - started,
    )
    return total

"""Background jobs of the core app (RQ entry points: thin, idempotent)."""

import logging
from collections.abc import Callable, Iterable

from django.utils import timezone

from . import outbox, queues

HEARTBEAT_KEY = "spt:worker-heartbeat"

logger = logging.getLogger(__name__)


class SomeFailed(RuntimeError):
    """A job over many items: these failed (each logged); the others are done."""


def each(items: Iterable[tuple], func: Callable, what: str) -> int:
    """``func(*item)`` for every item of a job that covers many (the notices of a batch of
    tickets): one that fails does not hold back the others, it is logged, and the job
    fails at the end (``SomeFailed``), so that it shows in the failed jobs and can be run
    again (idempotent jobs only: a rerun repeats the items that were done). Returns the
    sum of what ``func`` returned."""
    total, failed = 0, []
    for item in items:
        try:
            total += func(*item) or 0
        except Exception:
            logger.exception("%s: %s failed", what, item)
            failed.append(item)
    if failed:
        raise SomeFailed(f"{what}: {len(failed)} failed: {failed[:10]}")
    return total


def relay_outbox() -> dict[str, int]:
    """Hand pending outbox jobs to RQ. Safe to run concurrently: rows are claimed one by one."""
    return outbox.relay_pending()


def delete_old_outbox_rows() -> int:
    """Nightly: the outbox rows handed to RQ more than OUTBOX_RETENTION_DAYS ago."""
    return outbox.delete_dispatched()


def worker_heartbeat() -> str:
    """Record in Redis that a worker ran a job just now (shown by /healthz)."""
    stamp = timezone.now().isoformat()
    queues.connection("default").set(HEARTBEAT_KEY, stamp)
    return stamp


def deliver_notification(log_id: int) -> str:
    """Deliver one notification (see spt_portal.notifications.deliver)."""
    from .notifications import deliver

    return deliver(log_id)


def retry_pending_notifications() -> int:
    from .notifications import retry_pending

    return retry_pending()

"""Background jobs of the core app (RQ entry points: thin, idempotent)."""

from django.utils import timezone

from . import outbox, queues

HEARTBEAT_KEY = "spt:worker-heartbeat"


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

"""Ticket jobs (RQ entry points)."""

import logging
import time

from . import services

logger = logging.getLogger(__name__)


def close_stale_resolved_tickets() -> int:
    """Hourly: close resolved tickets that were never confirmed (telling the customer)."""
    started = time.monotonic()
    closed = services.close_stale_resolved()
    logger.info(
        "auto-close: %s resolved tickets closed in %d ms",
        closed,
        (time.monotonic() - started) * 1000,
    )
    return closed

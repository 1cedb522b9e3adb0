"""Ticket jobs (RQ entry points)."""

import logging
import time

from . import services
from .sla import scan_sla

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


def sla_scan() -> dict:
    """Every minute: raise SLA warnings, breaches and escalations (idempotent)."""
    started = time.monotonic()
    counts = scan_sla()
    logger.info(
        "sla scan: %(at_risk)s at risk, %(breached)s breached, %(escalated)s escalated "
        "in %(ms)d ms",
        {**counts, "ms": (time.monotonic() - started) * 1000},
    )
    return counts

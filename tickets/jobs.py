"""Ticket jobs (RQ entry points)."""

import logging
import time

from django.db import transaction

from spt_portal.jobs import each

from . import notifications, services
from .models import Ticket
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


def notify_ticket_created(ticket_id: int) -> int:
    """After a ticket is opened: its notices (emails to the requester and CC contacts,
    Slack/webhook channels, SMS for critical tickets), each queued for delivery."""
    ticket = (
        Ticket.objects.select_related("customer", "requester", "assignee")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        logger.warning("ticket notices: ticket %s does not exist (any more)", ticket_id)
        return 0
    with transaction.atomic():
        queued = notifications.send_ticket_created(ticket)
    logger.info("ticket notices: %s queued for %s", queued, ticket.number)
    return queued


def notify_tickets_created(ticket_ids: list[int]) -> int:
    """``notify_ticket_created`` for tickets opened together (``services.tickets_create``,
    a batch of AWS Health events): one job for the lot."""
    return each([(pk,) for pk in ticket_ids], notify_ticket_created, "ticket notices")

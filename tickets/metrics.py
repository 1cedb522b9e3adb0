"""/metrics for tickets: open tickets by priority and status, tickets breaching and at
risk now, tickets created by source and SLA breaches raised (counters of stored rows).
One query per family, at scrape time."""

import logging

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .models import OPEN_STATUSES, SLAAlertKind, Status, Ticket, TicketSLAAlert

logger = logging.getLogger(__name__)


def sla_now(now) -> dict[str, int]:
    """Working tickets (new, in progress) past a deadline, and past a warning instant but
    not yet a deadline. The customer's turn (waiting) pauses the clock."""
    response_open = Q(first_responded_at__isnull=True)
    breached = (response_open & Q(first_response_due_at__lte=now)) | Q(resolution_due_at__lte=now)
    warned = (response_open & Q(first_response_at_risk_at__lte=now)) | Q(
        resolution_at_risk_at__lte=now
    )
    return Ticket.objects.filter(status__in=[Status.NEW, Status.IN_PROGRESS]).aggregate(
        breaching=Count("id", filter=breached),
        at_risk=Count("id", filter=warned & ~breached),
    )


class TicketCollector:
    @staticmethod
    def _families():
        return {
            "open": GaugeMetricFamily(
                "spt_tickets_open",
                "Open tickets by priority and status",
                labels=["priority", "status"],
            ),
            "sla": GaugeMetricFamily(
                "spt_tickets_sla",
                "Working tickets past an SLA deadline (breaching) or past its warning (at_risk)",
                labels=["state"],
            ),
            "created": CounterMetricFamily(
                "spt_tickets_created", "Tickets created, by source", labels=["source"]
            ),
            "breaches": CounterMetricFamily(
                "spt_sla_breaches", "SLA breaches raised, by clock", labels=["clock"]
            ),
        }

    def describe(self):
        yield from self._families().values()

    def collect(self):
        families = self._families()
        try:
            open_counts = list(
                Ticket.objects.filter(status__in=OPEN_STATUSES)
                .order_by()
                .values_list("priority", "status")
                .annotate(n=Count("id"))
            )
            sla = sla_now(timezone.now())
            created = list(Ticket.objects.order_by().values_list("source").annotate(n=Count("id")))
            breaches = list(
                TicketSLAAlert.objects.filter(kind=SLAAlertKind.BREACHED)
                .order_by()
                .values_list("clock")
                .annotate(n=Count("id"))
            )
        except Exception as exc:  # the database may be down; the scrape still answers
            logger.warning("metrics: ticket queries failed: %s", exc)
            return
        for priority, status, n in open_counts:
            families["open"].add_metric([priority, status], n)
        for state in ("breaching", "at_risk"):
            families["sla"].add_metric([state], sla[state])
        for source, n in created:
            families["created"].add_metric([source], n)
        for clock, n in breaches:
            families["breaches"].add_metric([clock], n)
        yield from families.values()

"""SLA attainment over tickets (SPT-001 evidence): met / breached per clock, per priority
and per customer, mean and p90 times, and the list of breaches with their reasons.

A ticket counts in the period it was opened in. Due times already include pauses and
priority changes (the services keep them current), so "met" simply compares the moment
the clock stopped with its deadline. A clock still running counts as breached once its
deadline has passed and as pending before; a resolution clock paused while waiting for
the customer stays pending.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from sla.models import Priority

from .models import Status, Ticket

FIELDS = (
    "id",
    "number",
    "title",
    "priority",
    "status",
    "customer_id",
    "customer__name",
    "customer__short_code",
    "created_at",
    "first_responded_at",
    "first_response_due_at",
    "resolved_at",
    "resolution_due_at",
    "paused_minutes",
)


@dataclass
class ClockFigures:
    met: int = 0
    breached: int = 0
    pending: int = 0
    minutes: list[float] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.met + self.breached

    @property
    def attainment(self) -> float | None:
        return round(100 * self.met / self.decided, 1) if self.decided else None

    @property
    def mean_minutes(self) -> float | None:
        return round(sum(self.minutes) / len(self.minutes), 1) if self.minutes else None

    @property
    def p90_minutes(self) -> float | None:
        if not self.minutes:
            return None
        ordered = sorted(self.minutes)
        return round(ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)], 1)


@dataclass
class Row:
    label: str
    tickets: int = 0
    response: ClockFigures = field(default_factory=ClockFigures)
    resolution: ClockFigures = field(default_factory=ClockFigures)


@dataclass
class Breach:
    number: str
    title: str
    customer: str
    priority: str
    clock: str
    due_at: datetime
    stopped_at: datetime | None
    late_minutes: float

    @property
    def reason(self) -> str:
        from django.utils.translation import gettext

        late = round(self.late_minutes)
        if self.clock == "response":
            if self.stopped_at is None:
                return gettext("No first response yet, %(late)d minutes past due") % {"late": late}
            return gettext("First response %(late)d minutes late") % {"late": late}
        if self.stopped_at is None:
            return gettext("Not resolved yet, %(late)d minutes past due") % {"late": late}
        return gettext("Resolved %(late)d minutes late") % {"late": late}


@dataclass
class Report:
    start: datetime
    end: datetime
    total: Row
    by_priority: list[Row]
    by_customer: list[Row]
    breaches: list[Breach]


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def _judge(figures: ClockFigures, *, started, stopped, due, now, paused=False, deduct=0.0):
    """Count one clock; returns (breached, late minutes, stopped)."""
    if stopped is not None:
        figures.minutes.append(max(_minutes(started, stopped) - deduct, 0))
        if stopped <= due:
            figures.met += 1
            return False, 0.0
        figures.breached += 1
        return True, _minutes(due, stopped)
    if paused or now <= due:
        figures.pending += 1
        return False, 0.0
    figures.breached += 1
    return True, _minutes(due, now)


def sla_report(
    *, tickets: QuerySet[Ticket], start: datetime, end: datetime, now: datetime | None = None
) -> Report:
    now = now or timezone.now()
    rows = tickets.filter(created_at__gte=start, created_at__lt=end).values(*FIELDS)
    total = Row("total")
    by_priority = {p: Row(str(label)) for p, label in Priority.choices}
    by_customer: dict[object, Row] = {}
    breaches: list[Breach] = []
    for t in rows.order_by("created_at"):
        customer_label = t["customer__name"] or "—"
        customer_row = by_customer.setdefault(t["customer_id"], Row(customer_label))
        targets = (total, by_priority[t["priority"]], customer_row)
        resolved = t["resolved_at"] if t["status"] in (Status.RESOLVED, Status.CLOSED) else None
        for row in targets:
            row.tickets += 1
        outcomes = []
        for row in targets:
            response = _judge(
                row.response,
                started=t["created_at"],
                stopped=t["first_responded_at"],
                due=t["first_response_due_at"],
                now=now,
            )
            resolution = _judge(
                row.resolution,
                started=t["created_at"],
                stopped=resolved,
                due=t["resolution_due_at"],
                now=now,
                paused=t["status"] == Status.WAITING_CUSTOMER,
                deduct=t["paused_minutes"] or 0,
            )
            outcomes.append((response, resolution))
        (response_breached, response_late), (resolution_breached, resolution_late) = outcomes[0]
        common = {
            "number": t["number"],
            "title": t["title"],
            "customer": customer_label,
            "priority": str(Priority(t["priority"]).label),
        }
        if response_breached:
            breaches.append(
                Breach(
                    **common,
                    clock="response",
                    due_at=t["first_response_due_at"],
                    stopped_at=t["first_responded_at"],
                    late_minutes=response_late,
                )
            )
        if resolution_breached:
            breaches.append(
                Breach(
                    **common,
                    clock="resolution",
                    due_at=t["resolution_due_at"],
                    stopped_at=resolved,
                    late_minutes=resolution_late,
                )
            )
    return Report(
        start=start,
        end=end,
        total=total,
        by_priority=[by_priority[p] for p in Priority.values],
        by_customer=sorted(by_customer.values(), key=lambda r: r.label),
        breaches=breaches,
    )


def last_days(days: int = 30, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now - timedelta(days=days), now

"""SLA clocks of tickets with frozen time: pauses, priority changes, tier calendars."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sla.models import BusinessCalendar, TierCalendar
from sla.services import ClockState
from tickets import services
from tickets.models import EventKind, Status
from tickets.sla import ticket_sla

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=ZoneInfo("UTC"))  # a Monday, 10:00 in Shanghai


def test_waiting_for_customer_pauses_the_resolution_clock(acme, acme_user, engineer):
    with time_machine.travel(T0, tick=False):
        ticket = services.ticket_create(
            customer=acme, requester=acme_user, title="x", actor=acme_user
        )
    assert ticket.resolution_due_at == T0 + timedelta(hours=24)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        services.comment_add(ticket=ticket, author=engineer, body="need logs")
        services.ticket_change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=engineer)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        ticket.refresh_from_db()
        sla = ticket_sla(ticket)
        assert sla.state == ClockState.PAUSED
        assert sla.left == timedelta(hours=23)  # stands still at the pause
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        services.comment_add(ticket=ticket, author=acme_user, body="here")  # resumes
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS and ticket.paused_at is None
    assert ticket.paused_minutes == 120
    assert ticket.resolution_due_at == T0 + timedelta(hours=26)
    assert ticket.first_response_due_at == T0 + timedelta(hours=4)  # first response not extended
    assert ticket.events.filter(kind=EventKind.SLA).exists()

    # A later priority change recomputes from creation and keeps the paused time.
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        services.ticket_change_priority(ticket=ticket, priority="high", actor=engineer)
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == T0 + timedelta(hours=1)
    assert ticket.resolution_due_at == T0 + timedelta(hours=10)


def test_resolving_from_waiting_closes_the_pause(acme, acme_user, engineer):
    with time_machine.travel(T0, tick=False):
        ticket = services.ticket_create(
            customer=acme, requester=acme_user, title="x", actor=acme_user
        )
        services.ticket_change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=engineer)
    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    ticket.refresh_from_db()
    # Paused 30 h, so the 24 h target moved to T0 + 54 h and the resolution at 30 h met it.
    assert ticket.resolution_due_at == T0 + timedelta(hours=54)
    assert ticket_sla(ticket).state == ClockState.MET


def test_business_hours_tier(acme, acme_user):
    office = BusinessCalendar.objects.create(
        name="Business hours", is_24x7=False, workday_start="09:00", workday_end="18:00"
    )
    TierCalendar.objects.create(service_tier=acme.service_tier, calendar=office)
    friday_evening = datetime(2026, 3, 6, 17, 30, tzinfo=SH)
    with time_machine.travel(friday_evening, tick=False):
        ticket = services.ticket_create(
            customer=acme, requester=acme_user, title="x", priority="high", actor=acme_user
        )
    assert ticket.sla_calendar == office
    assert ticket.first_response_due_at == datetime(2026, 3, 9, 9, 30, tzinfo=SH)
    # At risk when less than 20 % (12 working minutes) is left: Monday 09:18.
    assert ticket.first_response_at_risk_at == datetime(2026, 3, 9, 9, 18, tzinfo=SH)
    with time_machine.travel(datetime(2026, 3, 9, 9, 20, tzinfo=SH), tick=False):
        assert ticket_sla(ticket).state == ClockState.AT_RISK
    with time_machine.travel(datetime(2026, 3, 9, 9, 0, tzinfo=SH), tick=False):
        assert ticket_sla(ticket).state == ClockState.ON_TRACK


def test_other_tiers_stay_24x7(acme, globex, globex_user):
    office = BusinessCalendar.objects.create(name="office", is_24x7=False)
    TierCalendar.objects.create(service_tier="enterprise", calendar=office)
    globex.service_tier = "business"
    globex.save()
    ticket = services.ticket_create(
        customer=globex, requester=globex_user, title="x", actor=globex_user
    )
    assert ticket.sla_calendar is None


def test_a_new_policy_calendar_or_tier_mapping_reaches_the_very_next_ticket(
    acme, acme_user, manager
):
    """Opening a ticket keeps the policy in force and the tier's calendar per process
    (no SLA query for the next ticket); any change to them is seen by the next one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sla.services import sla_policy_create

    friday_evening = datetime(2026, 3, 6, 17, 30, tzinfo=SH)

    def open_ticket():
        with time_machine.travel(friday_evening, tick=False):
            return services.ticket_create(
                customer=acme, requester=acme_user, title="x", priority="high", actor=acme_user
            )

    first = open_ticket()
    with CaptureQueriesContext(connection) as queries:
        second = open_ticket()
    assert not [q for q in queries.captured_queries if 'FROM "sla_' in q["sql"]]
    assert second.sla_policy == first.sla_policy

    targets = {p: (30, 600) for p in ("low", "medium", "high", "critical")}
    policy = sla_policy_create(targets=targets, note="faster", actor=manager)
    ticket = open_ticket()
    assert ticket.sla_policy == policy
    assert ticket.first_response_due_at == friday_evening + timedelta(minutes=30)

    office = BusinessCalendar.objects.create(
        name="Business hours", is_24x7=False, workday_start="09:00", workday_end="18:00"
    )
    TierCalendar.objects.create(service_tier=acme.service_tier, calendar=office)
    ticket = open_ticket()
    assert ticket.sla_calendar == office
    # 30 working minutes from Friday 17:30: Friday 18:00.
    assert ticket.first_response_due_at == datetime(2026, 3, 6, 18, 0, tzinfo=SH)

    office.workday_end = "17:45"
    office.save()
    # 15 minutes on Friday, 15 on Monday.
    assert open_ticket().first_response_due_at == datetime(2026, 3, 9, 9, 15, tzinfo=SH)

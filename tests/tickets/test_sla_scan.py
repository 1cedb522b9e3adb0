"""The SLA breach scan with frozen time: warnings, breaches, escalation, once each."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from spt_portal.models import ChannelKind, NotificationChannel
from tests.factories import StaffUserFactory
from tickets import services
from tickets.models import EventKind, SLAAlertKind, Status, TicketSLAAlert
from tickets.sla import scan_sla

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=ZoneInfo("UTC"))


def at(minutes):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


@pytest.fixture
def critical(acme, acme_user, engineer):
    with at(0):
        ticket = services.ticket_create(
            customer=acme,
            requester=acme_user,
            title="everything down",
            priority="critical",
            actor=acme_user,
        )
        services.ticket_assign(ticket=ticket, assignee=engineer, actor=engineer)
    mail.outbox.clear()
    return ticket


def subjects_to(address):
    return [m.subject for m in mail.outbox if address in m.to]


def test_warning_then_breach_then_escalation_each_once(critical, engineer, manager):
    with at(10):
        assert scan_sla() == {"at_risk": 0, "breached": 0, "escalated": 0}
    with at(13):  # 2 of 15 minutes left: less than 20 %
        assert scan_sla()["at_risk"] == 1
        assert scan_sla()["at_risk"] == 0
    assert any(s.startswith("SLA warning") for s in subjects_to(engineer.email))

    with at(16):
        counts = scan_sla()
        assert counts["breached"] == 1 and counts["escalated"] == 0
        assert scan_sla() == {"at_risk": 0, "breached": 0, "escalated": 0}
    critical.refresh_from_db()
    assert critical.escalation_level == 1
    assert [
        s for s in subjects_to(engineer.email) if s == f"SLA violation alert - {critical.number}"
    ]
    assert not subjects_to(manager.email)

    with at(31):  # unanswered one more full target (15 min) after the deadline
        assert scan_sla()["escalated"] == 1
        assert scan_sla()["escalated"] == 0
    critical.refresh_from_db()
    assert critical.escalation_level == 2
    assert subjects_to(manager.email) == [f"SLA violation alert - {critical.number}"]
    kinds = set(TicketSLAAlert.objects.values_list("clock", "kind"))
    assert kinds == {
        ("response", SLAAlertKind.AT_RISK),
        ("response", SLAAlertKind.BREACHED),
        ("response", SLAAlertKind.ESCALATED),
    }
    assert critical.events.filter(kind=EventKind.SLA).count() >= 4


def test_breach_reaches_the_on_call_engineer_and_channels(critical):
    from datetime import date, time

    from sla.models import OnCallLayer, OnCallLayerMember, OnCallSchedule

    on_call = StaffUserFactory(email="oncall@partner.example")
    schedule = OnCallSchedule.objects.create(name="main", is_default=True)
    layer = OnCallLayer.objects.create(
        schedule=schedule, rotation_start=date(2026, 1, 1), handover_time=time(0, 0), shift_hours=24
    )
    OnCallLayerMember.objects.create(layer=layer, user=on_call)
    NotificationChannel.objects.create(
        name="x", kind=ChannelKind.WEBHOOK, url="http://127.0.0.1:9/"
    )
    with at(20):
        scan_sla()
    # Past the deadline already: a breach (no warning after the fact).
    assert subjects_to(on_call.email) == [f"SLA violation alert - {critical.number}"]
    from spt_portal.models import NotificationLog

    assert NotificationLog.objects.filter(template="ticket.sla_breached").exists()


def test_first_response_stops_the_response_clock(critical, engineer):
    with at(5):
        services.comment_add(ticket=critical, author=engineer, body="on it")
    with at(20):
        counts = scan_sla()
    assert counts == {"at_risk": 0, "breached": 0, "escalated": 0}
    # The resolution clock (4 h) is at risk from 192 minutes on.
    with at(200):
        assert scan_sla()["at_risk"] == 1
    assert TicketSLAAlert.objects.get().clock == "resolution"


def test_waiting_for_customer_raises_no_resolution_alerts(critical, engineer):
    with at(5):
        services.comment_add(ticket=critical, author=engineer, body="need logs")
        services.ticket_change_status(
            ticket=critical, status=Status.WAITING_CUSTOMER, actor=engineer
        )
    with at(300):
        assert scan_sla() == {"at_risk": 0, "breached": 0, "escalated": 0}


def test_a_new_deadline_can_warn_again(critical, engineer):
    with at(13):
        scan_sla()
        services.ticket_change_priority(ticket=critical, priority="high", actor=engineer)
    with at(49):  # high: 60 minutes, at risk from 48
        assert scan_sla()["at_risk"] == 1
    assert TicketSLAAlert.objects.filter(kind="at_risk").count() == 2


def test_closed_history_does_not_cost_anything(
    acme, acme_user, engineer, django_assert_max_num_queries
):
    with at(0):
        for n in range(25):
            t = services.ticket_create(
                customer=acme, requester=acme_user, title=f"old{n}", actor=acme_user
            )
            services.ticket_change_status(ticket=t, status=Status.CLOSED, actor=engineer)
    with at(60 * 24 * 30), django_assert_max_num_queries(2):
        assert scan_sla() == {"at_risk": 0, "breached": 0, "escalated": 0}


def test_an_escalated_deadline_is_not_read_again(critical, django_assert_max_num_queries):
    """Overdue tickets already escalated cost the scan nothing (bench/README.md): the
    ticket carries the deadline it was escalated for."""
    with at(31):
        assert scan_sla()["escalated"] == 1
    critical.refresh_from_db()
    assert critical.first_response_escalated_for == critical.first_response_due_at
    with at(60), django_assert_max_num_queries(2):  # the two scan queries, no ticket
        assert scan_sla() == {"at_risk": 0, "breached": 0, "escalated": 0}


def test_an_escalated_ticket_with_a_new_deadline_is_scanned_again(critical, engineer):
    with at(31):
        assert scan_sla()["escalated"] == 1
        # A lower priority gives a new deadline (high: 60 min from creation)
        services.ticket_change_priority(ticket=critical, priority="high", actor=engineer)
    with at(61):  # past the new deadline
        counts = scan_sla()
    assert counts["breached"] == 1
    with at(121):  # one more hour: escalated again, for the new deadline
        assert scan_sla()["escalated"] == 1
    critical.refresh_from_db()
    assert critical.first_response_escalated_for == critical.first_response_due_at
    assert TicketSLAAlert.objects.filter(kind="escalated").count() == 2


def test_a_ticket_escalated_before_the_column_existed_is_marked_by_the_scan(critical):
    """An escalation alert without the mark (raised before migration 0010 and missed by its
    backfill): the scan finds the alert, raises nothing, and marks the deadline."""
    with at(31):
        assert scan_sla()["escalated"] == 1
    type(critical).objects.filter(pk=critical.pk).update(first_response_escalated_for=None)
    with at(40):
        assert scan_sla() == {"at_risk": 0, "breached": 0, "escalated": 0}
    critical.refresh_from_db()
    assert critical.first_response_escalated_for == critical.first_response_due_at


def test_the_migration_marks_deadlines_escalated_before_it(critical, acme, acme_user):
    """Migration 0010's backfill, on this database (PostgreSQL or SQLite)."""
    import importlib

    from django.db import connection

    backfill = importlib.import_module("tickets.migrations.0010_sla_scan_escalated").BACKFILL
    with at(31):
        scan_sla()
        other = services.ticket_create(
            customer=acme, requester=acme_user, title="calm", actor=acme_user
        )
    Ticket = type(critical)
    Ticket.objects.update(first_response_escalated_for=None)
    with connection.cursor() as cursor:
        cursor.execute(backfill.format(clock_field="first_response", clock="response"))
        cursor.execute(backfill.format(clock_field="resolution", clock="resolution"))
    critical.refresh_from_db()
    other.refresh_from_db()
    assert critical.first_response_escalated_for == critical.first_response_due_at
    assert critical.resolution_escalated_for is None
    assert other.first_response_escalated_for is None

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tickets import services
from tickets.models import EventKind, Source, Status, Ticket

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tickets/ticket/"


def make(customer, requester, title="VPC peering broken", **kwargs):
    return services.ticket_create(
        customer=customer, requester=requester, title=title, actor=requester, **kwargs
    )


def change_data(ticket, **overrides):
    data = {
        "requester": ticket.requester_id or "",
        "title": ticket.title,
        "description": ticket.description,
        "category": ticket.category_id or "",
        "tags": "",
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee_id or "",
        "cc_contacts": [],
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "attachments-MIN_NUM_FORMS": "0",
        "attachments-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("count", [5, 40])
def test_queue_query_budget_is_constant(
    login, acme, acme_user, engineer, django_assert_max_num_queries, count
):
    for n in range(count):
        ticket = make(acme, acme_user, title=f"t{n}")
        services.ticket_assign(ticket=ticket, assignee=engineer, actor=engineer)
    client = login(engineer)
    with django_assert_max_num_queries(12):
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "On track" in page and "ACME" in page


def test_queue_filters(login, acme, acme_user, engineer, manager):
    mine = make(acme, acme_user, title="mine")
    services.ticket_assign(ticket=mine, assignee=engineer, actor=engineer)
    unassigned = make(acme, acme_user, title="nobody")
    client = login(engineer)
    page = client.get(CHANGELIST + "?assignee=mine").content.decode()
    assert mine.number in page and unassigned.number not in page
    page = client.get(CHANGELIST + "?assignee=none").content.decode()
    assert unassigned.number in page and mine.number not in page

    with time_machine.travel(timezone.now() + timedelta(minutes=200)):
        # medium: 4 h response target -> 40 minutes left, within the hour
        page = client.get(CHANGELIST + "?sla=1h").content.decode()
        assert mine.number in page and "At risk" in page
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        page = client.get(CHANGELIST + "?sla=breached").content.decode()
        assert mine.number in page and "Breached" in page


def test_change_form_routes_through_services(login, acme, acme_user, engineer):
    ticket = make(acme, acme_user)
    client = login(engineer)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    response = client.post(
        url,
        change_data(
            ticket,
            status=Status.RESOLVED,
            priority="high",
            assignee=engineer.pk,
            tags="ec2, billing",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.resolved_at is not None
    assert ticket.priority == "high"
    assert ticket.assignee == engineer
    assert ticket.tags == ["billing", "ec2"]
    kinds = set(ticket.events.values_list("kind", flat=True))
    assert {EventKind.STATUS, EventKind.PRIORITY, EventKind.ASSIGNED} <= kinds


def test_invalid_transition_is_a_form_error(login, acme, acme_user, engineer):
    ticket = make(acme, acme_user)
    services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    ticket.refresh_from_db()
    client = login(engineer)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    response = client.post(url, change_data(ticket, status=Status.WAITING_CUSTOMER))
    assert response.status_code == 200
    assert "cannot go from Resolved to Waiting for customer" in response.content.decode()


def test_bulk_actions(login, acme, acme_user, engineer):
    tickets = [make(acme, acme_user, title=f"b{n}") for n in range(3)]
    client = login(engineer)
    ids = [t.pk for t in tickets]
    client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": ids})
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {engineer.pk}
    client.post(CHANGELIST, {"action": "mark_resolved", "_selected_action": ids})
    assert set(Ticket.objects.values_list("status", flat=True)) == {Status.RESOLVED}
    response = client.post(
        CHANGELIST, {"action": "mark_waiting_customer", "_selected_action": ids}, follow=True
    )
    assert "cannot go from" in response.content.decode()
    client.post(CHANGELIST, {"action": "set_priority_critical", "_selected_action": ids})
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"critical"}


def test_reply_and_internal_note_from_the_workspace(login, acme, acme_user, engineer):
    ticket = make(acme, acme_user)
    client = login(engineer)
    reply_url = reverse("admin:tickets_ticket_reply", args=[ticket.pk])
    client.post(reply_url, {"body": "Please send the VPC id.", "visibility": "public"})
    client.post(reply_url, {"body": "Probably a route table issue", "visibility": "internal"})
    assert ticket.comments.count() == 2
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None

    page = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert "Please send the VPC id." in page and "Probably a route table issue" in page
    assert 'data-visibility="internal"' in page

    portal = login(acme_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "Please send the VPC id." in portal
    assert "route table" not in portal


def test_engineer_logs_a_phone_call(login, acme, acme_user, engineer):
    client = login(engineer)
    response = client.post(
        reverse("admin:tickets_ticket_add"),
        {
            "customer": acme.pk,
            "requester": acme_user.pk,
            "title": "Customer called: S3 403",
            "description": "Called at 10:05",
            "tags": "",
            "priority": "high",
            "assignee": engineer.pk,
            "source": Source.PHONE,
            "cc_contacts": [],
            "attachments-TOTAL_FORMS": "0",
            "attachments-INITIAL_FORMS": "0",
            "attachments-MIN_NUM_FORMS": "0",
            "attachments-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    ticket = Ticket.objects.get()
    assert ticket.source == Source.PHONE
    assert ticket.number.startswith("TKT-")
    assert ticket.assignee == engineer
    assert ticket.events.filter(kind=EventKind.CREATED).count() == 1


def test_auditor_reads_the_queue_but_cannot_reply(login, acme, acme_user, auditor):
    ticket = make(acme, acme_user)
    client = login(auditor)
    assert client.get(CHANGELIST).status_code == 200
    reply_url = reverse("admin:tickets_ticket_reply", args=[ticket.pk])
    assert client.post(reply_url, {"body": "x", "visibility": "public"}).status_code == 403
    assert not ticket.comments.exists()


def test_tickets_cannot_be_deleted(login, acme, acme_user, manager):
    ticket = make(acme, acme_user)
    url = reverse("admin:tickets_ticket_delete", args=[ticket.pk])
    assert login(manager).post(url, {"post": "yes"}).status_code == 403
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_dashboard_shows_my_queue_and_breaching_soon(login, acme, acme_user, engineer):
    mine = make(acme, acme_user, title="mine on the dashboard", priority="critical")
    services.ticket_assign(ticket=mine, assignee=engineer, actor=engineer)
    make(acme, acme_user, title="nobody's")
    page = login(engineer).get("/admin/").content.decode()
    assert "mine on the dashboard" in page
    assert "No open tickets are assigned to you." not in page
    with time_machine.travel(timezone.now() + timedelta(minutes=13)):
        page = login(engineer).get("/admin/").content.decode()
    # the critical ticket's 15-minute response target is 2 minutes away (< 20 % left)
    assert "At risk" in page

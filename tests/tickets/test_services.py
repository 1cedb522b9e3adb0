from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from sla.models import SLAConfig
from sla.services import current_policy, sla_policy_create
from spt_portal.models import Skill
from tests.factories import StaffUserFactory
from tickets import services
from tickets.models import EventKind, Source, Status, Ticket, Visibility

pytestmark = pytest.mark.django_db

T0 = "2026-11-02 01:00:00+00:00"


def new_ticket(customer, requester, **kwargs):
    defaults = {"title": "EC2 instance unreachable", "description": "i-0abc since 08:00"}
    defaults.update(kwargs)
    return services.ticket_create(
        customer=customer, requester=requester, actor=requester, **defaults
    )


@time_machine.travel(T0, tick=False)
@pytest.mark.parametrize(
    "priority, response, resolution",
    [("critical", 15, 240), ("high", 60, 480), ("medium", 240, 1440), ("low", 1440, 4320)],
)
def test_sla_due_times_from_the_seed_defaults(acme, acme_user, priority, response, resolution):
    ticket = new_ticket(acme, acme_user, priority=priority)
    now = timezone.now()
    assert ticket.first_response_due_at == now + timedelta(minutes=response)
    assert ticket.resolution_due_at == now + timedelta(minutes=resolution)
    assert ticket.sla_policy == current_policy()


def test_number_status_source_and_timeline(acme, acme_user):
    ticket = new_ticket(acme, acme_user)
    assert ticket.number == f"TKT-{ticket.pk:06d}"
    assert Ticket.objects.get(pk=ticket.pk).number == ticket.number  # as stored
    assert ticket.status == Status.NEW
    assert ticket.source == Source.WEB
    assert list(ticket.events.values_list("kind", flat=True)) == [EventKind.CREATED]


def test_policy_edit_does_not_rewrite_history(acme, acme_user, manager):
    old = new_ticket(acme, acme_user, priority="high")
    sla_policy_create(
        targets={"critical": (5, 60), "high": (30, 120), "medium": (60, 600), "low": (600, 6000)},
        actor=manager,
    )
    new = new_ticket(acme, acme_user, priority="high")
    assert old.sla_policy != new.sla_policy
    assert new.first_response_due_at - new.created_at == timedelta(minutes=30)
    # A priority change on the old ticket uses the targets of the version it opened under.
    services.ticket_change_priority(ticket=old, priority="critical", actor=manager)
    old.refresh_from_db()
    assert old.first_response_due_at - old.created_at == timedelta(minutes=15)
    assert old.resolution_due_at - old.created_at == timedelta(minutes=240)
    assert old.events.filter(kind=EventKind.PRIORITY, old_value="High").exists()
    assert (
        SLAConfig.objects.filter(policy=old.sla_policy, priority="high").get().response_minutes
        == 60
    )


def test_invalid_input_is_a_clear_error(acme, acme_user, globex_user):
    with pytest.raises(services.TicketError, match="title"):
        new_ticket(acme, acme_user, title="  ")
    with pytest.raises(services.TicketError, match="priority"):
        new_ticket(acme, acme_user, priority="urgent")
    with pytest.raises(services.TicketError, match="does not belong"):
        new_ticket(acme, globex_user)
    assert not Ticket.objects.exists()


def test_status_transitions_table(acme, acme_user, engineer):
    ticket = new_ticket(acme, acme_user)
    services.ticket_change_status(ticket=ticket, status=Status.IN_PROGRESS, actor=engineer)
    services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    ticket.refresh_from_db()
    assert ticket.resolved_at is not None
    with pytest.raises(services.TicketError, match="cannot go from"):
        services.ticket_change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=engineer)
    services.ticket_confirm_resolved(ticket=ticket, actor=acme_user)
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    kinds = list(ticket.events.filter(kind=EventKind.STATUS).values_list("new_value", flat=True))
    assert kinds == ["In progress", "Resolved", "Closed"]


def test_reopen_only_within_the_window(acme, acme_user, engineer, settings):
    settings.TICKET_REOPEN_DAYS = 7
    with time_machine.travel(T0, tick=False):
        ticket = new_ticket(acme, acme_user)
        services.ticket_change_status(ticket=ticket, status=Status.CLOSED, actor=engineer)
    with time_machine.travel(timezone.datetime.fromisoformat(T0) + timedelta(days=3)):
        services.ticket_reopen(ticket=ticket, actor=acme_user)
        ticket.refresh_from_db()
        assert ticket.status == Status.IN_PROGRESS and ticket.closed_at is None
        services.ticket_change_status(ticket=ticket, status=Status.CLOSED, actor=engineer)
    later = timezone.datetime.fromisoformat(T0) + timedelta(days=20)
    with time_machine.travel(later), pytest.raises(services.TicketError, match="more than 7 days"):
        services.ticket_reopen(ticket=ticket, actor=acme_user)


def test_first_public_staff_reply_is_the_first_response(acme, acme_user, engineer):
    ticket = new_ticket(acme, acme_user)
    services.comment_add(ticket=ticket, author=acme_user, body="more detail")
    services.comment_add(
        ticket=ticket, author=engineer, body="checking logs", visibility=Visibility.INTERNAL
    )
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None
    reply = services.comment_add(ticket=ticket, author=engineer, body="We are on it.")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == reply.created_at


def test_customers_cannot_write_internal_notes(acme, acme_user):
    ticket = new_ticket(acme, acme_user)
    with pytest.raises(services.TicketError, match="internal"):
        services.comment_add(
            ticket=ticket, author=acme_user, body="x", visibility=Visibility.INTERNAL
        )


def test_customer_reply_resumes_a_waiting_ticket(acme, acme_user, engineer):
    ticket = new_ticket(acme, acme_user)
    services.ticket_change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=engineer)
    services.comment_add(ticket=ticket, author=acme_user, body="here are the logs")
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


def test_attachment_limits(acme, acme_user, settings):
    settings.TICKET_ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(services.TicketError, match="too large"):
        new_ticket(acme, acme_user, attachments=[SimpleUploadedFile("a.txt", b"x" * 11)])
    with pytest.raises(services.TicketError, match="cannot be attached"):
        new_ticket(acme, acme_user, attachments=[SimpleUploadedFile("run.exe", b"MZ")])
    assert not Ticket.objects.exists()


def test_auto_assignment_by_skill_and_load(acme, acme_user):
    ec2 = Skill.objects.create(slug="ec2", name="EC2")
    busy = StaffUserFactory(email="busy@partner.example")
    idle = StaffUserFactory(email="idle@partner.example")
    other = StaffUserFactory(email="other@partner.example")
    busy.skills.add(ec2)
    idle.skills.add(ec2)
    new_ticket(acme, acme_user, title="t1").__class__.objects.update(assignee=busy)
    ticket = new_ticket(acme, acme_user, category=ec2)
    assert ticket.assignee == idle
    assert other != ticket.assignee
    assert ticket.events.filter(kind=EventKind.ASSIGNED, internal=True).exists()
    assert new_ticket(acme, acme_user).assignee is None  # no category, no guess


def test_only_engineers_can_be_assigned(acme, acme_user, auditor, engineer):
    ticket = new_ticket(acme, acme_user)
    with pytest.raises(services.TicketError):
        services.ticket_assign(ticket=ticket, assignee=auditor, actor=engineer)
    services.ticket_assign(ticket=ticket, assignee=engineer, actor=engineer)
    ticket.refresh_from_db()
    assert ticket.assignee == engineer


def test_the_database_numbers_a_ticket_as_python_does(acme, acme_user):
    """PostgreSQL's insert trigger (migration tickets 0009) and ticket_number() agree, past
    six digits too; a number given is kept."""
    from django.db import connection

    from tickets.services import ticket_number

    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; elsewhere ticket_create writes the number")
    ticket = new_ticket(acme, acme_user)
    for pk in (7, 999_999, 1_000_000, 12_345_678):
        twin = Ticket.objects.get(pk=ticket.pk)
        twin.pk, twin.number = pk, ""
        twin.save(force_insert=True)
        assert Ticket.objects.values_list("number", flat=True).get(pk=pk) == ticket_number(pk)
    twin.pk, twin.number = 99, "TKT-LEGACY-1"
    twin.save(force_insert=True)
    assert Ticket.objects.values_list("number", flat=True).get(pk=99) == "TKT-LEGACY-1"


def test_tickets_opened_together_are_opened_as_one_by_one(acme, acme_user, globex):
    """services.tickets_create (a batch of AWS Health events) opens each ticket as
    ticket_create does: number, SLA, history, auto-assignment, notification job."""
    from spt_portal.models import JobOutbox

    ec2 = Skill.objects.create(slug="ec2", name="EC2")
    engineer = StaffUserFactory(email="ec2@partner.example")
    engineer.skills.add(ec2)
    specs = [
        {"customer": acme, "requester": acme_user, "title": "one", "priority": "high"},
        {"customer": globex, "requester": None, "title": "two", "category": ec2},
        {"customer": None, "requester": None, "title": "three", "source": Source.AWS_HEALTH},
    ]
    alone = [services.ticket_create(**spec, actor=None) for spec in specs]
    together = services.tickets_create(specs)

    def shape(ticket):
        ticket.refresh_from_db()
        return (
            ticket.customer_id,
            ticket.title,
            ticket.priority,
            ticket.source,
            ticket.status,
            ticket.assignee_id,
            ticket.sla_policy_id,
            ticket.sla_calendar_id,
            ticket.resolution_due_at - ticket.created_at,
            ticket.number == f"TKT-{ticket.pk:06d}",
            sorted((e.kind, e.new_value, e.internal) for e in ticket.events.all()),
        )

    assert [shape(t) for t in together] == [shape(t) for t in alone]
    assert together[1].assignee == engineer
    [job] = JobOutbox.objects.filter(func="tickets.jobs.notify_tickets_created")
    assert job.args == [[t.pk for t in together]]


def test_a_refused_ticket_of_a_batch_writes_none_of_them(acme, acme_user):
    before = Ticket.objects.count()
    with pytest.raises(services.TicketError):
        services.tickets_create(
            [
                {"customer": acme, "requester": acme_user, "title": "fine"},
                {"customer": acme, "requester": acme_user, "title": "  "},
            ]
        )
    assert Ticket.objects.count() == before
    assert services.tickets_create([]) == []


def test_an_attachment_refused_writes_no_ticket(acme, acme_user, settings):
    """Every refusal comes before the first write: a caller that catches TicketError inside
    its own transaction can go on (ticket_create takes no savepoint)."""
    from django.db import transaction

    settings.TICKET_ATTACHMENT_EXTENSIONS = ["txt"]
    before = Ticket.objects.count()
    with transaction.atomic():
        with pytest.raises(services.TicketError):
            services.ticket_create(
                customer=acme,
                requester=acme_user,
                title="with a script",
                attachments=[SimpleUploadedFile("run.exe", b"MZ")],
                actor=acme_user,
            )
        assert Ticket.objects.count() == before  # the transaction is still usable


def test_a_ticket_opened_inside_a_transaction_takes_no_savepoint(acme, acme_user):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        services.ticket_create(customer=acme, requester=acme_user, title="t", actor=acme_user)
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from spt_portal.models import NotificationLog
from tests.factories import CustomerUserFactory
from tickets import services
from tickets.jobs import close_stale_resolved_tickets
from tickets.models import EventKind, Status, Visibility

pytestmark = pytest.mark.django_db(transaction=True)


def mails_to(address):
    return [m for m in mail.outbox if address in m.to]


@pytest.fixture
def ticket(acme, acme_user, engineer):
    acme_user.preferred_language = "zh-hans"
    acme_user.save()
    ticket = services.ticket_create(
        customer=acme, requester=acme_user, title="数据库连接超时", actor=acme_user
    )
    services.ticket_assign(ticket=ticket, assignee=engineer, actor=engineer)
    return ticket


def test_created_email_in_the_customers_language_with_thread_headers(ticket, acme_user):
    [message] = mails_to(acme_user.email)
    assert message.subject == f"[{ticket.number}] 我们已收到您的工单：数据库连接超时"
    assert f"/portal/tickets/{ticket.number}/" in message.body
    root = f"<ticket-{ticket.pk}@spt-portal.local>"
    assert message.extra_headers["References"] == root
    assert message.extra_headers["Message-ID"].endswith("@spt-portal.local>")
    log = NotificationLog.objects.get(recipient=acme_user.email)
    assert log.target == ticket and log.status == "sent"
    assert ticket.events.filter(kind=EventKind.NOTIFICATION).exists()


def test_cc_contacts_get_the_email_too(acme, acme_user):
    colleague = CustomerUserFactory(customer=acme, email="carol@acme.example")
    ticket = services.ticket_create(customer=acme, requester=acme_user, title="x", actor=acme_user)
    ticket.cc_contacts.add(colleague)
    mail.outbox.clear()
    engineer_reply = services.comment_add(
        ticket=ticket, author=None, body="AWS replied", author_name="AWS Support", source="aws"
    )
    assert engineer_reply.pk
    assert len(mails_to(colleague.email)) == 1 and len(mails_to(acme_user.email)) == 1


def test_public_reply_reaches_customer_internal_note_never(ticket, acme_user, engineer):
    mail.outbox.clear()
    services.comment_add(ticket=ticket, author=engineer, body="请重启实例后再试。")
    services.comment_add(
        ticket=ticket, author=engineer, body="INTERNAL root cause", visibility=Visibility.INTERNAL
    )
    [message] = mails_to(acme_user.email)
    assert "请重启实例后再试。" in message.body
    assert all("INTERNAL" not in m.body for m in mail.outbox)
    assert not NotificationLog.objects.filter(body__contains="INTERNAL").exists()


def test_customer_reply_goes_to_the_engineer(ticket, acme_user, engineer):
    mail.outbox.clear()
    services.comment_add(ticket=ticket, author=acme_user, body="Still failing")
    [message] = mails_to(engineer.email)
    assert "Still failing" in message.body
    assert "/admin/tickets/ticket/" in message.body
    assert not mails_to(acme_user.email)  # nobody is told about their own action


def test_resolved_asks_to_confirm_and_confirming_sends_nothing_to_self(ticket, acme_user, engineer):
    mail.outbox.clear()
    services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    [message] = mails_to(acme_user.email)
    assert "已解决，请确认" in message.subject
    mail.outbox.clear()
    services.ticket_confirm_resolved(ticket=ticket, actor=acme_user)
    assert mails_to(acme_user.email) == []


def test_critical_ticket_sends_sms(acme, acme_user, caplog):
    acme_user.phone = "+86 139 0000 0001"
    acme_user.save()
    caplog.set_level("INFO", logger="spt_portal.sms")
    services.ticket_create(
        customer=acme, requester=acme_user, title="全部中断", priority="critical", actor=acme_user
    )
    sms = NotificationLog.objects.get(channel="sms")
    assert sms.recipient == "+86 139 0000 0001" and sms.status == "sent"
    assert "+86 139 0000 0001" in caplog.text


def test_internal_ticket_emails_no_customer(engineer):
    mail.outbox.clear()
    services.ticket_create(customer=None, requester=None, title="AWS Health event", actor=engineer)
    assert mail.outbox == []


def test_redis_down_keeps_the_ticket_and_sends_later(acme, acme_user, settings):
    from django.test import override_settings

    from spt_portal.jobs import relay_outbox
    from spt_portal.models import JobOutbox

    dead = {
        name: {**conf, "URL": "redis://127.0.0.1:1/0"} for name, conf in settings.RQ_QUEUES.items()
    }
    mail.outbox.clear()
    with override_settings(RQ_QUEUES=dead):
        ticket = services.ticket_create(
            customer=acme, requester=acme_user, title="x", actor=acme_user
        )
    assert ticket.pk and mail.outbox == []
    assert JobOutbox.objects.filter(status="pending").count() >= 1
    JobOutbox.objects.update(next_attempt_at=None)
    relay_outbox()
    assert len(mails_to(acme_user.email)) == 1


def test_unconfirmed_resolution_closes_itself_once(ticket, acme_user, engineer, settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 7
    services.ticket_change_status(ticket=ticket, status=Status.RESOLVED, actor=engineer)
    with time_machine.travel(timezone.now() + timedelta(days=6)):
        assert close_stale_resolved_tickets() == 0
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert close_stale_resolved_tickets() == 1
        assert close_stale_resolved_tickets() == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    [message] = mails_to(acme_user.email)
    assert "已关闭" in message.subject


def test_created_notices_are_one_job_decided_after_commit(acme, acme_user, caplog):
    from spt_portal.models import JobOutbox
    from tickets.jobs import notify_ticket_created

    ticket = services.ticket_create(customer=acme, requester=acme_user, title="x", actor=acme_user)
    # The request wrote one job; the job wrote the notice (and its own delivery job).
    [job] = JobOutbox.objects.filter(func="tickets.jobs.notify_ticket_created")
    assert job.args == [ticket.pk] and job.status == "dispatched"
    [log] = NotificationLog.objects.filter(template="ticket_created")
    assert log.recipient == acme_user.email and log.status == "sent"
    # Delivered twice (a retried job): nothing is sent twice.
    mail.outbox.clear()
    assert notify_ticket_created(ticket.pk) == 0
    assert not mail.outbox
    assert NotificationLog.objects.filter(template="ticket_created").count() == 1
    assert notify_ticket_created(999999) == 0
    assert "ticket 999999 does not exist" in caplog.text

"""Paging, acknowledge links, escalation along the on-call layers, emergency response and
communications, end to end through the outbox, the jobs and Django's mail backend."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from incidents import paging, services
from incidents.jobs import escalate_incident, paging_tick, send_page
from incidents.models import (
    Communication,
    ContactRole,
    EmergencyContact,
    Incident,
    IncidentStatus,
    Level,
    Page,
    PageStatus,
)
from spt_portal.models import NotificationLog
from tests.factories import CustomerUserFactory, StaffUserFactory

pytestmark = pytest.mark.django_db(transaction=True)
AM = "/hooks/alertmanager/"


def mails_to(address):
    return [m for m in mail.outbox if address in m.to]


def ack_link(message) -> str:
    return re.search(r"https?://\S+/pages/ack/\S+/", message.body).group(0)


def test_alert_to_incident_to_page_to_acknowledge(
    alertmanager, post_hook, firing_group, on_call_team, client
):
    _integration, token = alertmanager
    post_hook(AM, firing_group, token)
    incident = Incident.objects.get()
    pat = on_call_team["primary"]
    assert incident.on_call_engineer == pat and incident.escalation_level == 1
    [message] = mails_to(pat.email)
    assert message.subject == f"P1 incident {incident.number}: 结算服务 API 错误率过高"
    sms = NotificationLog.objects.get(channel="sms")
    assert sms.recipient == pat.phone and sms.payload["params"]["number"] == incident.number
    link = ack_link(message)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    # The link works without signing in; a GET changes nothing (mail scanners open links).
    page_view = client.get(path)
    assert page_view.status_code == 200 and b'data-testid="ack-button"' in page_view.content
    assert Page.objects.get().status == PageStatus.ACTIVE
    response = client.post(path)
    assert response.status_code == 200 and b'data-testid="ack-done"' in response.content
    incident.refresh_from_db()
    page = Page.objects.get()
    assert page.status == PageStatus.ACKNOWLEDGED and page.acknowledged_by == pat
    assert incident.status == IncidentStatus.IN_PROGRESS and incident.acknowledged_at
    assert incident.escalation_id is None and incident.next_escalation_at is None
    assert incident.timeline.filter(text__contains="page acknowledged by Pat").exists()
    # Nothing more is sent after the acknowledgement, however often the tick runs.
    sent = len(mail.outbox)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert paging_tick() == {"pages": 0, "escalations": 0}
    assert len(mail.outbox) == sent


def test_bad_and_expired_ack_links(engineer, on_call_team, client, settings):
    incident = services.incident_create(title="x", level=Level.P1, actor=engineer)
    page = Page.objects.get(incident=incident)
    assert client.get("/pages/ack/forged/").status_code == 404
    token = paging.ack_token(page, "pat@partner.example")
    with time_machine.travel(
        timezone.now() + timedelta(hours=settings.INCIDENT_ACK_LINK_HOURS + 1)
    ):
        assert client.post(f"/pages/ack/{token}/").status_code == 404
    assert Page.objects.get().status == PageStatus.ACTIVE


def test_unacknowledged_p1_escalates_along_the_layers_and_stops_when_acknowledged(
    engineer, on_call_team, settings
):
    settings.INCIDENT_PAGE_REPEAT_MINUTES = 5
    settings.INCIDENT_PAGE_REPEATS = 3
    pat, sam, boss = on_call_team["primary"], on_call_team["secondary"], on_call_team["manager"]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incident = services.incident_create(title="支付接口超时", level=Level.P1, actor=engineer)
    assert len(mails_to(pat.email)) == 1
    # Repeats every 5 minutes until the 15-minute response target passes.
    for minute in (5, 10):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=1), tick=False):
            paging_tick()
    assert len(mails_to(pat.email)) == 3 and not mails_to(sam.email)
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert paging_tick()["escalations"] == 1
    incident.refresh_from_db()
    assert incident.escalation_level == 2 and len(mails_to(sam.email)) == 1
    assert "response target" in incident.timeline.filter(kind="escalation").last().text
    # The primary's page stopped repeating once the secondary had it.
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        paging_tick()
    assert len(mails_to(pat.email)) == 3
    # The secondary's page runs its course (4 sends), then the managers are paged.
    for minute in (21, 26, 31, 36):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=2), tick=False):
            paging_tick()
    incident.refresh_from_db()
    assert len(mails_to(sam.email)) == 4
    assert incident.escalation_level == 3 and len(mails_to(boss.email)) == 1
    # Top layer: paged again until somebody acknowledges.
    with time_machine.travel(start + timedelta(minutes=57), tick=False):
        paging_tick()
        paging_tick()
    assert Page.objects.filter(incident=incident, escalation_level=3).count() == 2
    services.incident_acknowledge(incident=incident, actor=sam)
    sent = len(mail.outbox)
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        assert paging_tick() == {"pages": 0, "escalations": 0}
    assert len(mail.outbox) == sent
    assert not Page.objects.filter(status=PageStatus.ACTIVE).exists()


def test_stale_and_duplicate_escalation_jobs_exit_quietly(engineer, on_call_team):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incident = services.incident_create(title="x", level=Level.P0, actor=engineer)
    escalation_id = str(incident.escalation_id)
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        assert escalate_incident(incident.pk, escalation_id, 1) == "escalated"
        assert escalate_incident(incident.pk, escalation_id, 1) == "stale"  # duplicate
        assert escalate_incident(incident.pk, "0" * 32, 2) == "stale"  # replaced
        assert escalate_incident(incident.pk, escalation_id, 2) == "stale"  # not due yet
    page = Page.objects.filter(incident=incident).order_by("id").first()
    assert send_page(page.pk, 0) == "stale"  # already sent once
    assert Incident.objects.get(pk=incident.pk).escalation_level == 2


def test_a_layer_with_nobody_is_skipped_and_said_so(engineer, manager):
    incident = services.incident_create(title="no schedule", level=Level.P1, actor=engineer)
    incident.refresh_from_db()
    assert incident.escalation_level == 3  # no on-call schedule: straight to the managers
    assert mails_to(manager.email)
    assert incident.timeline.filter(text__contains="Nobody in layer 1").exists()


def test_manual_escalation_through_the_api(engineer, on_call_team, client):
    from spt_portal.tokens import api_token_create

    _row, token = api_token_create(user=engineer)
    incident = services.incident_create(title="x", level=Level.P2, actor=engineer)
    extra = StaffUserFactory(email="dba@partner.example")
    response = client.post(
        "/api/v1/incidents/escalate",
        data={
            "incident_id": incident.pk,
            "escalation_level": 2,
            "reason": "事件处理时间过长",
            "notify_users": [extra.pk],
            "auto_assign": True,
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["escalation_level"] == 2
    incident.refresh_from_db()
    assert incident.on_call_engineer == on_call_team["secondary"]
    assert mails_to(extra.email) and mails_to(on_call_team["secondary"].email)
    bad = client.post(
        "/api/v1/incidents/escalate",
        data={
            "incident_id": incident.pk,
            "escalation_level": 1,
            "reason": "x",
            "notify_users": [999999],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert bad.status_code == 400 and "Unknown users" in bad.json()["detail"]


def test_emergency_response_pages_the_level_scope_once(engineer, on_call_team):
    cto = StaffUserFactory(email="cto@partner.example", phone="+8613900000009")
    EmergencyContact.objects.create(role=ContactRole.MANAGEMENT, user=cto)
    EmergencyContact.objects.create(
        role=ContactRole.TECH_LEAD,
        name="张三",
        email="tech-lead@partner.example",
        phone="+8613900000001",
    )
    EmergencyContact.objects.create(
        role=ContactRole.DEVELOPER, name="dev", email="dev@partner.example"
    )
    p2 = services.incident_create(title="p2", level=Level.P2, actor=engineer)
    page = paging.emergency_response(incident=p2, actor=engineer)
    assert (
        "tech-lead@partner.example" in page.recipients and "dev@partner.example" in page.recipients
    )
    assert "cto@partner.example" not in page.recipients  # management only for P0
    assert on_call_team["primary"].email in page.recipients
    with pytest.raises(paging.PagingError, match="started at"):
        paging.emergency_response(incident=p2, actor=engineer)
    p0 = services.incident_create(title="p0", level=Level.P3, actor=engineer)
    services.incident_change_level(incident=p0, level=Level.P0, actor=engineer)
    page = paging.emergency_response(incident=Incident.objects.get(pk=p0.pk), actor=engineer)
    assert {"cto@partner.example", "+8613900000009"} <= set(page.recipients)
    [started] = [m for m in mails_to("cto@partner.example")]
    assert "🚨 P0" in started.body


def test_communications_internal_and_bilingual_external(engineer, acme, globex, client):
    from tickets.services import ticket_create

    alice = CustomerUserFactory(
        customer=acme, email="alice@acme.example", preferred_language="zh-hans"
    )
    bob = CustomerUserFactory(customer=globex, email="bob@globex.example")
    EmergencyContact.objects.create(
        role=ContactRole.TECH_LEAD, name="Tech", email="tech@partner.example"
    )
    incident = services.incident_create(title="Checkout down", level=Level.P1, actor=engineer)
    ticket = ticket_create(customer=acme, requester=alice, title="结账失败", actor=alice)
    services.incident_link_ticket(incident=incident, ticket=ticket, actor=engineer)
    subject, body = paging.communication_draft(
        incident=incident, kind="started", audience="external"
    )
    assert "尊敬的用户" in body and "Dear customer" in body
    assert "服务中断通知" in subject and "Service disruption notice" in subject
    mail.outbox.clear()
    comm = paging.communication_send(
        incident=incident,
        kind="started",
        audience="external",
        subject=subject,
        body=body + "\nEdited.",
        actor=engineer,
    )
    assert comm.recipients_count == 1
    [notice] = mails_to(alice.email)
    assert "Edited." in notice.body and f"/portal/incidents/{incident.number}/" in notice.body
    assert not mails_to(bob.email)
    # The affected customer reads the notice in the portal; another customer gets a 404.
    client.force_login(alice)
    page = client.get(f"/portal/incidents/{incident.number}/")
    assert page.status_code == 200 and "Edited." in page.content.decode()
    assert "Checkout down" not in page.content.decode()  # internal title stays internal
    client.force_login(bob)
    assert client.get(f"/portal/incidents/{incident.number}/").status_code == 404
    internal_subject, internal_body = paging.communication_draft(
        incident=incident, kind="resolved", audience="internal", language="en"
    )
    paging.communication_send(
        incident=incident,
        kind="resolved",
        audience="internal",
        subject=internal_subject,
        body=internal_body,
        actor=engineer,
    )
    assert mails_to("tech@partner.example")
    assert incident.timeline.filter(kind="communication").count() == 2
    assert Communication.objects.count() == 2

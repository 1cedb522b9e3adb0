"""A small world with one real object of every kind, for the access matrix.

Two customers (Acme, Globex) with a ticket each, attachments (public, and one on an internal
note), an internal note, knowledge-base articles (public, internal, unpublished), an incident
that affects Acme with an external notice, a page with its acknowledge link, a draft and a
published postmortem, an action item, the on-call schedule with its iCal feed, and at least
one row of every model registered in the admin, so that every URL is requested with a real id.

Everything is built through the services where one exists, as production builds it.
"""

from dataclasses import dataclass
from datetime import date, time, timedelta

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from aws_integrations.models import CasePush, HealthEvent, HealthEventCustomer, SupportCase, SyncRun
from incidents import alerts, paging
from incidents import services as incident_services
from incidents.models import (
    Alert,
    AlertPayload,
    EmergencyContact,
    IncidentMetric,
    Level,
    MetricQuery,
    Page,
    Rule,
    RuleExecution,
)
from postmortems import services as pm_services
from sla import ical
from sla.models import BusinessCalendar, OnCallLayer, OnCallLayerMember, OnCallSchedule
from sla.oncall_models import OnCallShift
from spt_portal.models import JobOutbox, NotificationChannel, NotificationLog, Skill
from spt_portal.tokens import api_token_create
from tests.factories import AWSAccountFactory
from tickets import services as ticket_services
from tickets.models import Article, InboundEmail, Status, Ticket, Visibility

ROLES = ("anon", "cust_a", "cust_b", "eng", "mgr", "aud")

# Words that must never reach the wrong eyes; each test looks for them in what it gets back.
GLOBEX_SECRET = "Globex payroll database is leaking"
INTERNAL_NOTE = "INTERNAL: Acme misconfigured the security group"
INTERNAL_ARTICLE = "Internal runbook: rotate the HSM keys"
DRAFT_ARTICLE = "Unpublished draft about replication"


@dataclass
class World:
    users: dict
    tokens: dict
    acme: object
    globex: object
    acme_ticket: object
    acme_resolved: object
    globex_ticket: object
    acme_attachment: object
    note_attachment: object
    globex_attachment: object
    public_article: object
    internal_article: object
    draft_article: object
    incident: object
    alert: object
    page: object
    ack_token: str
    postmortem: object
    published_postmortem: object
    action_item: object
    ical_token: str
    aws_account: object
    health_event: object
    rule: object
    integration_token: str
    open_incident: object
    open_entry: object
    incident_without_pm: object
    postmortem_in_review: object
    postmortem_fields: tuple
    ticket_type: object
    rq_queue: int = 0
    rq_job: str = ""


def _skill():
    return Skill.objects.get_or_create(slug="rds", defaults={"name": "RDS"})[0]


def _sign_in_records():
    """django-axes' records of sign-in attempts, when it is installed (its admin lists them)."""
    if not apps.is_installed("axes"):
        return
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    seen = {
        "user_agent": "curl/8.5",
        "ip_address": "203.0.113.9",
        "username": "mallory@example.com",
        "http_accept": "*/*",
        "path_info": "/accounts/login/",
    }
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**seen)
    AccessLog.objects.create(**seen)


def build_world(*, acme, globex, acme_user, globex_user, engineer, manager, auditor) -> World:
    users = {
        "anon": None,
        "cust_a": acme_user,
        "cust_b": globex_user,
        "eng": engineer,
        "mgr": manager,
        "aud": auditor,
    }
    # One API token per role, made here so that requests do not add token rows.
    tokens = {role: api_token_create(user=user)[1] for role, user in users.items() if user}
    skill = _skill()

    # On call: the engineer is primary, so tickets and incidents get assigned as in production.
    schedule = OnCallSchedule.objects.create(name="24x7", is_default=True, timezone="Asia/Shanghai")
    layer = OnCallLayer.objects.create(
        schedule=schedule,
        level=1,
        rotation_start=date(2026, 1, 1),
        handover_time=time(9),
        shift_hours=24,
    )
    OnCallLayerMember.objects.create(layer=layer, user=engineer)
    now = timezone.now()
    OnCallShift.objects.create(
        schedule=schedule,
        user=manager,
        start_time=now + timedelta(days=2),
        end_time=now + timedelta(days=3),
        is_primary=True,
    )
    BusinessCalendar.objects.get_or_create(name="office", defaults={"is_24x7": False})

    # Tickets.
    acme_ticket = ticket_services.ticket_create(
        customer=acme,
        requester=acme_user,
        title="Acme RDS failover loop",
        description="since 09:00",
        category=skill,
        attachments=[SimpleUploadedFile("acme.log", b"ERROR 1040")],
        actor=acme_user,
    )
    globex_ticket = ticket_services.ticket_create(
        customer=globex,
        requester=globex_user,
        title=GLOBEX_SECRET,
        description=GLOBEX_SECRET,
        attachments=[SimpleUploadedFile("globex.txt", b"globex secret")],
        actor=globex_user,
    )
    acme_resolved = ticket_services.ticket_create(
        customer=acme, requester=acme_user, title="Acme old question", actor=acme_user
    )
    public_reply = ticket_services.comment_add(
        ticket=acme_ticket, author=engineer, body="Visible answer from support"
    )
    internal_note = ticket_services.comment_add(
        ticket=acme_ticket,
        author=engineer,
        body=INTERNAL_NOTE,
        visibility=Visibility.INTERNAL,
        attachments=[SimpleUploadedFile("internal.txt", b"internal only")],
    )
    ticket_services.ticket_change_status(
        ticket=acme_resolved, status=Status.IN_PROGRESS, actor=engineer
    )
    ticket_services.ticket_change_status(
        ticket=acme_resolved, status=Status.RESOLVED, actor=engineer
    )
    acme_ticket.refresh_from_db()
    acme_resolved.refresh_from_db()

    # Knowledge base.
    public_article = Article.objects.create(
        title="How to read RDS failover events",
        body="Check the RDS events.",
        visibility=Article.Visibility.PUBLIC,
        is_published=True,
        language="en",
    )
    internal_article = Article.objects.create(
        title=INTERNAL_ARTICLE,
        body="RDS HSM keys rotation steps.",
        visibility=Article.Visibility.INTERNAL,
        is_published=True,
        source_ticket=globex_ticket,
    )
    draft_article = Article.objects.create(
        title=DRAFT_ARTICLE,
        body="RDS replication draft.",
        visibility=Article.Visibility.PUBLIC,
        is_published=False,
    )

    # AWS.
    aws_account = AWSAccountFactory(customer=acme, account_id="123456789012", name="acme-prod")
    support_case = SupportCase.objects.create(
        ticket=acme_ticket, account=aws_account, case_id="case-1", display_id="1001"
    )
    CasePush.objects.create(comment=public_reply, case=support_case, status=CasePush.Status.SENT)
    SyncRun.objects.create(
        kind=SyncRun.Kind.SUPPORT_POLL, account=aws_account, outcome=SyncRun.Outcome.OK
    )
    health_event = HealthEvent.objects.create(
        arn="arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/1",
        service="EC2",
        region="us-east-1",
    )
    HealthEventCustomer.objects.create(event=health_event, customer=acme, ticket=acme_resolved)

    # Alerts, an incident affecting Acme, a page and an external notice.
    integration, integration_token = alerts.integration_create(
        name="prod-alertmanager", kind="alertmanager"
    )
    parsed = alerts.parse_generic(
        {"title": "CPU high on billing", "level": "warning", "labels": {"service": "billing"}}
    )
    alert, _outcome = alerts.alert_upsert(parsed=parsed, integration=alerts.api_integration())
    incident = incident_services.incident_create(
        title="Billing outage (internal title)",
        level=Level.P1,
        service="billing",
        alerts=[alert],
        affected_customers=[acme],
        actor=engineer,
    )
    incident_services.incident_link_ticket(incident=incident, ticket=acme_ticket, actor=engineer)
    incident_services.incident_add_note(
        incident=incident, text="DB pool exhausted", actor=engineer, pinned=False
    )
    subject, body = paging.communication_draft(
        incident=incident, kind="started", audience="external"
    )
    paging.communication_send(
        incident=incident,
        kind="started",
        audience="external",
        subject=subject,
        body=body,
        actor=engineer,
    )
    EmergencyContact.objects.create(role="tech_lead", name="Tech", email="tech@partner.example")
    IncidentMetric.objects.create(
        incident=incident, metric_type="manual", metric_name="error rate", metric_value=1
    )
    MetricQuery.objects.get_or_create(
        name="CPU", defaults={"promql": 'rate(cpu{service="$service"}[5m])', "is_active": False}
    )
    rule = Rule.objects.create(
        name="Escalate critical tickets",
        rule_type="escalation",
        target="ticket",
        conditions={"priority": "critical"},
        actions=[{"type": "escalate", "level": 1}],
        is_active=False,
    )
    RuleExecution.objects.create(
        rule=rule,
        key="access-world",
        target="ticket",
        ticket=acme_ticket,
        trigger="event",
        outcome=RuleExecution.Outcome.OK,
    )

    # The incident recovers; its draft postmortem has an action item. A second incident's
    # postmortem is published (auditors read published ones only).
    for status in ("in_progress", "recovered"):
        incident_services.incident_change_status(incident=incident, status=status, actor=engineer)
    incident.refresh_from_db()
    postmortem, _created = pm_services.postmortem_create(incident=incident, actor=engineer)
    action_item = pm_services.action_item_create(
        postmortem=postmortem,
        title="Raise the pool size",
        owner=engineer,
        due_date=timezone.localdate() + timedelta(days=7),
        priority="P1",
        actor=engineer,
    )
    pm_services.comment_add(postmortem=postmortem, body="Looks right", actor=manager)
    pm_services.postmortem_update(postmortem=postmortem, actor=engineer, root_cause="Pool size")
    postmortem.refresh_from_db()

    other = incident_services.incident_create(
        title="DNS blip", level=Level.P2, service="dns", actor=engineer
    )
    for status in ("in_progress", "recovered"):
        incident_services.incident_change_status(incident=other, status=status, actor=engineer)
    published, _created = pm_services.postmortem_create(incident=other, actor=engineer)
    pm_services.postmortem_update(postmortem=published, actor=engineer, root_cause="TTL too low")
    for status, actor in (("in_review", engineer), ("approved", manager), ("published", engineer)):
        pm_services.postmortem_transition(postmortem=published, status=status, actor=actor)
    published.refresh_from_db()

    # An open incident for the writing pages and a recovered one still without postmortem.
    open_incident = incident_services.incident_create(
        title="Queue backlog", level=Level.P3, service="queue", actor=engineer
    )
    open_entry = incident_services.incident_add_note(
        incident=open_incident, text="Watching the queue", actor=engineer
    )
    # A firing alert and an active page on it, for the acknowledge buttons and links.
    queue_alert, _outcome = alerts.alert_upsert(
        parsed=alerts.parse_generic(
            {"title": "Queue depth", "level": "warning", "labels": {"service": "queue"}}
        ),
        integration=alerts.api_integration(),
    )
    page = paging.page_create(
        incident=open_incident,
        kind="manual",
        recipients=["eng@partner.example"],
        channels=["email"],
        repeat=False,
        actor=engineer,
    )
    ack_token = paging.ack_token(page, "eng@partner.example")
    without_pm = incident_services.incident_create(
        title="Cache misses", level=Level.P3, service="cache", actor=engineer
    )
    for status in ("in_progress", "recovered"):
        incident_services.incident_change_status(incident=without_pm, status=status, actor=engineer)
    # A postmortem waiting for review: only a manager approves it.
    reviewed = incident_services.incident_create(
        title="Disk full", level=Level.P2, service="storage", actor=engineer
    )
    for status in ("in_progress", "recovered"):
        incident_services.incident_change_status(incident=reviewed, status=status, actor=engineer)
    in_review, _created = pm_services.postmortem_create(incident=reviewed, actor=engineer)
    pm_services.postmortem_update(postmortem=in_review, actor=engineer, root_cause="Log growth")
    pm_services.postmortem_transition(postmortem=in_review, status="in_review", actor=engineer)

    # Rows the services above do not make, so every admin page has an object to show (and
    # a Globex account with AWS Health on, a customer the health notice can be sent to).
    AWSAccountFactory(customer=globex, account_id="444455556666", name="globex-main")
    AlertPayload.objects.create(integration=integration, body={"alerts": []})
    NotificationChannel.objects.create(name="ops", kind="slack", url="http://127.0.0.1:9/slack")
    NotificationLog.objects.get_or_create(
        dedupe_key="access-world",
        defaults={"channel": "email", "recipient": "a@x", "template": "t", "status": "sent"},
    )
    JobOutbox.objects.create(func="spt_portal.jobs.worker_heartbeat")
    inbound = InboundEmail(
        ses_message_id="access-world", sender="alice@acme.example", subject="Hello"
    )
    inbound.raw.save("access-world.eml", ContentFile(b"Subject: Hello\r\n\r\nHi"), save=False)
    inbound.save()
    _sign_in_records()

    return World(
        users=users,
        tokens=tokens,
        acme=acme,
        globex=globex,
        acme_ticket=acme_ticket,
        acme_resolved=acme_resolved,
        globex_ticket=globex_ticket,
        acme_attachment=acme_ticket.attachments.get(comment__isnull=True),
        note_attachment=internal_note.attachments.get(),
        globex_attachment=globex_ticket.attachments.get(),
        public_article=public_article,
        internal_article=internal_article,
        draft_article=draft_article,
        incident=incident,
        alert=Alert.objects.get(pk=queue_alert.pk),
        page=Page.objects.get(pk=page.pk),
        ack_token=ack_token,
        postmortem=postmortem,
        published_postmortem=published,
        action_item=action_item,
        ical_token=ical.feed_token(schedule_id=schedule.pk),
        aws_account=aws_account,
        health_event=health_event,
        rule=rule,
        integration_token=integration_token,
        open_incident=open_incident,
        open_entry=open_entry,
        incident_without_pm=without_pm,
        postmortem_in_review=in_review,
        postmortem_fields=pm_services.EDITABLE_FIELDS,
        ticket_type=ContentType.objects.get_for_model(Ticket),
    )

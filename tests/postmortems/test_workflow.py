"""A postmortem from draft to published: prefill, review, approval, publication, the
knowledge base, the customer summary and the incident closing."""

from datetime import date, timedelta

import pytest
import time_machine

from incidents import services as incident_services
from incidents.models import (
    Audience,
    Communication,
    ContactRole,
    EmergencyContact,
    IncidentStatus,
    Level,
)
from postmortems import services
from postmortems.models import PostMortem, PostMortemStatus
from spt_portal.models import NotificationLog
from spt_portal.roles import Role
from tests.factories import CustomerUserFactory, StaffUserFactory
from tickets import knowledge

from .conftest import RECOVERED_AT, publish

pytestmark = pytest.mark.django_db


def test_draft_to_published_with_the_timeline_prefilled(recovered_incident, engineer, manager):
    owner = StaffUserFactory(email="po@partner.example", full_name="Po", role=Role.ENGINEER)
    EmergencyContact.objects.create(role=ContactRole.PRODUCT_OWNER, user=owner)
    incident = recovered_incident
    assert incident.status == IncidentStatus.PENDING_POSTMORTEM
    with time_machine.travel(RECOVERED_AT + timedelta(hours=20), tick=False):
        postmortem, created = services.postmortem_create(incident=incident, actor=engineer)
    assert created and postmortem.status == PostMortemStatus.DRAFT
    # Basic information from the incident: level, start, recovery, duration, scope.
    assert "P1" in postmortem.summary and "2h 0m" in postmortem.summary
    assert "billing" in postmortem.summary and "Acme" in postmortem.summary
    # The timeline: automatic entries and pinned notes; a note nobody pinned stays out.
    assert "**数据库连接池耗尽**" in postmortem.timeline
    assert "喝咖啡" not in postmortem.timeline
    assert "Incident opened at P1" in postmortem.timeline
    assert "Recovered" in postmortem.timeline
    stamps = [line[:18] for line in postmortem.timeline.splitlines()]
    assert stamps == sorted(stamps)  # in time order ("- YYYY-MM-DD HH:MM ...")
    # Commander, on call / author, and the product owner for a P1.
    assert {manager, engineer, owner} <= set(postmortem.participants.all())
    # Creating again returns the same one.
    again, created = services.postmortem_create(incident=incident, actor=engineer)
    assert again == postmortem and not created

    with pytest.raises(services.PostmortemError, match="root cause"):
        services.postmortem_transition(postmortem=postmortem, status="in_review", actor=engineer)
    services.postmortem_update(
        postmortem=postmortem,
        actor=engineer,
        root_cause="连接池上限过低，重试风暴放大了故障",
        went_well="告警 2 分钟内触发",
        lessons="容量规划要覆盖重试",
        affected_users=1200,
    )
    services.postmortem_transition(postmortem=postmortem, status="in_review", actor=engineer)
    services.comment_add(postmortem=postmortem, body="补充监控截图", actor=manager)
    with pytest.raises(services.PostmortemError, match="A manager approves"):
        services.postmortem_transition(postmortem=postmortem, status="approved", actor=engineer)
    services.postmortem_transition(postmortem=postmortem, status="approved", actor=manager)
    with pytest.raises(services.PostmortemError, match="cannot go from Approved to In review"):
        services.postmortem_transition(postmortem=postmortem, status="in_review", actor=engineer)
    services.postmortem_transition(postmortem=postmortem, status="published", actor=engineer)

    postmortem.refresh_from_db()
    assert postmortem.status == "published" and postmortem.approved_by == manager
    assert postmortem.published_at and postmortem.review_started_at
    # A published, internal knowledge-base article that staff find and customers do not.
    article = postmortem.article
    assert article.is_published and article.visibility == "internal"
    assert "重试风暴" in article.body and "1200" in article.body
    assert article in knowledge.search(user=engineer, query="重试风暴")
    customer = CustomerUserFactory(customer=incident.affected_customers.get())
    assert article not in knowledge.search(user=customer, query="重试风暴")
    # No action items: publishing closed the incident, and the timeline says each step.
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED and incident.closed_at
    steps = [e.data.get("new") for e in incident.timeline.filter(kind="postmortem")]
    assert [step for step in steps if step] == ["in_review", "approved", "published"]
    # Published is final.
    with pytest.raises(services.PostmortemError, match="not edited"):
        services.postmortem_update(postmortem=postmortem, actor=engineer, lessons="x")


def test_a_postmortem_waits_for_recovery_and_only_workers_write(engineer, auditor):
    incident = incident_services.incident_create(title="x", level=Level.P1, actor=engineer)
    with pytest.raises(services.PostmortemError, match="once the incident has recovered"):
        services.postmortem_create(incident=incident, actor=engineer)
    incident_services.incident_change_status(
        incident=incident, status="in_progress", actor=engineer
    )
    incident_services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    with pytest.raises(services.PostmortemError, match="Only engineers and managers"):
        services.postmortem_create(incident=incident, actor=auditor)
    assert not PostMortem.objects.exists()


def test_recovery_prompts_the_people_of_the_incident(recovered_incident, manager):
    prompts = NotificationLog.objects.filter(template="postmortem_prompt")
    assert manager.email in set(prompts.values_list("recipient", flat=True))
    assert recovered_incident.number in prompts.first().subject


def test_urgent_action_items_need_an_owner_and_a_date_before_the_incident_closes(
    recovered_incident, engineer, manager
):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    urgent = services.action_item_create(
        postmortem=postmortem, title="连接池扩容", priority="P1", actor=engineer
    )
    services.action_item_create(
        postmortem=postmortem, title="整理文档", priority="P3", actor=engineer
    )
    publish(postmortem, engineer, manager)
    recovered_incident.refresh_from_db()
    assert recovered_incident.status == IncidentStatus.PENDING_POSTMORTEM
    note = recovered_incident.timeline.filter(kind="postmortem").last()
    assert "连接池扩容" in note.text and "owner and a due date" in note.text
    with pytest.raises(incident_services.IncidentError, match="连接池扩容"):
        incident_services.incident_change_status(
            incident=recovered_incident, status="closed", actor=engineer
        )
    services.action_item_update(item=urgent, actor=engineer, owner=engineer)
    recovered_incident.refresh_from_db()
    assert recovered_incident.status == IncidentStatus.PENDING_POSTMORTEM
    services.action_item_update(item=urgent, actor=engineer, due_date=date(2026, 12, 20))
    recovered_incident.refresh_from_db()
    assert recovered_incident.status == IncidentStatus.CLOSED  # the P3 item did not block


def test_a_stale_editor_is_refused_and_nothing_is_lost(recovered_incident, engineer, manager):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    loaded = postmortem.version
    saved = services.postmortem_update(
        postmortem=postmortem, actor=manager, version=loaded, lessons="manager's lesson"
    )
    assert saved.version == loaded + 1
    with pytest.raises(services.PostmortemConflict, match="reload"):
        services.postmortem_update(
            postmortem=postmortem, actor=engineer, version=loaded, lessons="engineer's"
        )
    postmortem.refresh_from_db()
    assert postmortem.lessons == "manager's lesson"
    with pytest.raises(services.PostmortemError, match="Unknown fields: status"):
        services.postmortem_update(postmortem=postmortem, actor=engineer, status="published")


def test_sending_back_to_draft_clears_the_approval(recovered_incident, engineer, manager):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    services.postmortem_update(postmortem=postmortem, actor=engineer, root_cause="x")
    services.postmortem_transition(postmortem=postmortem, status="in_review", actor=engineer)
    services.postmortem_transition(postmortem=postmortem, status="approved", actor=manager)
    services.postmortem_transition(postmortem=postmortem, status="draft", actor=engineer)
    postmortem.refresh_from_db()
    assert postmortem.approved_by is None and postmortem.approved_at is None
    services.postmortem_update(postmortem=postmortem, actor=engineer, lessons="editable again")


def test_the_customer_summary_goes_to_the_affected_customers_only(
    recovered_incident, engineer, manager, acme_user, globex_user
):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    with pytest.raises(services.PostmortemError, match="summary for customers"):
        publish(postmortem, engineer, manager, send_customer_summary=True)
    postmortem.refresh_from_db()
    assert postmortem.status == PostMortemStatus.APPROVED  # nothing half-published
    assert postmortem.article is None
    services.postmortem_transition(postmortem=postmortem, status="draft", actor=engineer)
    services.postmortem_update(
        postmortem=postmortem,
        actor=engineer,
        customer_summary="11月30日结算服务中断2小时，原因是连接池耗尽，已扩容。",
    )
    publish(postmortem, engineer, manager, send_customer_summary=True)
    communication = Communication.objects.get(audience=Audience.EXTERNAL)
    assert "连接池耗尽" in communication.body and "Incident review" in communication.subject
    recipients = set(
        NotificationLog.objects.filter(template="incident_communication").values_list(
            "recipient", flat=True
        )
    )
    assert acme_user.email in recipients and globex_user.email not in recipients

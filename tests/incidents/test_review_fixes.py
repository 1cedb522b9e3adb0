"""Edge cases found in review: each once a 500, a lost alert or a double send."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import paging, rules, services
from incidents.jobs import retry_rule_actions
from incidents.models import Alert, Incident, Level, Page, PageStatus, Rule, RuleExecution
from spt_portal.roles import Role
from spt_portal.tokens import api_token_create
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def post_alert(client, user, body):
    _row, token = api_token_create(user=user)
    return client.post(
        "/api/v1/alerts",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_generic_warning_that_turns_critical_opens_an_incident(client, engineer):
    body = {
        "title": "Disk full",
        "level": "warning",
        "alert_source": "zabbix",
        "labels": {"host": "db1"},
    }
    post_alert(client, engineer, body)
    assert not Incident.objects.exists()
    response = post_alert(client, engineer, {**body, "level": "critical"})
    assert response.status_code == 200 and response.json()["level"] == "critical"
    assert Alert.objects.count() == 1 and Incident.objects.get().alerts.count() == 1


def test_a_generic_alert_of_a_closed_incident_is_a_past_episode(client, engineer):
    body = {"title": "API down", "level": "critical", "alert_source": "zabbix"}
    post_alert(client, engineer, body)
    incident = Incident.objects.get()
    services.incident_change_status(incident=incident, status="closed", actor=engineer)
    post_alert(client, engineer, body)  # the sender never said "resolved"
    assert Alert.objects.count() == 2 and Incident.objects.count() == 2


@pytest.mark.parametrize(
    "raw",
    [
        b'{"alerts": [{"labels": {}, "startsAt": "2024-02-30T00:00:00.5Z"}]}',
        b'{"alerts": [], "x": NaN}',
        b'{"alerts": [], "x": "a\\u0000b"}',
    ],
)
def test_bodies_the_database_cannot_take_are_400s(alertmanager, client, raw):
    _integration, token = alertmanager
    response = client.post(
        "/hooks/alertmanager/",
        data=raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400, response.content


def test_an_auditor_on_call_never_loses_the_incident(engineer):
    from datetime import date, time

    from sla.models import OnCallLayer, OnCallLayerMember, OnCallSchedule

    auditor_on_rota = StaffUserFactory(email="rota@partner.example", role=Role.AUDITOR)
    schedule = OnCallSchedule.objects.create(name="s", is_default=True)
    layer = OnCallLayer.objects.create(
        schedule=schedule, rotation_start=date(2026, 1, 1), handover_time=time(9)
    )
    OnCallLayerMember.objects.create(layer=layer, user=auditor_on_rota)
    incident = services.incident_create(title="x", level=Level.P1, actor=engineer)
    assert incident.on_call_engineer is None
    assert incident.timeline.filter(text__contains="not an engineer or manager").exists()


def test_a_refused_update_changes_nothing(client, engineer):
    incident = services.incident_create(title="before", level=Level.P2, actor=engineer)
    _row, token = api_token_create(user=engineer)
    response = client.put(
        f"/api/v1/incidents/{incident.pk}",
        data={"title": "after", "status": "recovered"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    assert Incident.objects.get(pk=incident.pk).title == "before"


def test_monitoring_accepts_mixed_timezones(client, engineer):
    _row, token = api_token_create(user=engineer)
    response = client.post(
        "/api/v1/incidents/monitoring",
        data={"start_time": "2026-01-01T00:00:00+08:00", "end_time": "2026-12-31T00:00:00"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200


def test_recovery_of_a_p1_resolves_its_pages(engineer, manager):
    incident = services.incident_create(title="x", level=Level.P1, actor=engineer)
    services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    paging.emergency_response(incident=Incident.objects.get(pk=incident.pk), actor=engineer)
    services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    assert Incident.objects.get(pk=incident.pk).status == "pending_postmortem"
    assert not Page.objects.filter(incident=incident, status=PageStatus.ACTIVE).exists()


def test_raising_the_level_brings_the_escalation_forward(engineer, manager):
    incident = services.incident_create(title="x", level=Level.P3, actor=engineer)
    before = Incident.objects.get(pk=incident.pk).next_escalation_at
    services.incident_change_level(incident=incident, level=Level.P0, actor=engineer)
    incident.refresh_from_db()
    assert incident.next_escalation_at < before
    assert incident.next_escalation_at == incident.respond_due_at


def test_link_action_with_a_bad_incident_id_is_a_message(client, engineer):
    alert = Alert.objects.create(
        source="x",
        fingerprint="f",
        dedupe_key="k",
        title="t",
        starts_at=timezone.now(),
        last_received_at=timezone.now(),
    )
    client.force_login(engineer)
    response = client.post(
        "/ops/alerts/action/",
        {"action": "link", "alert": [alert.pk], "incident": "abc", "next": "//evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/ops/alerts/"


def test_the_same_message_is_not_sent_twice(engineer, acme):
    incident = services.incident_create(title="x", level=Level.P2, actor=engineer)
    incident.affected_customers.add(acme)
    paging.communication_send(
        incident=incident, kind="update", audience="external", subject="s", body="b", actor=engineer
    )
    with pytest.raises(paging.PagingError, match="not sent twice"):
        paging.communication_send(
            incident=incident,
            kind="update",
            audience="external",
            subject="s",
            body="b",
            actor=engineer,
        )


def test_a_firing_whose_process_died_is_completed_by_the_sweep(acme, acme_user):
    from tickets import services as tickets

    rule = Rule.objects.create(
        name="r",
        rule_type="escalation",
        target="ticket",
        conditions={"priority": "high"},
        actions=[{"type": "escalate", "level": 1}],
    )
    ticket = tickets.ticket_create(
        customer=acme, requester=acme_user, title="t", priority="low", actor=acme_user
    )
    # As if a worker died after recording the firing and before running its actions:
    RuleExecution.objects.create(
        rule=rule,
        key="crashed",
        target="ticket",
        ticket=ticket,
        trigger="update",
        outcome="pending",
        next_retry_at=timezone.now() + rules.LEASE,
    )
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert retry_rule_actions() == 1
        assert retry_rule_actions() == 0
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1
    assert RuleExecution.objects.get(key="crashed").outcome == "ok"


def test_time_scan_skips_closed_objects(engineer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        open_one = services.incident_create(title="open", level=Level.P3, actor=engineer)
        closed = services.incident_create(title="closed", level=Level.P3, actor=engineer)
        services.incident_change_status(incident=closed, status="closed", actor=engineer)
        Rule.objects.create(
            name="old",
            rule_type="alert",
            target="incident",
            conditions={"time": {"field": "created_at", "operator": ">", "duration": "1h"}},
            actions=[
                {
                    "type": "collect_metric",
                    "metric_type": "a",
                    "metric_name": "b",
                    "metric_value": 1,
                }
            ],
        )
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        assert rules.evaluate_time_rules()["fired"] == 1
    assert RuleExecution.objects.get().incident_id == open_one.pk
    assert json.dumps(RuleExecution.objects.get().actions_taken[0]["action"])

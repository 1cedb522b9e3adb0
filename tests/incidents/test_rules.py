"""The rule engine: each condition and action, time rules with frozen time, no double
firing, re-arming, invalid rules rejected with a clear message, failing actions."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import rules, services
from incidents.jobs import evaluate_time_rules, retry_rule_actions
from incidents.models import Incident, IncidentMetric, Level, Rule, RuleExecution
from spt_portal.models import NotificationChannel, NotificationLog, Skill
from tickets import services as tickets
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def rule(target="ticket", conditions=None, actions=None, **extra):
    obj = Rule(
        name=extra.pop("name", "r"),
        rule_type=extra.pop("rule_type", "mixed"),
        target=target,
        conditions=conditions or {},
        actions=actions
        or [{"type": "notify", "channels": ["email"], "recipients": ["ops@partner.example"]}],
        **extra,
    )
    obj.full_clean()
    obj.save()
    return obj


def mails_to(address):
    return [m for m in mail.outbox if address in m.to]


@pytest.fixture
def ticket(acme, acme_user):
    return tickets.ticket_create(
        customer=acme, requester=acme_user, title="慢查询", priority="high", actor=acme_user
    )


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "conditions", "actions", "message"),
    [
        ("ticket", {"colour": "red"}, None, "Unknown condition field 'colour'"),
        ("ticket", {"priority": "urgent"}, None, "Unknown value 'urgent' for 'priority'"),
        (
            "ticket",
            {"time": {"field": "created_at", "operator": "~", "duration": "24h"}},
            None,
            "Unknown operator '~'",
        ),
        (
            "ticket",
            {"time": {"field": "created_at", "operator": ">", "duration": "a day"}},
            None,
            "Unknown duration 'a day'",
        ),
        (
            "ticket",
            {"time": {"field": "birthday", "operator": ">", "duration": "1h"}},
            None,
            "Unknown time field 'birthday'",
        ),
        ("incident", {"tags": "x"}, None, "Unknown condition field 'tags'"),
        ("ticket", {}, [{"type": "explode"}], "unknown type 'explode'"),
        (
            "ticket",
            {},
            [{"type": "change_status", "status": "pending"}],
            "unknown status 'pending'",
        ),
        (
            "ticket",
            {},
            [{"type": "collect_metric", "metric_type": "a", "metric_name": "b", "metric_value": 1}],
            "incidents only",
        ),
        (
            "incident",
            {},
            [{"type": "notify", "channels": ["pigeon"], "recipients": ["a@b.c"]}],
            "unknown channel 'pigeon'",
        ),
        ("incident", {}, [{"type": "assign"}], "assignee_id"),
        ("incident", {}, [], "non-empty"),
    ],
)
def test_invalid_rules_are_rejected_naming_what_is_wrong(target, conditions, actions, message):
    bad = Rule(
        name="bad",
        rule_type="mixed",
        target=target,
        conditions=conditions,
        actions=actions if actions is not None else [{"type": "assign", "assignee": "on_call"}],
    )
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert message in str(exc.value)


def test_admin_form_shows_the_error_and_saves_nothing(client, manager):
    client.force_login(manager)
    response = client.post(
        "/admin/incidents/rule/add/",
        {
            "name": "x",
            "rule_type": "alert",
            "target": "incident",
            "priority": "medium",
            "conditions": '{"status": "new"}',
            "actions": '[{"type": "notify", "channels": ["email"], "recipients": ["a@b.example"]}]',
        },
    )
    assert response.status_code == 200
    assert "Unknown value &#x27;new&#x27; for &#x27;status&#x27;" in response.content.decode()
    assert not Rule.objects.filter(name="x").exists()


def test_the_seeds_three_rules_are_there_inactive():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("incidents.migrations.0003_seed_rules")
    migration.create(apps, None)  # what migrate ran (transactional tests flush tables)
    migration.create(apps, None)  # idempotent
    assert Rule.objects.count() == 3
    seeded = {r.name: r for r in Rule.objects.all()}
    assert {"高优先级事件自动升级", "长时间未处理事件告警", "严重事件自动分配"} <= set(seeded)
    for r in seeded.values():
        assert not r.is_active
        assert "adapted" in r.description or "as written" in r.description
        r.full_clean()  # each is valid


def test_durations():
    assert rules.parse_duration("24h") == timedelta(hours=24)
    assert rules.parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert rules.parse_duration("90m") == timedelta(minutes=90)
    assert rules.parse_duration("1w") == timedelta(weeks=1)


# --- conditions, on events ------------------------------------------------------------


def test_ticket_conditions_priority_status_category_customer_source_tags(
    acme, acme_user, globex_user
):
    ec2 = Skill.objects.create(slug="ec2", name="EC2")
    r = rule(
        conditions={
            "priority": ["high", "critical"],
            "status": "new",
            "category": ["ec2", "rds"],
            "customer": "ACME",
            "source": "web",
            "tags": ["vip"],
        }
    )
    matching = tickets.ticket_create(
        customer=acme,
        requester=acme_user,
        title="a",
        priority="high",
        category=ec2,
        actor=acme_user,
    )
    assert not RuleExecution.objects.exists()  # no "vip" tag yet
    tickets.ticket_update_details(ticket=matching, actor=acme_user, tags=["vip"])
    assert RuleExecution.objects.get().ticket == matching
    other = tickets.ticket_create(
        customer=globex_user.customer,
        requester=globex_user,
        title="b",
        priority="high",
        category=ec2,
        actor=globex_user,
    )
    tickets.ticket_update_details(ticket=other, actor=globex_user, tags=["vip"])
    assert RuleExecution.objects.count() == 1  # another customer
    assert len(mails_to("ops@partner.example")) == 1
    assert r.__class__.objects.get(pk=r.pk).execution_count == 1


def test_incident_conditions_with_the_seeds_priority_words(engineer):
    rule(
        target="incident",
        conditions={
            "priority": ["high", "urgent"],
            "status": "pending",
            "severity": ["high", "critical"],
        },
    )
    services.incident_create(title="p2", level=Level.P2, actor=engineer)
    assert not RuleExecution.objects.exists()
    incident = services.incident_create(title="p1", level=Level.P1, actor=engineer)
    assert RuleExecution.objects.get().incident == incident


def test_a_rule_fires_once_per_object_however_often_it_changes(ticket, engineer):
    rule(conditions={"priority": "high"})
    assert not RuleExecution.objects.exists()  # rules act on changes, not on history
    tickets.comment_add(ticket=ticket, author=engineer, body="zero")
    assert RuleExecution.objects.count() == 1
    for body in ("one", "two", "three"):
        tickets.comment_add(ticket=ticket, author=engineer, body=body)
    tickets.ticket_assign(ticket=ticket, assignee=engineer, actor=engineer)
    rules.evaluate("ticket", ticket.pk)
    assert RuleExecution.objects.count() == 1
    # A watched value changes and comes back: that is a new situation, once each.
    tickets.ticket_change_priority(ticket=ticket, priority="low", actor=engineer)
    tickets.ticket_change_priority(ticket=ticket, priority="high", actor=engineer)
    assert RuleExecution.objects.count() == 1  # high again: the same values as before


def test_inactive_rules_do_nothing(ticket):
    rule(conditions={"priority": "high"}, is_active=False)
    rules.evaluate("ticket", ticket.pk)
    assert not RuleExecution.objects.exists()


# --- time conditions -------------------------------------------------------------------


def test_time_rule_fires_once_with_frozen_time_and_rearms_when_its_field_changes(engineer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incident = services.incident_create(title="slow", level=Level.P2, actor=engineer)
        services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
        rule(
            target="incident",
            conditions={
                "status": "in_progress",
                "time": {"field": "acknowledged_at", "operator": ">", "duration": "24h"},
            },
            actions=[
                {
                    "type": "collect_metric",
                    "metric_type": "age",
                    "metric_name": "hours open",
                    "metric_value": 24,
                    "unit": "h",
                }
            ],
        )
    with time_machine.travel(start + timedelta(hours=23), tick=False):
        assert evaluate_time_rules()["fired"] == 0
    for minutes in (1, 2, 3):
        with time_machine.travel(start + timedelta(hours=24, minutes=minutes), tick=False):
            evaluate_time_rules()
    assert IncidentMetric.objects.filter(incident=incident).count() == 1
    # The watched field changes (a relapse is acknowledged again later): the rule re-arms.
    Incident.objects.filter(pk=incident.pk).update(acknowledged_at=start + timedelta(hours=30))
    with time_machine.travel(start + timedelta(hours=55), tick=False):
        assert evaluate_time_rules()["fired"] == 1
        assert evaluate_time_rules()["fired"] == 0
    assert IncidentMetric.objects.filter(incident=incident).count() == 2


def test_time_operators_less_than(ticket):
    rule(conditions={"time": {"field": "created_at", "operator": "<", "duration": "1h"}})
    assert evaluate_time_rules()["fired"] == 1  # younger than an hour
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert evaluate_time_rules()["fired"] == 0


# --- actions ---------------------------------------------------------------------------


def test_escalate_and_assign_on_a_ticket(ticket, engineer, on_call_team):
    rule(
        conditions={"priority": "high"},
        actions=[
            {"type": "escalate", "level": 2, "reason": "高优先级", "notify_users": [engineer.pk]},
            {"type": "assign", "assignee": "on_call"},
        ],
    )
    rules.evaluate("ticket", ticket.pk)
    ticket.refresh_from_db()
    assert ticket.escalation_level == 2 and ticket.assignee == on_call_team["primary"]
    assert mails_to(engineer.email)
    assert ticket.events.filter(new_value="Rule: r").exists()


def test_escalate_assign_status_and_metric_on_an_incident(engineer, on_call_team):
    rule(
        target="incident",
        conditions={"level": "P1", "status": "pending"},
        actions=[
            {"type": "escalate", "level": 2, "reason": "自动升级", "auto_assign": True},
            {"type": "assign", "assignee_id": engineer.pk},
            {"type": "change_status", "status": "in_progress"},
            {
                "type": "collect_metric",
                "metric_type": "response_time",
                "metric_name": "平均响应时间",
                "metric_value": 2.5,
                "unit": "秒",
                "tags": {"environment": "production"},
            },
        ],
    )
    incident = services.incident_create(title="x", level=Level.P1, actor=engineer)
    incident.refresh_from_db()
    execution = RuleExecution.objects.get()
    assert execution.outcome == "ok", execution.actions_taken
    assert incident.escalation_level == 2 and incident.on_call_engineer == engineer
    assert incident.status == "in_progress"
    metric = IncidentMetric.objects.get()
    assert str(metric.metric_value) == "2.5000" and metric.tags == {"environment": "production"}
    assert incident.timeline.filter(kind="rule", text__contains="✓ escalate").exists()


def test_notify_by_email_sms_slack_and_webhook(ticket, settings):
    NotificationChannel.objects.create(name="ops", kind="slack", url="http://127.0.0.1:9/slack")
    rule(
        conditions={"priority": "high"},
        actions=[
            {
                "type": "notify",
                "channels": ["email", "sms", "slack", "webhook"],
                "recipients": ["lead@partner.example", "+8613800000000", "http://127.0.0.1:9/hook"],
                "message": "事件需要关注",
                "severity": "high",
            }
        ],
    )
    rules.evaluate("ticket", ticket.pk)
    rules.evaluate("ticket", ticket.pk)  # a second evaluation sends nothing more
    by_channel = {
        log.channel: log
        for log in NotificationLog.objects.exclude(channel="email", template__startswith="ticket")
    }
    assert by_channel["email"].recipient == "lead@partner.example"
    assert by_channel["sms"].recipient == "+8613800000000"
    assert by_channel["slack"].recipient == "http://127.0.0.1:9/slack"
    assert by_channel["webhook"].payload["message"] == "事件需要关注"
    assert NotificationLog.objects.filter(template="rule_notice").count() == 1


def test_a_failing_action_is_logged_and_retried_without_blocking_the_others(ticket, engineer):
    """The webhook is down and nobody is on call: the webhook notice stays pending with the
    error (the notification retries it), the assignment fails and is retried by the rule
    engine, and the escalation in between runs regardless."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        rule(
            conditions={"priority": "high"},
            actions=[
                {
                    "type": "notify",
                    "channels": ["webhook"],
                    "recipients": ["http://127.0.0.1:9/down"],
                },
                {"type": "assign", "assignee": "on_call"},
                {"type": "escalate", "level": 1},
            ],
        )
        rules.evaluate("ticket", ticket.pk)
    execution = RuleExecution.objects.get()
    assert execution.outcome == "partial" and "nobody is on call" in execution.error
    assert [a["ok"] for a in execution.actions_taken] == [True, False, True]
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1
    webhook = NotificationLog.objects.get(channel="webhook")
    assert webhook.status == "pending" and webhook.attempts == 1 and "Error" in webhook.error
    # Somebody goes on call; the retry (after its backoff) completes the failed action only.
    from sla.models import OnCallSchedule, OnCallShift
    from tests.factories import StaffUserFactory

    schedule = OnCallSchedule.objects.create(name="s", is_default=True)
    person = StaffUserFactory(email="cover@partner.example")
    OnCallShift.objects.create(
        schedule=schedule,
        user=person,
        start_time=start - timedelta(hours=1),
        end_time=start + timedelta(days=1),
    )
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert retry_rule_actions() == 0  # not due yet
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        assert retry_rule_actions() == 1
    execution.refresh_from_db()
    assert execution.outcome == "ok" and execution.attempts == 2 and execution.next_retry_at is None
    ticket.refresh_from_db()
    assert ticket.assignee == person
    assert NotificationLog.objects.filter(channel="webhook").count() == 1  # not sent twice


def test_dry_run_lists_matching_open_objects(client, manager, engineer, acme, acme_user):
    r = rule(target="incident", conditions={"status": "pending"}, is_active=False)
    services.incident_create(title="still pending", level=Level.P3, actor=engineer)
    done = services.incident_create(title="acknowledged", level=Level.P3, actor=engineer)
    services.incident_change_status(incident=done, status="in_progress", actor=engineer)
    rows = rules.dry_run(r)
    assert [row["object"].title for row in rows] == ["still pending"] and rows[0]["would_fire"]
    client.force_login(manager)
    page = client.get(f"/admin/incidents/rule/{r.pk}/dry-run/").content.decode()
    assert "still pending" in page and "inactive" in page
    assert "notify ops@partner.example by email" in page
    assert not RuleExecution.objects.exists()  # a dry run changes nothing
    assert Ticket.objects.count() == 0


def test_only_managers_edit_rules(client, engineer, manager, auditor):
    r = rule(target="incident", conditions={"status": "pending"})
    url = f"/admin/incidents/rule/{r.pk}/change/"
    client.force_login(engineer)
    assert client.get(url).status_code == 200  # engineers read
    assert client.post(url, {"name": "hijacked"}).status_code == 403
    assert client.get("/admin/incidents/rule/add/").status_code == 403
    client.force_login(auditor)
    assert client.get(f"/admin/incidents/rule/{r.pk}/dry-run/").status_code == 200
    client.force_login(manager)
    assert client.get("/admin/incidents/rule/add/").status_code == 200
    assert Rule.objects.get(pk=r.pk).name == "r"


def test_change_status_follows_the_transition_table(ticket, engineer):
    rule(conditions={"status": "new"}, actions=[{"type": "change_status", "status": "in_progress"}])
    rule(
        name="refused",
        conditions={"status": "resolved"},
        actions=[{"type": "change_status", "status": "waiting_customer"}],
    )
    rules.evaluate("ticket", ticket.pk)
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    tickets.ticket_change_status(ticket=ticket, status="resolved", actor=engineer)
    refused = RuleExecution.objects.get(rule__name="refused")
    assert refused.outcome == "failed" and "cannot go from" in refused.error
    ticket.refresh_from_db()
    assert ticket.status == "resolved"

"""The review meeting's invitation, seed 003's 48 hours, action item reminders and seed
004's alert retention."""

import logging
from datetime import date, datetime, timedelta

import icalendar
import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Alert, Incident, Level
from postmortems import jobs, services
from postmortems.models import ActionItem, PostMortem
from spt_portal.models import NotificationLog
from spt_portal.roles import Role
from tests.factories import StaffUserFactory

from .conftest import RECOVERED_AT

CST = timezone.get_fixed_timezone(480)


@pytest.mark.django_db(transaction=True)
def test_the_review_meeting_invitation_is_an_ical_request(recovered_incident, engineer, manager):
    with time_machine.travel(RECOVERED_AT + timedelta(hours=2), tick=False):
        postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
        proposed = services.proposed_meeting_at(recovered_incident)
        assert proposed == RECOVERED_AT + timedelta(hours=24)
        with pytest.raises(services.PostmortemError, match="after the recovery"):
            services.postmortem_schedule_meeting(
                postmortem=postmortem, at=RECOVERED_AT - timedelta(hours=1), actor=engineer
            )
        mail.outbox.clear()
        sent = services.postmortem_schedule_meeting(
            postmortem=postmortem, at=proposed, actor=engineer
        )
    people = {p.email for p in postmortem.participants.all()}
    assert sent == len(people) >= 2
    messages = [m for m in mail.outbox if "invite.ics" in str([a[0] for a in m.attachments])]
    assert {m.to[0] for m in messages} == people
    filename, content, mimetype = messages[0].attachments[0]
    assert mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(content)
    assert str(calendar["method"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == proposed
    assert int(event["sequence"]) == 1
    attendees = {str(a).removeprefix("mailto:") for a in event.get("attendee")}
    assert attendees == people
    assert recovered_incident.number in str(event["summary"])
    postmortem.refresh_from_db()
    assert services.meeting_in_window(postmortem) is True
    # Rescheduling updates the same event (same UID, higher SEQUENCE).
    with time_machine.travel(RECOVERED_AT + timedelta(hours=3), tick=False):
        services.postmortem_schedule_meeting(
            postmortem=postmortem, at=proposed + timedelta(days=3), actor=engineer
        )
    latest = [m for m in mail.outbox if m.attachments][-1]
    [event2] = icalendar.Calendar.from_ical(latest.attachments[0][1]).walk("VEVENT")
    assert event2["uid"] == event["uid"] and int(event2["sequence"]) == 2
    postmortem.refresh_from_db()
    assert services.meeting_in_window(postmortem) is False  # outside 24-48 h: shown, allowed
    assert recovered_incident.timeline.filter(text__contains="invitations sent").count() == 2


@pytest.mark.django_db
def test_not_in_review_48_hours_after_recovery_is_escalated_once(
    recovered_incident, engineer, manager
):
    second = StaffUserFactory(email="boss@partner.example", role=Role.MANAGER)
    # Another P1 whose postmortem went to review in time is left alone.
    with time_machine.travel(RECOVERED_AT, tick=False):
        on_time = incident_services.incident_create(title="ok", level=Level.P1, actor=engineer)
        incident_services.incident_change_status(
            incident=on_time, status="in_progress", actor=engineer
        )
        incident_services.incident_change_status(
            incident=on_time, status="recovered", actor=engineer
        )
        reviewed, _ = services.postmortem_create(incident=on_time, actor=engineer)
        services.postmortem_update(postmortem=reviewed, actor=engineer, root_cause="x")
        services.postmortem_transition(postmortem=reviewed, status="in_review", actor=engineer)
    with time_machine.travel(RECOVERED_AT + timedelta(hours=47), tick=False):
        assert jobs.escalate_overdue_postmortems() == 0
    with time_machine.travel(RECOVERED_AT + timedelta(hours=49), tick=False):
        assert jobs.escalate_overdue_postmortems() == 1
        assert jobs.escalate_overdue_postmortems() == 0  # once
    # The missing postmortem now exists (prefilled) and is flagged.
    postmortem = PostMortem.objects.get(incident=recovered_incident)
    assert postmortem.status == "draft" and postmortem.overdue_escalated_at
    assert "数据库连接池耗尽" in postmortem.timeline
    recipients = set(
        NotificationLog.objects.filter(template="postmortem_overdue").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {manager.email, second.email}
    assert recovered_incident.timeline.filter(text__contains="escalated to 2 managers").exists()
    assert not PostMortem.objects.filter(pk=reviewed.pk, overdue_escalated_at__isnull=False)


@pytest.mark.django_db
def test_owners_are_reminded_before_the_due_date_and_daily_after(recovered_incident, engineer):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    day = date(2026, 12, 10)

    def item(title, due, status="open", owner=engineer):
        made = services.action_item_create(
            postmortem=postmortem, title=title, owner=owner, due_date=due, actor=engineer
        )
        if status != "open":
            services.action_item_update(item=made, actor=engineer, status=status)
        return made

    soon = item("soon", day + timedelta(days=1))
    late = item("late", day - timedelta(days=3))
    item("done late", day - timedelta(days=3), status="done")
    item("far", day + timedelta(days=30))
    item("no date", None)
    item("nobody's", day - timedelta(days=1), owner=None)  # the author is reminded

    def run_on(when):
        moment = datetime.combine(when, datetime.min.time(), tzinfo=CST) + timedelta(hours=9)
        with time_machine.travel(moment, tick=False):
            return jobs.remind_action_items()

    assert run_on(day) == {"before": 1, "overdue": 2, "nobody": 0}
    assert run_on(day) == {"before": 0, "overdue": 0, "nobody": 0}  # once a day
    assert run_on(day + timedelta(days=1)) == {"before": 0, "overdue": 2, "nobody": 0}
    assert run_on(day + timedelta(days=2))["overdue"] == 3  # "soon" is now late too
    logs = NotificationLog.objects.filter(template="action_item_reminder")
    assert logs.filter(subject__contains="due soon: soon").count() == 1
    assert logs.filter(subject__contains="Overdue action item: late").count() == 3
    assert logs.filter(subject__contains="nobody's", recipient=engineer.email).exists()
    # A new due date re-arms the reminders.
    services.action_item_update(item=late, actor=engineer, due_date=day + timedelta(days=4))
    late.refresh_from_db()
    assert late.reminded_overdue_on is None and late.reminded_before_at is None
    assert ActionItem.objects.get(pk=soon.pk).reminded_before_at is not None
    assert run_on(day + timedelta(days=3))["before"] == 1


def _alert(n: int, incident, received):
    return Alert.objects.create(
        source="test",
        fingerprint=f"fp{n}",
        dedupe_key=f"key{n}",
        title=f"alert {n}",
        level="critical",
        status="linked" if incident else "resolved",
        starts_at=received,
        last_received_at=received,
        incident=incident,
    )


@pytest.mark.django_db
def test_retention_deletes_only_alerts_of_incidents_closed_long_ago(engineer, caplog, settings):
    now = timezone.now()
    old, recent, still_open = (
        incident_services.incident_create(title=t, level=Level.P3, actor=engineer)
        for t in ("old", "recent", "open")
    )
    Incident.objects.filter(pk=old.pk).update(status="closed", closed_at=now - timedelta(days=100))
    Incident.objects.filter(pk=recent.pk).update(
        status="closed", closed_at=now - timedelta(days=10)
    )
    long_ago = now - timedelta(days=120)
    doomed = [_alert(i, old, long_ago) for i in range(3)]
    kept = [
        _alert(10, old, now - timedelta(days=5)),  # heard of again recently
        _alert(11, recent, long_ago),
        _alert(12, still_open, long_ago),
        _alert(13, None, long_ago),  # never linked
    ]
    with caplog.at_level(logging.INFO, logger="postmortems.services"):
        assert services.delete_old_alerts(batch_size=2) == 3
    assert not Alert.objects.filter(pk__in=[a.pk for a in doomed]).exists()
    assert Alert.objects.filter(pk__in=[a.pk for a in kept]).count() == 4
    assert Incident.objects.count() == 3  # incidents are never deleted
    assert "batch 2 deleted 1 alerts" in caplog.text
    assert "3 alerts of incidents closed before" in caplog.text and "2 batches" in caplog.text
    assert services.delete_old_alerts() == 0
    settings.ALERT_RETENTION_DAYS = 0
    Incident.objects.filter(pk=recent.pk).update(closed_at=now - timedelta(days=1000))
    assert jobs.delete_old_alerts() == 0
    assert Alert.objects.count() == 4


@pytest.mark.django_db
def test_one_failing_escalation_does_not_stop_the_others(
    recovered_incident, engineer, manager, monkeypatch, caplog
):
    with time_machine.travel(RECOVERED_AT, tick=False):
        other = incident_services.incident_create(title="other", level=Level.P0, actor=engineer)
        incident_services.incident_change_status(
            incident=other, status="in_progress", actor=engineer
        )
        incident_services.incident_change_status(incident=other, status="recovered", actor=engineer)
    real = services.postmortem_create

    def flaky(*, incident, actor):
        if incident.pk == recovered_incident.pk:
            raise RuntimeError("database hiccup")
        return real(incident=incident, actor=actor)

    monkeypatch.setattr(services, "postmortem_create", flaky)
    with time_machine.travel(RECOVERED_AT + timedelta(hours=49), tick=False):
        assert services.escalate_overdue_postmortems() == 1
        assert "escalation failed" in caplog.text
        monkeypatch.setattr(services, "postmortem_create", real)
        assert services.escalate_overdue_postmortems() == 1  # the next run does the rest
    assert PostMortem.objects.filter(overdue_escalated_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_mttd_outlives_alert_retention(engineer):
    """Retention keeps when the incident's first alert fired before deleting it: the
    monthly MTTD of an incident closed long ago does not change (seed 004)."""
    from incidents import metrics

    now = timezone.now()
    fired = now - timedelta(days=120)
    incident = incident_services.incident_create(title="old", level=Level.P2, actor=engineer)
    Incident.objects.filter(pk=incident.pk).update(
        status="closed",
        closed_at=now - timedelta(days=100),
        detected_at=fired + timedelta(minutes=7),
    )
    _alert(1, incident, fired)
    _alert(2, incident, fired + timedelta(minutes=3))
    _alert(3, incident, now - timedelta(days=5))  # heard of recently: kept, fired later

    def mttd():
        (found,) = metrics._incidents_between(fired - timedelta(days=1), now)
        return metrics.incident_durations(found, found.first_alert)["mttd"]

    assert mttd() == 7.0
    assert services.delete_old_alerts() == 2
    assert Incident.objects.get(pk=incident.pk).first_alert_at == fired
    assert mttd() == 7.0
    incident.refresh_from_db()
    assert metrics.impact_of(incident, now=now)["mttd_minutes"] == 7.0

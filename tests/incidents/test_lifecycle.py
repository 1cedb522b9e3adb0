"""An incident through every state, with its timeline; roles, levels, targets, triage."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services, targets
from incidents.models import IncidentStatus, Level, Role
from postmortems import services as pm_services
from sla.models import BusinessCalendar
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def test_every_state_in_order_with_a_complete_timeline(engineer, on_call_team):
    manager = on_call_team["manager"]
    with time_machine.travel(
        datetime(2026, 11, 30, 10, 0, tzinfo=timezone.get_fixed_timezone(480)), tick=False
    ):
        incident = services.incident_create(title="数据库不可访问", level=Level.P1, actor=engineer)
        assert incident.on_call_engineer == on_call_team["primary"]
        steps = [
            IncidentStatus.IN_PROGRESS,
            IncidentStatus.RECOVERING,
            IncidentStatus.RECOVERED,  # P1: moves on to pending_postmortem by itself
        ]
        for minutes, status in enumerate(steps, start=1):
            with time_machine.travel(timezone.now() + timedelta(minutes=10 * minutes), tick=False):
                services.incident_change_status(incident=incident, status=status, actor=engineer)
        with pytest.raises(services.IncidentError, match="postmortem is published"):
            services.incident_change_status(incident=incident, status="closed", actor=engineer)
        # Publishing the postmortem closes it.
        with time_machine.travel(timezone.now() + timedelta(hours=30), tick=False):
            postmortem, _ = pm_services.postmortem_create(incident=incident, actor=engineer)
            pm_services.postmortem_update(
                postmortem=postmortem, actor=engineer, root_cause="连接池耗尽"
            )
            for status, actor in (("in_review", engineer), ("approved", manager)):
                pm_services.postmortem_transition(postmortem=postmortem, status=status, actor=actor)
            pm_services.postmortem_transition(
                postmortem=postmortem, status="published", actor=engineer
            )
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED
    assert (
        incident.acknowledged_at
        < incident.mitigated_at
        < incident.recovered_at
        < incident.closed_at
    )
    statuses = [e.data["new"] for e in incident.timeline.filter(kind="status")]
    assert statuses == ["in_progress", "recovering", "recovered", "pending_postmortem", "closed"]
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds[0] == "created" and "role" in kinds and "page" in kinds
    assert incident.timeline.filter(pinned=True).count() >= 3


def test_transitions_outside_the_table_are_refused(engineer):
    incident = services.incident_create(title="x", level=Level.P2, actor=engineer)
    with pytest.raises(services.IncidentError, match="cannot go from Pending to Recovered"):
        services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    with pytest.raises(services.IncidentError, match="Unknown status"):
        services.incident_change_status(incident=incident, status="new", actor=engineer)


def test_p0_p1_need_a_postmortem_p2_p3_may_close_directly(engineer):
    minor = services.incident_create(title="minor", level=Level.P3, actor=engineer)
    for status in ("in_progress", "recovered", "closed"):
        services.incident_change_status(incident=minor, status=status, actor=engineer)
    assert minor.__class__.objects.get(pk=minor.pk).status == "closed"
    major = services.incident_create(title="major", level=Level.P2, actor=engineer)
    services.incident_change_level(
        incident=major, level=Level.P0, actor=engineer, reason="全部宕机"
    )
    services.incident_change_status(incident=major, status="in_progress", actor=engineer)
    services.incident_change_status(incident=major, status="recovered", actor=engineer)
    major.refresh_from_db()
    assert major.status == "pending_postmortem"


def test_recovered_p1_cannot_skip_the_postmortem(engineer):
    incident = services.incident_create(title="x", level=Level.P3, actor=engineer)
    services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    incident.__class__.objects.filter(pk=incident.pk).update(level=Level.P1)
    incident.refresh_from_db()
    with pytest.raises(services.IncidentError, match="need a postmortem"):
        services.incident_change_status(incident=incident, status="closed", actor=engineer)


def test_a_relapse_goes_back_in_progress_and_recovery_is_stamped_again(engineer):
    incident = services.incident_create(title="x", level=Level.P2, actor=engineer)
    for status in ("in_progress", "recovered", "in_progress"):
        services.incident_change_status(incident=incident, status=status, actor=engineer)
    incident.refresh_from_db()
    assert incident.recovered_at is None and incident.status == "in_progress"


def test_roles_are_recorded_and_only_workers_take_them(engineer, auditor, acme_user):
    incident = services.incident_create(title="x", actor=engineer)
    lead = StaffUserFactory(full_name="Li Si")
    services.incident_assign_role(incident=incident, role=Role.TECH_LEAD, user=lead, actor=engineer)
    services.incident_assign_role(
        incident=incident, role=Role.COMMANDER, user=engineer, actor=engineer
    )
    services.incident_assign_role(incident=incident, role=Role.TECH_LEAD, user=None, actor=engineer)
    incident.refresh_from_db()
    assert incident.tech_lead is None and incident.commander == engineer
    texts = list(incident.timeline.filter(kind="role").values_list("text", flat=True))
    assert "Tech lead: Li Si" in texts[0] and "stepped down" in texts[-1]
    for user in (auditor, acme_user):
        with pytest.raises(services.IncidentError, match="cannot take an incident role"):
            services.incident_assign_role(
                incident=incident, role=Role.COMMANDER, user=user, actor=engineer
            )


def test_level_change_recomputes_targets_and_p0_needs_a_person(engineer):
    incident = services.incident_create(title="x", level=Level.P3, actor=engineer)
    services.incident_change_level(incident=incident, level=Level.P1, actor=engineer)
    incident.refresh_from_db()
    assert incident.respond_due_at == incident.detected_at + timedelta(minutes=15)
    assert incident.resolve_due_at == incident.detected_at + timedelta(hours=4)
    with pytest.raises(services.IncidentError, match="Only a person"):
        services.incident_change_level(incident=incident, level=Level.P0, actor=None)


def test_working_day_targets_use_the_partner_calendar():
    BusinessCalendar.objects.create(
        name="Partner office", is_24x7=False, is_partner_default=True, holiday_country="CN"
    )
    # Thursday 17:00 Shanghai; a working day is 9 h (09:00-18:00): 1 h on Thursday and
    # 8 h on Friday. Friday 2026-09-25 is the Mid-Autumn holiday: that one spans a weekend.
    tz = timezone.get_fixed_timezone(480)
    start = datetime(2026, 11, 26, 17, 0, tzinfo=tz)
    due = targets.due_times(Level.P2, start)
    assert due.respond == start + timedelta(hours=1)
    assert due.resolve == datetime(2026, 11, 27, 17, 0, tzinfo=tz)
    holiday = targets.due_times(Level.P2, datetime(2026, 9, 24, 17, 0, tzinfo=tz))
    assert holiday.resolve == datetime(2026, 9, 28, 17, 0, tzinfo=tz)
    p3 = targets.due_times(Level.P3, start)
    assert p3.resolve == start + timedelta(days=7)


def test_triage_decision_tree():
    assert targets.propose_level(service_down=True, core_affected=True, degraded=True) == "P0"
    assert targets.propose_level(service_down=False, core_affected=True, degraded=True) == "P1"
    assert targets.propose_level(service_down=False, core_affected=False, degraded=True) == "P2"
    assert targets.propose_level(service_down=False, core_affected=False, degraded=False) == "P3"


def test_notes_pins_details_and_linked_tickets(engineer, acme, acme_user):
    from tickets.services import ticket_create

    incident = services.incident_create(title="x", actor=engineer)
    note = services.incident_add_note(incident=incident, text="Rolled back v2.3", actor=engineer)
    services.timeline_pin(entry=note, pinned=True, actor=engineer)
    services.incident_update_details(incident=incident, actor=engineer, root_cause="连接池耗尽")
    ticket = ticket_create(customer=acme, requester=acme_user, title="结账失败", actor=acme_user)
    services.incident_link_ticket(incident=incident, ticket=ticket, actor=engineer)
    services.incident_link_ticket(incident=incident, ticket=ticket, actor=engineer)  # once
    assert list(incident.affected_customers.all()) == [acme]
    assert incident.timeline.filter(kind="ticket").count() == 1
    assert incident.timeline.get(pk=note.pk).pinned
    with pytest.raises(services.IncidentError):
        services.incident_add_note(incident=incident, text="  ", actor=engineer)
    with pytest.raises(services.IncidentError, match="Unknown fields"):
        services.incident_update_details(incident=incident, actor=engineer, status="closed")

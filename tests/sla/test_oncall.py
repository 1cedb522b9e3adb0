"""Who is on call: a weekly rotation with primary and secondary layers and an override."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar

from sla import ical, oncall
from sla.models import Level, OnCallLayer, OnCallLayerMember, OnCallSchedule, OnCallShift
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def team():
    return [
        StaffUserFactory(full_name=name, email=f"{name.lower()}@partner.example")
        for name in ("Ann", "Ben", "Cai")
    ]


@pytest.fixture
def schedule(team):
    ann, ben, cai = team
    schedule = OnCallSchedule.objects.create(name="24x7", is_default=True)
    primary = OnCallLayer.objects.create(
        schedule=schedule,
        level=Level.PRIMARY,
        rotation_start=date(2026, 3, 2),
        handover_time=time(9, 0),
        shift_hours=24,
    )
    for position, user in enumerate([ann, ben, cai]):
        OnCallLayerMember.objects.create(layer=primary, user=user, position=position)
    secondary = OnCallLayer.objects.create(
        schedule=schedule,
        level=Level.SECONDARY,
        rotation_start=date(2026, 3, 2),
        handover_time=time(9, 0),
        shift_hours=24 * 7,
    )
    OnCallLayerMember.objects.create(layer=secondary, user=cai, position=0)
    OnCallLayerMember.objects.create(layer=secondary, user=ann, position=1)
    return schedule


def who(at):
    shifts = oncall.on_call(at=at)
    return {level: shift.user.full_name for level, shift in shifts.items()}


def test_rotation_across_the_day_boundary(schedule):
    assert who(datetime(2026, 3, 2, 9, 0, tzinfo=SH)) == {1: "Ann", 2: "Cai"}
    # 08:59 the next morning is still Ann's shift; the hand-over is at 09:00 local time.
    assert who(datetime(2026, 3, 3, 8, 59, tzinfo=SH)) == {1: "Ann", 2: "Cai"}
    assert who(datetime(2026, 3, 3, 9, 0, tzinfo=SH)) == {1: "Ben", 2: "Cai"}
    # Midnight belongs to the shift that started the morning before.
    assert who(datetime(2026, 3, 4, 0, 0, tzinfo=SH)) == {1: "Ben", 2: "Cai"}
    assert who(datetime(2026, 3, 5, 12, 0, tzinfo=SH)) == {1: "Ann", 2: "Cai"}
    # Week two: the secondary hands over to Ann.
    assert who(datetime(2026, 3, 9, 9, 0, tzinfo=SH)) == {1: "Ben", 2: "Ann"}
    # The same instant asked in UTC gives the same answer.
    assert who(datetime(2026, 3, 3, 1, 0, tzinfo=ZoneInfo("UTC"))) == {1: "Ben", 2: "Cai"}


def test_override_wins_for_its_range(schedule, team):
    ann, ben, cai = team
    OnCallShift.objects.create(
        schedule=schedule,
        user=cai,
        is_primary=True,
        note="holiday swap",
        start_time=datetime(2026, 3, 3, 18, 0, tzinfo=SH),
        end_time=datetime(2026, 3, 4, 2, 0, tzinfo=SH),
    )
    assert who(datetime(2026, 3, 3, 17, 59, tzinfo=SH))[1] == "Ben"
    assert who(datetime(2026, 3, 3, 18, 0, tzinfo=SH))[1] == "Cai"
    assert who(datetime(2026, 3, 4, 1, 59, tzinfo=SH))[1] == "Cai"
    assert who(datetime(2026, 3, 4, 2, 0, tzinfo=SH))[1] == "Ben"


def test_before_the_rotation_starts_is_a_gap(schedule):
    start = datetime(2026, 3, 1, 0, 0, tzinfo=SH)
    gaps = oncall.coverage_gaps(start=start, days=2)
    assert gaps == [(start, datetime(2026, 3, 2, 9, 0, tzinfo=SH))]


def test_no_schedule_means_everything_is_a_gap():
    start = datetime(2026, 3, 1, tzinfo=SH)
    assert oncall.coverage_gaps(start=start, days=1) == [(start, start + timedelta(days=1))]
    assert oncall.primary_on_call(start) is None


def test_inactive_member_is_skipped(schedule, team):
    ann = team[0]
    ann.is_active = False
    ann.save()
    assert who(datetime(2026, 3, 2, 10, 0, tzinfo=SH))[1] == "Ben"


def test_ical_feed_imports_into_a_calendar_library(client, schedule, team):
    ann = team[0]
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SH)):
        token = ical.feed_token(schedule_id=schedule.pk)
        response = client.get(f"/oncall/ical/{token}.ics")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.content)
        events = list(calendar.walk("VEVENT"))
        assert events
        first = sorted(events, key=lambda e: e.decoded("dtstart"))[0]
        assert "On call" in str(first["summary"])
        # One engineer's own feed lists only their shifts.
        mine = client.get(
            f"/oncall/ical/{ical.feed_token(schedule_id=schedule.pk, user_id=ann.pk)}.ics"
        )
        summaries = {str(e["summary"]) for e in Calendar.from_ical(mine.content).walk("VEVENT")}
        assert summaries and all("Ann" in s for s in summaries)
    assert client.get("/oncall/ical/forged-token.ics").status_code == 404


def test_oncall_page_for_staff_only(client, login, schedule, acme_user, engineer):
    assert client.get("/ops/oncall/").status_code == 302
    assert login(acme_user).get("/ops/oncall/").status_code == 403
    with time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=SH)):
        page = login(engineer).get("/ops/oncall/?at=2026-03-02T10:00").content.decode()
    assert "Ben" in page and "Ann" in page
    assert "Fully covered." in page
    bad = login(engineer).get("/ops/oncall/?at=yesterday").content.decode()
    assert "Enter a date and time" in bad


def test_contact_page_shows_channels_and_first_names(client, schedule):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SH)):
        page = client.get("/support/contact").content.decode()
    assert "support@partner.example" in page and "+86 400 000 0000" in page
    assert "Ann" in page and "ann@partner.example" not in page


def test_dashboard_and_metrics_show_coverage(login, schedule, engineer, client):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SH)):
        page = login(engineer).get("/admin/").content.decode()
        assert "On call now" in page and "Ann" in page
        metrics = client.get("/metrics").content.decode()
    assert "spt_oncall_primary_covered 1.0" in metrics
    assert "spt_oncall_gap_hours_next_14d" in metrics


def test_auto_assignment_prefers_the_primary_on_call_with_the_skill(
    schedule, team, acme, acme_user
):
    from spt_portal.models import Skill
    from tickets import services

    ann, ben, cai = team
    ec2 = Skill.objects.create(slug="ec2", name="EC2")
    for user in team:
        user.skills.add(ec2)
    with time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=SH)):  # Ben's day
        ticket = services.ticket_create(
            customer=acme, requester=acme_user, title="x", category=ec2, actor=acme_user
        )
    assert ticket.assignee == ben

"""The /ops/postmortems pages: who sees what, the editor's autosave, the list's filters
and query count, the printable view, metrics, the dashboard and /metrics."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Level
from postmortems import services
from postmortems.models import ActionItem, PostMortem

from .conftest import RECOVERED_AT, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(recovered_incident, engineer):
    made, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    return made


def test_the_incident_page_prompts_and_starts_the_postmortem(login, recovered_incident, engineer):
    client = login(engineer)
    page = client.get(recovered_incident.get_absolute_url())
    assert b'data-testid="start-postmortem"' in page.content
    response = client.post(reverse("postmortems:create", args=[recovered_incident.pk]))
    postmortem = PostMortem.objects.get()
    assert response.status_code == 302 and response.url == postmortem.get_absolute_url()
    page = client.get(recovered_incident.get_absolute_url())
    assert b"Open the postmortem" in page.content


def test_who_sees_the_pages(client, login, postmortem, engineer, manager, auditor, acme_user):
    edit = postmortem.get_absolute_url()
    urls = [
        reverse("postmortems:list"),
        edit,
        reverse("postmortems:print", args=[postmortem.pk]),
        reverse("postmortems:metrics"),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: sign in
    login(acme_user)
    for url in urls:
        assert client.get(url).status_code == 403
    login(auditor)
    assert client.get(edit).status_code == 404  # a draft is for the people writing it
    assert (
        postmortem.incident.number not in client.get(reverse("postmortems:list")).content.decode()
    )
    assert client.post(edit, {"lessons": "x"}).status_code == 403
    publish(postmortem, engineer, manager)
    page = client.get(edit)
    assert page.status_code == 200 and b'data-testid="report"' in page.content
    assert b'data-testid="editor"' not in page.content and b"transitions" not in page.content
    for name in ("autosave", "status", "comment", "action_add", "meeting", "participants"):
        response = client.post(reverse(f"postmortems:{name}", args=[postmortem.pk]), {})
        assert response.status_code == 403, name


def test_autosave_saves_and_refuses_a_stale_version(login, postmortem, engineer, manager):
    client = login(engineer)
    url = reverse("postmortems:autosave", args=[postmortem.pk])
    version = postmortem.version
    response = client.post(
        url, {"version": version, "root_cause": "重试风暴", "title": "t"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert b"Saved at" in response.content and b'hx-swap-oob="true"' in response.content
    assert response["X-Postmortem-Version"] == str(version + 1)
    postmortem.refresh_from_db()
    assert postmortem.root_cause == "重试风暴" and postmortem.title == "t"
    assert postmortem.lessons == ""  # fields not sent are left alone
    stale = client.post(url, {"version": version, "root_cause": "old"}, HTTP_HX_REQUEST="true")
    assert stale.status_code == 409 and b"reload" in stale.content
    as_json = client.post(url, {"version": "abc"})
    assert as_json.status_code == 400 and "detail" in as_json.json()
    postmortem.refresh_from_db()
    assert postmortem.root_cause == "重试风暴"
    # The form without JavaScript saves everything at once.
    fields = {name: getattr(postmortem, name) or "" for name in services.EDITABLE_FIELDS}
    fields.update(version=postmortem.version, lessons="容量规划", affected_users="")
    response = client.post(postmortem.get_absolute_url(), fields)
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.lessons == "容量规划"


def test_the_editor_works_the_review_from_the_page(
    login, postmortem, engineer, manager, recovered_incident
):
    client = login(engineer)
    edit = postmortem.get_absolute_url()
    page = client.get(edit)
    assert page.status_code == 200 and b'data-testid="editor"' in page.content
    assert "数据库连接池耗尽".encode() in page.content  # the prefilled timeline
    add = reverse("postmortems:action_add", args=[postmortem.pk])
    client.post(
        add,
        {"title": "连接池扩容", "owner": engineer.pk, "due_date": "2026-12-20", "priority": "P1"},
    )
    item = ActionItem.objects.get()
    assert item.owner == engineer and item.due_date == date(2026, 12, 20)
    bad = client.post(add, {"title": "x", "priority": "P9"}, follow=True)
    assert ActionItem.objects.count() == 1 and b"alert-danger" in bad.content
    client.post(
        reverse("postmortems:action_change", args=[postmortem.pk, item.pk]),
        {
            f"item{item.pk}-owner": engineer.pk,
            f"item{item.pk}-due_date": "2026-12-21",
            f"item{item.pk}-priority": "P1",
            f"item{item.pk}-status": "in_progress",
        },
    )
    item.refresh_from_db()
    assert item.status == "in_progress" and item.due_date == date(2026, 12, 21)
    client.post(reverse("postmortems:comment", args=[postmortem.pk]), {"body": "请补充影响"})
    assert postmortem.comments.get().body == "请补充影响"
    status = reverse("postmortems:status", args=[postmortem.pk])
    refused = client.post(status, {"status": "in_review"}, follow=True)
    assert b"root cause" in refused.content
    services.postmortem_update(postmortem=postmortem, actor=engineer, root_cause="x")
    client.post(status, {"status": "in_review"})
    # Only a manager sees (and may use) the approve button.
    assert b'value="approved"' not in client.get(edit).content
    client.post(status, {"status": "approved"})
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"
    login(manager)
    assert b'value="approved"' in client.get(edit).content
    client.post(status, {"status": "approved"})
    client.post(status, {"status": "published"})
    postmortem.refresh_from_db()
    recovered_incident.refresh_from_db()
    assert postmortem.status == "published" and recovered_incident.status == "closed"


def test_meeting_and_participants_from_the_page(login, postmortem, engineer, manager):
    client = login(engineer)
    with time_machine.travel(RECOVERED_AT + timedelta(hours=1), tick=False):
        page = client.get(postmortem.get_absolute_url())
        assert b'value="2026-12-01T12:00"' in page.content  # proposed: recovery + 24 h
        client.post(
            reverse("postmortems:participants", args=[postmortem.pk]),
            {"participants": [engineer.pk, manager.pk]},
        )
        response = client.post(
            reverse("postmortems:meeting", args=[postmortem.pk]),
            {"meeting_at": "2026-12-01T14:00"},
            follow=True,
        )
    assert b"2 invitations sent" in response.content
    postmortem.refresh_from_db()
    assert set(postmortem.participants.all()) == {engineer, manager}
    assert timezone.localtime(postmortem.meeting_at).hour == 14


def test_the_printable_view_has_every_section(login, postmortem, engineer):
    services.postmortem_update(
        postmortem=postmortem, actor=engineer, root_cause="**连接池**", lessons="<script>x</script>"
    )
    services.action_item_create(postmortem=postmortem, title="扩容", priority="P1", actor=engineer)
    page = login(engineer).get(reverse("postmortems:print", args=[postmortem.pk])).content.decode()
    for title in ("Basic information", "Timeline", "Root cause", "Impact analysis", "Action items"):
        assert f">{title}</h2>" in page
    assert "<strong>连接池</strong>" in page and "<script>x" not in page
    assert "<td>扩容</td>" in page


def _incident_with_postmortem(engineer, n, level=Level.P1):
    incident = incident_services.incident_create(title=f"inc {n}", level=level, actor=engineer)
    incident_services.incident_change_status(
        incident=incident, status="in_progress", actor=engineer
    )
    incident_services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    postmortem, _ = services.postmortem_create(incident=incident, actor=engineer)
    for i in range(2):
        services.action_item_create(
            postmortem=postmortem,
            title=f"item {n}.{i}",
            owner=engineer,
            due_date=timezone.localdate() - timedelta(days=i),
            actor=engineer,
        )
    return postmortem


def test_the_list_filters_and_its_queries_do_not_grow(
    login, engineer, django_assert_max_num_queries
):
    client = login(engineer)
    _incident_with_postmortem(engineer, 1)
    url = reverse("postmortems:list")
    with django_assert_max_num_queries(14) as few:
        client.get(url)
    for n in range(2, 8):
        _incident_with_postmortem(engineer, n, level=Level.P2 if n % 2 else Level.P1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert page.content.count(b"data-postmortem=") == 7
    assert client.get(url, {"level": "P2"}).content.count(b"data-postmortem=") == 3
    assert client.get(url, {"status": "published"}).content.count(b"data-postmortem=") == 0
    # Each has an item due yesterday: all overdue; none once those are done.
    assert client.get(url, {"overdue": "on"}).content.count(b"data-postmortem=") == 7
    yesterday = timezone.localdate() - timedelta(days=1)
    ActionItem.objects.filter(due_date=yesterday).update(status="done")
    assert client.get(url, {"overdue": "on"}).content.count(b"data-postmortem=") == 0


def test_metrics_page_dashboard_and_prometheus(
    login, client, postmortem, engineer, manager, recovered_incident
):
    services.action_item_create(
        postmortem=postmortem,
        title="逾期的改进",
        owner=engineer,
        due_date=timezone.localdate() - timedelta(days=2),
        actor=engineer,
    )
    with time_machine.travel(RECOVERED_AT + timedelta(hours=30), tick=False):
        publish(postmortem, engineer, manager)
    login(manager)
    page = client.get(reverse("postmortems:metrics"), {"days": 365}).content.decode()
    assert 'data-testid="completion-rate">100%' in page
    assert 'data-testid="overdue-count">1<' in page and "逾期的改进" in page
    home = client.get(reverse("admin:index")).content.decode()
    assert 'id="postmortems-panel"' in home and "逾期的改进" in home
    text = client.get("/metrics").content.decode()
    assert 'spt_postmortems{status="published"} 1.0' in text
    assert "spt_action_items_overdue 1.0" in text
    assert "spt_postmortem_time_to_publish_seconds 108000.0" in text


def test_the_incident_policy_states_the_live_postmortem_values(login, engineer, settings):
    settings.ACTION_ITEM_REMIND_DAYS = 3
    settings.ALERT_RETENTION_DAYS = 120
    policy = login(engineer).get("/docs/INCIDENT-RESPONSE/").content.decode()
    assert "reminded\n3 days before" in policy or "reminded 3 days before" in policy
    assert "closed more than 120 days ago" in policy

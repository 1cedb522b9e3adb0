"""The /ops/ pages: who may see and do what, the batch actions, query budgets."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.alerts import ParsedAlert, alert_upsert
from incidents.models import Alert, AlertStatus, Incident, IncidentStatus, Level
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def make_alert(title="Disk full", level="warning", service="db", **extra):
    from django.utils import timezone

    alert, _ = alert_upsert(
        parsed=ParsedAlert(
            status="firing",
            title=title,
            description="",
            level=level,
            source="alertmanager",
            labels={"alertname": title, "service": service, **extra},
            fingerprint="",
            starts_at=timezone.now(),
        ),
        integration=None,
    )
    return alert


@pytest.fixture
def incident(engineer):
    return services.incident_create(title="数据库不可访问", level=Level.P1, actor=engineer)


READ_PAGES = [
    "/ops/alerts/",
    "/ops/incidents/",
    "/ops/incidents/metrics/",
    "/ops/incidents/contacts/",
]


@pytest.mark.parametrize("path", READ_PAGES)
def test_staff_read_customers_and_anonymous_cannot(
    path, login, client, engineer, auditor, acme_user
):
    assert client.get(path).status_code == 302  # to the login page
    assert login(acme_user).get(path).status_code == 403
    assert login(auditor).get(path).status_code == 200
    assert login(engineer).get(path).status_code == 200


def test_incident_page_for_staff_only(login, client, incident, auditor, acme_user):
    url = incident.get_absolute_url()
    assert login(acme_user).get(url).status_code == 403
    page = login(auditor).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert incident.number in html and 'data-testid="timeline"' in html
    assert 'data-testid="emergency"' not in html  # no write buttons for auditors


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("incidents:incident_status", {"status": "in_progress"}),
        ("incidents:incident_ack", {}),
        ("incidents:incident_note", {"text": "x"}),
        ("incidents:incident_level", {"level": "P2"}),
        ("incidents:incident_emergency", {}),
        ("incidents:incident_escalate", {"level": 2, "reason": "x"}),
        ("incidents:incident_details", {"title": "y", "severity": "high"}),
    ],
)
def test_auditors_and_customers_cannot_write(name, data, login, incident, auditor, acme_user):
    url = reverse(name, args=[incident.pk])
    assert login(auditor).post(url, data).status_code == 403
    assert login(acme_user).post(url, data).status_code == 403
    incident.refresh_from_db()
    assert (
        incident.status == IncidentStatus.PENDING
        and incident.timeline.filter(kind="note").count() == 0
    )


def test_engineer_works_an_incident_from_its_page(login, incident, engineer):
    client = login(engineer)
    url = incident.get_absolute_url()
    client.post(reverse("incidents:incident_ack", args=[incident.pk]))
    client.post(
        reverse("incidents:incident_note", args=[incident.pk]),
        {"text": "回滚到 v2.3", "pinned": "on"},
    )
    client.post(
        reverse("incidents:incident_level", args=[incident.pk]),
        {"service_down": "on", "core_affected": "on"},
    )
    lead = StaffUserFactory(full_name="Li Si")
    client.post(
        reverse("incidents:incident_role", args=[incident.pk]),
        {"role": "tech_lead", "user": lead.pk},
    )
    response = client.post(
        reverse("incidents:incident_status", args=[incident.pk]), {"status": "closed"}, follow=True
    )
    assert "cannot go from" in response.content.decode()  # a clear message, not a 500
    incident.refresh_from_db()
    assert (
        incident.status == "in_progress" and incident.level == "P0" and incident.tech_lead == lead
    )
    html = client.get(url).content.decode()
    assert "回滚到 v2.3" in html and "Set by the triage questions." in html


def test_create_incident_with_the_triage_questions(login, engineer):
    response = login(engineer).post(
        reverse("incidents:incident_create"),
        {"title": "核心 API 超时", "core_affected": "on", "service": "api"},
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    assert incident.level == "P1" and incident.service == "api"
    assert (
        login(engineer).post(reverse("incidents:incident_create"), {"title": ""}).status_code == 200
    )


def test_alert_list_filters_and_query_budget(login, engineer, django_assert_max_num_queries):
    for n in range(30):
        make_alert(title=f"Disk {n}", service=f"db{n}")
    make_alert(title="Gone", level="info").__class__.objects.filter(title="Gone").update(
        status="resolved"
    )
    client = login(engineer)
    with django_assert_max_num_queries(12):
        page = client.get("/ops/alerts/")
    html = page.content.decode()
    assert html.count('name="alert"') == 30 and "Gone" not in html
    assert "Gone" in client.get("/ops/alerts/?status=resolved").content.decode()
    assert client.get("/ops/alerts/?level=critical").content.decode().count('name="alert"') == 0


def test_alert_batch_actions(login, engineer, incident):
    a, b, c = (make_alert(title=t, service=t) for t in ("A", "B", "C"))
    client = login(engineer)
    url = reverse("incidents:alert_action")
    client.post(url, {"action": "acknowledge", "alert": [a.pk, b.pk]})
    assert set(Alert.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {
        "acknowledged"
    }
    response = client.post(url, {"action": "ignore", "alert": [c.pk]}, follow=True)
    assert "Say why" in response.content.decode()
    client.post(url, {"action": "ignore", "alert": [c.pk], "reason": "维护窗口"})
    c.refresh_from_db()
    assert c.status == AlertStatus.IGNORED and c.ignored_reason == "维护窗口"
    client.post(url, {"action": "link", "alert": [a.pk], "incident": incident.pk})
    a.refresh_from_db()
    assert a.incident == incident and a.status == AlertStatus.LINKED
    response = client.post(url, {"action": "create_incident", "alert": [b.pk]})
    created = Incident.objects.exclude(pk=incident.pk).get()
    assert response["Location"] == created.get_absolute_url()
    assert created.level == "P3" and created.alerts.get() == b


def test_board_columns_and_query_budget(login, engineer, django_assert_max_num_queries):
    for n in range(12):
        incident = services.incident_create(title=f"i{n}", level=Level.P2, actor=engineer)
        if n % 3 == 0:
            services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    client = login(engineer)
    with django_assert_max_num_queries(12):
        html = client.get("/ops/incidents/").content.decode()
    assert html.count("data-incident=") == 12
    assert 'data-status="pending_postmortem"' in html
    client.post(
        reverse("incidents:incident_status", args=[Incident.objects.first().pk]),
        {"status": "in_progress", "next": "board"},
    )


def test_communicate_page_prefills_and_sends(login, engineer, incident, acme):
    incident.affected_customers.add(acme)
    client = login(engineer)
    url = reverse("incidents:incident_communicate", args=[incident.pk])
    form = client.get(url + "?kind=started&audience=external").content.decode()
    assert "Service disruption notice" in form and "Acme" in form
    assert client.get(url + "?kind=bogus&audience=external").status_code == 404
    response = client.post(
        url, {"kind": "update", "audience": "internal", "subject": "更新", "body": "进展：已定位"}
    )
    assert response.status_code == 302
    assert incident.communications.get().body == "进展：已定位"


def test_metrics_endpoint_exports_incident_gauges(client, engineer):
    incident = services.incident_create(title="x", level=Level.P2, actor=engineer)
    make_alert(title="Hot", level="critical", service="api")
    services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    text = client.get("/metrics").content.decode()
    assert 'spt_incidents_open{level="P2",status="in_progress"} 1.0' in text
    assert 'spt_incidents_open{level="P1",status="pending"} 1.0' in text  # from the alert
    assert 'spt_alerts_open{level="critical",status="linked"} 1.0' in text
    assert 'spt_incident_mtta_seconds{level="P2"}' in text


def test_metrics_page_and_policy_show_live_values(login, engineer, settings):
    services.incident_create(title="x", level=Level.P3, actor=engineer)
    client = login(engineer)
    html = client.get("/ops/incidents/metrics/").content.decode()
    assert 'data-testid="metrics-table"' in html and "<td>P3</td>" in html
    settings.INCIDENT_PAGE_REPEAT_MINUTES = 7
    policy = client.get("/docs/INCIDENT-RESPONSE/").content.decode()
    assert "every 7 minutes" in policy


def test_staff_dashboard_shows_the_incidents_panel(login, engineer):
    incident = services.incident_create(title="面板", level=Level.P1, actor=engineer)
    html = login(engineer).get("/admin/").content.decode()
    assert 'id="incidents-panel"' in html and incident.number in html


def test_alert_list_groups_by_group_key(login, engineer):
    a = make_alert(title="A", service="a")
    make_alert(title="B", service="b")
    Alert.objects.filter(pk=a.pk).update(group_key='{}:{alertname="A"}')
    html = (
        login(engineer)
        .get("/ops/alerts/", {"status": "all", "group": '{}:{alertname="A"}'})
        .content.decode()
    )
    assert html.count('name="alert"') == 1 and "same group" not in html.split("<tbody>")[0]

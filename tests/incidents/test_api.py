"""/api/v1/alerts and /api/v1/incidents as the seeds write them."""

import pytest

from incidents import services
from incidents.models import Alert, Incident, Level, Page

pytestmark = pytest.mark.django_db


SEED_ALERT = {
    "title": "CPU使用率过高",
    "description": "服务器CPU使用率超过90%",
    "level": "Critical",
    "alert_source": "Prometheus",
    "fired_at": "2024-08-30T10:00:00Z",
}


def test_the_seeds_alert_example_works_as_written(api, engineer):
    response = api("post", "/api/v1/alerts", engineer, SEED_ALERT)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["level"] == "critical" and body["source"] == "Prometheus"
    assert body["starts_at"].startswith("2024-08-30T10:00:00")
    # Critical with no service: an incident named after the alert, level P1.
    assert body["incident"].startswith("INC-")
    again = api("post", "/api/v1/alerts", engineer, SEED_ALERT)
    assert again.status_code == 200 and again.json()["occurrences"] == 2
    assert Alert.objects.count() == 1 and Incident.objects.count() == 1
    resolved = api("post", "/api/v1/alerts", engineer, {**SEED_ALERT, "status": "resolved"})
    assert resolved.json()["status"] == "resolved"
    # A new firing after resolution is a new alert.
    api("post", "/api/v1/alerts", engineer, SEED_ALERT)
    assert Alert.objects.count() == 2


def test_alert_input_errors_are_4xx_with_reasons(api, engineer):
    bad_level = api("post", "/api/v1/alerts", engineer, {**SEED_ALERT, "level": "apocalyptic"})
    assert bad_level.status_code == 400 and "unknown level" in bad_level.json()["detail"]
    missing = api("post", "/api/v1/alerts", engineer, {"level": "Critical"})
    assert missing.status_code == 422
    extra = api("post", "/api/v1/alerts", engineer, {**SEED_ALERT, "colour": "red"})
    assert extra.status_code == 422


def test_alert_list_with_filters_for_staff_only(api, engineer, auditor, acme_user):
    api("post", "/api/v1/alerts", engineer, SEED_ALERT)
    api("post", "/api/v1/alerts", engineer, {**SEED_ALERT, "title": "Disk", "level": "warning"})
    listing = api("get", "/api/v1/alerts?level=critical", auditor).json()
    assert listing["count"] == 1 and listing["items"][0]["title"] == "CPU使用率过高"
    assert api("get", "/api/v1/alerts?source=prometheus", engineer).json()["count"] == 2
    assert api("get", "/api/v1/alerts", acme_user).status_code == 403
    assert api("post", "/api/v1/alerts", auditor, SEED_ALERT).status_code == 403
    assert api("post", "/api/v1/alerts", acme_user, SEED_ALERT).status_code == 403


def test_incident_crud_as_in_seed_002(api, engineer, django_assert_max_num_queries):
    created = api(
        "post",
        "/api/v1/incidents",
        engineer,
        {
            "title": "服务器CPU使用率过高",
            "description": "生产环境Web服务器CPU使用率持续超过90%",
            "priority": "high",
            "severity": "high",
            "category": "performance",
            "subcategory": "cpu",
            "source": "monitoring",
        },
    )
    assert created.status_code == 201, created.content
    incident = created.json()
    assert incident["level"] == "P1" and incident["number"].startswith("INC-")
    for n in range(5):
        services.incident_create(title=f"other {n}", level=Level.P3, actor=engineer)
    with django_assert_max_num_queries(12):
        page = api("get", "/api/v1/incidents?page=1&size=3&priority=low", engineer).json()
    assert page["count"] == 5 and len(page["items"]) == 3 and page["size"] == 3
    updated = api(
        "put",
        f"/api/v1/incidents/{incident['id']}",
        engineer,
        {"status": "in_progress", "assignee_id": engineer.pk, "priority": "urgent"},
    )
    assert updated.status_code == 200, updated.content
    body = updated.json()
    assert body["status"] == "in_progress" and body["level"] == "P0"
    assert body["assignee_id"] == engineer.pk and body["roles"]["on_call"] == engineer.email
    wrong = api("put", f"/api/v1/incidents/{incident['id']}", engineer, {"status": "closed"})
    assert wrong.status_code == 400 and "cannot go from" in wrong.json()["detail"]
    gone = api("delete", f"/api/v1/incidents/{incident['id']}", engineer)
    assert gone.status_code == 405 and Incident.objects.filter(pk=incident["id"]).exists()
    assert api("get", "/api/v1/incidents/999999", engineer).status_code == 404
    impact = api("get", f"/api/v1/incidents/{incident['id']}/impact", engineer).json()
    assert impact["incident"] == incident["number"] and impact["ongoing"] is True
    timeline = api("get", f"/api/v1/incidents/{incident['id']}/timeline", engineer).json()
    assert [e["kind"] for e in timeline][0] == "created"


def test_monitoring_summary(api, engineer):
    services.incident_create(title="a", level=Level.P2, category="performance", actor=engineer)
    services.incident_create(title="b", level=Level.P3, category="security", actor=engineer)
    body = api(
        "post",
        "/api/v1/incidents/monitoring",
        engineer,
        {
            "start_time": "2020-01-01T00:00:00Z",
            "end_time": "2099-01-01T00:00:00Z",
            "category": "performance",
        },
    ).json()
    assert body["total"] == 1 and body["by_level"] == {"P2": 1}
    reversed_window = api(
        "post",
        "/api/v1/incidents/monitoring",
        engineer,
        {"start_time": "2099-01-01T00:00:00Z", "end_time": "2020-01-01T00:00:00Z"},
    )
    assert reversed_window.status_code == 400


def test_pages_api_seed_002_paths(api, engineer, mailoutbox):
    incident = services.incident_create(title="x", level=Level.P2, actor=engineer)
    created = api(
        "post",
        "/api/v1/incidents/alerts",
        engineer,
        {
            "incident_id": incident.pk,
            "alert_type": "escalation",
            "alert_name": "事件升级告警",
            "message": "事件已升级到下一级别",
            "severity": "high",
            "channels": ["email", "sms"],
            "recipients": ["manager@company.com"],
        },
    )
    assert created.status_code == 201, created.content
    page_id = created.json()["id"]
    active = api("get", "/api/v1/incidents/alerts/active?page=1&size=10", engineer).json()
    assert page_id in [p["id"] for p in active["items"]]
    acked = api("post", f"/api/v1/incidents/alerts/{page_id}/acknowledge", engineer).json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == engineer.email
    assert Incident.objects.get(pk=incident.pk).status == "in_progress"
    resolved = api("post", f"/api/v1/incidents/alerts/{page_id}/resolve", engineer).json()
    assert resolved["status"] == "resolved"
    nobody = api(
        "post",
        "/api/v1/incidents/alerts",
        engineer,
        {"incident_id": incident.pk, "alert_name": "x", "message": "y", "recipients": []},
    )
    assert nobody.status_code == 400
    assert Page.objects.filter(pk=page_id).exists()


def test_incidents_api_is_staff_only(api, acme_user, auditor, engineer):
    incident = services.incident_create(title="x", actor=engineer)
    assert api("get", "/api/v1/incidents", acme_user).status_code == 403
    assert api("get", f"/api/v1/incidents/{incident.pk}", acme_user).status_code == 403
    assert api("get", "/api/v1/incidents", auditor).status_code == 200
    assert api("post", "/api/v1/incidents", auditor, {"title": "x"}).status_code == 403
    assert (
        api("put", f"/api/v1/incidents/{incident.pk}", auditor, {"title": "y"}).status_code == 403
    )

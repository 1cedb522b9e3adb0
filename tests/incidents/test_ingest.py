"""Alert ingestion through the real webhooks and API, on real and realistic payloads."""

import copy
import json

import pytest
from django.core.management import call_command

from incidents.models import Alert, AlertPayload, AlertStatus, Incident, IncidentStatus
from tests.incidents.conftest import load

pytestmark = pytest.mark.django_db(transaction=True)

AM = "/hooks/alertmanager/"


def test_firing_group_creates_each_alert_once_and_one_pending_incident(
    alertmanager, post_hook, firing_group
):
    _integration, token = alertmanager
    response = post_hook(AM, firing_group, token)
    assert response.status_code == 202
    assert response.json()["alerts"] == 2
    alerts = list(Alert.objects.order_by("starts_at"))
    assert [a.fingerprint for a in alerts] == ["6e1a0f8b3c9d2e47", "b41d7c2a9e0f6153"]
    assert all(a.level == "critical" and a.service == "checkout" for a in alerts)
    assert alerts[0].title == "结算服务 API 错误率过高"
    assert alerts[0].ends_at is None  # Go's zero time means "not ended"
    assert alerts[0].group_key.startswith("{}/{severity")
    # Two critical alerts of one service: one incident, both linked, level P1.
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.PENDING and incident.level == "P1"
    assert incident.service == "checkout" and incident.number == f"INC-{incident.pk:06d}"
    assert {a.status for a in Alert.objects.all()} == {AlertStatus.LINKED}
    assert incident.alerts.count() == 2
    payload = AlertPayload.objects.get()
    assert payload.status == "processed" and payload.alerts_new == 2


def test_repeats_and_ha_duplicates_update_counts_never_add_rows(
    alertmanager, post_hook, firing_group
):
    _integration, token = alertmanager
    for _ in range(3):  # group_interval repeats
        assert post_hook(AM, firing_group, token).status_code == 202
    # The HA twin sends the same snapshot with the same start written with other precision.
    twin = copy.deepcopy(firing_group)
    twin["alerts"][0]["startsAt"] = "2026-11-30T02:14:05.428516Z"
    assert post_hook(AM, twin, token, header=False).status_code == 202
    assert Alert.objects.count() == 2
    first = Alert.objects.get(fingerprint="6e1a0f8b3c9d2e47")
    assert first.occurrences == 4
    assert first.last_received_at > first.first_received_at
    assert Incident.objects.count() == 1
    assert AlertPayload.objects.filter(alerts_repeated=2).count() == 3


def test_resolved_resolves_and_never_opens_anything(
    alertmanager, post_hook, firing_group, resolved_group
):
    _integration, token = alertmanager
    post_hook(AM, firing_group, token)
    incident = Incident.objects.get()
    post_hook(AM, resolved_group, token)
    post_hook(AM, resolved_group, token)  # resolved is repeated too
    assert Alert.objects.count() == 2
    for alert in Alert.objects.all():
        assert alert.status == AlertStatus.RESOLVED
        assert alert.resolved_at.isoformat().startswith("2026-11-30T02:40:00")
        assert alert.incident == incident
    assert Incident.objects.count() == 1
    assert incident.timeline.filter(kind="alert", text__startswith="Alert resolved").count() == 2
    # A firing snapshot of the same episode arriving late does not re-open it.
    post_hook(AM, firing_group, token)
    assert set(Alert.objects.values_list("status", flat=True)) == {AlertStatus.RESOLVED}


def test_late_resolved_for_unknown_alerts_is_recorded(alertmanager, post_hook):
    _integration, token = alertmanager
    body = load("prom2teams_resolved_2alerts_no_groupkey.json")
    response = post_hook(AM, body, token)
    assert response.status_code == 202
    # Same (reused) fingerprint and start, different labels: two alerts, both resolved.
    alerts = list(Alert.objects.order_by("id"))
    assert len(alerts) == 2
    assert {a.status for a in alerts} == {AlertStatus.RESOLVED}
    assert {a.labels["instance"] for a in alerts} == {"cs30.evilcorp", "cs31.evilcorp"}
    assert {a.level for a in alerts} == {"major", "critical"}  # "severe" reads as major
    assert not Incident.objects.exists()
    payload = AlertPayload.objects.get()
    assert payload.alerts_resolved == 2 and payload.error == ""


def test_kube_prometheus_resolved_fixture(alertmanager, post_hook):
    _integration, token = alertmanager
    post_hook(AM, load("prom2teams_resolved_k8s_cputhrottling.json"), token)
    alert = Alert.objects.get()
    assert alert.title == "CPU throttling" and alert.status == AlertStatus.RESOLVED
    assert alert.description.startswith("27% throttling")
    assert len(alert.generator_url) > 200


def test_grafana_unified_alerting(grafana, post_hook):
    _integration, token = grafana
    response = post_hook("/hooks/grafana/", load("spt_grafana_unified_firing.json"), token)
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.source == "grafana" and alert.level == "warning" and alert.service == "billing"
    assert alert.title == "Memory above 90% on billing-1"
    assert not Incident.objects.exists()  # warnings never open incidents by themselves


def test_service_falls_back_to_the_job_label(alertmanager, post_hook, firing_group):
    _integration, token = alertmanager
    for alert in firing_group["alerts"]:
        del alert["labels"]["service"]
    post_hook(AM, firing_group, token)
    assert Incident.objects.get().service == "apiserver"


def test_auto_incidents_can_be_switched_off_per_integration(alertmanager, post_hook, firing_group):
    integration, token = alertmanager
    integration.auto_create_incidents = False
    integration.save()
    post_hook(AM, firing_group, token)
    assert Alert.objects.count() == 2 and not Incident.objects.exists()


def test_a_critical_alert_joins_the_open_incident_of_its_service(
    alertmanager, post_hook, firing_group
):
    _integration, token = alertmanager
    post_hook(AM, firing_group, token)
    later = copy.deepcopy(firing_group)
    later["alerts"] = [later["alerts"][0]]
    later["alerts"][0]["startsAt"] = "2026-11-30T05:00:00Z"  # a new episode
    post_hook(AM, later, token)
    assert Alert.objects.count() == 3
    assert Incident.objects.count() == 1 and Incident.objects.get().alerts.count() == 3


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"not json", 400, "not JSON"),
        ({"alerts": "x"}, 400, "'alerts' list"),
        ({"alerts": [{"labels": {}, "startsAt": "yesterday"}]}, 400, "RFC 3339"),
        ({"alerts": [{"labels": {"a": "b"}}]}, 400, "no startsAt"),
        (
            {"alerts": [{"labels": {}, "startsAt": "2026-01-01T00:00:00Z", "status": "x"}]},
            400,
            "firing or resolved",
        ),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(alertmanager, post_hook, body, status, detail):
    _integration, token = alertmanager
    response = post_hook(AM, body, token)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert not AlertPayload.objects.exists() and not Alert.objects.exists()


def test_tokens_are_per_integration_and_kind(
    alertmanager, grafana, post_hook, firing_group, client
):
    _am, am_token = alertmanager
    _gr, grafana_token = grafana
    assert post_hook(AM, firing_group, "alr_nope_nope").status_code == 401
    assert post_hook(AM, firing_group, grafana_token).status_code == 401  # wrong kind
    assert client.post(AM, data="{}", content_type="application/json").status_code == 401
    assert client.get(f"{AM}?token={am_token}").status_code == 405
    assert not Alert.objects.exists()


def test_body_size_limit(alertmanager, post_hook, settings):
    settings.ALERT_WEBHOOK_MAX_BYTES = 100
    _integration, token = alertmanager
    response = post_hook(AM, {"alerts": [], "padding": "x" * 200}, token)
    assert response.status_code == 413


def test_a_payload_that_failed_to_process_is_kept_and_offered_again(alertmanager, firing_group):
    from incidents import alerts as alert_service
    from incidents.jobs import retry_alert_payloads

    integration, _token = alertmanager
    payload = AlertPayload.objects.create(integration=integration, body=firing_group)
    AlertPayload.objects.filter(pk=payload.pk).update(
        received_at=payload.received_at - __import__("datetime").timedelta(minutes=5)
    )
    assert retry_alert_payloads() == 1
    payload.refresh_from_db()
    assert payload.status == "processed" and Alert.objects.count() == 2
    assert alert_service.process_payload(payload.pk).status == "processed"  # idempotent
    assert Alert.objects.count() == 2


def test_create_alert_integration_command_prints_a_working_url(capsys, client, firing_group):
    call_command("create_alert_integration", "am-cn-north-1", "--kind", "alertmanager")
    out = capsys.readouterr().out
    url = next(
        line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Webhook URL")
    )
    assert "/hooks/alertmanager/?token=alr_" in url
    path = url.split("://", 1)[1].split("/", 1)[1]
    response = client.post(
        "/" + path, data=json.dumps(firing_group), content_type="application/json"
    )
    assert response.status_code == 202
    assert Alert.objects.filter(integration__name="am-cn-north-1").count() == 2


def _am_alert(key, *, status="firing", severity="warning"):
    return {
        "status": status,
        "labels": {"alertname": "Latency", "service": "api", "severity": severity, "key": key},
        "annotations": {"summary": f"latency {key}"},
        "startsAt": "2026-12-01T02:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }


def test_a_large_payload_is_stored_in_a_constant_number_of_queries(
    alertmanager, django_assert_max_num_queries
):
    """50 alerts, half seen before, one repeated inside the payload and one resolving: a
    handful of statements for the whole payload, not several per alert."""
    from incidents.alerts import payload_receive, process_payload

    integration, _token = alertmanager
    seen = [_am_alert(f"seen-{i}") for i in range(25)]
    process_payload(payload_receive(integration=integration, body={"alerts": seen}).pk)
    first_seen = Alert.objects.get(labels__key="seen-3").last_received_at
    body = {
        "alerts": seen[:24]
        + [_am_alert("seen-24", status="resolved")]
        + [_am_alert(f"new-{i}") for i in range(25)]
        + [_am_alert("new-0")]
    }
    body["alerts"][1] = {**body["alerts"][1], "annotations": {"summary": "now worse"}}
    # Stored without its job (which would process it at once, tests running jobs
    # synchronously): the processing itself is what is measured.
    payload = AlertPayload.objects.create(integration=integration, body=body)
    # Begin, the payload, its alerts, the bulk insert in a savepoint (3), one update for the
    # plain repeats and one for the resolved one, the alert repeated inside the payload one
    # by one (savepoint, read, update, release), the payload's outcome, commit: 14, whatever
    # the number of alerts.
    with django_assert_max_num_queries(14) as captured:
        process_payload(payload.pk)
    # Warnings open no incident, so they cost no savepoint each (one per alert before).
    savepoints = [q for q in captured.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) <= 2, len(savepoints)
    assert any(q["sql"].startswith("INSERT") for q in captured.captured_queries)
    payload.refresh_from_db()
    assert (payload.alerts_new, payload.alerts_repeated, payload.alerts_resolved) == (25, 25, 1)
    assert Alert.objects.count() == 50
    assert Alert.objects.get(labels__key="new-0").occurrences == 2
    assert Alert.objects.get(labels__key="seen-3").occurrences == 2
    assert Alert.objects.get(labels__key="seen-3").last_received_at > first_seen
    changed = Alert.objects.get(labels__key="seen-1")
    assert changed.occurrences == 2 and changed.annotations == {"summary": "now worse"}
    assert Alert.objects.get(labels__key="seen-24").status == AlertStatus.RESOLVED
    # A warning that turns critical on repeat opens its incident.
    escalate = {"alerts": [_am_alert("seen-5", severity="critical")]}
    process_payload(payload_receive(integration=integration, body=escalate).pk)
    assert Incident.objects.get().alerts.get().labels["key"] == "seen-5"


def test_source_links_are_kept_only_when_they_are_web_links(alertmanager):
    from incidents.alerts import payload_receive, process_payload

    integration, _token = alertmanager
    alerts = [
        {**_am_alert("web"), "generatorURL": "https://prometheus.example/graph?g0.expr=up"},
        {**_am_alert("script"), "generatorURL": "javascript:alert(1)"},
        {**_am_alert("data"), "generatorURL": " JAVASCRIPT:alert(1)"},
    ]
    process_payload(payload_receive(integration=integration, body={"alerts": alerts}).pk)
    links = dict(Alert.objects.values_list("labels__key", "generator_url"))
    assert links == {"web": "https://prometheus.example/graph?g0.expr=up", "script": "", "data": ""}

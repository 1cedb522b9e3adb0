"""Prometheus queries into incidents, against a local fake Prometheus serving recorded
API answers: series kept and drawn, errors shown and never fatal, re-collection
replaces, the recovered incident collects by itself."""

import json
import threading
import urllib.parse
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import prometheus, services
from incidents.models import IncidentMetric, Level, MetricQuery
from spt_portal.models import JobOutbox

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prometheus"
pytestmark = pytest.mark.django_db


class FakePrometheus(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        parsed = urllib.parse.urlparse(self.path)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        self.server.requests.append({"path": parsed.path, **params})
        query = params.get("query", "")
        if "broken" in query:
            status, name = 400, "query_range_bad_data.json"
        elif "instant" in query:
            status, name = 200, "query_vector_not_a_range.json"
        else:
            status, name = 200, "query_range_matrix_two_series.json"
        body = (FIXTURES / name).read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_prometheus(settings):
    server = FakePrometheus()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PROMETHEUS_URL = server.url
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def queries():
    MetricQuery.objects.all().delete()
    return [
        MetricQuery.objects.create(
            name="CPU", promql='cpu_usage_percent{service="$service"}', unit="%"
        ),
        MetricQuery.objects.create(name="Broken", promql='broken{service="}', position=1),
    ]


@pytest.fixture
def incident(engineer):
    made = services.incident_create(
        title="结算服务 CPU 打满", level=Level.P2, service="checkout", actor=engineer
    )
    made.detected_at = timezone.now() - timedelta(hours=2)
    made.save(update_fields=["detected_at"])
    return made


def test_series_are_kept_and_an_error_is_reported_not_fatal(fake_prometheus, queries, incident):
    outcomes = prometheus.collect(incident)
    cpu, broken = outcomes
    assert cpu.series == 2 and not cpu.error
    assert broken.series == 0 and broken.error.startswith("bad_data: invalid parameter")
    request = fake_prometheus.requests[0]
    assert request["path"] == "/api/v1/query_range"
    assert request["query"] == 'cpu_usage_percent{service="checkout"}'  # $service filled in
    start, end = float(request["start"]), float(request["end"])
    assert start == pytest.approx((incident.detected_at - timedelta(minutes=30)).timestamp())
    assert end == pytest.approx(timezone.now().timestamp(), abs=5)
    assert int(request["step"]) == pytest.approx((end - start) / 60, abs=1)
    metrics = list(IncidentMetric.objects.filter(incident=incident).order_by("metric_name"))
    assert [m.metric_name for m in metrics] == [
        "CPU (instance=server-01, job=node, service=checkout)",
        "CPU (instance=server-02, job=node, service=checkout)",
    ]
    first = metrics[0]
    assert len(first.metadata["points"]) == 9  # the NaN point is left out
    assert float(first.metric_value) == 12.9 and first.unit == "%"
    entry = incident.timeline.filter(text__startswith="Prometheus:").get()
    assert "2 series from 2 queries" in entry.text and "failed: Broken" in entry.text
    # Collecting again replaces the series; a failing query removes nothing.
    prometheus.collect(incident)
    assert IncidentMetric.objects.filter(incident=incident).count() == 2


def test_unreachable_or_wrong_answers_are_clear_errors(
    settings, queries, incident, fake_prometheus
):
    MetricQuery.objects.filter(name="Broken").update(promql="instant_thing")
    assert "Expected a range of values, got vector" in prometheus.collect(incident)[1].error
    settings.PROMETHEUS_URL = "http://127.0.0.1:1"
    errors = [o.error for o in prometheus.collect(incident)]
    assert all(e.startswith("Prometheus unreachable") for e in errors)
    assert IncidentMetric.objects.filter(incident=incident).count() == 2  # kept
    settings.PROMETHEUS_URL = ""
    assert prometheus.collect(incident)[0].error == "PROMETHEUS_URL is not set."


def test_the_incident_page_collects_and_draws_charts(
    login, fake_prometheus, queries, incident, engineer, auditor
):
    page = reverse("incidents:incident_detail", args=[incident.pk])
    collect = reverse("incidents:incident_prometheus", args=[incident.pk])
    login(auditor)
    assert login(auditor).post(collect).status_code == 403
    client = login(engineer)
    assert b'data-testid="collect-metrics"' in client.get(page).content
    response = client.post(collect, follow=True)
    html = response.content.decode()
    assert "2 series collected from Prometheus." in html
    assert "Broken: bad_data" in html  # Prometheus's own message, on the page
    assert html.count("<polyline") == 2
    assert "highest 97.4" in html


def test_a_recovered_incident_collects_by_itself(fake_prometheus, queries, incident, engineer):
    services.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    JobOutbox.objects.all().delete()
    services.incident_change_status(incident=incident, status="recovered", actor=engineer)
    job = JobOutbox.objects.get(func="incidents.jobs.collect_prometheus_metrics")
    assert job.args == [incident.pk]
    from incidents.jobs import collect_prometheus_metrics

    assert collect_prometheus_metrics(incident.pk) == {"series": 2, "failed": 1}


def test_api_collects_and_lists(api, fake_prometheus, queries, incident, engineer, auditor):
    url = f"/api/v1/incidents/{incident.pk}/metrics"
    assert api("post", f"{url}/collect", auditor).status_code == 403
    outcomes = api("post", f"{url}/collect", engineer).json()
    assert [o["series"] for o in outcomes] == [2, 0] and outcomes[1]["error"]
    listed = api("get", url, auditor).json()
    assert len(listed) == 2 and len(listed[0]["points"]) == 9


def test_the_chart_is_an_svg_polyline_in_its_box():
    metric = IncidentMetric(metadata={"points": [[0, 1.0], [60, 3.0], [120, 2.0]]})
    chart = prometheus.chart(metric, width=100, height=20)
    assert chart["points"] == "2.0,18.0 50.0,2.0 98.0,10.0"
    assert (chart["min"], chart["max"], chart["last"]) == (1.0, 3.0, 2.0)
    assert prometheus.chart(IncidentMetric(metadata={"points": [[0, 1.0]]})) is None


def test_the_seed_presets_ship_switched_off():
    from django.db import connection  # noqa: F401 - migrations ran on this database

    presets = MetricQuery.objects.filter(name__in=["CPU usage", "Disk usage"])
    assert presets.count() == 2 and not presets.filter(is_active=True).exists()
    assert json.dumps(list(presets.values_list("promql", flat=True))).count("$service") == 2

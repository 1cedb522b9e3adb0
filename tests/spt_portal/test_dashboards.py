"""deploy/grafana and deploy/prometheus: every file loads, every dashboard panel and
every alert rule queries metrics the portal exports (names taken from a real scrape)."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
RULES = ROOT / "deploy/prometheus/spt-portal-rules.yml"
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
    "unless", "bool", "offset", "inf", "nan",
}  # fmt: skip
PROMETHEUS_OWN = {"up"}

pytestmark = pytest.mark.django_db


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text):
        word = match.group(1)
        if word.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", word):
            names.add(word)
    return names


def exported(client) -> set[str]:
    """Every sample name /metrics can produce, from its TYPE lines."""
    text = client.get("/metrics").content.decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "counter":
                names.add(f"{name}_total")
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def dashboard_queries():
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                yield path.name, panel["title"], target["expr"]


def rule_queries():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]


def test_the_parser_finds_metric_names_only():
    expr = (
        "histogram_quantile(0.95, sum by (le, view) (rate(spt_http_request_duration_seconds"
        '_bucket{status=~"5.."}[5m]))) / clamp_min(sum(rate(spt_x_total[5m])), 1e-9) > 0.05'
    )
    assert metric_names(expr) == {"spt_http_request_duration_seconds_bucket", "spt_x_total"}
    assert metric_names('up{job="spt-portal"} == 0') == {"up"}


def test_every_dashboard_and_provisioning_file_loads():
    assert {p.name for p in DASHBOARDS} >= {
        "itsm-incidents.json",
        "sla.json",
        "ticket-flow.json",
        "aws-sync.json",
        "jobs.json",
    }
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))
    itsm = json.loads((ROOT / "deploy/grafana/dashboards/itsm-incidents.json").read_text())
    assert itsm["title"] == "ITSM Incident Monitoring Dashboard"
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = source["datasources"][0]["uid"]
    for name, title, _expr in dashboard_queries():
        assert title, name
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/spt-portal.yml").read_text()
    )
    assert provider["providers"][0]["type"] == "file"
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert scrape["rule_files"] == ["spt-portal-rules.yml"]
    assert scrape["scrape_configs"][0]["metrics_path"] == "/metrics"


def test_every_query_names_a_metric_the_portal_exports(client):
    names = exported(client) | PROMETHEUS_OWN
    queries = [(f"{board}: {title}", expr) for board, title, expr in dashboard_queries()]
    queries += [(f"rule {alert}", expr) for alert, expr in rule_queries()]
    assert len(queries) > 30
    for where, expr in queries:
        found = metric_names(expr)
        assert found, f"{where}: no metric in {expr!r}"
        missing = found - names
        assert not missing, f"{where}: {sorted(missing)} not exported"


def test_rules_have_severities_the_portal_understands():
    from incidents.models import AlertLevel

    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in AlertLevel.values, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


def test_the_compose_monitoring_profile_mounts_these_files():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_dir(), volume
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["web:8000"]

"""A real Prometheus (Debian's package) scrapes the portal: it loads the alert rules,
reads /metrics, and every Grafana dashboard query returns data on the seeded demo."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from tests.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
pytestmark = [
    pytest.mark.skipif(not PROMETHEUS, reason="prometheus is not installed"),
    pytest.mark.django_db(transaction=True),
]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _query(base: str, expr: str) -> list:
    body = _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert body["status"] == "success", body
    return body["data"]["result"]


def _demo_data():
    """seed_demo, plus what a demo without AWS or history cannot have: a ticket past its
    SLA (a breach raised), AWS sync runs, and a published postmortem."""
    from aws_integrations.models import SyncRun
    from incidents import services as incidents
    from incidents.models import Level
    from postmortems import services as postmortems
    from spt_portal.models import Customer, CustomerAWSAccount, User
    from tickets.models import Ticket
    from tickets.services import ticket_create
    from tickets.sla import scan_sla

    call_command("seed_demo")
    customer = Customer.objects.get(short_code="ACME")
    contact = User.objects.filter(customer=customer).first()
    engineer = User.objects.get(email="engineer@partner.example")
    manager = User.objects.get(email="manager@partner.example")
    ticket = ticket_create(
        customer=customer, requester=contact, title="控制台无法登录", priority="high",
        actor=contact,
    )  # fmt: skip
    past = timezone.now() - timedelta(hours=1)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due_at=past, first_response_at_risk_at=past - timedelta(minutes=10)
    )
    assert scan_sla()["breached"] >= 1
    account = CustomerAWSAccount.objects.filter(customer=customer).first()
    for kind in (SyncRun.Kind.SUPPORT_POLL, SyncRun.Kind.HEALTH_POLL):
        run = SyncRun.objects.create(kind=kind, account=account, outcome=SyncRun.Outcome.OK)
        SyncRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    incident = incidents.incident_create(title="网关超时", level=Level.P1, actor=engineer)
    incidents.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    incidents.incident_change_status(incident=incident, status="recovered", actor=engineer)
    postmortem, _ = postmortems.postmortem_create(incident=incident, actor=engineer)
    postmortems.postmortem_update(postmortem=postmortem, actor=engineer, root_cause="超时配置")
    for status, actor in (("in_review", engineer), ("approved", manager), ("published", engineer)):
        postmortems.postmortem_transition(postmortem=postmortem, status=status, actor=actor)


def dashboard_targets():
    for path in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                yield f"{path.name}: {panel['title']}", target["expr"]


def test_prometheus_scrapes_the_portal_and_every_panel_has_data(live_server, tmp_path):
    _demo_data()
    rules = ROOT / "deploy/prometheus/spt-portal-rules.yml"
    if PROMTOOL:
        check = subprocess.run(
            [PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    target = live_server.url.removeprefix("http://")
    config = {
        # Two seconds to answer: on a loaded CI machine /metrics on SQLite once took more
        # than one, and a failed scrape marks every series stale (the panels go empty).
        "global": {"scrape_interval": "2s", "scrape_timeout": "2s",
                   "evaluation_interval": "2s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": "spt-portal", "metrics_path": "/metrics",
             "static_configs": [{"targets": [target]}]}
        ],
    }  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        samples = 0
        while time.monotonic() < deadline:
            try:
                samples = len(_query(base, 'count_over_time(up{job="spt-portal"}[1m]) >= 4'))
                up = _query(base, 'up{job="spt-portal"}')
            except OSError:
                samples, up = 0, []
            if samples and up and up[0]["value"][1] == "1":  # the last scrape too
                break
            time.sleep(0.5)
        assert samples, "Prometheus never scraped the portal four times"
        assert _query(base, 'up{job="spt-portal"}')[0]["value"][1] == "1"

        empty = []
        for where, expr in dashboard_targets():
            if not _query(base, expr):
                empty.append(f"{where}: {expr}")
        assert not empty, "queries without data:\n" + "\n".join(empty)

        groups = _get(f"{base}/api/v1/rules")["data"]["groups"]
        loaded = {rule["name"]: rule["health"] for g in groups for rule in g["rules"]}
        assert {"AWSSupportSyncStale", "HighErrorRate", "OnCallGap"} <= set(loaded)
        assert set(loaded.values()) == {"ok"}, loaded
    finally:
        stop(server)

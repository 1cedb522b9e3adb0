"""Writes the Grafana dashboards in deploy/grafana/dashboards/ (edit here, then run
`python deploy/grafana/build_dashboards.py`; tests/spt_portal/test_dashboards.py checks
that every query names a metric the portal exports)."""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "spt-prometheus"}


def panel(pid, title, kind, targets, x, y, w=12, h=8, unit=None, extra=None):
    p = {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend, "datasource": DS}
            | ({"format": "table", "instant": True} if kind == "table" else {})
            for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []},
        "options": {},
    }
    if extra:
        p.update(extra)
    return p


def dashboard(uid, title, panels, description):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["spt-portal"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


boards = {
    "itsm-incidents.json": dashboard(
        "spt-itsm-incidents",
        "ITSM Incident Monitoring Dashboard",
        [
            panel(
                1,
                "Incident Count by Status",
                "stat",
                [("sum by (status) (spt_incidents_open)", "{{status}}")],
                0,
                0,
                w=12,
                h=6,
            ),
            panel(
                2,
                "Open incidents by level",
                "bargauge",
                [("sum by (level) (spt_incidents_open)", "{{level}}")],
                12,
                0,
                w=12,
                h=6,
            ),
            panel(
                3,
                "Incident Resolution Time (MTTR, last 30 days)",
                "timeseries",
                [("spt_incident_mttr_seconds", "{{level}}")],
                0,
                6,
                unit="s",
            ),
            panel(
                4,
                "Acknowledgement and detection time (last 30 days)",
                "timeseries",
                [
                    ("spt_incident_mtta_seconds", "MTTA {{level}}"),
                    ("spt_incident_mttd_seconds", "MTTD {{level}}"),
                ],
                12,
                6,
                unit="s",
            ),
            panel(
                5,
                "Critical Incidents (open P0/P1)",
                "table",
                [("spt_incident_critical_open_seconds", "")],
                0,
                14,
                w=24,
                h=8,
                unit="s",
            ),
            panel(
                6,
                "Firing alerts by level",
                "timeseries",
                [('sum by (level) (spt_alerts_open{status="firing"})', "{{level}}")],
                0,
                22,
            ),
            panel(
                7,
                "Pages waiting for an acknowledgement",
                "stat",
                [("spt_incident_pages_unacknowledged", "pages")],
                12,
                22,
                w=6,
            ),
            panel(
                8,
                "Postmortem completion (90 days)",
                "gauge",
                [("spt_postmortem_completion_ratio", "completion")],
                18,
                22,
                w=6,
                unit="percentunit",
            ),
            panel(
                9,
                "Action items open / overdue",
                "timeseries",
                [("spt_action_items_open", "open"), ("spt_action_items_overdue", "overdue")],
                12,
                30,
            ),
            panel(
                10,
                "Time to publish a postmortem (mean, 90 days)",
                "stat",
                [("spt_postmortem_time_to_publish_seconds", "mean")],
                0,
                30,
                unit="s",
            ),
        ],
        "Seed 002's incident dashboard: incidents by status and level, resolution time, "
        "the open critical incidents; alerts, pages and postmortems.",
    ),
    "sla.json": dashboard(
        "spt-sla",
        "SPT Portal: SLA",
        [
            panel(
                1,
                "Working tickets breaching / at risk",
                "timeseries",
                [
                    ('spt_tickets_sla{state="breaching"}', "breaching"),
                    ('spt_tickets_sla{state="at_risk"}', "at risk"),
                ],
                0,
                0,
            ),
            panel(
                2,
                "SLA breaches raised per hour",
                "timeseries",
                [("sum by (clock) (increase(spt_sla_breaches_total[1h]))", "{{clock}}")],
                12,
                0,
            ),
            panel(
                3,
                "Open tickets by priority",
                "bargauge",
                [("sum by (priority) (spt_tickets_open)", "{{priority}}")],
                0,
                8,
            ),
            panel(
                4,
                "Primary on-call covered now / gap hours next 14 days",
                "stat",
                [
                    ("spt_oncall_primary_covered", "covered"),
                    ("spt_oncall_gap_hours_next_14d", "gap hours"),
                ],
                12,
                8,
            ),
        ],
        "SPT-001/002: tickets against their SLA deadlines and on-call coverage.",
    ),
    "ticket-flow.json": dashboard(
        "spt-ticket-flow",
        "SPT Portal: ticket flow",
        [
            panel(
                1,
                "Tickets created per hour by source",
                "timeseries",
                [("sum by (source) (increase(spt_tickets_created_total[1h]))", "{{source}}")],
                0,
                0,
            ),
            panel(
                2,
                "Open tickets by status",
                "timeseries",
                [("sum by (status) (spt_tickets_open)", "{{status}}")],
                12,
                0,
            ),
            panel(
                3,
                "Notifications per hour by channel and status",
                "timeseries",
                [
                    (
                        "sum by (channel, status) (increase(spt_notifications_total[1h]))",
                        "{{channel}} {{status}}",
                    )
                ],
                0,
                8,
            ),
            panel(
                4,
                "Requests per second by view (top 10)",
                "timeseries",
                [("topk(10, sum by (view) (rate(spt_http_requests_total[5m])))", "{{view}}")],
                12,
                8,
                unit="reqps",
            ),
            panel(
                5,
                "p95 latency by view",
                "timeseries",
                [
                    (
                        "histogram_quantile(0.95, sum by (le, view) "
                        "(rate(spt_http_request_duration_seconds_bucket[5m])))",
                        "{{view}}",
                    )
                ],
                0,
                16,
                unit="s",
            ),
            panel(
                6,
                "Server errors (5xx) per second",
                "timeseries",
                [('sum(rate(spt_http_requests_total{status=~"5.."}[5m])) or vector(0)', "5xx")],
                12,
                16,
                unit="reqps",
            ),
        ],
        "SPT-003: tickets in by web, email and API; notifications out; the portal's own traffic.",
    ),
    "aws-sync.json": dashboard(
        "spt-aws-sync",
        "SPT Portal: AWS sync health",
        [
            panel(
                1,
                "Support sync age per account",
                "timeseries",
                [("spt_aws_support_sync_age_seconds", "{{account}}")],
                0,
                0,
                unit="s",
            ),
            panel(
                2,
                "Health poll and queue freshness",
                "timeseries",
                [
                    ("spt_aws_health_last_poll_age_seconds", "last poll"),
                    ("spt_aws_health_last_message_age_seconds", "last queue message"),
                ],
                12,
                0,
                unit="s",
            ),
            panel(
                3,
                "Sync runs per hour by kind and outcome",
                "timeseries",
                [
                    (
                        "sum by (kind, outcome) (increase(spt_aws_sync_runs_total[1h]))",
                        "{{kind}} {{outcome}}",
                    )
                ],
                0,
                8,
                w=24,
            ),
        ],
        "SPT-005/006: AWS Support case sync and AWS Health freshness.",
    ),
    "jobs.json": dashboard(
        "spt-jobs",
        "SPT Portal: job queues",
        [
            panel(
                1,
                "Queued jobs by queue",
                "timeseries",
                [('sum by (queue) (rq_jobs{status="queued"})', "{{queue}}")],
                0,
                0,
            ),
            panel(
                2,
                "Failed jobs by queue",
                "timeseries",
                [('sum by (queue) (rq_jobs{status="failed"})', "{{queue}}")],
                12,
                0,
            ),
            panel(3, "Workers", "stat", [("count(rq_workers) or vector(0)", "workers")], 0, 8, w=6),
            panel(
                4,
                "Outbox (jobs waiting for Redis, or given up)",
                "timeseries",
                [("spt_outbox_jobs", "{{status}}")],
                6,
                8,
                w=18,
            ),
        ],
        "django-rq queues and the job outbox.",
    ),
}
for name, board in boards.items():
    (OUT / name).write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n")
print(f"{len(boards)} dashboards written to {OUT}")

"""The rows of `make bench`: what is measured, how, and its target (issue 13's table).

HTTP rows go through the real server with wrk; the rest are timed in-process against the
same database. Every row carries its ratio to the floor (a trivial view in the same
server): machines here are noisy, ratios hold where absolute times drift.
"""

import json
import time
from dataclasses import dataclass

from measure import check_status, count_queries, p95, session_cookie, timed, wrk
from seed import BIG_TICKET, ENGINEER_USER, PORTAL_USER


@dataclass
class Scenario:
    name: str
    what: str
    target: str

    def run(self, *, server, duration: int) -> dict:
        raise NotImplementedError

    def row(self, **fields) -> dict:
        return {"name": self.name, "what": self.what, "target": self.target, **fields}


class Floor(Scenario):
    def run(self, *, server, duration):
        check_status(f"{server.base}/readyz", {}, 200)
        data = wrk(f"{server.base}/readyz", {}, duration)
        FLOOR.update(p95=data["p95"], rps=data["rps"])
        return self.row(p95_ms=data["p95"], rps=data["rps"], met=None, ratio=1.0)


FLOOR: dict = {}


class Page(Scenario):
    """A page read by a signed-in user: p95 at 4 connections and its SQL queries."""

    def __init__(self, name, what, target, *, path, user, p95_ms, max_queries, compare=None):
        super().__init__(name, what, target)
        self.path, self.user = path, user
        self.p95_ms, self.max_queries, self.compare = p95_ms, max_queries, compare

    def run(self, *, server, duration):
        path = self.path() if callable(self.path) else self.path
        headers = {"Cookie": session_cookie(self.user)}
        check_status(f"{server.base}{path}", headers, 200)
        queries = count_queries(path, self.user)
        fields = {"queries": queries}
        met = queries <= self.max_queries if self.max_queries else True
        if self.compare:
            small = count_queries(self.compare(), self.user)
            fields["queries_small_ticket"] = small
            met = met and small == queries
        data = wrk(f"{server.base}{path}", headers, duration)
        met = met and data["p95"] <= self.p95_ms
        return self.row(
            p95_ms=data["p95"],
            rps=data["rps"],
            ratio=round(data["p95"] / FLOOR["p95"], 1),
            met=met,
            **fields,
        )


def _ticket_pk(number):
    from tickets.models import Ticket

    return Ticket.objects.values_list("pk", flat=True).get(number=number)


def _small_ticket_number():
    from django.db.models import Count

    from tickets.models import Ticket

    return (
        Ticket.objects.filter(customer__short_code="C000", requester__email=PORTAL_USER)
        .exclude(number=BIG_TICKET)
        .annotate(n=Count("comments"))
        .filter(n__lte=4)
        .values_list("number", flat=True)
        .first()
    )


class ApiCreate(Scenario):
    """POST /api/v1/tickets/ with a customer token: each ticket gets its SLA, a history
    row and a notification job (through the outbox to Redis)."""

    def run(self, *, server, duration):
        from spt_portal.models import User
        from spt_portal.tokens import api_token_create
        from tickets.models import Ticket

        _row, token = api_token_create(user=User.objects.get(email=PORTAL_USER))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"title": "bench ticket %d", "description": "x", "priority": "medium"})
        check_status(f"{server.base}/api/v1/tickets/", headers, 201, "POST", body % 0)
        before = Ticket.objects.count()
        env = {"WRK_METHOD": "POST", "WRK_BODY": body, "WRK_EXPECT": "201"}
        data = wrk(f"{server.base}/api/v1/tickets/", headers, duration, env=env)
        created = Ticket.objects.count() - before
        rate = created / (data["seconds"] + 3)  # the warm-up created tickets too
        return self.row(
            rps=round(data["rps"], 1),
            p95_ms=data["p95"],
            tickets_per_s=round(rate, 1),
            ratio=round(data["rps"] / FLOOR["rps"], 2),
            met=data["rps"] >= 250,
        )


class SlaScan(Scenario):
    def run(self, *, server, duration):
        from tickets.sla import scan_sla

        scan_sla()  # the first run raises whatever is due; then the steady state
        times = [t * 1000 for t in timed(scan_sla, 20)]
        value = p95(times)
        return self.row(
            p95_ms=round(value, 1),
            ratio=round(value / FLOOR["p95"], 1),
            met=value <= 50,
        )


class AlertmanagerWebhook(Scenario):
    """Payloads of 50 alerts, half of them seen before: stored and processed in-process
    (what the hook and its job do), alerts per second."""

    def run(self, *, server, duration):
        from incidents.alerts import integration_create, payload_receive, process_payload
        from incidents.models import AlertIntegration

        integration = AlertIntegration.objects.filter(name="bench-webhook").first()
        if integration is None:
            integration, _token = integration_create(name="bench-webhook", kind="alertmanager")
        run_id = int(time.time())

        def body(n):
            alerts = []
            for i in range(50):
                key = f"{n}-{i}" if i % 2 else f"seen-{i}"  # the even half repeat
                alerts.append(
                    {
                        "status": "firing",
                        "labels": {
                            "alertname": "BenchHighLatency",
                            "service": f"svc-{i % 10}",
                            "severity": "warning",
                            "key": f"{run_id}-{key}",
                        },
                        "annotations": {"summary": "p95 latency above 500 ms"},
                        "startsAt": "2026-12-01T02:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                )
            return {
                "version": "4",
                "status": "firing",
                "receiver": "spt",
                "groupKey": '{}:{alertname="BenchHighLatency"}',
                "groupLabels": {"alertname": "BenchHighLatency"},
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://alertmanager:9093",
                "alerts": alerts,
            }

        payloads = 40
        started = time.perf_counter()
        for n in range(payloads):
            stored = payload_receive(integration=integration, body=body(n))
            process_payload(stored.pk)
        elapsed = time.perf_counter() - started
        rate = payloads * 50 / elapsed
        return self.row(
            alerts_per_s=round(rate, 1),
            ratio=round(rate / FLOOR["rps"], 2),
            met=rate >= 2000,
        )


class Pending(Scenario):
    """A row of the target table not measured yet (said so in the report)."""

    def run(self, *, server, duration):
        return self.row(met=None, note="not measured yet")


def memory_row(rss: list[float]) -> dict:
    worst = max(rss) if rss else None
    return {
        "name": "memory",
        "what": "gunicorn worker RSS after the run",
        "target": "≤ 250 MB each",
        "rss_mb": rss,
        "met": worst is not None and worst <= 250,
    }


ALL = [
    Floor("floor", "trivial view (/readyz), the floor", "—"),
    Page(
        "engineer_queue",
        "engineer queue: admin changelist, default filters, 100 rows",
        "p95 ≤ 150 ms, ≤ 12 queries",
        path="/admin/tickets/ticket/",
        user=ENGINEER_USER,
        p95_ms=150,
        max_queries=12,
    ),
    Page(
        "portal_list",
        "customer portal ticket list, 25 rows",
        "p95 ≤ 60 ms, ≤ 8 queries",
        path="/portal/",
        user=PORTAL_USER,
        p95_ms=60,
        max_queries=8,
    ),
    Page(
        "ticket_admin",
        "ticket page with 50 comments (admin)",
        "p95 ≤ 60 ms, queries constant in comments",
        path=lambda: f"/admin/tickets/ticket/{_ticket_pk(BIG_TICKET)}/change/",
        user=ENGINEER_USER,
        p95_ms=60,
        max_queries=0,
        compare=lambda: f"/admin/tickets/ticket/{_ticket_pk(_small_ticket_number())}/change/",
    ),
    Page(
        "ticket_portal",
        "ticket page with 50 comments (portal)",
        "p95 ≤ 60 ms, queries constant in comments",
        path=f"/portal/tickets/{BIG_TICKET}/",
        user=PORTAL_USER,
        p95_ms=60,
        max_queries=0,
        compare=lambda: f"/portal/tickets/{_small_ticket_number()}/",
    ),
    ApiCreate("api_create", "POST /api/v1/tickets/", "≥ 250 tickets/s"),
    AlertmanagerWebhook(
        "alertmanager",
        "Alertmanager webhook, 50 alerts per payload, half repeats",
        "≥ 2,000 alerts/s",
    ),  # fmt: skip
    SlaScan("sla_scan", "SLA breach scan over 100,000 tickets", "≤ 50 ms per run"),
    Pending(
        "support_poll",
        "Support poll, 200 accounts × 20 active cases (stubbed AWS)",
        "≤ 20 s; 0 writes on a rerun",
    ),  # fmt: skip
    Pending("health_sqs", "Health SQS consumer", "≥ 200 events/s"),
    Pending("email_webhook", "email webhook (signed SNS, 30 KB message)", "≥ 100 messages/s"),
]


def _result(row: dict) -> str:
    if row.get("note"):
        return row["note"]
    parts = []
    if "p95_ms" in row and row["name"] != "api_create":
        parts.append(f"p95 {row['p95_ms']:.1f} ms")
    if row["name"] in ("floor", "api_create"):
        parts.append(f"{row['rps']:,.0f} req/s")
    if "alerts_per_s" in row:
        parts.append(f"{row['alerts_per_s']:,.0f} alerts/s")
    if "queries" in row:
        extra = (
            f" (3-comment ticket: {row['queries_small_ticket']})"
            if "queries_small_ticket" in row
            else ""
        )
        parts.append(f"{row['queries']} queries{extra}")
    if "rss_mb" in row:
        parts.append(" / ".join(f"{mb:.0f} MB" for mb in row["rss_mb"]))
    return ", ".join(parts)


def report(rows: list[dict]) -> str:
    lines = [
        "| what | result | target | met | × floor |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "—"}[row.get("met")]
        ratio = row.get("ratio")
        lines.append(
            f"| {row['what']} | {_result(row)} | {row['target']} | {met} | "
            f"{'' if ratio is None else ratio} |"
        )
    return "\n".join(lines)

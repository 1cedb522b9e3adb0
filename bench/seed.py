"""Bulk seed of the benchmark database: 100 customers (3 contacts each), 60 engineers,
100,000 tickets with ~6 comments and ~3 history rows each, 20,000 alerts and 2,000
incidents. Rows go in with bulk_create in batches (no signals, no jobs); progress is
printed. Deterministic (a fixed random seed), so runs compare.

Run through bench/run.py (which points Django at the benchmark database first).
"""

import random
import time
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

CUSTOMERS = 100
CONTACTS_PER_CUSTOMER = 3
ENGINEERS = 60
TICKETS = 100_000
COMMENTS_PER_TICKET = 6  # on average (3-9)
ALERTS = 20_000
INCIDENTS = 2_000
BATCH = 5_000
BENCH_PASSWORD = "bench-pass-2026"
# The customer contact the portal rows sign in as, and their 50-comment ticket.
PORTAL_USER = "contact0@c000.bench"
ENGINEER_USER = "engineer0@partner.bench"
BIG_TICKET = "TKT-000001"  # the first ticket; numbers follow ids as in ticket_create


def _progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.monotonic() - started, 1e-6)
    print(f"  {label}: {done:,}/{total:,} ({rate:,.0f}/s)", flush=True)


def _bulk(model, rows, label: str, total: int) -> None:
    started = time.monotonic()
    batch, done = [], 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            model.objects.bulk_create(batch, batch_size=BATCH)
            done += len(batch)
            batch = []
            if done % (BATCH * 10) == 0:
                _progress(label, done, total, started)
    if batch:
        model.objects.bulk_create(batch, batch_size=BATCH)
        done += len(batch)
    if done % (BATCH * 10):
        _progress(label, done, total, started)


def is_seeded() -> bool:
    from tickets.models import Ticket

    return Ticket.objects.filter(number=BIG_TICKET).exists()


@transaction.atomic
def seed() -> dict:
    from incidents.models import (
        Alert,
        AlertIntegration,
        Incident,
        IncidentTimelineEntry,
        IntegrationKind,
    )
    from sla.services import current_policy
    from spt_portal.models import Customer, User
    from spt_portal.roles import Role, sync_roles
    from tickets.models import Comment, Ticket, TicketEvent

    rng = random.Random(20261202)
    now = timezone.now()
    started = time.monotonic()
    sync_roles()
    password = make_password(BENCH_PASSWORD)  # hashed once, shared: 360 hashes take minutes

    print("customers and people", flush=True)
    Customer.objects.bulk_create(
        Customer(name=f"Bench customer {i:03d}", short_code=f"C{i:03d}") for i in range(CUSTOMERS)
    )
    customers = list(Customer.objects.order_by("short_code"))
    User.objects.bulk_create(
        [
            User(
                email=f"contact{j}@c{i:03d}.bench",
                full_name=f"Contact {j} of C{i:03d}",
                customer=customer,
                password=password,
                preferred_language="zh-hans",
            )
            for i, customer in enumerate(customers)
            for j in range(CONTACTS_PER_CUSTOMER)
        ]
        + [
            User(
                email=f"engineer{k}@partner.bench",
                full_name=f"Engineer {k}",
                is_staff=True,
                password=password,
                preferred_language="zh-hans",
            )
            for k in range(ENGINEERS)
        ]
    )
    contacts = list(User.objects.filter(customer__isnull=False).order_by("id"))
    engineers = list(User.objects.filter(email__endswith="@partner.bench").order_by("id"))
    Group.objects.get(name=Role.CUSTOMER).user_set.add(*contacts)
    Group.objects.get(name=Role.ENGINEER).user_set.add(*engineers)
    by_customer: dict[int, list] = {}
    for contact in contacts:
        by_customer.setdefault(contact.customer_id, []).append(contact)

    policy = current_policy()
    statuses = ["new"] * 10 + ["in_progress"] * 10 + ["waiting_customer"] * 5
    statuses += ["resolved"] * 15 + ["closed"] * 60
    priorities = ["critical"] * 5 + ["high"] * 20 + ["medium"] * 50 + ["low"] * 25
    sources = ["web"] * 50 + ["email"] * 30 + ["api"] * 15 + ["aws_health"] * 5
    hours = {"critical": 4, "high": 8, "medium": 24, "low": 72}

    def tickets():
        for n in range(TICKETS):
            customer = customers[0] if n == 0 else rng.choice(customers)
            requester = (
                by_customer[customer.pk][0] if n == 0 else rng.choice(by_customer[customer.pk])
            )
            status = "in_progress" if n == 0 else rng.choice(statuses)
            priority = rng.choice(priorities)
            created = now - timedelta(minutes=rng.randint(10, 365 * 24 * 60))
            done = status in ("resolved", "closed")
            yield Ticket(
                number=None,  # set from the id below, as ticket_create does
                customer=customer,
                requester=requester,
                title=f"{'云服务器无法连接' if n % 2 else 'RDS connection timeouts'} #{n}",
                description="客户反馈的问题描述。" * 8,
                priority=priority,
                status=status,
                source=rng.choice(sources),
                assignee=rng.choice(engineers) if n % 7 else None,
                created_at=created,
                sla_policy=policy,
                first_response_due_at=created + timedelta(hours=hours[priority] / 4),
                resolution_due_at=created + timedelta(hours=hours[priority]),
                first_response_at_risk_at=created + timedelta(hours=hours[priority] / 5),
                resolution_at_risk_at=created + timedelta(hours=hours[priority] * 0.8),
                first_responded_at=created + timedelta(minutes=20) if done or n % 3 else None,
                resolved_at=created + timedelta(hours=hours[priority] / 2) if done else None,
                closed_at=created + timedelta(days=7) if status == "closed" else None,
            )

    print("tickets", flush=True)
    _bulk(Ticket, tickets(), "tickets", TICKETS)
    with connection.cursor() as cursor:
        # Numbers follow ids (TKT-000042), as ticket_create makes them, so tickets created
        # later by the benchmark never collide; updated_at (auto_now) is spread like use.
        cursor.execute(
            "UPDATE tickets_ticket SET number = 'TKT-' || lpad(id::text, 6, '0'),"
            " updated_at = created_at + interval '3 hours'"
        )
    with connection.cursor() as cursor:
        # The SLA scan runs every minute in production: the warnings, breaches and
        # escalations of deadlines already past exist, as they would.
        for clock, due, risk, open_statuses, extra in (
            (
                "response",
                "first_response_due_at",
                "first_response_at_risk_at",
                "('new', 'in_progress', 'waiting_customer')",
                "AND first_responded_at IS NULL",
            ),
            (
                "resolution",
                "resolution_due_at",
                "resolution_at_risk_at",
                "('new', 'in_progress')",
                "",
            ),
        ):
            cursor.execute(
                f"""
                INSERT INTO tickets_ticketslaalert (ticket_id, clock, kind, due_at, created_at)
                SELECT t.id, %s, k.kind, t.{due}, now()
                FROM tickets_ticket t
                CROSS JOIN (VALUES ('at_risk'), ('breached'), ('escalated')) AS k(kind)
                WHERE t.status IN {open_statuses} {extra}
                  AND (t.{due} <= now() OR (k.kind = 'at_risk' AND t.{risk} <= now()))
                """,  # noqa: S608 - fixed names, no input
                [clock],
            )
            # ... and the scan marked those deadlines escalated (tickets.models.SCAN_*).
            cursor.execute(
                f"""
                UPDATE tickets_ticket t SET {due.removesuffix("_due_at")}_escalated_for = t.{due}
                FROM tickets_ticketslaalert a
                WHERE a.ticket_id = t.id AND a.clock = %s AND a.kind = 'escalated'
                  AND a.due_at = t.{due}
                """,  # noqa: S608 - fixed names, no input
                [clock],
            )
    ticket_rows = list(
        Ticket.objects.order_by("id").values_list("id", "number", "requester_id", "assignee_id")
    )

    def comments():
        for ticket_id, number, requester_id, assignee_id in ticket_rows:
            count = 50 if number == BIG_TICKET else rng.randint(3, 9)
            for c in range(count):
                internal = c % 4 == 3
                yield Comment(
                    ticket_id=ticket_id,
                    author_id=(assignee_id or engineers[0].pk) if c % 2 else requester_id,
                    body=f"回复 {c}：请检查安全组和路由表的配置。" * 6,
                    visibility="internal" if internal else "public",
                    source="admin" if c % 2 else "web",
                )

    print("comments", flush=True)
    _bulk(Comment, comments(), "comments", TICKETS * COMMENTS_PER_TICKET)

    def events():
        for ticket_id, _number, requester_id, assignee_id in ticket_rows:
            yield TicketEvent(ticket_id=ticket_id, actor_id=requester_id, kind="created")
            yield TicketEvent(
                ticket_id=ticket_id,
                actor_id=assignee_id,
                kind="status",
                old_value="new",
                new_value="in_progress",
            )
            yield TicketEvent(ticket_id=ticket_id, actor_id=assignee_id, kind="assigned")

    print("ticket history", flush=True)
    _bulk(TicketEvent, events(), "history rows", TICKETS * 3)

    print("incidents and alerts", flush=True)
    integration, _ = AlertIntegration.objects.get_or_create(
        name="bench-alertmanager", defaults={"kind": IntegrationKind.ALERTMANAGER}
    )
    levels = ["P0"] * 2 + ["P1"] * 18 + ["P2"] * 40 + ["P3"] * 40

    def incidents():
        for n in range(INCIDENTS):
            detected = now - timedelta(minutes=rng.randint(60, 365 * 24 * 60))
            closed = n >= 20
            yield Incident(
                number=None,  # from the id below, as incident_create does
                title=f"Bench incident {n}",
                level=rng.choice(levels),
                status="closed" if closed else "in_progress",
                service=f"svc-{n % 40}",
                detected_at=detected,
                acknowledged_at=detected + timedelta(minutes=4),
                recovered_at=detected + timedelta(hours=1) if closed else None,
                closed_at=detected + timedelta(days=2) if closed else None,
                respond_due_at=detected + timedelta(minutes=15),
                resolve_due_at=detected + timedelta(hours=4),
            )

    _bulk(Incident, incidents(), "incidents", INCIDENTS)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_incident SET number = 'INC-' || lpad(id::text, 6, '0')")
    incident_ids = list(Incident.objects.order_by("id").values_list("id", "detected_at"))
    _bulk(
        IncidentTimelineEntry,
        (
            IncidentTimelineEntry(incident_id=pk, kind=kind, text=f"{kind} (bench)", at=at)
            for pk, at in incident_ids
            for kind in ("created", "status", "role", "note")
        ),
        "timeline entries",
        INCIDENTS * 4,
    )

    def alerts():
        for n in range(ALERTS):
            incident_id, detected = incident_ids[n % INCIDENTS]
            linked = n % 2 == 0
            yield Alert(
                integration=integration,
                source="alertmanager",
                fingerprint=f"{n:016x}",
                dedupe_key=f"bench:{n}",
                title=f"HighCPU svc-{n % 40}",
                level=["critical", "warning", "major"][n % 3],
                status="linked" if linked else "resolved",
                service=f"svc-{n % 40}",
                labels={"alertname": "HighCPU", "service": f"svc-{n % 40}", "n": str(n)},
                starts_at=detected - timedelta(minutes=2),
                last_received_at=detected,
                resolved_at=None if linked else detected + timedelta(minutes=30),
                incident_id=incident_id if linked else None,
            )

    _bulk(Alert, alerts(), "alerts", ALERTS)
    assert Ticket.objects.get(number=BIG_TICKET).comments.count() == 50
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    elapsed = time.monotonic() - started
    print(f"seeded in {elapsed:.0f}s", flush=True)
    return {"seconds": round(elapsed, 1)}


AWS_ACCOUNTS_PER_CUSTOMER = 2


def ensure_aws_accounts() -> list:
    """Two AWS accounts per customer (200), Support sync and Health on: the Support poll
    and Health rows use them. Added to an already seeded database too."""
    from spt_portal.models import Customer, CustomerAWSAccount

    if not CustomerAWSAccount.objects.filter(account_id__startswith="5000").exists():
        CustomerAWSAccount.objects.bulk_create(
            CustomerAWSAccount(
                customer=customer,
                account_id=f"5000{i:04d}{j:04d}",
                partition="aws",
                role_arn=f"arn:aws:iam::5000{i:04d}{j:04d}:role/SPTPortalAccess",
                support_plan="business",
            )
            for i, customer in enumerate(Customer.objects.order_by("short_code"))
            for j in range(AWS_ACCOUNTS_PER_CUSTOMER)
        )
    return list(CustomerAWSAccount.objects.filter(account_id__startswith="5000").order_by("id"))

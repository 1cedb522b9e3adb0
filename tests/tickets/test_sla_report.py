"""The attainment report under pauses and priority changes, with frozen time."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tickets import services
from tickets.models import Status, Ticket
from tickets.reports import sla_report

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=ZoneInfo("UTC"))


def at(minutes):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def new(customer, requester, priority="medium", minutes=0, title="t"):
    with at(minutes):
        return services.ticket_create(
            customer=customer, requester=requester, title=title, priority=priority, actor=requester
        )


@pytest.fixture
def history(acme, globex, acme_user, globex_user, engineer):
    """Four tickets with known outcomes (medium: 4 h response, 24 h resolution)."""
    # 1: answered in 30 min, resolved in 2 h: met / met
    a = new(acme, acme_user, title="a")
    with at(30):
        services.comment_add(ticket=a, author=engineer, body="hi")
    with at(120):
        services.ticket_change_status(ticket=a, status=Status.RESOLVED, actor=engineer)
    # 2: answered after 5 h (late); waited 30 h for the customer; resolved at 40 h: the pause
    #    moved the 24 h deadline to 54 h, so the resolution met it.
    b = new(acme, acme_user, title="b")
    with at(300):
        services.comment_add(ticket=b, author=engineer, body="need logs")
        services.ticket_change_status(ticket=b, status=Status.WAITING_CUSTOMER, actor=engineer)
    with at(300 + 30 * 60):
        services.comment_add(ticket=b, author=acme_user, body="logs")
    with at(40 * 60):
        services.ticket_change_status(ticket=b, status=Status.RESOLVED, actor=engineer)
    # 3: raised to critical after 10 minutes (15 min / 4 h from creation), answered at 20
    #    minutes: the response is late against the new target.
    c = new(globex, globex_user, title="c")
    with at(10):
        services.ticket_change_priority(ticket=c, priority="critical", actor=engineer)
    with at(20):
        services.comment_add(ticket=c, author=engineer, body="hi")
    # 4: a low ticket (24 h / 72 h) opened at 30 h: still pending at the report time.
    new(globex, globex_user, priority="low", title="d", minutes=30 * 60)
    return a, b, c


def test_report_counts_under_pauses_and_priority_changes(history):
    with at(60 * 41):
        report = sla_report(
            tickets=Ticket.objects.all(), start=T0 - timedelta(days=1), end=T0 + timedelta(days=2)
        )
    total = report.total
    assert total.tickets == 4
    assert (total.response.met, total.response.breached, total.response.pending) == (1, 2, 1)
    assert (total.resolution.met, total.resolution.breached, total.resolution.pending) == (2, 1, 1)
    assert total.response.attainment == pytest.approx(33.3)
    # Response times: 30, 300, 20 minutes -> mean 116.7, p90 300.
    assert total.response.mean_minutes == pytest.approx(116.7)
    assert total.response.p90_minutes == 300
    # Resolution times exclude the 30 h pause: a: 120 min, b: 40 h - 30 h = 600 min.
    assert sorted(total.resolution.minutes) == [120, 600]
    critical = next(r for r in report.by_priority if r.label == "Critical")
    assert critical.tickets == 1 and critical.response.breached == 1
    reasons = {(b.number, b.clock): b.reason for b in report.breaches}
    c_number = Ticket.objects.get(title="c").number
    assert reasons[(c_number, "response")] == "First response 5 minutes late"
    # c's 4 h critical resolution target passed without a resolution.
    assert reasons[(c_number, "resolution")].startswith("Not resolved yet")
    customers = {r.label: r.tickets for r in report.by_customer}
    assert customers == {"Acme": 2, "Globex": 2}


def test_waiting_ticket_is_pending_not_breached(acme, acme_user, engineer):
    t = new(acme, acme_user)
    with at(10):
        services.comment_add(ticket=t, author=engineer, body="?")
        services.ticket_change_status(ticket=t, status=Status.WAITING_CUSTOMER, actor=engineer)
    with at(60 * 48):
        report = sla_report(tickets=Ticket.objects.all(), start=T0, end=T0 + timedelta(days=3))
    assert report.total.resolution.pending == 1 and report.total.resolution.breached == 0


def test_sla_page_customer_sees_own_figures(login, history, acme_user, globex_user):
    with at(60 * 41):
        page = login(acme_user).get("/sla/").content.decode()
    assert "Production completely down" in page
    assert "15 minutes" in page and "72 hours" in page
    # Acme has 2 tickets in the period; the whole portal has 4.
    assert 'data-testid="attainment"' in page
    assert "Full report" not in page
    with at(60 * 41):
        zh = login(globex_user).get("/sla/", headers={"Accept-Language": "zh-hans"})
    assert zh.status_code == 200


def test_report_page_and_csv_for_managers_and_auditors(
    login, history, manager, auditor, engineer, acme_user
):
    with at(60 * 41):
        assert login(acme_user).get("/sla/report/").status_code == 403
        assert login(engineer).get("/sla/report/").status_code == 403
        # without a period: the last 30 days
        default = login(auditor).get("/sla/report/")
        assert default.status_code == 200 and 'data-testid="report"' in default.content.decode()
        assert login(auditor).get("/sla/report.csv").status_code == 200
        page = login(auditor).get("/sla/report/?start=2026-03-01&end=2026-03-04")
        assert page.status_code == 200
        assert "First response 5 minutes late" in page.content.decode()
        response = login(manager).get("/sla/report.csv?start=2026-03-01&end=2026-03-04")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Group"
    total = rows[1]
    assert total[1] == "All tickets" and total[2] == "4"
    assert any("First response 5 minutes late" in row for row in rows)


def test_bad_period_is_a_form_error(login, manager):
    page = login(manager).get("/sla/report/?start=2026-03-05&end=2026-03-01")
    assert page.status_code == 200
    assert "The period must start before it ends." in page.content.decode()
    assert login(manager).get("/sla/report.csv?start=nonsense").status_code == 400


def test_audit_pages_show_live_sla_evidence(login, auditor, acme, acme_user):
    new_page = login(auditor).get("/audit/SPT-001/").content.decode()
    assert "SLA policy in force" in new_page
    # No tickets yet: the attainment evidence is missing, and the page says so.
    assert "Missing when no ticket was opened" in new_page
    services.ticket_create(customer=acme, requester=acme_user, title="x", actor=acme_user)
    page = login(auditor).get("/audit/SPT-003/").content.decode()
    assert "Tickets created by Web portal, last 30 days" in page
    overview = login(auditor).get("/audit/").content.decode()
    assert "Some evidence is missing" in overview  # email and API made no tickets yet
    assert "SPT-002" in login(auditor).get("/audit/SPT-002/").content.decode()


def test_csv_cells_never_start_a_formula(login, manager, acme, acme_user):
    acme.name = '=HYPERLINK("http://evil.example","click")'
    acme.save(update_fields=["name"])
    new(acme, acme_user, minutes=0)
    with at(60 * 24 * 3):
        response = login(manager).get("/sla/report.csv?start=2026-03-01&end=2026-03-04")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    names = [row[1] for row in rows if row and row[0] == "Customer"]
    assert names == ['\'=HYPERLINK("http://evil.example","click")']
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)

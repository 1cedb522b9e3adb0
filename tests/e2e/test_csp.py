"""The Content Security Policy in a real browser: every page people use loads with no CSP
violation (no inline script or style without the nonce, nothing from another origin), and
the scripts that must run (Bootstrap, htmx, the admin's own) still run."""

import pytest
from django.core.management import call_command

from incidents import services as incident_services
from postmortems import services as postmortem_services
from spt_portal.models import User
from tests.e2e.helpers import sign_in
from tickets import services as ticket_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch(page):
    problems = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    return problems


def _visit(page, url, problems, visited):
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    assert response.status < 400, f"{url}: HTTP {response.status}"
    visited.append(url)
    return response


def test_pages_load_without_csp_violations(live_server, new_page, screenshot):
    call_command("seed_demo")
    base = live_server.url
    customer = User.objects.get(email="customer@acme.example")
    engineer = User.objects.get(email="engineer@partner.example")
    ticket = ticket_services.ticket_create(
        customer=customer.customer, requester=customer, title="CSP check", actor=customer
    )
    incident = incident_services.incident_create(title="CSP check", actor=engineer)
    for status in ("in_progress", "recovered"):
        incident_services.incident_change_status(incident=incident, status=status, actor=engineer)
    postmortem, _created = postmortem_services.postmortem_create(incident=incident, actor=engineer)

    page = new_page()
    problems = _watch(page)
    visited = []
    sign_in(page, base, "customer@acme.example")
    for path in (
        "/portal/",
        "/portal/tickets/new/",
        f"/portal/tickets/{ticket.number}/",
        "/portal/kb/",
        "/portal/organisation/",
        "/sla/",
        "/docs/",
        "/docs/SLA-POLICY/print/",
        "/support/contact",
    ):
        _visit(page, f"{base}{path}", problems, visited)
    # htmx runs under the policy: the KB suggestions answer while the customer types.
    _visit(page, f"{base}/portal/tickets/new/", problems, visited)
    assert page.evaluate("typeof htmx") == "object"
    # Bootstrap's JavaScript runs: the collapsed navigation opens on a narrow screen.
    page.set_viewport_size({"width": 500, "height": 800})
    page.locator(".navbar-toggler").click()
    page.locator("#mainnav.show").wait_for()
    screenshot(page, "csp-portal-narrow")

    staff = new_page()
    problems_staff = _watch(staff)
    sign_in(staff, base, "engineer@partner.example")
    paths = [
        "/admin/",
        "/admin/tickets/ticket/",
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        "/admin/tickets/ticket/add/",
        "/ops/alerts/",
        "/ops/incidents/",
        "/api/v1/docs",
    ]
    paths.append(incident.get_absolute_url())
    paths += [f"/ops/postmortems/{postmortem.pk}/", f"/ops/postmortems/{postmortem.pk}/print/"]
    for path in paths:
        _visit(staff, f"{base}{path}", problems_staff, visited)
    # The admin's own scripts run (the actions bar reacts to a row checkbox).
    _visit(staff, f"{base}/admin/tickets/ticket/", problems_staff, visited)
    staff.locator("input.action-select").first.check()
    assert "1" in staff.locator(".action-counter").inner_text()
    screenshot(staff, "csp-admin-queue")

    # Control: an injected inline script is refused, and the watcher sees the refusal.
    staff.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = 1'; document.body.appendChild(s); }"
    )
    staff.wait_for_timeout(200)
    assert staff.evaluate("window.injected") is None
    assert any("Content Security Policy" in text for text in problems_staff)
    problems_staff[:] = [
        t for t in problems_staff if "window.injected" not in t and "inline script" not in t
    ]

    assert problems == [], problems
    assert problems_staff == [], problems_staff
    assert len(visited) >= 15

"""The alert list and the incident board in a browser, in English and Simplified Chinese:
batch-open an incident from alerts, move it across the board, acknowledge a page link."""

import pytest
from django.core.management import call_command

from incidents.models import Alert, Incident, Page
from incidents.paging import ack_token
from spt_portal.models import User
from tests.e2e.helpers import LOCALES, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECT = {
    "en": {
        "alerts": "Alerts",
        "board": "Incident board",
        "create": "Create incident",
        "in_progress": "In progress",
        "ack": "Acknowledge",
    },
    "zh-hans": {
        "alerts": "告警",
        "board": "故障看板",
        "create": "创建故障",
        "in_progress": "处理中",
        "ack": "确认",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_alert_list_to_incident_to_board(live_server, new_page, screenshot, language):
    call_command("seed_demo")
    User.objects.update(preferred_language=language)
    text = EXPECT[language]
    base = live_server.url
    page = new_page(locale=LOCALES[language])
    page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
    sign_in(page, base, "engineer@partner.example")

    page.goto(f"{base}/ops/alerts/")
    assert page.locator("h1").inner_text() == text["alerts"]
    rows = page.get_by_test_id("alert-table").locator("tbody tr")
    assert rows.count() == 2  # the resolved demo alert is not in the open list
    screenshot(page, f"alerts-{language}")
    disk = Alert.objects.get(service="database")
    page.check(f"#alert-{disk.pk}")
    page.get_by_role("button", name=text["create"]).click()
    page.wait_for_load_state()
    incident = Incident.objects.get(alerts=disk)
    assert page.url.endswith(incident.get_absolute_url())
    assert incident.number in page.locator("h1").inner_text()
    assert "Disk usage above 85%" in page.get_by_test_id("linked-alerts").inner_text()
    screenshot(page, f"incident-{language}")

    page.goto(f"{base}/ops/incidents/")
    assert page.locator("h1").inner_text() == text["board"]
    card = page.locator(f'[data-status="pending"] [data-incident="{incident.number}"]')
    assert card.count() == 1
    card.get_by_role("button", name=f"→ {text['in_progress']}").click()
    page.wait_for_load_state()
    assert (
        page.locator(f'[data-status="in_progress"] [data-incident="{incident.number}"]').count()
        == 1
    )
    screenshot(page, f"board-{language}")


def test_acknowledge_link_on_a_phone(live_server, browser, screenshot):
    call_command("seed_demo")
    page_row = Page.objects.filter(status="active").order_by("id").first()
    token = ack_token(page_row, "engineer@partner.example")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.goto(f"{live_server.url}/pages/ack/{token}/")
    phone.get_by_test_id("ack-button").click()
    phone.wait_for_load_state()
    assert phone.get_by_test_id("ack-done").is_visible()
    screenshot(phone, "page-ack-phone-zh-hans")
    context.close()
    assert Incident.objects.get(pk=page_row.incident_id).status == "in_progress"


def test_incident_page_draws_prometheus_metrics(live_server, new_page, screenshot):
    from datetime import UTC, datetime
    from decimal import Decimal

    from incidents.models import IncidentMetric

    call_command("seed_demo")
    incident = Incident.objects.filter(level="P1").order_by("id").first()
    start = int(datetime(2026, 11, 30, 2, 0, tzinfo=UTC).timestamp())
    values = [12, 14, 35, 88, 97, 96, 60, 41, 18, 13]
    IncidentMetric.objects.create(
        incident=incident,
        metric_type="prometheus",
        metric_name="CPU usage (instance=server-01)",
        metric_value=Decimal("13"),
        unit="%",
        tags={"series": "s1", "query": "CPU usage"},
        metadata={"points": [[start + 60 * i, v] for i, v in enumerate(values)]},
    )
    page = new_page(locale=LOCALES["zh-hans"])
    sign_in(page, live_server.url, "engineer@partner.example")
    page.goto(f"{live_server.url}{incident.get_absolute_url()}")
    charts = page.get_by_test_id("metric-charts")
    assert charts.locator("svg polyline").count() == 1
    box = charts.locator("svg").bounding_box()
    assert box["width"] > 100 and box["height"] == 60
    assert "最高 97" in charts.inner_text()
    charts.scroll_into_view_if_needed()
    screenshot(page, "incident-metrics-zh-hans")

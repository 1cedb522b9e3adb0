"""SLA, on-call and report pages in a browser, in English and Simplified Chinese."""

import pytest
from django.core.management import call_command

from spt_portal.models import User
from tests.e2e.helpers import LOCALES, sign_in
from tickets import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECT = {
    "en": {
        "sla": "Priority levels and response times",
        "oncall": "On call now",
        "report": "SLA attainment report",
        "contact": "Contact support, 24x7",
    },
    "zh-hans": {
        "sla": "优先级与响应时间",
        "oncall": "当前值班",
        "report": "SLA 达成率报告",
        "contact": "联系支持（7×24 小时）",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_sla_oncall_and_report_pages(live_server, new_page, screenshot, language):
    call_command("seed_demo")
    User.objects.update(preferred_language=language)
    customer = User.objects.get(email="customer@acme.example")
    services.ticket_create(
        customer=customer.customer, requester=customer, title="demo", actor=customer
    )
    text = EXPECT[language]
    base = live_server.url

    page = new_page(locale=LOCALES[language])
    sign_in(page, base, "customer@acme.example")
    page.goto(f"{base}/sla/")
    assert text["sla"] in page.locator("body").inner_text()
    assert page.get_by_test_id("sla-levels").locator("tbody tr").count() == 4
    screenshot(page, f"sla-customer-{language}")
    page.goto(f"{base}/support/contact")
    body = page.locator("body").inner_text()
    assert text["contact"] in body and "Demo" in page.get_by_test_id("on-duty").inner_text()
    screenshot(page, f"contact-{language}")

    staff = new_page(locale=LOCALES[language])
    sign_in(staff, base, "engineer@partner.example")
    staff.goto(f"{base}/ops/oncall/")
    assert text["oncall"] in staff.locator("body").inner_text()
    assert "Demo" in staff.get_by_test_id("on-call-now").inner_text()
    screenshot(staff, f"oncall-{language}")

    manager = new_page(locale=LOCALES[language])
    sign_in(manager, base, "manager@partner.example")
    manager.goto(f"{base}/sla/report/")
    assert text["report"] in manager.locator("body").inner_text()
    assert "TKT-" not in manager.get_by_test_id("breaches").inner_text()  # nothing breached yet
    screenshot(manager, f"sla-report-{language}")

"""Document Center, knowledge base and audit pages in a browser, in both languages."""

import pytest
from django.core.management import call_command

from spt_portal.models import User
from tests.e2e.helpers import LOCALES, sign_in
from tickets.models import Article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {
        "policy": "Response-time SLA",
        "kb": "Knowledge base",
        "suggest": "These articles may already answer",
    },
    "zh-hans": {"policy": "响应时间 SLA", "kb": "知识库", "suggest": "以下文章可能已经解答"},
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_policy_kb_and_suggestions(live_server, new_page, screenshot, language):
    call_command("seed_demo")
    User.objects.update(preferred_language=language)
    Article.objects.create(
        title="RDS 自动备份设置 / RDS automated backups",
        body="开启自动备份。Turn on automated backups.",
        visibility="public",
        is_published=True,
    )
    base, text = live_server.url, TEXT[language]
    page = new_page(locale=LOCALES[language])
    sign_in(page, base, "customer@acme.example")

    page.goto(f"{base}/docs/SLA-POLICY/")
    assert text["policy"] in page.get_by_test_id("document").inner_text()
    page.get_by_test_id("toc").locator("a[href='#aws-support-cases']").click()
    assert page.url.endswith("#aws-support-cases")
    screenshot(page, f"docs-sla-policy-{language}")

    page.goto(f"{base}/portal/kb/?q=备份")
    assert "RDS" in page.get_by_test_id("kb-results").inner_text()
    screenshot(page, f"kb-{language}")

    page.goto(f"{base}/portal/tickets/new/")
    page.fill("input[name=title]", "RDS 备份失败")
    page.locator("input[name=title]").press("End")
    page.wait_for_selector("[data-testid=kb-suggestions]")
    assert text["suggest"] in page.get_by_test_id("kb-suggestions").inner_text()
    screenshot(page, f"ticket-form-suggestions-{language}")


def test_auditor_overview_and_pack_link(live_server, new_page, screenshot):
    call_command("seed_demo")
    page = new_page()
    sign_in(page, live_server.url, "auditor@partner.example")
    assert page.url.endswith("/audit/")
    body = page.locator("body").inner_text()
    for code in ("SPT-001", "SPT-006"):
        assert code in body
    assert page.locator("a[href='/audit/pack.zip']").count() == 1
    screenshot(page, "audit-overview")

"""A new user signs in as each demo role, in English and in Simplified Chinese."""

import pytest
from django.core.management import call_command

from spt_portal.models import User
from tests.e2e.helpers import LOCALES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = {
    # email: (landing path, landmark text en, landmark text zh-hans)
    "customer@acme.example": ("/portal/", "My tickets", "我的工单"),
    "engineer@partner.example": ("/admin/", "Jobs waiting in the outbox", "待发队列中的任务"),
    "manager@partner.example": ("/admin/", "Jobs waiting in the outbox", "待发队列中的任务"),
    "auditor@partner.example": (
        "/audit/",
        "AWS Support Practice evidence",
        "AWS Support Practice 审计证据",
    ),
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("email", list(ROLES))
def test_demo_role_signs_in(live_server, new_page, screenshot, email, language):
    call_command("seed_demo")
    User.objects.update(preferred_language=language)
    landing, landmark_en, landmark_zh = ROLES[email]

    page = new_page(locale=LOCALES[language])
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/accounts/login/?next=/") or "/accounts/login/" in page.url
    heading = page.locator("h1").inner_text()
    assert heading == ("Sign in" if language == "en" else "登录")

    page.fill("input[name=username]", email)
    page.fill("input[name=password]", "demo-pass-2026")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live_server.url}{landing}")
    body = page.locator("body").inner_text()
    assert (landmark_en if language == "en" else landmark_zh) in body
    screenshot(page, f"signin-{email.split('@')[0]}-{language}")


def test_language_switcher_changes_page_and_preference(live_server, new_page, screenshot):
    call_command("seed_demo")
    User.objects.filter(email="customer@globex.example").update(preferred_language="en")
    page = new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "customer@globex.example")
    page.fill("input[name=password]", "demo-pass-2026")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live_server.url}/portal/")
    page.goto(f"{live_server.url}/portal/organisation/")
    assert "Your AWS accounts" in page.locator("body").inner_text()
    # Globex sees its own account, never Acme's.
    accounts = page.get_by_test_id("aws-accounts").inner_text()
    assert "444455556666" in accounts
    assert "123456789012" not in accounts

    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    assert "您的 AWS 账户" in page.locator("body").inner_text()
    screenshot(page, "portal-globex-switched-zh-hans")
    assert User.objects.get(email="customer@globex.example").preferred_language == "zh-hans"

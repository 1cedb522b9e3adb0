"""Shared steps of the browser tests."""

DEMO_PASSWORD = "demo-pass-2026"
LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}


def sign_in(page, base, email, password=DEMO_PASSWORD):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()

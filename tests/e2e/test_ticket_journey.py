"""The whole ticket journey in a browser, in English and in Simplified Chinese:
a customer files a ticket, an engineer picks it up in the queue, replies publicly and
internally, resolves it; the customer sees only the public reply and confirms."""

import pytest
from django.core import mail
from django.core.management import call_command

from spt_portal.models import User
from tests.e2e.helpers import sign_in
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {
        "new": "New ticket",
        "submit": "Submit ticket",
        "reply_button": "Send",
        "confirm": "Yes, close the ticket",
        "resolved_mail": "Resolved, please confirm",
        "closed": "Closed",
    },
    "zh-hans": {
        "new": "新建工单",
        "submit": "提交工单",
        "reply_button": "发送",
        "confirm": "是的，关闭工单",
        "resolved_mail": "已解决，请确认",
        "closed": "已关闭",
    },
}
LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_customer_and_engineer_journey(live_server, new_page, screenshot, tmp_path, language):
    call_command("seed_demo")
    User.objects.update(preferred_language=language)
    text = TEXT[language]
    base = live_server.url

    # The customer files a ticket with an attachment.
    customer = new_page(locale=LOCALES[language])
    sign_in(customer, base, "customer@acme.example")
    customer.get_by_role("link", name=text["new"]).first.click()
    customer.fill(
        "input[name=title]", "RDS 实例 CPU 100%" if language == "zh-hans" else "RDS CPU at 100%"
    )
    customer.fill("textarea[name=description]", "db-prod-1, cn-north-1, since 09:00")
    customer.check("input[name=priority][value=high]")
    log = tmp_path / "slow-query.log"
    log.write_text("SELECT ... 12.3 s")
    customer.set_input_files("input[name=attachments]", str(log))
    screenshot(customer, f"journey-{language}-1-customer-form")
    customer.get_by_role("button", name=text["submit"]).click()
    customer.wait_for_url(f"{base}/portal/tickets/TKT-*/")
    ticket = Ticket.objects.get()
    assert ticket.priority == "high" and ticket.attachments.count() == 1
    assert "slow-query.log" in customer.locator("body").inner_text()

    # The engineer finds it in the queue and answers.
    engineer = new_page(locale=LOCALES[language])
    sign_in(engineer, base, "engineer@partner.example")
    engineer.goto(f"{base}/admin/tickets/ticket/?assignee=none")
    assert ticket.number in engineer.locator("#result_list").inner_text()
    screenshot(engineer, f"journey-{language}-2-queue")
    engineer.get_by_role("link", name=ticket.number).click()
    engineer.fill("#reply-form textarea[name=body]", "Please check the slow query log.")
    engineer.check("#reply-form input[name=visibility][value=public]")
    engineer.locator("#reply-form input[type=submit]").click()
    engineer.wait_for_load_state()
    engineer.fill("#reply-form textarea[name=body]", "INTERNAL: missing index on orders")
    engineer.check("#reply-form input[name=visibility][value=internal]")
    engineer.locator("#reply-form input[type=submit]").click()
    engineer.wait_for_load_state()
    conversation = engineer.locator("#conversation").inner_text()
    assert "Please check the slow query log." in conversation and "missing index" in conversation
    engineer.select_option("select[name=status]", Status.RESOLVED)
    engineer.locator("input[name=_continue]").click()
    engineer.wait_for_load_state()
    screenshot(engineer, f"journey-{language}-3-ticket-page")
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.first_responded_at is not None

    # The customer sees only the public reply, got the emails, and confirms.
    customer.reload()
    body = customer.locator("body").inner_text()
    assert "Please check the slow query log." in body
    assert "missing index" not in body
    subjects = [m.subject for m in mail.outbox if "customer@acme.example" in m.to]
    assert any(text["resolved_mail"] in s for s in subjects)
    assert all("missing index" not in m.body for m in mail.outbox)
    screenshot(customer, f"journey-{language}-4-customer-resolved")
    customer.get_by_role("button", name=text["confirm"]).click()
    customer.wait_for_load_state()
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert text["closed"] in customer.get_by_test_id("timeline").inner_text()
    screenshot(customer, f"journey-{language}-5-customer-closed")

"""The postmortem editor in a browser, in English and Simplified Chinese: start it from a
recovered incident, type (autosaved, survives a reload), add an action item, print."""

from urllib.parse import parse_qs

import pytest
from django.core.management import call_command

from incidents import services as incidents
from incidents.models import Level
from postmortems.models import PostMortem
from spt_portal.models import User
from tests.e2e.helpers import LOCALES, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECT = {
    "en": {"start": "Start the postmortem", "saved": "Saved at", "add": "Add"},
    "zh-hans": {"start": "开始复盘", "saved": "已保存", "add": "添加"},
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_postmortem_editor_autosaves(live_server, new_page, screenshot, language):
    call_command("seed_demo")
    User.objects.update(preferred_language=language)
    engineer = User.objects.get(email="engineer@partner.example")
    incident = incidents.incident_create(
        title="支付网关超时", level=Level.P1, service="payments", actor=engineer
    )
    incidents.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    incidents.incident_change_status(incident=incident, status="recovered", actor=engineer)
    text = EXPECT[language]
    base = live_server.url
    page = new_page(locale=LOCALES[language])
    page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
    sign_in(page, base, "engineer@partner.example")

    page.goto(f"{base}{incident.get_absolute_url()}")
    page.get_by_test_id("start-postmortem").click()
    page.wait_for_load_state()
    postmortem = PostMortem.objects.get(incident=incident)
    assert page.url.endswith(postmortem.get_absolute_url())
    editor = page.get_by_test_id("editor")
    assert "Incident opened at P1: 支付网关超时" in editor.locator("#id_timeline").input_value()
    saved = lambda response: "/autosave/" in response.url and response.status == 200  # noqa: E731
    with page.expect_response(saved, timeout=10_000):
        page.fill("#id_root_cause", "上游支付网关连接数耗尽 / upstream connection limit")
    status = page.get_by_test_id("autosave-status")
    status.filter(has_text=text["saved"]).wait_for(timeout=10_000)
    postmortem.refresh_from_db()
    assert postmortem.root_cause.startswith("上游支付网关")
    # Wait for the response rather than polling the table: on SQLite's shared in-memory
    # database a read from this thread during the server's write fails with "table is locked".
    # Leaving the first field sends a save at once ("change"), without the new text; the
    # one to wait for carries it and comes 1.5 s after the last keystroke.
    lessons = "容量规划要覆盖重试"

    def saved_lessons(response):
        form = parse_qs(response.request.post_data or "")
        return saved(response) and form.get("lessons") == [lessons]

    with page.expect_response(saved_lessons, timeout=10_000):
        page.fill("#id_lessons", lessons)
    postmortem.refresh_from_db()
    assert postmortem.lessons == "容量规划要覆盖重试"
    page.reload()
    assert page.locator("#id_lessons").input_value() == "容量规划要覆盖重试"
    assert page.locator("#id_root_cause").input_value().startswith("上游支付网关")

    form = page.get_by_test_id("add-action")
    form.locator("#id_title").fill("连接池告警 / pool alert")
    form.locator("#id_owner").select_option(str(engineer.pk))
    form.locator("#id_due_date").fill("2026-12-20")
    form.locator("#id_priority").select_option("P1")
    form.get_by_role("button", name=text["add"]).click()
    page.wait_for_load_state()
    assert "连接池告警" in page.get_by_test_id("action-items").inner_text()
    screenshot(page, f"postmortem-editor-{language}")

    page.get_by_test_id("print-link").click()
    page.wait_for_load_state()
    assert "上游支付网关" in page.content()
    screenshot(page, f"postmortem-print-{language}")

    page.goto(f"{base}/ops/postmortems/")
    assert page.locator(f'[data-postmortem="{postmortem.pk}"]').count() == 1
    screenshot(page, f"postmortem-list-{language}")

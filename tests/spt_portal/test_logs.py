"""One log line per request with its id; JSON lines when LOG_FORMAT=json; no tokens."""

import json
import logging

import pytest

from spt_portal.logs import RequestIdFilter, json_formatter

pytestmark = pytest.mark.django_db


def test_one_line_per_request_without_the_query_string(client, caplog, engineer):
    client.force_login(engineer)
    with caplog.at_level(logging.INFO, logger="spt_portal.requests"):
        response = client.get("/hooks/alertmanager/?token=alr_secret_value_123")
        client.get("/readyz", HTTP_X_REQUEST_ID="trace-0123456789")
    records = [r for r in caplog.records if r.name == "spt_portal.requests"]
    assert len(records) == 2
    hook, ready = records
    assert hook.view == "incidents:hook_alertmanager" and hook.status == response.status_code
    assert hook.route == "hooks/alertmanager/" and hook.method == "GET"
    assert hook.user_id == engineer.pk and hook.duration_ms >= 0
    assert "alr_secret" not in caplog.text
    assert ready.status == 200 and ready.view == "readyz"
    assert len(response["X-Request-ID"]) == 16


def test_the_request_id_is_echoed_when_well_formed(client):
    assert client.get("/readyz", HTTP_X_REQUEST_ID="trace-0123456789")["X-Request-ID"] == (
        "trace-0123456789"
    )
    made_up = client.get("/readyz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert made_up != "<script>" and len(made_up) == 16


def test_json_lines_carry_the_request_id_and_extra_fields():
    record = logging.LogRecord(
        "tickets.jobs", logging.INFO, __file__, 1, "sla scan: %d breached", (2,), None
    )
    record.ticket_id = 42
    RequestIdFilter().filter(record)
    line = json.loads(json_formatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "tickets.jobs"
    assert line["message"] == "sla scan: 2 breached" and line["ticket_id"] == 42
    assert line["request_id"] == "" and "time" in line

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.db import transaction

from spt_portal import notifications
from spt_portal.models import ChannelKind, NotificationChannel, NotificationLog
from spt_portal.sms import AliyunSMSProvider, SMSError

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """A local HTTP server standing in for Slack or a webhook consumer."""

    def __init__(self, status=200):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                outer.requests.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_email_is_rendered_recorded_and_sent_once():
    with transaction.atomic():
        log = notifications.notify_email(
            to="alice@acme.example",
            template="ticket_reply",
            language="zh-hans",
            context={
                "ticket": type("T", (), {"number": "TKT-000001", "title": "磁盘已满"})(),
                "comment": type("C", (), {"display_author": "工程师", "body": "已处理"})(),
                "link": "https://portal/x",
            },
            dedupe_key="k1",
        )
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT and log.attempts == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == log.subject == "[TKT-000001] 新回复：磁盘已满"
    assert "已处理" in message.body
    assert message.extra_headers["Message-ID"] == log.message_id
    assert message.extra_headers["Auto-Submitted"] == "auto-replied"
    assert message.extra_headers["Reply-To"] == "support@partner.example"
    assert message.alternatives and "已处理" in message.alternatives[0][0]
    # The same notification asked for again sends nothing.
    with transaction.atomic():
        assert (
            notifications.notify_email(
                to="alice@acme.example",
                template="ticket_reply",
                language="en",
                context={},
                dedupe_key="k1",
            )
            is None
        )
    assert len(mail.outbox) == 1
    # Delivering a sent notification again is a no-op.
    assert notifications.deliver(log.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_failed_email_is_recorded_and_retried_then_given_up(settings):
    settings.EMAIL_BACKEND = "tests.spt_portal.failing_backend.FailingBackend"
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    with transaction.atomic():
        log = notifications.notify_email(
            to="bob@globex.example",
            template="ticket_auto_closed",
            language="en",
            context={"ticket": type("T", (), {"number": "TKT-9", "title": "x"})(), "link": "l"},
        )
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.PENDING
    assert "SMTPServerDisconnected" in log.error and log.attempts == 1
    assert notifications.deliver(log.pk) == "failed"
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED and log.attempts == 2
    # Once the server accepts mail again, an operator's retry goes through.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationLog.objects.filter(pk=log.pk).update(status="pending")
    assert notifications.deliver(log.pk) == "sent"
    assert len(mail.outbox) == 1


def test_slack_and_webhook_channels(receiver):
    NotificationChannel.objects.create(name="ops", kind=ChannelKind.SLACK, url=receiver.url)
    NotificationChannel.objects.create(
        name="only-critical", kind=ChannelKind.WEBHOOK, url=receiver.url, events=["ticket.critical"]
    )
    NotificationChannel.objects.create(
        name="off", kind=ChannelKind.WEBHOOK, url=receiver.url, is_active=False
    )
    with transaction.atomic():
        count = notifications.notify_channels(
            event="ticket.created", text="[TKT-1] new", data={"number": "TKT-1"}
        )
    assert count == 1
    assert receiver.requests == [{"text": "[TKT-1] new"}]
    with transaction.atomic():
        notifications.notify_channels(event="ticket.critical", text="t", data={"n": 1})
    assert {"event": "ticket.critical", "text": "t", "data": {"n": 1}} in receiver.requests
    assert NotificationLog.objects.filter(status="sent").count() == 3


def test_webhook_down_is_logged_not_raised():
    NotificationChannel.objects.create(
        name="dead", kind=ChannelKind.WEBHOOK, url="http://127.0.0.1:9/hook"
    )
    with transaction.atomic():
        notifications.notify_channels(event="ticket.created", text="x", data={})
    log = NotificationLog.objects.get()
    assert log.status == NotificationLog.Status.PENDING
    assert "Connection refused" in log.error or "URLError" in log.error


def test_sms_through_the_logging_provider(caplog):
    caplog.set_level("INFO", logger="spt_portal.sms")
    with transaction.atomic():
        log = notifications.notify_sms(
            phone="+86 138 0000 0000", template_id="SMS_1", params={"number": "TKT-1"}
        )
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert "SMS_1" in caplog.text and "+86 138 0000 0000" in caplog.text


class FakeAliyunClient:
    def __init__(self, code="OK"):
        self.code = code
        self.requests = []

    def send_sms(self, request):
        self.requests.append(request)
        body = type("Body", (), {"code": self.code, "message": "denied", "biz_id": "biz-1"})()
        return type("Response", (), {"body": body})()


def test_aliyun_adapter_builds_the_templated_request(settings):
    pytest.importorskip("alibabacloud_dysmsapi20170525")
    settings.SMS_SIGN_NAME = "SPT门户"
    client = FakeAliyunClient()
    provider = AliyunSMSProvider(client=client)
    assert (
        provider.send(phone="+86 138 0000 0000", template_id="SMS_123", params={"n": "工单"})
        == "biz-1"
    )
    request = client.requests[0]
    assert request.phone_numbers == "13800000000"
    assert request.sign_name == "SPT门户" and request.template_code == "SMS_123"
    assert json.loads(request.template_param) == {"n": "工单"}
    with pytest.raises(SMSError, match="isv.BUSINESS_LIMIT_CONTROL"):
        AliyunSMSProvider(client=FakeAliyunClient("isv.BUSINESS_LIMIT_CONTROL")).send(
            phone="13800000000", template_id="SMS_123", params={}
        )

"""Email to ticket through the real webhook: signed SNS envelopes, real-world .eml files."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core import mail
from django.utils import timezone

from spt_portal.models import NotificationLog, User
from tests.factories import CustomerUserFactory, EmailDomainFactory
from tickets import services
from tickets.inbound.sns import canonical_string
from tickets.models import InboundEmail, SNSCertificate, Status, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Samples we may not copy (AGPL) are used from the team's shared folder when it is there.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-inbound"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
HOOK = "/hooks/ses/"


def _certificate(key, not_after_days=365):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=not_after_days))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def signer(settings, signing_key):
    settings.SES_SNS_TOPIC_ARNS = [TOPIC]
    pem = _certificate(signing_key).public_bytes(serialization.Encoding.PEM).decode()
    SNSCertificate.objects.create(url=CERT_URL, pem=pem)

    def sign(message, version="2", key=signing_key):
        message = {"SignatureVersion": version, "SigningCertURL": CERT_URL, **message}
        digest = hashes.SHA256() if version == "2" else hashes.SHA1()
        signature = key.sign(canonical_string(message), padding.PKCS1v15(), digest)
        message["Signature"] = base64.b64encode(signature).decode()
        return message

    return sign


def notification(raw: bytes, *, ses_id=None, verdicts=None):
    receipt = {
        f"{name}Verdict": {"status": (verdicts or {}).get(name, "PASS")}
        for name in ("spam", "virus", "spf", "dkim", "dmarc")
    }
    receipt["action"] = {"type": "SNS", "topicArn": TOPIC, "encoding": "BASE64"}
    return {
        "notificationType": "Received",
        "mail": {"messageId": ses_id or uuid.uuid4().hex, "source": "x@example.com"},
        "receipt": receipt,
        "content": base64.b64encode(raw).decode(),
    }


def envelope(payload: dict) -> dict:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(payload),
        "Timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
    }


def post(client, message):
    return client.post(HOOK, json.dumps(message), content_type="text/plain; charset=UTF-8")


def deliver(client, signer, raw: bytes, **kwargs):
    return post(client, signer(envelope(notification(raw, **kwargs))))


def eml(name: str) -> bytes:
    return (FIXTURES / "email" / name).read_bytes()


def compose(sender, subject, body, *, in_reply_to="", message_id=None):
    headers = [
        f"From: {sender}",
        "To: support@partner.example",
        f"Subject: {subject}",
        f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@mail.example>'}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


@pytest.fixture
def alice(acme):
    """The sender of the mnako/letters fixtures, a contact of Acme."""
    EmailDomainFactory(customer=acme, domain="example.com")
    return CustomerUserFactory(customer=acme, email="alice.fajianren@example.com")


# --- SNS signatures ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_are_accepted(client, signer, alice, version):
    message = signer(
        envelope(notification(eml("letters_gbk_base64_multipart_mixed_irt_refs.eml"))), version
    )
    response = post(client, message)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ticket"


def test_forged_and_stale_messages_are_rejected(client, signer, alice, settings, caplog):
    good = signer(envelope(notification(compose("alice.fajianren@example.com", "hi", "x"))))
    tampered = {**good, "Message": good["Message"].replace('"Received"', '"Received", "x": 1')}
    assert tampered["Message"] != good["Message"]
    assert post(client, tampered).status_code == 403
    foreign = {**good, "SigningCertURL": "https://evil.example.com/cert.pem"}
    assert post(client, foreign).status_code == 403
    lookalike = {**good, "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/x.pem"}
    assert post(client, lookalike).status_code == 403
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert post(client, signer(envelope(notification(b"x")), key=other_key)).status_code == 403
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert post(client, good).status_code == 403  # outside SNS_MAX_AGE_SECONDS
    settings.SES_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:other"]
    assert post(client, good).status_code == 403
    assert not Ticket.objects.exists()
    assert "rejected SNS message" in caplog.text


def test_the_real_redacted_confirmation_fails_verification(client, settings):
    settings.SES_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:$accountId:efimov_sns_test"]
    sample = json.loads(
        (FIXTURES / "sns" / "jetbrains_subscription_confirmation_account_redacted.json").read_text()
    )
    pem = (
        FIXTURES
        / "sns"
        / "jetbrains_SimpleNotificationService-56e67fcb41f6fec09b0196692625d385.pem"
    ).read_text()
    SNSCertificate.objects.create(url=sample["SigningCertURL"], pem=pem)
    response = post(client, sample)
    assert response.status_code == 403


def test_subscription_confirmed_only_for_configured_topics(client, signer, monkeypatch):
    visited = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

        def read(self):
            return b"<ConfirmSubscriptionResponse/>"

    monkeypatch.setattr(
        "tickets.inbound.views.urllib.request.urlopen",
        lambda url, timeout: visited.append(url) or Response(),
    )
    confirm = {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": "abc",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe",
        "SubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=abc",
        "Timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
    }
    assert post(client, signer(confirm)).status_code == 200
    assert visited == [confirm["SubscribeURL"]]
    bad = {**confirm, "SubscribeURL": "https://evil.example/?x"}
    assert post(client, signer(bad)).status_code == 502
    assert len(visited) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1,2]"])
def test_bad_bodies_are_400(client, body):
    assert client.post(HOOK, body, content_type="text/plain").status_code == 400


def test_only_post(client):
    assert client.get(HOOK).status_code == 405


# --- from mail to tickets ----------------------------------------------------------------


def test_gbk_mail_becomes_a_ticket_with_attachments_once(client, signer, alice):
    raw = eml("letters_gbk_base64_multipart_mixed_irt_refs.eml")
    payload = notification(raw)
    for _ in range(2):  # SNS delivers at least once
        assert post(client, signer(envelope(payload))).status_code == 200
    ticket = Ticket.objects.get()
    assert (
        ticket.source == "email" and ticket.customer == alice.customer and ticket.requester == alice
    )
    assert ticket.title == "📧 Test施氏食狮史"
    assert "石室诗士施氏，嗜狮，誓食十狮。" in ticket.description
    names = set(ticket.attachments.values_list("filename", flat=True))
    assert {"attached-pdf-filename.pdf", "inline-jpg-image-filename.jpg", "original.eml"} <= names
    assert ticket.attachments.get(filename="original.eml").staff_only
    assert InboundEmail.objects.count() == 1
    portal = client
    portal.force_login(alice)
    page = portal.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "attached-pdf-filename.pdf" in page and "original.eml" not in page


@pytest.mark.parametrize(
    "fixture",
    [
        "sisimai_autoreply_auto_submitted.eml",
        "sisimai_autoreply_exchange_oof_no_auto_submitted.eml",
        "sisimai_autoreply_multipart_alternative_precedence_bulk.eml",
    ],
)
def test_auto_replies_open_nothing_and_get_nothing(client, signer, fixture):
    mail.outbox.clear()
    response = deliver(client, signer, eml(fixture))
    assert response.json()["status"] == "auto_reply"
    assert not Ticket.objects.exists() and mail.outbox == []


@pytest.mark.parametrize(
    "fixture, address",
    [
        ("sisimai_bounce_postfix_dsn.eml", "r@p351355.pool.example.ne.jp"),
        ("flanker_bounce_dsn_mailbox_full.eml", "user@aol.com"),
    ],
)
def test_bounces_mark_the_contact(client, signer, acme, fixture, address):
    contact = User.objects.create_user(address, customer=acme)
    response = deliver(client, signer, eml(fixture))
    assert response.json()["status"] == "bounce"
    contact.refresh_from_db()
    assert contact.email_bounced_at is not None
    assert not Ticket.objects.exists()


def test_spam_is_quarantined(client, signer, alice):
    raw = compose("alice.fajianren@example.com", "cheap pills", "buy")
    response = deliver(client, signer, raw, verdicts={"spam": "FAIL"})
    assert response.json()["status"] == "quarantined"
    assert not Ticket.objects.exists()


def test_new_contact_from_a_customer_domain(client, signer, acme):
    EmailDomainFactory(customer=acme, domain="acme.example")
    raw = compose("Bob Builder <bob@acme.example>", "磁盘告警", "请帮忙看看")
    assert deliver(client, signer, raw).json()["status"] == "ticket"
    bob = User.objects.get(email="bob@acme.example")
    assert bob.customer == acme and not bob.has_usable_password()
    assert Ticket.objects.get().requester == bob


def test_unknown_sender_triage_or_reject(client, signer, settings):
    raw = compose("stranger@nowhere.example", "hello", "who are you")
    assert deliver(client, signer, raw).json()["status"] == "ticket"
    ticket = Ticket.objects.get()
    assert ticket.customer is None and "stranger@nowhere.example" in ticket.description
    settings.EMAIL_UNKNOWN_SENDER_POLICY = "reject"
    mail.outbox.clear()
    for n in range(2):
        raw2 = compose("stranger@nowhere.example", f"again {n}", "x")
        assert deliver(client, signer, raw2).json()["status"] == "rejected"
    assert Ticket.objects.count() == 1
    # one polite notice (not a bounce), however often they write that day
    [notice] = mail.outbox
    assert notice.to == ["stranger@nowhere.example"]
    assert notice.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "/support/contact" in notice.body


def test_round_trip_threads_into_one_ticket(client, signer, alice, engineer):
    mail.outbox.clear()
    deliver(client, signer, compose("alice.fajianren@example.com", "RDS 无法连接", "连接超时"))
    ticket = Ticket.objects.get()
    services.comment_add(ticket=ticket, author=engineer, body="请提供安全组 ID。")
    reply = next(m for m in mail.outbox if "New reply" in m.subject or "新回复" in m.subject)
    our_id = reply.extra_headers["Message-ID"]
    assert NotificationLog.objects.filter(message_id=our_id).exists()
    answer = compose(
        "alice.fajianren@example.com",
        f"Re: {reply.subject}",
        "sg-0123456789\n\n在 2026年3月2日 10:00，SPT 写道：\n> 请提供安全组 ID。\n",
        in_reply_to=our_id,
    )
    assert deliver(client, signer, answer).json()["status"] == "comment"
    assert Ticket.objects.count() == 1
    comment = ticket.comments.filter(source="email").get()
    assert comment.body == "sg-0123456789"
    assert comment.author == alice


def test_subject_token_only_from_the_customer(client, signer, alice, acme):
    ticket = services.ticket_create(customer=acme, requester=alice, title="x", actor=alice)
    stranger = compose("mallory@evil.example", f"Re: [{ticket.number}] x", "inject")
    deliver(client, signer, stranger)
    assert not ticket.comments.exists()
    colleague = CustomerUserFactory(customer=acme, email="carol@example.com")
    deliver(client, signer, compose(colleague.email, f"Re: [{ticket.number}] x", "more info"))
    assert ticket.comments.get().author == colleague


def test_reply_to_a_closed_ticket(client, signer, alice, acme, engineer, settings):
    settings.TICKET_REOPEN_DAYS = 7
    ticket = services.ticket_create(customer=acme, requester=alice, title="x", actor=alice)
    services.ticket_change_status(ticket=ticket, status=Status.CLOSED, actor=engineer)
    deliver(client, signer, compose(alice.email, f"Re: [{ticket.number}] x", "it is back"))
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS and ticket.comments.count() == 1
    services.ticket_change_status(ticket=ticket, status=Status.CLOSED, actor=engineer)
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        deliver(client, signer, compose(alice.email, f"Re: [{ticket.number}] x", "again"))
    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert ticket.number in follow_up.description
    assert follow_up.follow_up_of == ticket


def all_email_fixtures():
    found = {p.name: p for p in (FIXTURES / "email").glob("*.eml")}
    if (SHARED / "email").is_dir():
        for path in (SHARED / "email").glob("*.eml"):
            found.setdefault(path.name, path)
    return [found[name] for name in sorted(found)]


def test_every_real_world_fixture_ends_somewhere_known(client, signer, alice):
    paths = all_email_fixtures()
    assert len(paths) >= 22
    for path in paths:
        response = deliver(client, signer, path.read_bytes())
        assert response.status_code == 200, (path.name, response.content)
        assert response.json()["status"] in {
            "ticket",
            "comment",
            "auto_reply",
            "bounce",
            "quarantined",
            "rejected",
            "duplicate",
        }, path.name
    assert InboundEmail.objects.count() == len(paths)
    # Whatever became of it, the message as received is kept (staff and auditors read it).
    for record in InboundEmail.objects.all():
        assert record.raw.name.endswith(".eml"), record.outcome
        with record.raw.open("rb") as stored:
            assert stored.read(1), record.outcome


def test_outbound_headers_and_the_reply_marker(client, signer, alice, engineer):
    mail.outbox.clear()
    deliver(client, signer, compose(alice.email, "VPN down", "tunnel 2 flapping"))
    ticket = Ticket.objects.get()
    [created] = [m for m in mail.outbox if alice.email in m.to]
    assert f"[{ticket.number}]" in created.subject
    assert created.extra_headers["Auto-Submitted"] == "auto-replied"
    assert created.extra_headers["Reply-To"] == "support@partner.example"
    assert created.extra_headers["References"] == f"<ticket-{ticket.pk}@spt-portal.local>"
    assert created.body.startswith("##- ")
    mail.outbox.clear()
    services.comment_add(ticket=ticket, author=engineer, body="Restarting the tunnel.")
    [reply] = [m for m in mail.outbox if alice.email in m.to]
    assert "Auto-Submitted" not in reply.extra_headers  # a person's words, relayed
    # The customer answers above the marker, quoting the whole email below it.
    quoted = "\n".join("> " + line for line in reply.body.splitlines())
    answer = compose(
        alice.email,
        f"Re: {reply.subject}",
        "Works now, thanks!\n\n" + quoted,
        in_reply_to=reply.extra_headers["Message-ID"],
    )
    assert deliver(client, signer, answer).json()["status"] == "comment"
    assert ticket.comments.filter(source="email").get().body == "Works now, thanks!"
    # the delivered reply notice is on the timeline
    assert ticket.events.filter(kind="notification").count() >= 2


def test_bounced_contact_is_flagged_for_engineers(login, engineer, acme, alice):
    alice.email_bounced_at = timezone.now()
    alice.save()
    ticket = services.ticket_create(customer=acme, requester=alice, title="x", actor=alice)
    page = login(engineer).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Delivery failed" in page
    log = login(engineer).get("/admin/tickets/inboundemail/")
    assert log.status_code == 200


def test_pin_certificate_command(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    pem = (
        FIXTURES
        / "sns"
        / "jetbrains_SimpleNotificationService-56e67fcb41f6fec09b0196692625d385.pem"
    )
    url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-56e67fcb41f6fec09b0196692625d385.pem"
    call_command("sns_pin_certificate", url, str(pem))
    assert SNSCertificate.objects.get(url=url).pem.startswith("-----BEGIN CERTIFICATE-----")
    with pytest.raises(CommandError):
        call_command("sns_pin_certificate", "https://evil.example/x.pem", str(pem))
    bad = tmp_path / "bad.pem"
    bad.write_text("nope")
    with pytest.raises(CommandError):
        call_command("sns_pin_certificate", url, str(bad))


def test_an_oversized_message_id_is_ignored_and_the_email_still_taken(client, signer, alice):
    # Indexed columns hold the Message-ID: a hostile 3,000-byte one must not fail the insert.
    huge = "<" + "字" * 1000 + "@mail.example>"
    response = deliver(client, signer, compose(alice.email, "huge id", "body", message_id=huge))
    assert response.status_code == 200 and response.json()["status"] == "ticket"
    record = InboundEmail.objects.get(subject="huge id")
    assert record.message_id == "" and record.ticket is not None
    # A normal reply to the same thread still works by its own Message-ID.
    again = compose(alice.email, "huge id", "body", message_id="<ok@mail.example>")
    assert deliver(client, signer, again).json()["status"] == "ticket"

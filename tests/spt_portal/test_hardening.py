"""Sign-in throttling, Content Security Policy, session and upload hardening (issue 14)."""

import logging
import re

import pytest
from axes.models import AccessAttempt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from tickets import services
from tickets.filenames import safe_filename

pytestmark = pytest.mark.django_db


def _sign_in(client, email, password):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_repeated_failed_sign_ins_lock_out_that_user_from_that_address(
    client, acme_user, globex_user, password, settings, caplog
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _sign_in(client, acme_user.email, "wrong-password")
        assert response.status_code == 200  # the form again, with its error
    with caplog.at_level(logging.WARNING, logger="spt_portal.views"):
        locked = _sign_in(client, acme_user.email, "wrong-password")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many sign-in attempts" in page
    assert "15 minutes" in page
    assert "sign-in locked out for 'alice@acme.example'" in caplog.text

    # Even the right password is refused while the pause lasts ...
    assert _sign_in(client, acme_user.email, password).status_code == 429
    assert client.get("/portal/").status_code == 302
    # ... but another user from the same address is not affected.
    assert _sign_in(client, globex_user.email, password).status_code == 302

    # An operator lifts every lockout with axes_reset.
    call_command("axes_reset", verbosity=0)
    assert _sign_in(client, acme_user.email, password).status_code == 302


def test_a_success_resets_the_failure_count(client, acme_user, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _sign_in(client, acme_user.email, "wrong-password")
    assert _sign_in(client, acme_user.email, password).status_code == 302
    client.post("/accounts/logout/")
    assert not AccessAttempt.objects.filter(username=acme_user.email).exists()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, acme_user.email, "wrong-password").status_code == 200
    assert _sign_in(client, acme_user.email, password).status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, engineer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": engineer.email, "password": "nope"})
    response = client.post("/admin/login/", {"username": engineer.email, "password": "nope"})
    assert response.status_code == 429


def test_lockout_page_is_translated(client, acme_user, settings):
    client.cookies["django_language"] = "zh-hans"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _sign_in(client, acme_user.email, "wrong-password")
    assert response.status_code == 429
    assert "登录尝试次数过多" in response.content.decode()


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in header.split(";")
        if part.strip()
    }


def test_every_page_carries_a_strict_content_security_policy(login, acme_user, engineer, client):
    for response in (
        client.get("/accounts/login/"),
        login(acme_user).get("/portal/"),
        login(engineer).get("/admin/tickets/ticket/"),
    ):
        policy = _csp(response)
        assert policy["default-src"] == "'self'"
        assert "'unsafe-inline'" not in policy["script-src"]
        assert "'unsafe-eval'" not in policy["script-src"]
        assert "'unsafe-inline'" not in policy["style-src"]
        assert policy["object-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["form-action"] == "'self'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_get_a_fresh_nonce_that_their_inline_parts_carry(login, engineer):
    client = login(engineer)
    first = client.get("/docs/SLA-POLICY/print/")
    second = client.get("/docs/SLA-POLICY/print/")
    nonces = []
    for response in (first, second):
        nonce = re.search(r"'nonce-([^']+)'", _csp(response)["style-src"]).group(1)
        assert f'<style nonce="{nonce}">' in response.content.decode()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    # htmx adds its indicator styles with the same nonce.
    page = client.get("/accounts/password_change/").content.decode()
    assert '"inlineStyleNonce": "' in page


def test_templates_have_no_inline_script_or_handler_without_a_nonce():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for template in root.glob("templates/**/*.html"):
        if "notifications" in template.parts:
            continue  # email bodies: never served as pages
        text = template.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text):
            tag = match.group(0)
            if "src=" not in tag and "nonce=" not in tag and "application/json" not in tag:
                offenders.append(f"{template.name}: {tag}")
        for match in re.finditer(r"<style\b[^>]*>", text):
            if "nonce=" not in match.group(0) and "audit_pack" not in template.name:
                offenders.append(f"{template.name}: {match.group(0)}")
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offenders.append(f"{template.name}: inline event handler or javascript: URL")
    assert offenders == []


def test_session_and_csrf_cookie_settings(client, acme_user, password, settings):
    response = _sign_in(client, acme_user.email, password)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 12 * 3600
    assert settings.CSRF_COOKIE_SAMESITE == "Lax"


def test_forms_require_a_csrf_token(acme_user, password):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert (
        strict.post(
            "/accounts/login/", {"username": acme_user.email, "password": password}
        ).status_code
        == 403
    )
    strict.force_login(acme_user)
    response = strict.post("/portal/tickets/new/", {"title": "x", "priority": "low"})
    assert response.status_code == 403


def test_password_rules(acme_user):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short1", "password123", "12345678901", "alice@acme.example"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=acme_user)
    validate_password("correct-horse-battery-2026", user=acme_user)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\日志 2026.txt", "日志 2026.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ('a<b>"c".txt', "a_b__c_.txt"),
        ("...hidden.log", "hidden.log"),
        ("", "attachment"),
        ("   ", "attachment"),
        ("x" * 300 + ".log", "x" * 196 + ".log"),
    ],
)
def test_filenames_are_sanitised(raw, expected):
    assert safe_filename(raw) == expected


def test_uploaded_file_is_stored_and_offered_under_its_safe_name(login, acme, acme_user):
    upload = SimpleUploadedFile("notes\u202etxt.html.log", b"<html><script>alert(1)</script>")
    ticket = services.ticket_create(
        customer=acme,
        requester=acme_user,
        title="Upload check",
        attachments=[upload],
        actor=acme_user,
    )
    attachment = ticket.attachments.get()
    assert attachment.filename == "notestxt.html.log"
    assert "\u202e" not in attachment.file.name
    response = login(acme_user).get(f"/portal/attachments/{attachment.pk}/")
    assert response["Content-Disposition"] == 'attachment; filename="notestxt.html.log"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_uploads_over_the_limit_or_of_other_types_are_refused(acme, acme_user, settings):
    settings.TICKET_ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(services.TicketError, match="too large"):
        services.ticket_create(
            customer=acme,
            requester=acme_user,
            title="Big",
            attachments=[SimpleUploadedFile("big.log", b"x" * 2048)],
            actor=acme_user,
        )
    with pytest.raises(services.TicketError, match="cannot be attached"):
        services.ticket_create(
            customer=acme,
            requester=acme_user,
            title="Script",
            attachments=[SimpleUploadedFile("run.html", b"<html>")],
            actor=acme_user,
        )


def test_managers_see_and_lift_lockouts_auditors_only_see_them(
    client, login, acme_user, manager, auditor, engineer, password, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, acme_user.email, "wrong-password")
    attempt = AccessAttempt.objects.get(username=acme_user.email)
    changelist = "/admin/axes/accessattempt/"
    assert login(engineer).get(changelist).status_code == 403
    assert login(auditor).get(changelist).status_code == 200
    assert acme_user.email in login(manager).get(changelist).content.decode()
    response = login(manager).post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    client.logout()
    assert _sign_in(client, acme_user.email, password).status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        "/portal/?q=%00",
        "/portal/kb/?q=a%00b",
        "/portal/tickets/TKT-%00/",
        "/ops/alerts/?q=%00",
        "/admin/tickets/ticket/?q=%00",
        "/ops/incidents/?service=%00",
    ],
)
def test_nul_characters_are_a_400_not_a_500(login, acme_user, engineer, url):
    user = acme_user if url.startswith("/portal") else engineer
    response = login(user).get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_nul_in_a_form_is_refused(login, acme_user):
    client = login(acme_user)
    encoded = client.post(
        "/portal/tickets/new/",
        "title=a%00b&priority=low",
        content_type="application/x-www-form-urlencoded",
    )
    assert encoded.status_code == 400
    # multipart (file uploads): Django's form fields refuse it with a form error.
    multipart = client.post("/portal/tickets/new/", {"title": "a\x00b", "priority": "low"})
    assert multipart.status_code == 200
    assert "Null characters are not allowed." in multipart.content.decode()


@pytest.mark.parametrize(
    "value, expected",
    [("12", 12), ("²", None), ("9" * 19, None), ("0", None), ("", None), (" 7 ", 7), ("x1", None)],
)
def test_row_ids_from_people_and_machines(value, expected):
    from spt_portal.inputs import row_id

    assert row_id(value) == expected


def test_odd_ids_in_staff_forms_are_ignored_not_a_500(login, engineer):
    client = login(engineer)
    response = client.post("/ops/alerts/action/", {"action": "ack", "alert": ["²", "9" * 30]})
    assert response.status_code == 302
    assert client.get("/admin/tickets/ticket/?assignee=²").status_code == 200


def test_contacts_of_a_deactivated_customer_are_signed_out_and_refused(
    client, login, acme, acme_user, password, api
):
    _row_token = api("get", "/api/v1/tickets", acme_user)
    assert _row_token.status_code == 200
    portal = login(acme_user)
    assert portal.get("/portal/").status_code == 200

    acme.is_active = False
    acme.save(update_fields=["is_active"])
    # The open session ends at the next request; signing in again is refused.
    assert portal.get("/portal/").status_code == 302
    from django.test import Client

    fresh = Client()
    assert _sign_in(fresh, acme_user.email, password).status_code == 200  # the form again
    assert fresh.get("/portal/").status_code == 302
    assert api("get", "/api/v1/tickets", acme_user).status_code == 401


def test_rq_worker_page_for_a_live_worker_and_404_for_a_gone_one(login, engineer):
    """django-rq's worker page failed with a 500 on a worker that had stopped (a stale link
    from its workers list): it is a 404 now, and a live worker's page still shows."""
    import django_rq
    from rq import Worker

    queue = django_rq.get_queue("default")
    worker = Worker([queue], connection=queue.connection, name="spt-test-worker")
    worker.register_birth()
    try:
        client = login(engineer)
        base = "/admin/django_rq/dashboard/workers/0/"
        live = client.get(f"{base}{worker.key}/")
        assert live.status_code == 200 and "spt-test-worker" in live.content.decode()
        assert client.get(f"{base}rq:worker:gone/").status_code == 404
        assert client.get("/admin/django_rq/dashboard/schedulers/0/").status_code == 404
    finally:
        worker.register_death()

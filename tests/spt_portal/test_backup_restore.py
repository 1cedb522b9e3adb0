"""Backups and restore (docs/operations.md): deploy/backup/backup.sh and restore.sh run
against the PostgreSQL server the suite uses; the portal started on the restored database
and media serves the customer's ticket and attachment."""

import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.factories import PASSWORD, CustomerUserFactory
from tests.processes import free_port, stop
from tickets import services

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "deploy" / "backup"
MANAGE = [sys.executable, "manage.py"]
ATTACHMENT = "驱动日志 restore-drill.log".encode() + b"\n" + bytes(range(256))

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="backups are pg_dump/pg_restore of PostgreSQL (production); set DATABASE_URL "
        "to a PostgreSQL server to run this",
    ),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("pg_dump", "pg_restore", "createdb", "dropdb")),
        reason="needs the PostgreSQL client tools (pg_dump, pg_restore, createdb, dropdb)",
    ),
]


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server of the test database."""
    db = connection.settings_dict
    credentials = urllib.parse.quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + urllib.parse.quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{name}" if credentials else f"postgres://{host}/{name}"


def run(argv, env, timeout=60):
    result = subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def portal_env(tmp_path, database, media):
    """The portal's production settings, on ``database`` and ``media``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="spt_portal.settings",
        SECRET_KEY="restore-drill-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOW_PLAIN_HTTP="1",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database,
        MEDIA_ROOT=str(media),
        STATIC_ROOT=str(tmp_path / "static"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    (tmp_path / "metrics").mkdir(exist_ok=True)
    return env


def wait_until_ready(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def sign_in(base, email, password):
    """A browser's sign-in: the login form, its CSRF token and the session cookie."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = opener.open(f"{base}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": email, "password": password}
    ).encode()
    with opener.open(f"{base}/accounts/login/", data=data, timeout=10) as response:
        assert "/accounts/login/" not in response.url, "sign-in refused"
    return opener


@pytest.fixture
def restored(tmp_path):
    """The portal's settings on a new database (dropped at the end) and an empty media
    folder; its static files are collected in the background meanwhile, as a deploy does."""
    name = f"spt_restore_{uuid.uuid4().hex[:12]}"
    env = portal_env(tmp_path, database_url(name), tmp_path / "restored-media")
    collectstatic = subprocess.Popen(
        [*MANAGE, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env
    )
    yield env, collectstatic
    if collectstatic.poll() is None:
        stop(collectstatic)
    dropdb = ["dropdb", "--if-exists", "--force", f"--maintenance-db={database_url('postgres')}"]
    subprocess.run([*dropdb, name], capture_output=True, timeout=60, check=True)


@pytest.mark.django_db(transaction=True)  # committed, so that pg_dump sees it
def test_backup_then_restore_into_a_new_database_serves_the_data(
    tmp_path, settings, acme, restored
):
    env, collectstatic = restored
    settings.MEDIA_ROOT = str(tmp_path / "media")
    customer = CustomerUserFactory(customer=acme, email="restore@acme.example")
    # Production settings check passwords with Django's default hashers (the suite uses MD5).
    customer.password = PBKDF2PasswordHasher().encode(PASSWORD, "restoredrill", iterations=1000)
    customer.save(update_fields=["password"])
    ticket = services.ticket_create(
        customer=acme,
        requester=customer,
        title="Restore drill: RDS snapshot",
        description="Backups are tested by restoring them.",
        attachments=[SimpleUploadedFile("restore-drill.log", ATTACHMENT, "text/plain")],
        actor=customer,
    )
    attachment = ticket.attachments.get()

    # The nightly job, as documented: deploy/backup/backup.sh.
    backups = tmp_path / "backups"
    backups.mkdir()
    expired, kept = backups / "spt-db-2000-01-01T000000Z.dump", backups / "spt-media-recent.tar.gz"
    for path, days in ((expired, 31), (kept, 29)):
        path.write_bytes(b"old")
        when = time.time() - days * 86400 - 3600
        os.utime(path, (when, when))
    backup_env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "BACKUP_DIR": str(backups),
    }
    dump, media = run(["sh", str(BACKUP / "backup.sh")], backup_env).split()
    assert re.fullmatch(r".*/spt-db-\d{4}-\d\d-\d\dT\d{6}Z\.dump", dump)
    assert re.fullmatch(r".*/spt-media-\d{4}-\d\d-\d\dT\d{6}Z\.tar\.gz", media)
    assert not expired.exists() and kept.exists()  # older than 30 days: deleted
    assert not list(backups.glob("*.part"))
    assert Path(dump).stat().st_mode & 0o077 == 0  # the owner's only

    # Restore into a new database and an empty media folder (deploy/backup/restore.sh).
    restore = ["sh", str(BACKUP / "restore.sh"), dump, media]
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    assert f"restored database {name}; uploaded files: 1" in run(restore, env)
    # Never over a database that exists.
    again = subprocess.run(
        restore,
        env={**env, "MEDIA_ROOT": str(tmp_path / "elsewhere")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "already exists" in again.stderr
    # Then migrate (with its system checks): nothing to apply, the dump holds the whole
    # schema and its migration history.
    assert "No migrations to apply" in run([*MANAGE, "migrate", "--noinput"], env)
    assert collectstatic.wait(timeout=60) == 0

    # The portal on the restored database serves the customer's ticket and attachment.
    port = free_port()
    web = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "spt_portal.wsgi"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/readyz")
        browser = sign_in(base, customer.email, PASSWORD)
        page = browser.open(f"{base}/portal/tickets/{ticket.number}/", timeout=10)
        html = page.read().decode()
        assert ticket.title in html and attachment.filename in html
        download = browser.open(f"{base}/portal/attachments/{attachment.pk}/", timeout=10)
        assert download.read() == ATTACHMENT
    finally:
        assert stop(web), "gunicorn ignored SIGTERM"

"""Settings come from the environment; production defaults pass `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD_SECRET = "p" * 20 + "-production-like-secret-key-" + "q" * 20


def run_manage(*args, **env_overrides):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "ALLOW_PLAIN_HTTP", "ALLOWED_HOSTS"}
        and not key.startswith("DJANGO_")
    }
    env["DJANGO_SETTINGS_MODULE"] = "spt_portal.settings"
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_defaults():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=PROD_SECRET,
        ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_with_debug_off_is_a_clear_error():
    result = run_manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_plain_http_switch_only_on_loopback():
    ok = run_manage(
        "check", SECRET_KEY=PROD_SECRET, ALLOW_PLAIN_HTTP="1", ALLOWED_HOSTS="127.0.0.1,localhost"
    )
    assert ok.returncode == 0, ok.stderr
    refused = run_manage(
        "check", SECRET_KEY=PROD_SECRET, ALLOW_PLAIN_HTTP="1", ALLOWED_HOSTS="portal.example.com"
    )
    assert refused.returncode != 0
    assert "ALLOW_PLAIN_HTTP=1 is only allowed" in refused.stderr


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("SECURE_SSL_REDIRECT", None, "True"),
        ("SESSION_COOKIE_SECURE", None, "True"),
        ("SECURE_HSTS_SECONDS", None, "31536000"),
        ("TIME_ZONE", None, "Asia/Shanghai"),
        ("TIME_ZONE", "UTC", "UTC"),
    ],
)
def test_settings_values(name, value, expected):
    env = {"SECRET_KEY": PROD_SECRET, "ALLOWED_HOSTS": "portal.example.com"}
    if value is not None:
        env[name] = value
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; print(settings.{name})",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_database_url_selects_the_database():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['ENGINE'], d['NAME'], d['HOST'])",
        SECRET_KEY=PROD_SECRET,
        DATABASE_URL="postgres://spt:pw@db.internal:5432/spt",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["spt_portal.postgresql", "spt", "db.internal"]


@pytest.mark.parametrize(
    ("query", "extra", "expected"),
    [
        ("", {}, "-c jit=off"),
        ("?options=-c%20work_mem%3D8MB", {}, "-c work_mem=8MB -c jit=off"),
        ("", {"PGOPTIONS": "-c statement_timeout=5s"}, "-c statement_timeout=5s -c jit=off"),
        ("?options=-c%20jit%3Don", {}, "-c jit=on"),
        ("", {"DATABASE_JIT_OFF": "0"}, None),
    ],
)
def test_postgresql_connections_run_without_jit(query, extra, expected):
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; "
        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options'))",
        SECRET_KEY=PROD_SECRET,
        DATABASE_URL=f"postgres://spt:pw@db.internal:5432/spt{query}",
        **extra,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(expected)


def test_log_format_json_writes_one_json_object_per_line():
    result = run_manage(
        "shell",
        "-c",
        "import logging; logging.getLogger('tickets.jobs').info('sla scan: %d breached', 2)",
        DEBUG="1",
        LOG_FORMAT="json",
    )
    assert result.returncode == 0, result.stderr
    import json

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(
        line["message"] == "sla scan: 2 breached" and line["logger"] == "tickets.jobs"
        for line in lines
    ), result.stderr

"""Measuring helpers of the benchmark: wrk runs, status checks, query counts, sessions."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent


class BenchError(Exception):
    """A measurement that cannot be trusted (wrong status, no report): its row fails."""


def check_status(url: str, headers: dict, expect: int, method="GET", body=None) -> None:
    """wrk counts redirects and errors as successes: check the answer first."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, headers=headers, method=method, data=body.encode() if body else None
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != expect:
        raise BenchError(f"{method} {url} answered {status}, expected {expect}")


def wrk(url: str, headers: dict, duration: int, script: str = "report.lua", env=None) -> dict:
    """wrk at 4 connections (2 threads): a short warm-up, then the measured run; the Lua
    script prints a JSON line with the percentiles and the non-2xx count."""
    args = ["wrk", "-t2", "-c4", "--timeout", "10s", "-s", str(BENCH / script)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    run_env = {**os.environ, **(env or {})}
    subprocess.run(
        [*args, "-d3s", url], capture_output=True, text=True, env=run_env, timeout=60, check=True
    )
    result = subprocess.run(
        [*args, f"-d{duration}s", url],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=duration + 60,
        check=True,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("{") and "p95" in x), None)
    if line is None:
        raise BenchError(f"wrk printed no report for {url}:\n{result.stdout}\n{result.stderr}")
    data = json.loads(line)
    if data["bad"]:
        raise BenchError(f"{url}: {data['bad']} answers were not the expected status")
    return data


def count_queries(path: str, user_email: str, method="get", **kwargs) -> int:
    """SQL queries of one request, in-process with Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from spt_portal.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(email=user_email))
    getattr(client, method)(path, **kwargs)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, **kwargs)
    assert response.status_code in (200, 201), (path, response.status_code)
    return len(queries.captured_queries)


def session_cookie(email: str) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from spt_portal.models import User

    user = User.objects.get(email=email)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "spt_portal.auth.PortalBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def timed(func, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]

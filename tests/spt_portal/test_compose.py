"""docker-compose.yml cannot run here (no Docker engine): run its commands without Docker."""

import os
import shlex
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from tests.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PORTAL_SERVICES = ["migrate", "web", "worker", "cron", "events"]


def _command(service):
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "spt_portal.settings",
            "SECRET_KEY": "compose-mirror-test-secret-key-0123456789-abcdefghijkl",
            "ALLOW_PLAIN_HTTP": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'compose.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
        }
    )
    return env


def _local(argv):
    """The container's argv, run from this checkout's virtualenv."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "gunicorn":
        return [str(Path(sys.executable).parent / "gunicorn"), *argv[1:]]
    raise AssertionError(f"unexpected program {argv[0]}")


def test_topology_and_health_checks():
    assert {"postgres", "redis", "web", "worker", "cron"} <= set(SERVICES)
    for name in ["postgres", "redis", "web", "worker", "cron"]:
        assert "healthcheck" in SERVICES[name], name
    assert _command("worker")[-4:] == ["default", "aws", "notifications", "--with-scheduler"]
    assert _command("cron")[-2:] == ["rqcron", "spt_portal/cron.py"]


@pytest.mark.parametrize("service", PORTAL_SERVICES)
def test_every_command_exists_in_the_project(service):
    argv = _command(service)
    if argv[:2] == ["python", "manage.py"]:
        assert argv[2] in get_commands(), f"{service}: no manage.py command {argv[2]}"
    else:
        assert argv[0] == "gunicorn"
        module = argv[1]
        __import__(module)


def _wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds}s")


@pytest.mark.django_db(transaction=True)
def test_compose_commands_run_without_docker(tmp_path):
    env = _env(tmp_path)
    subprocess.run(_local(_command("migrate")), cwd=ROOT, env=env, check=True, timeout=180)

    # web: gunicorn as in the compose file, on a free loopback port; its health check passes.
    port = free_port()
    web_argv = _local(_command("web"))
    web_argv[web_argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    web_argv[web_argv.index("--workers") + 1] = "2"
    web = subprocess.Popen(web_argv, cwd=ROOT, env=env)
    try:
        status, body = _wait_for(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert b'"database": "ok"' in body
        # /metrics sums the request counts of both workers (gunicorn.conf.py sets up
        # prometheus-client's multiprocess mode), whichever worker answers the scrape.
        for _ in range(10):
            assert _wait_for(f"http://127.0.0.1:{port}/readyz")[0] == 200
        line = 'spt_http_requests_total{method="GET",status="200",view="readyz"} 10.0'
        for _ in range(4):
            assert line in _wait_for(f"http://127.0.0.1:{port}/metrics")[1].decode()
    finally:
        assert stop(web), "gunicorn ignored SIGTERM"

    # worker: the same command, in burst mode so it exits when the queues are empty. Under
    # heavy load rq's exit can hang after its work is done (its pubsub thread, rq/rq#1613:
    # seen once in CI with both suites running): the command is judged by its log then.
    argv = [*_local(_command("worker")), "--burst"]
    try:
        worker = subprocess.run(argv, cwd=ROOT, env=env, timeout=90, capture_output=True, text=True)
    except subprocess.TimeoutExpired as exc:
        log = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        assert "Listening on default, aws, notifications" in log, log
        assert "done, quitting" in log, log
    else:
        assert worker.returncode == 0, worker.stderr
        assert "done, quitting" in worker.stderr, worker.stderr

    # cron: starts, loads spt_portal/cron.py, and stops cleanly on SIGTERM. Its output is
    # drained by a thread, so a full pipe can never block it while it shuts down.
    cron = subprocess.Popen(
        _local(_command("cron")),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    started = threading.Event()

    def drain():
        for line in cron.stdout:
            lines.append(line)
            if "CronScheduler" in line and "starting" in line:
                started.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert started.wait(60), "".join(lines)[-2000:]
        assert any("Starting cron scheduler with 19 jobs" in line for line in lines), lines
        time.sleep(1)  # let it install its signal handlers and enter its loop
    finally:
        if not stop(cron, timeout=45):
            raise AssertionError("rqcron ignored SIGTERM:\n" + "".join(lines)[-3000:])
    reader.join(timeout=5)
    assert any("shutdown complete" in line for line in lines), "".join(lines)[-2000:]

    # The worker and cron health checks.
    check = _local(SERVICES["worker"]["healthcheck"]["test"][1:])
    assert subprocess.run(check, cwd=ROOT, env=env, timeout=60, capture_output=True).returncode == 0

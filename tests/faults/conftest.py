"""Fault tests: the portal's real processes against servers these tests own, then break.

The session starts its own PostgreSQL cluster and Redis server on spare ports (never the
shared ones on 5432/6379), migrates a template database once, and gives every test a
fresh copy of it. The portal's processes run as subprocesses (tests/faults/servers.py);
the pytest process's own test database is not used.
"""

import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .servers import (
    ROOT,
    MotoServer,
    Portal,
    PostgresServer,
    RedisServer,
    Unavailable,
    portal_env,
)

TEMPLATE_DB = "faults_template"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"fault_report_{report.when}", report)


@pytest.fixture(autouse=True)
def _roles():
    """Overrides tests/conftest.py's fixture of the same name, which syncs roles in the
    pytest process's test database: these tests do not use that database."""


class Servers:
    def __init__(self, workdir: Path, postgres: PostgresServer, redis: RedisServer):
        self.workdir = workdir
        self.postgres = postgres
        self.redis = redis
        self.static_root = workdir / "static"
        self.seeded: dict = {}


@pytest.fixture(scope="session")
def fault_servers():
    workdir = Path(tempfile.mkdtemp(prefix="spt-faults-"))
    postgres = redis_server = None
    try:
        try:
            postgres = PostgresServer()
            redis_server = RedisServer(workdir)
        except Unavailable as exc:
            pytest.skip(f"fault tests need servers of their own: {exc}")
        postgres.init()
        postgres.start()
        redis_server.start()
        servers = Servers(workdir, postgres, redis_server)
        _prepare_template(servers)
        yield servers
    finally:
        if redis_server is not None:
            redis_server.stop()
        if postgres is not None:
            postgres.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def _prepare_template(servers: Servers) -> None:
    """migrate once into a template database; collectstatic once (gunicorn serves the
    manifest-named files). Both at once: they do not depend on each other."""
    servers.postgres.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    env = portal_env(
        database_url=servers.postgres.url(TEMPLATE_DB),
        redis_url=servers.redis.url(0),
        static_root=servers.static_root,
        mail_dir=servers.workdir,
        prometheus_dir=servers.workdir / "prometheus",
        aws_endpoint="http://127.0.0.1:9",
    )
    commands = {
        "migrate": (["migrate", "--noinput"], {}),
        "collectstatic": (
            ["collectstatic", "--noinput"],
            {"DJANGO_SETTINGS_MODULE": "tests.faults.static_settings"},
        ),
    }
    jobs = {
        name: subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, (args, extra) in commands.items()
    }
    for name, job in jobs.items():
        output, _ = job.communicate(timeout=180)
        assert job.returncode == 0, f"{name} failed:\n{output[-4000:]}"
    # Every test's database has the same customer, contact, token and AWS account.
    seed = subprocess.run(
        [sys.executable, "-m", "tests.faults.child", "seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seed.returncode == 0, f"seed failed:\n{seed.stdout}{seed.stderr}"
    servers.seeded = json.loads(seed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def moto(fault_servers):
    try:
        server = MotoServer(fault_servers.workdir)
    except Unavailable as exc:
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


_numbers = itertools.count(1)


@pytest.fixture
def portal(fault_servers, request):
    """A fresh database (a copy of the migrated template) and a flushed Redis, with both
    servers running even if an earlier test failed while one was down."""
    servers = fault_servers
    if not servers.redis.ping():
        servers.redis.start()
    try:
        servers.postgres.execute("SELECT 1")
    except Exception:
        servers.postgres.start()
    servers.redis.client().flushall()
    dbname = f"faults_{next(_numbers)}"
    servers.postgres.execute(f"CREATE DATABASE {dbname} TEMPLATE {TEMPLATE_DB}")
    moto = request.getfixturevalue("moto") if "moto" in request.fixturenames else None
    portal = Portal(
        postgres=servers.postgres,
        redis_server=servers.redis,
        dbname=dbname,
        workdir=Path(tempfile.mkdtemp(prefix=f"{dbname}-", dir=servers.workdir)),
        static_root=servers.static_root,
        seeded=servers.seeded,
        moto=moto,
    )
    try:
        yield portal
    finally:
        portal.close()
        report = getattr(request.node, "fault_report_call", None)
        if report is not None and report.failed:
            print(f"\nLogs of the portal's processes ({portal.workdir}):\n{portal.logs()}")

"""Servers and processes of the fault tests.

Each session starts a PostgreSQL cluster, a Redis server (and, when a test asks, a moto
server) of its own, from a temporary directory on a spare port, and kills them at the end.
The shared servers CI uses (PostgreSQL on 5432, Redis on 6379) are never stopped,
restarted or reconfigured: a test may stop only what it started.

The portal's processes (gunicorn, rqworker, the SQS consumer, management commands) run as
subprocesses from this checkout with DATABASE_URL and REDIS_URL pointing at those servers;
each writes its output to a log file that every timeout and failure message shows.
"""

import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg
import redis

from tests.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "fault-tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "fault-tests-Pass-2026"
LOG_TAIL = 6000


class Unavailable(Exception):
    """A server program is missing here; the fault tests are skipped with this reason."""


def wait_for(check, *, timeout: float, what: str, show=(), alive=(), interval=0.2):
    """Poll ``check()`` until it returns something true; fail with the processes' logs.

    ``alive``: processes that must keep running meanwhile (a crash fails at once).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        for proc in alive:
            if not proc.alive:
                raise AssertionError(
                    f"{proc.name} exited (code {proc.returncode}) while waiting for {what}\n"
                    + logs(*show, *alive)
                )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}\n" + logs(*show, *alive)
            )
        time.sleep(interval)


def logs(*sources) -> str:
    seen, parts = set(), []
    for source in sources:
        if id(source) in seen:
            continue
        seen.add(id(source))
        parts.append(f"----- {source.name} -----\n{_brief(source.output())[-LOG_TAIL:]}")
    return "\n".join(parts)


def _brief(text: str) -> str:
    """The log without the stack frames of tracebacks (their exception lines stay)."""
    lines = text.splitlines()
    kept = [line for line in lines if not line.startswith(("  File ", "    "))]
    return "\n".join(kept) + "\n"


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --- PostgreSQL ----------------------------------------------------------------------------


def _postgres_bindir() -> Path:
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(found, key=lambda path: int(Path(path).parts[-3]))
        return Path(newest).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


class PostgresServer:
    """A throwaway cluster: initdb in a temporary directory, pg_ctl on a spare port."""

    name = "postgres"

    def __init__(self):
        self.bindir = _postgres_bindir()
        self.owner = None
        if os.geteuid() == 0:
            # initdb refuses to run as root: the cluster belongs to the postgres user.
            if not shutil.which("runuser"):
                raise Unavailable("running as root without runuser to become postgres")
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise Unavailable("running as root and there is no postgres user") from exc
        self.base = Path(tempfile.mkdtemp(prefix="spt-faults-pg-"))
        if self.owner:
            os.chown(self.base, self.owner.pw_uid, self.owner.pw_gid)
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = free_port()

    def _run(self, program: str, *args, timeout: float = 60) -> str:
        argv = [str(self.bindir / program), *map(str, args)]
        if self.owner:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise AssertionError(
                f"{program} failed ({result.returncode}): {result.stdout}{result.stderr}\n"
                + self.output()[-LOG_TAIL:]
            )
        return result.stdout

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        """Stop whatever is left, even after a failed test, and remove the cluster."""
        with contextlib.suppress(Exception):
            self.stop("immediate")
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        with self.connect(dbname) as conn:
            conn.execute(sql)

    def output(self) -> str:
        return _tail(self.log)


# --- Redis ---------------------------------------------------------------------------------


class RedisServer:
    """redis-server without persistence, as a child process; stop() is a crash."""

    name = "redis"

    def __init__(self, logdir: Path):
        self.program = shutil.which("redis-server") or str(VENV_BIN / "redis-server")
        if not Path(self.program).exists():
            raise Unavailable("redis-server is not installed")
        self.port = free_port()
        self.log = logdir / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    self.program,
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--bind",
                    "127.0.0.1",
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ping, timeout=15, what=f"redis-server on port {self.port}", show=[self])

    def ping(self) -> bool:
        try:
            return self.client().ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=2)

    def output(self) -> str:
        return _tail(self.log)


# --- moto (AWS emulator) -------------------------------------------------------------------


class MotoServer:
    name = "moto"

    def __init__(self, logdir: Path):
        self.program = shutil.which("moto_server", path=str(VENV_BIN)) or shutil.which(
            "moto_server"
        )
        if not self.program:
            raise Unavailable("moto_server is not installed (moto[server])")
        self.port = free_port()
        self.log = logdir / "moto.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.program, "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def answers():
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2):
                    return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False

        wait_for(answers, timeout=30, what="moto_server", show=[self])

    def sqs(self):
        import boto3

        return boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return _tail(self.log)


# --- the portal's processes ----------------------------------------------------------------


class Proc:
    """One portal process, in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, logdir: Path):
        self.name = name
        self.log = logdir / f"{name}.log"
        self.ready = lambda: True
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def output(self) -> str:
        return _tail(self.log)

    def sigkill(self) -> None:
        """The process dies at once, as with the OOM killer or a lost host."""
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if self.alive:
            stop(self.popen, timeout=timeout)
        # Children left behind (gunicorn workers, rq's scheduler) go with their group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Portal:
    """The portal on the session's servers, with a fresh database for one test."""

    def __init__(self, *, postgres, redis_server, dbname, workdir, static_root, seeded, moto=None):
        self.postgres = postgres
        self.redis = redis_server
        self.dbname = dbname
        self.workdir = workdir
        self.mail_dir = workdir / "mail"
        self.mail_dir.mkdir()
        self.procs: list[Proc] = []
        # Customer Acme: a contact (email, password, API token) and AWS account 123456789012.
        self.seeded = seeded
        self.env = portal_env(
            database_url=postgres.url(dbname),
            redis_url=redis_server.url(0),
            static_root=static_root,
            mail_dir=self.mail_dir,
            prometheus_dir=workdir / "prometheus",
            aws_endpoint=moto.url if moto else "http://127.0.0.1:9",
        )
        self.web_port = None

    # processes
    def start(self, name: str, argv: list[str], **env) -> Proc:
        proc = Proc(name, argv, {**self.env, **env}, self.workdir)
        self.procs.append(proc)
        return proc

    def start_manage(self, name: str, *args, **env) -> Proc:
        return self.start(name, [sys.executable, "manage.py", *args], **env)

    def start_web(self) -> Proc:
        """gunicorn as in docker-compose.yml (one worker here); see wait_ready()."""
        self.web_port = free_port()
        web = self.start(
            "web",
            [
                str(VENV_BIN / "gunicorn"),
                "spt_portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "1",
                "--timeout",
                "60",
            ],
        )
        web.ready = lambda: self.get("/readyz")[0] == 200
        return web

    def start_worker(self) -> Proc:
        """The compose file's worker command (docker-compose.yml, service "worker")."""
        worker = self.start_manage(
            "worker", "rqworker", "default", "aws", "notifications", "--with-scheduler"
        )
        worker.ready = lambda: "Listening on" in worker.output()
        return worker

    def wait_ready(self, *procs: Proc, timeout: float = 90) -> None:
        for proc in procs:
            wait_for(proc.ready, timeout=timeout, what=f"{proc.name} to start", alive=[proc])

    def wait_idle(self, worker: Proc, timeout: float = 60) -> None:
        """Every job handed over has run: no job waits in a queue, is being taken or runs,
        and the worker (if Redis still knows it: a restarted Redis does not) waits."""
        from rq import Queue, Worker

        connection = self.redis.client()

        def idle():
            for name in ("default", "aws", "notifications"):
                queue = Queue(name, connection=connection)
                if (
                    queue.count
                    or connection.llen(queue.intermediate_queue_key)
                    or queue.started_job_registry.count
                ):
                    return False
            return all(w.get_state() == "idle" for w in Worker.all(connection=connection))

        since = []

        def idle_for_a_second():
            # rq moves a job through a few keys as it starts it: idle must hold a while.
            if not idle():
                since.clear()
                return False
            since.append(time.monotonic())
            return since[-1] - since[0] >= 1

        wait_for(idle_for_a_second, timeout=timeout, what="the worker to be idle", alive=[worker])

    def queue_job(self, func: str, queue: str = "default"):
        """Queue a job as rqcron does for the jobs of spt_portal/cron.py."""
        from rq import Queue

        return Queue(queue, connection=self.redis.client()).enqueue(func)

    def wait_job(self, job, worker: Proc, timeout: float = 60):
        """The job's return value, once the worker has run it."""

        def done():
            status = job.get_status(refresh=True)
            assert status != "failed", f"job {job.func_name} failed\n{self.logs()}"
            return status == "finished"

        wait_for(done, timeout=timeout, what=f"the job {job.func_name}", alive=[worker])
        return job.return_value()

    def run(self, name: str, argv: list[str], timeout: float = 120, check=True, **env):
        result = subprocess.run(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        (self.workdir / f"{name}.log").write_text(result.stdout + result.stderr)
        if check and result.returncode:
            raise AssertionError(
                f"{' '.join(argv[1:])} exited {result.returncode}:\n"
                f"{result.stdout[-LOG_TAIL:]}{result.stderr[-LOG_TAIL:]}"
            )
        return result

    def manage(self, *args, timeout: float = 120, check=True, **env):
        return self.run(args[0], [sys.executable, "manage.py", *args], timeout, check, **env)

    def child(self, *args, timeout: float = 120, check=True, **env):
        """tests/faults/child.py: setup and stubbed runs inside a portal process."""
        return self.run(
            f"child-{args[0]}",
            [sys.executable, "-m", "tests.faults.child", *args],
            timeout,
            check,
            **env,
        )

    def start_child(self, name: str, *args, **env) -> Proc:
        return self.start(name, [sys.executable, "-m", "tests.faults.child", *args], **env)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=1)

    def logs(self) -> str:
        return logs(*self.procs, self.redis, self.postgres)

    # the database, as the checks see it
    def rows(self, sql: str, *params) -> list[tuple]:
        with self.postgres.connect(self.dbname) as conn:
            return conn.execute(sql, params).fetchall()

    def value(self, sql: str, *params):
        return self.rows(sql, *params)[0][0]

    # HTTP
    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str, opener=None) -> tuple[int, str]:
        return self.request("GET", path, opener=opener)

    def request(self, method, path, *, data=None, headers=None, opener=None, form=None):
        body = None
        headers = dict(headers or {})
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self._url(path), body, headers, method=method)
        try:
            with (opener or urllib.request.build_opener()).open(request, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def api_create_ticket(self, token: str, title: str) -> dict:
        status, body = self.request(
            "POST",
            "/api/v1/tickets",
            data={"title": title, "description": "fault test", "priority": "high"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 201, f"POST /api/v1/tickets answered {status}: {body}\n{self.logs()}"
        return json.loads(body)

    def browser(self):
        """A cookie-keeping client for the portal's forms (session and CSRF cookies)."""
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def submit_form(self, opener, path: str, fields: dict) -> tuple[int, str]:
        status, page = self.get(path, opener=opener)
        assert status == 200, f"GET {path} answered {status}\n{self.logs()}"
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no CSRF token in {path}"
        return self.request(
            "POST",
            path,
            form={"csrfmiddlewaretoken": token.group(1), **fields},
            headers={"Referer": self._url(path)},
            opener=opener,
        )

    # email (django.core.mail.backends.filebased: one file per connection)
    def mailbox(self) -> list:
        messages = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(message_from_bytes(chunk.lstrip(), policy=policy.default))
        return messages

    def emails(self, subject_part: str) -> list:
        return [m for m in self.mailbox() if subject_part in str(m["Subject"])]


def portal_env(*, database_url, redis_url, static_root, mail_dir, prometheus_dir, aws_endpoint):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "AWS_", "RQ_", "EMAIL_", "PYTEST"))
        and k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "STATIC_ROOT"}
    }
    prometheus_dir.mkdir(exist_ok=True)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "spt_portal.settings",
            "PYTHONUNBUFFERED": "1",
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "0",
            "ALLOW_PLAIN_HTTP": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": "http://127.0.0.1",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "STATIC_ROOT": str(static_root),
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus_dir),
            "EMAIL_BACKEND": "tests.faults.mailbox.EmailBackend",
            "FAULT_MAIL_DIR": str(mail_dir),
            # The relay may retry a row one second after Redis refused it (default 30 s).
            "OUTBOX_RETRY_SECONDS": "1",
            "LOG_LEVEL": "INFO",
            "REQUEST_LOG_LEVEL": "WARNING",
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "2",
        }
    )
    return env

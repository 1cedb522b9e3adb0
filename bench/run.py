"""`make bench`: seed a PostgreSQL database at 100,000 tickets, start the production server
(gunicorn, 2 sync workers, DEBUG off, persistent connections) and measure it with wrk
(4 connections, 20 s after a warm-up) and in-process timers; print a table (every figure
also as a ratio to a trivial view's floor, measured in the same server) and write
bench/results/latest.json.

    python bench/run.py [--reuse] [--duration 20] [--only NAME ...]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/spt_bench),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/13). Needs wrk (apt install wrk).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spt_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "spt_portal.settings",
    "DATABASE_URL": DATABASE_URL,
    "DATABASE_CONN_MAX_AGE": "600",
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DEBUG": "0",
    "ALLOW_PLAIN_HTTP": "1",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
    "REQUEST_LOG_LEVEL": "WARNING",
    "SES_SNS_TOPIC_ARNS": "arn:aws:sns:us-east-1:123456789012:bench-ses-inbound",
}
os.environ.update(SERVER_ENV)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))


def setup_django():
    import django

    django.setup()


def ensure_database() -> None:
    """Create the benchmark database if it does not exist (it is kept between runs)."""
    import dj_database_url
    import psycopg

    conf = dj_database_url.parse(DATABASE_URL)
    name = conf["NAME"]
    admin = psycopg.connect(
        host=conf["HOST"] or "127.0.0.1",
        port=conf["PORT"] or 5432,
        user=conf["USER"] or "postgres",
        password=conf.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


def drop_database() -> None:
    import dj_database_url
    import psycopg

    conf = dj_database_url.parse(DATABASE_URL)
    with psycopg.connect(
        host=conf["HOST"] or "127.0.0.1",
        port=conf["PORT"] or 5432,
        user=conf["USER"] or "postgres",
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{conf["NAME"]}" WITH (FORCE)')


# --- the server ------------------------------------------------------------------------


class Server:
    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.process = None

    def start(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [
                gunicorn,
                "spt_portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env={**os.environ, **SERVER_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start:\n" + (self.process.stderr.read() or ""))

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each gunicorn worker (children of the master)."""
        out = []
        for child in Path("/proc").iterdir():
            if not child.name.isdigit():
                continue
            try:
                status = (child / "status").read_text()
            except OSError:
                continue
            ppid = re.search(r"^PPid:\s+(\d+)", status, re.M)
            rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if ppid and rss and int(ppid.group(1)) == self.process.pid:
                out.append(round(int(rss.group(1)) / 1024, 1))
        return sorted(out)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- the run ---------------------------------------------------------------------------


def cpu_loop_ms() -> float:
    """The machine's speed of the moment: the best of three runs of a fixed pure-Python
    loop (no I/O). Machines here differ by half from one session to the next; this and the
    floor tell a slower machine from slower code (bench/README.md)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for n in range(2_000_000):
            total += n % 7
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the data of the last run (quicker; the rows add tickets, so figures drift)",
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--only", nargs="*", help="run only these rows (by name)")
    parser.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    started = time.monotonic()
    if not args.reuse:
        drop_database()  # every run starts from the same data
    ensure_database()
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(  # as in production: DEBUG off serves the collected, hashed files
            [sys.executable, "manage.py", *command, "-v", "0"],
            cwd=ROOT,
            env={**os.environ, **SERVER_ENV},
            check=True,
        )
    setup_django()
    import redis
    import seed as bench_seed

    redis.Redis.from_url(REDIS_URL).flushdb()
    if not bench_seed.is_seeded():
        print("seeding", flush=True)
        bench_seed.seed()
    else:
        print("benchmark data of the last run reused (--reuse)", flush=True)
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:  # as autovacuum would have: statistics and the
        cursor.execute("VACUUM ANALYZE")  # visibility map (index-only scans)
        # Write what the seed (and the vacuum) left in memory back to disk now: a spread
        # checkpoint would otherwise write it during the first minutes of measurement (a
        # full run measured every row after a fresh seed 10-30% slower than a rerun).
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError as exc:  # needs a superuser or pg_checkpoint
            print(f"no CHECKPOINT before measuring ({exc}); the first rows may read slow")

    if args.seed_only:
        return 0
    import scenarios

    cpu_before = cpu_loop_ms()
    server = Server(port=18900)
    server.start()
    rows = []
    try:
        for scenario in scenarios.ALL:
            if args.only and scenario.name not in args.only and scenario.name != "floor":
                continue
            print(f"measuring: {scenario.name}", flush=True)
            try:
                row = scenario.run(server=server, duration=args.duration)
            except Exception as exc:  # one broken row must not lose the others
                row = scenario.row(met=False, note=f"failed: {type(exc).__name__}: {exc}"[:300])
            rows.append(row)
            print("  " + json.dumps(row, ensure_ascii=False, default=str), flush=True)
        memory = server.worker_rss_mb()
    finally:
        server.stop()
    rows.append(scenarios.memory_row(memory))
    report = scenarios.report(rows)
    print(report, flush=True)
    cpu = [cpu_before, cpu_loop_ms()]
    print(f"machine: reference Python loop {cpu[0]} ms before the rows, {cpu[1]} ms after")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpu_loop_ms": cpu,
                },
                "seconds": round(time.monotonic() - started, 1),
                "rows": rows,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"bench/results/latest.json written ({time.monotonic() - started:.0f}s in all)")
    return 0 if all(row.get("met", True) is not False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

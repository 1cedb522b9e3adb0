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

A request reads the versions of every kind of configuration at once, at its first use of
one, and keeps them until it ends (one Redis read per request rather than one per use: an
API create uses three); a change made by the request itself is seen at once. So a request
sees configuration as it was when it first read some, as it would had it read everything
then; the next request sees any change committed meanwhile. Jobs and commands, outside a
request, read the version at each use.

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
from django.db.models.signals import post_delete, post_save
from redis.exceptions import RedisError

from . import queues

logger = logging.getLogger(__name__)

MAX_AGE = 60
# Entries kept per name: past this, that name's entries are dropped and read again.
MAX_ENTRIES = 1024
_PREFIX = "spt:config-version:"
_values: dict[str, dict[Any, tuple[bytes, float, Any]]] = {}
_lock = threading.Lock()
# Every name in use; a request reads all their versions at once.
_names: set[str] = set()
# .versions: during a request, the versions it read (name -> version), else None.
_request = threading.local()


def cached(name: str, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, or what it returned earlier in this process under the current
    version of ``name`` and less than MAX_AGE ago. One Redis read."""
    try:
        version = _version(name)
    except (RedisError, OSError):
        return compute()
    now = time.monotonic()
    entry = _values.get(name, {}).get(key)
    if entry is not None and entry[0] == version and now - entry[1] < MAX_AGE:
        return entry[2]
    value = compute()
    with _lock:
        kept = _values.setdefault(name, {})
        if len(kept) >= MAX_ENTRIES:
            kept.clear()
        kept[key] = (version, now, value)
    return value


def _version(name: str) -> bytes:
    versions = getattr(_request, "versions", None)
    if versions is None:
        return queues.connection().get(_PREFIX + name) or b"0"
    if name not in versions:
        _names.add(name)
        names = sorted(_names - versions.keys())
        values = queues.connection().mget([_PREFIX + n for n in names])
        versions.update(zip(names, (value or b"0" for value in values), strict=True))
    return versions[name]


def request_started(**kwargs) -> None:
    """request_started receiver: this request reads the versions afresh."""
    _request.versions = {}


def request_finished(**kwargs) -> None:
    """request_finished receiver: back to a read per use."""
    _request.versions = None


def _bump(name: str) -> None:
    versions = getattr(_request, "versions", None)
    if versions is not None:
        versions.pop(name, None)  # what this request changes, it sees
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
    _names.add(name)

    def on_change(sender, **kwargs) -> None:
        changed(name)

    return on_change


def watch(name: str, *models) -> None:
    """Mark ``name`` changed whenever one of ``models`` is saved or deleted."""
    on_change = receiver(name)
    for model in models:
        for signal in (post_save, post_delete):
            signal.connect(
                on_change,
                sender=model,
                weak=False,
                dispatch_uid=f"config-cache-{name}-{model._meta.label}",
            )


def forget() -> None:
    """Drop what this process keeps (tests: a rolled-back test leaves no signal)."""
    with _lock:
        _values.clear()
    _request.versions = None

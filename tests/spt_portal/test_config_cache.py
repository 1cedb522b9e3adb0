"""Configuration kept per process (spt_portal/config_cache.py): reused under the version it
was read with, read again once a change bumped it, never trusted without Redis."""

import time

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from spt_portal import config_cache, queues


class Reads:
    """Stands for the database read: counts calls, returns ``value``."""

    def __init__(self):
        self.count = 0
        self.value = "v1"

    def __call__(self):
        self.count += 1
        return self.value


def version(name):
    return queues.connection().get("spt:config-version:" + name) or b"0"


def test_a_value_is_reused_until_its_configuration_changes():
    reads = Reads()
    assert config_cache.cached("test-a", "k", reads) == "v1"
    assert config_cache.cached("test-a", "k", reads) == "v1"
    assert reads.count == 1
    reads.value = "v2"
    config_cache.changed("test-a")  # outside a transaction: bumped now (twice)
    assert config_cache.cached("test-a", "k", reads) == "v2"
    assert reads.count == 2
    assert config_cache.cached("test-a", "other", reads) == "v2"  # each key on its own
    assert reads.count == 3


@pytest.mark.django_db(transaction=True)
def test_a_value_read_before_a_change_committed_is_not_used_after_it():
    """The change bumps when saved and again after its commit: a process that read the
    old rows between the two keeps them under a version that is already stale."""
    reads = Reads()
    with transaction.atomic():
        config_cache.changed("test-b")
        # Another process reads now, before the commit: it keeps the old value.
        config_cache._values[("test-b", "k")] = (version("test-b"), time.monotonic(), "old")
        assert config_cache.cached("test-b", "k", reads) == "old"
    reads.value = "new"
    assert config_cache.cached("test-b", "k", reads) == "new"


def test_a_value_is_read_again_after_max_age_whatever_the_version(monkeypatch):
    reads = Reads()
    config_cache.cached("test-c", "k", reads)
    later = time.monotonic() + config_cache.MAX_AGE + 1
    monkeypatch.setattr(config_cache.time, "monotonic", lambda: later)
    config_cache.cached("test-c", "k", reads)
    assert reads.count == 2


def test_without_redis_every_read_goes_to_the_database(caplog):
    dead = {
        name: {**conf, "URL": "redis://127.0.0.1:1/0"} for name, conf in settings.RQ_QUEUES.items()
    }
    reads = Reads()
    with override_settings(RQ_QUEUES=dead):
        config_cache.cached("test-d", "k", reads)
        config_cache.cached("test-d", "k", reads)
        config_cache.changed("test-d")
    assert reads.count == 2
    assert "could not mark test-d as changed" in caplog.text

"""Configuration kept per process (spt_portal/config_cache.py): reused under the version it
was read with, read again once a change bumped it, never trusted without Redis."""

import time

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from spt_portal import config_cache, queues
from spt_portal.tokens import api_token_create


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
        kept = config_cache._values.setdefault("test-b", {})
        kept["k"] = (version("test-b"), time.monotonic(), "old")
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


def test_each_name_keeps_at_most_max_entries(monkeypatch):
    monkeypatch.setattr(config_cache, "MAX_ENTRIES", 3)
    reads = Reads()
    for key in range(3):
        config_cache.cached("test-e", key, reads)
    config_cache.cached("test-f", "k", reads)
    config_cache.cached("test-e", "fourth", reads)  # test-e was full: its entries go
    assert set(config_cache._values["test-e"]) == {"fourth"}
    assert set(config_cache._values["test-f"]) == {"k"}  # other names keep theirs


def bump_elsewhere(name):
    """A change made by another process: only the version in Redis moves."""
    queues.connection().incr("spt:config-version:" + name)


def test_a_request_reads_every_version_once_and_keeps_them():
    a, b = Reads(), Reads()
    config_cache.receiver("test-g")  # names come with their receivers, at start-up
    config_cache.receiver("test-h")
    config_cache.request_started()
    try:
        with CountRedis() as redis_reads:
            assert config_cache.cached("test-g", "k", a) == "v1"
            assert config_cache.cached("test-h", "k", b) == "v1"
        assert redis_reads.commands == ["MGET"]  # both versions in one read
        a.value = "v2"
        bump_elsewhere("test-g")  # committed elsewhere while this request runs
        assert config_cache.cached("test-g", "k", a) == "v1"  # as when the request began
    finally:
        config_cache.request_finished()
    config_cache.request_started()  # the next request sees it
    try:
        assert config_cache.cached("test-g", "k", a) == "v2"
    finally:
        config_cache.request_finished()
    assert a.count == 2


def test_a_request_sees_its_own_change_at_once():
    reads = Reads()
    config_cache.request_started()
    try:
        assert config_cache.cached("test-i", "k", reads) == "v1"
        reads.value = "v2"
        config_cache.changed("test-i")
        assert config_cache.cached("test-i", "k", reads) == "v2"
    finally:
        config_cache.request_finished()


def test_outside_a_request_each_use_reads_the_version():
    reads = Reads()
    config_cache.request_started()
    config_cache.request_finished()
    assert config_cache.cached("test-j", "k", reads) == "v1"
    reads.value = "v2"
    bump_elsewhere("test-j")
    assert config_cache.cached("test-j", "k", reads) == "v2"


def test_an_api_create_reads_its_three_versions_at_once(client, acme_user):
    """Token, SLA policy and rules: one Redis read for the request (bench/README.md)."""
    _row, token = api_token_create(user=acme_user)
    with CountRedis() as redis_reads:
        response = client.post(
            "/api/v1/tickets",
            {"title": "t"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201, response.content
    assert redis_reads.commands.count("MGET") == 1
    assert "GET" not in redis_reads.commands
    assert getattr(config_cache._request, "versions", None) is None  # the request ended


class CountRedis:
    """Records the commands sent through the shared Redis client."""

    def __enter__(self):
        self.commands = []
        redis = queues.connection()
        self._original = redis.execute_command

        def execute_command(*args, **kwargs):
            self.commands.append(args[0])
            return self._original(*args, **kwargs)

        redis.execute_command = execute_command
        return self

    def __exit__(self, *exc):
        del queues.connection().execute_command

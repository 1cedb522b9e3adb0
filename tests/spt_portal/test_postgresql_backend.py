"""The PostgreSQL backend's health check (spt_portal/postgresql/base.py): a quiet
connection is usable without a round trip; one the server closed is not; anything that
arrived while the connection was idle is settled by asking the server."""

import time

import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_base

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the backend is PostgreSQL's"
)


@pytest.fixture
def spare():
    """A connection of its own (the test's is inside the test's transaction)."""
    wrappers = []

    def make():
        wrapper = connections.create_connection("default")
        wrapper.ensure_connection()
        wrappers.append(wrapper)
        return wrapper

    yield make
    for wrapper in wrappers:
        wrapper.close()


@pytest.fixture
def server_checks(monkeypatch):
    """Counts the health checks that went to the server (Django's SELECT 1)."""
    calls = []
    original = django_base.DatabaseWrapper.is_usable

    def counted(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(django_base.DatabaseWrapper, "is_usable", counted)
    return calls


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_settings_select_this_backend():
    assert connection.settings_dict["ENGINE"] == "spt_portal.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_quiet_connection_is_usable_without_a_round_trip(spare, server_checks):
    wrapper = spare()
    assert wrapper.is_usable() is True
    assert server_checks == []


@pytest.mark.django_db
def test_a_connection_the_server_ended_is_not_usable(spare, server_checks):
    wrapper = spare()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [_backend_pid(wrapper)])
    _until(lambda: server_checks or not wrapper.is_usable())
    assert wrapper.is_usable() is False
    # Django then replaces it before the request's first query.
    wrapper.health_check_enabled, wrapper.health_check_done = True, False
    wrapper.close_if_health_check_failed()
    assert wrapper.connection is None
    assert _backend_pid(wrapper) > 0


def test_something_read_while_idle_is_settled_by_the_server(spare, server_checks):
    listener, sender = spare(), spare()
    with listener.cursor() as cursor:
        cursor.execute("LISTEN spt_backend_test")
    with sender.cursor() as cursor:
        cursor.execute("NOTIFY spt_backend_test")
    _until(lambda: not _quiet(listener))
    assert listener.is_usable() is True
    assert server_checks == [listener]


def _quiet(wrapper) -> bool:
    import select

    poller = select.poll()
    poller.register(wrapper.connection.pgconn.socket, select.POLLIN)
    return not poller.poll(0)


@pytest.mark.django_db
def test_connections_run_without_jit():
    """settings.py turns JIT compilation off: it cost the SLA scan more than its query."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"

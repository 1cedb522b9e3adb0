import pytest
from django.utils import translation

from spt_portal.roles import Role, sync_roles

from .factories import PASSWORD, CustomerFactory, CustomerUserFactory, StaffUserFactory


@pytest.fixture(autouse=True)
def _roles(db):
    # Groups are created by migrate's post_migrate hook; the test database is migrated once,
    # but TestCase-style rollbacks keep them. Syncing is cheap and makes each test explicit.
    sync_roles()


@pytest.fixture(autouse=True, scope="session")
def _no_outbox_jobs_of_an_earlier_run():
    # Outbox job ids are the rows' ids, which start again with each test database; the
    # jobs (kept 500 s after they ran) and the handed set of an earlier run, in the same
    # Redis, would pass for this run's (spt_portal/outbox.py: the relay's look-up).
    from spt_portal import outbox, queues

    client = queues.connection()
    stale = list(client.scan_iter(match=f"rq:job:{outbox.JOB_ID_PREFIX}*", count=1000))
    for start in range(0, len(stale), 1000):
        client.delete(*stale[start : start + 1000])
    client.delete(outbox.HANDED_KEY)


@pytest.fixture(autouse=True)
def _config_cache():
    # TestCase-style rollbacks take rules and policies away without a signal: what a
    # process keeps of them (spt_portal/config_cache.py) must not outlive the test.
    from spt_portal import config_cache

    config_cache.forget()


@pytest.fixture(autouse=True)
def _default_language():
    # The test client runs requests in the test's thread, and a signed-in user's language
    # stays active after the request; every test starts (and ends) in LANGUAGE_CODE.
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def acme():
    return CustomerFactory(name="Acme", short_code="ACME")


@pytest.fixture
def globex():
    return CustomerFactory(name="Globex", short_code="GLOBEX")


@pytest.fixture
def acme_user(acme):
    return CustomerUserFactory(customer=acme, email="alice@acme.example")


@pytest.fixture
def globex_user(globex):
    return CustomerUserFactory(customer=globex, email="bob@globex.example")


@pytest.fixture
def engineer():
    return StaffUserFactory(email="eng@partner.example", role=Role.ENGINEER)


@pytest.fixture
def manager():
    return StaffUserFactory(email="mgr@partner.example", role=Role.MANAGER)


@pytest.fixture
def auditor():
    return StaffUserFactory(email="aud@partner.example", role=Role.AUDITOR)


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def api(client):
    """Call the REST API as ``user`` with a fresh bearer token."""
    from spt_portal.tokens import api_token_create

    def _call(method, path, user, data=None):
        _row, token = api_token_create(user=user)
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return getattr(client, method)(path, **kwargs)

    return _call

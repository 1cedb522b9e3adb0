"""Fuzz /api/v1/ from its own OpenAPI schema (schemathesis), in process, as two roles.

Every operation is called with generated parameters and bodies, valid and invalid,
through Django's WSGI application (no network), with the bearer token of a staff
engineer and of a customer contact. Each answer must not be a 5xx, must have a status
code the schema documents, a documented content type and a body matching the schema for
that status. On top of that: a customer token never succeeds on a staff-only operation
nor on another customer's ticket.

Generated ids almost never name a row, so a third of the examples point path and body
ids at seeded rows (``world``) and another third at the other customer's ticket; that is
what reaches the services behind the 404s.

Database: pytest-django wraps each test (one operation, one role) in a transaction that
is rolled back at its end, and Hypothesis runs all of that test's examples inside it, so
rows written by one example (tickets, comments, alerts, status changes) are still there
for the next. That is accepted: the API must cope with any state it can reach by itself.
``transaction.on_commit`` callbacks (notifications, jobs) never run here.

Bounded for CI: a fixed number of examples per operation, derandomized, no example
database; Hypothesis's other caches go to the temporary directory.
"""

import os
import tempfile

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from spt_portal.roles import Role
from spt_portal.tokens import api_token_create
from tests.factories import (
    AWSAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    StaffUserFactory,
)

# Hypothesis keeps caches (constants, Unicode tables) even without an example database:
# outside the repository. (tests/settings.py would be the better home for this line.)
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "spt-hypothesis")
)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STAFF_ONLY_TAGS = {"alerts", "incidents", "postmortems", "aws support"}

FUZZ_SETTINGS = hypothesis.settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        # One world per test, shared by its examples on purpose (see the module docstring).
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def world(db):
    """One of each row the API addresses by id, for the engineer and the customer."""
    from incidents import alerts
    from incidents import services as incident_services
    from incidents.models import PageKind
    from incidents.paging import page_create
    from postmortems import services as postmortem_services
    from postmortems.models import ActionItem
    from tickets import services as ticket_services

    acme = CustomerFactory(name="Acme", short_code="ACME")
    globex = CustomerFactory(name="Globex", short_code="GLOBEX")
    account = AWSAccountFactory(customer=acme)
    contact = CustomerUserFactory(customer=acme, email="alice@acme.example")
    outsider = CustomerUserFactory(customer=globex, email="bob@globex.example")
    engineer = StaffUserFactory(email="eng@partner.example", role=Role.ENGINEER)
    own = ticket_services.ticket_create(
        customer=acme, requester=contact, title="VPN down", actor=contact
    )
    other = ticket_services.ticket_create(
        customer=globex, requester=outsider, title="Globex only", actor=outsider
    )
    alert, _outcome = alerts.alert_upsert(
        parsed=alerts.parse_generic({"title": "CPU high", "level": "critical"}),
        integration=alerts.api_integration(),
    )
    incident = incident_services.incident_create(
        title="Billing outage", alerts=[alert], actor=engineer
    )
    for status in ("in_progress", "recovered"):
        incident_services.incident_change_status(incident=incident, status=status, actor=engineer)
    page = page_create(
        incident=incident,
        kind=PageKind.MANUAL,
        recipients=["oncall@partner.example"],
        actor=engineer,
    )
    postmortem, _created = postmortem_services.postmortem_create(incident=incident, actor=engineer)
    item = ActionItem.objects.create(postmortem=postmortem, title="Add capacity")
    own_ids = {
        "number": own.number,
        "ticket": own.number,
        "customer_id": acme.pk,
        "account_id": account.account_id,
        "alert_id": alert.pk,
        "alert_ids": [alert.pk],
        "incident_id": incident.pk,
        "page_id": page.pk,
        "postmortem_id": postmortem.pk,
        "item_id": item.pk,
        "owner_id": engineer.pk,
        "assignee_id": engineer.pk,
        "notify_users": [engineer.pk],
        "participant_ids": [engineer.pk],
    }
    other_ids = {**own_ids, "number": other.number, "ticket": other.number}
    other_ids["customer_id"] = globex.pk
    return {
        "users": {"engineer": engineer, "customer": contact},
        "ids": {"existing": own_ids, "other_customer": other_ids},
    }


@pytest.fixture
def keep_connection():
    """Django's WSGI handler closes the database connection around each request, as it
    should under a server; here that would end the test's transaction (PostgreSQL), so do
    what django.test.Client does and keep it open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["engineer", "customer"])
def role(request):
    return request.param


def aim(case, ids: dict) -> None:
    """Replace generated ids (path parameters, top-level body fields) with seeded ones."""
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]
    if isinstance(case.body, dict):
        for name in list(case.body):
            if name in ids:
                case.body[name] = ids[name]


@schema.parametrize()
@schema.given(target=st.sampled_from(["generated", "existing", "other_customer"]))
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema(case, target, role, world, keep_connection):
    _row, token = api_token_create(user=world["users"][role])
    if target != "generated":
        aim(case, world["ids"][target])
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    if role != "customer" or response.status_code >= 400:
        return
    assert not set(case.operation.tags or []) & STAFF_ONLY_TAGS, (
        f"a customer token succeeded on the staff-only {case.operation.label}"
    )
    assert not (target == "other_customer" and "number" in (case.path_parameters or {})), (
        f"a customer token succeeded on another customer's ticket: {case.operation.label}"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        # Found by the fuzzer: 500s. Ids past 64 bits in "pk__in" and foreign-key filters:
        # OverflowError on SQLite, "bigint out of range" on PostgreSQL.
        ("post", "/api/v1/incidents", {"title": "t", "alert_ids": [-(2**110)]}, 422),
        ("post", "/api/v1/incidents", {"title": "t", "alert_ids": [2**63]}, 422),
        ("get", f"/api/v1/postmortems?incident_id={2**70}", None, 422),
        ("get", f"/api/v1/tickets?customer={2**70}", None, 200),
        # Found while fixing those: "²".isdigit() is true but int("²") raises, and int()
        # refuses 4,300 digits or more.
        ("get", "/api/v1/tickets?customer=%C2%B2", None, 200),
        ("get", "/api/v1/tickets?customer=" + "1" * 5000, None, 200),
        # NUL characters, which PostgreSQL can neither store nor compare (500s there).
        ("post", "/api/v1/tickets", {"title": "a\x00b"}, 422),
        ("post", "/api/v1/alerts", {"title": "t", "labels": {"k\x00": "v"}}, 422),
        ("get", "/api/v1/tickets?status=a%00b", None, 422),
        ("get", "/api/v1/tickets/TKT-%00", None, 422),
    ],
)
def test_inputs_that_once_made_500s(api, engineer, method, path, body, status):
    response = api(method, path, engineer, body)
    assert response.status_code == status, response.content


@pytest.mark.django_db
def test_a_token_with_a_nul_byte_is_refused_before_the_database(client):
    response = client.get("/api/v1/tickets", HTTP_AUTHORIZATION="Bearer spt_ab\x00cd_x")
    assert response.status_code == 401

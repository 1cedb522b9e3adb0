import json

import pytest
from django.core.management import call_command

from spt_portal.models import APIToken
from spt_portal.tokens import api_token_create, api_token_revoke
from tickets import services
from tickets.models import Source, Ticket, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer():
    def _bearer(user):
        _row, token = api_token_create(user=user)
        return {"Authorization": f"Bearer {token}"}

    return _bearer


def post(client, path, body, headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers)


@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/tickets/"])
def test_customer_creates_a_ticket_with_or_without_slash(client, acme_user, bearer, path):
    response = post(
        client,
        path,
        {"title": "问题标题", "description": "问题描述", "priority": "high"},
        bearer(acme_user),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("TKT-")
    assert body["status"] == "new" and body["priority"] == "high" and body["source"] == "api"
    assert body["customer"] == acme_user.customer.short_code
    assert body["first_response_due_at"] and body["resolution_due_at"]
    ticket = Ticket.objects.get(number=body["number"])
    assert ticket.requester == acme_user and ticket.source == Source.API


def test_seed_example_with_customer_id_for_staff(client, engineer, acme, bearer):
    # seed 001: POST /api/tickets {"title", "description", "priority", "customer_id"}
    response = post(
        client,
        "/api/v1/tickets",
        {
            "title": "问题标题",
            "description": "问题描述",
            "priority": "high",
            "customer_id": acme.pk,
        },
        bearer(engineer),
    )
    assert response.status_code == 201
    assert Ticket.objects.get().customer == acme


def test_customer_cannot_file_for_another_customer(client, acme_user, globex, bearer):
    response = post(
        client, "/api/v1/tickets", {"title": "x", "customer_id": globex.pk}, bearer(acme_user)
    )
    assert response.status_code == 403
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "body, status",
    [
        ("{not json", 400),
        ({"title": "x", "unknown": 1}, 422),
        ({"title": 5}, 422),
        ({"title": "x", "priority": "urgent"}, 422),
        ({"description": "no title"}, 422),
        ({"title": "x", "category": "nope"}, 400),
    ],
)
def test_bad_input_is_a_json_4xx(client, acme_user, bearer, body, status):
    response = post(client, "/api/v1/tickets", body, bearer(acme_user))
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert not Ticket.objects.exists()


def test_oversized_body_is_413(client, acme_user, bearer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(client, "/api/v1/tickets", {"title": "x" * 2000}, bearer(acme_user))
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large."


def test_authentication(client, acme_user):
    assert client.get("/api/v1/tickets").status_code == 401
    headers = {"Authorization": "Bearer spt_nope_nope"}
    assert client.get("/api/v1/tickets", headers=headers).status_code == 401
    row, token = api_token_create(user=acme_user)
    assert (
        client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    api_token_revoke(token=row)
    assert (
        client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert APIToken.objects.get().key_hash != token  # stored hashed


def test_customers_see_only_their_organisation(
    client, acme, globex, acme_user, globex_user, bearer
):
    mine = services.ticket_create(customer=acme, requester=acme_user, title="a", actor=acme_user)
    theirs = services.ticket_create(
        customer=globex, requester=globex_user, title="g", actor=globex_user
    )
    headers = bearer(acme_user)
    listing = client.get("/api/v1/tickets", headers=headers).json()
    assert [t["number"] for t in listing["items"]] == [mine.number]
    assert client.get(f"/api/v1/tickets/{theirs.number}", headers=headers).status_code == 404
    assert (
        client.get(f"/api/v1/tickets/{theirs.number}/comments", headers=headers).status_code == 404
    )
    response = post(client, f"/api/v1/tickets/{theirs.number}/comments", {"body": "hi"}, headers)
    assert response.status_code == 404
    # the customer filter is for staff only; a customer's token ignores it
    assert client.get(f"/api/v1/tickets?customer={globex.pk}", headers=headers).json()["count"] == 1


def test_filters_for_staff(client, acme, globex, acme_user, globex_user, engineer, bearer):
    services.ticket_create(customer=acme, requester=acme_user, title="a", actor=acme_user)
    services.ticket_create(
        customer=globex, requester=globex_user, title="g", priority="critical", actor=globex_user
    )
    headers = bearer(engineer)
    assert client.get("/api/v1/tickets", headers=headers).json()["count"] == 2
    assert client.get("/api/v1/tickets?customer=GLOBEX", headers=headers).json()["count"] == 1
    assert client.get("/api/v1/tickets?priority=critical", headers=headers).json()["count"] == 1
    assert (
        client.get("/api/v1/tickets?updated_since=2099-01-01T00:00:00Z", headers=headers).json()[
            "count"
        ]
        == 0
    )
    assert client.get("/api/v1/tickets?updated_since=yesterday", headers=headers).status_code == 422


def test_comments_public_and_internal(client, acme, acme_user, engineer, bearer):
    ticket = services.ticket_create(customer=acme, requester=acme_user, title="a", actor=acme_user)
    services.comment_add(
        ticket=ticket, author=engineer, body="secret", visibility=Visibility.INTERNAL
    )
    customer = bearer(acme_user)
    staff = bearer(engineer)
    path = f"/api/v1/tickets/{ticket.number}/comments/"
    assert post(client, path, {"body": "x", "visibility": "internal"}, customer).status_code == 403
    assert post(client, path, {"body": "hello"}, customer).status_code == 201
    assert post(client, path, {"body": "note", "visibility": "internal"}, staff).status_code == 201
    bodies = [c["body"] for c in client.get(path, headers=customer).json()]
    assert bodies == ["hello"]
    assert len(client.get(path, headers=staff).json()) == 3


def test_auditor_token_is_read_only(client, acme, acme_user, auditor, bearer):
    ticket = services.ticket_create(customer=acme, requester=acme_user, title="a", actor=acme_user)
    headers = bearer(auditor)
    assert client.get("/api/v1/tickets", headers=headers).status_code == 200
    assert post(client, "/api/v1/tickets", {"title": "x"}, headers).status_code == 403
    response = post(client, f"/api/v1/tickets/{ticket.number}/comments", {"body": "x"}, headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "This token is read-only."}


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/tickets" in schema["paths"]
    docs = client.get("/api/v1/docs").content.decode()
    assert "cdn.jsdelivr" not in docs and "swagger" in docs.lower()


def test_list_query_budget(
    client, acme, acme_user, engineer, bearer, django_assert_max_num_queries
):
    for n in range(30):
        t = services.ticket_create(
            customer=acme, requester=acme_user, title=f"t{n}", actor=acme_user
        )
        services.ticket_assign(ticket=t, assignee=engineer, actor=engineer)
    headers = bearer(engineer)
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/tickets", headers=headers).status_code == 200


def test_create_api_token_command(acme_user, capsys):
    call_command("create_api_token", acme_user.email, "--name", "ci")
    token = capsys.readouterr().out.strip()
    assert token.startswith("spt_")
    assert APIToken.objects.get().name == "ci"

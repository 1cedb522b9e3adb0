"""/api/v1/postmortems as seed 004's deployment guide checks it."""

import pytest

from postmortems import services
from postmortems.models import PostMortem

from .conftest import publish

pytestmark = pytest.mark.django_db
URL = "/api/v1/postmortems"


def test_create_read_update_and_publish_through_the_api(api, recovered_incident, engineer, manager):
    response = api("post", URL, engineer, {"incident_id": recovered_incident.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    pm_id, version = body["id"], body["version"]
    assert body["incident"] == recovered_incident.number and body["status"] == "draft"
    assert "数据库连接池耗尽" in body["timeline"]
    again = api("post", URL, engineer, {"incident_id": recovered_incident.pk})
    assert again.status_code == 200 and again.json()["id"] == pm_id

    update = api(
        "put",
        f"{URL}/{pm_id}",
        engineer,
        {"version": version, "root_cause": "连接池耗尽", "affected_users": 1200},
    )
    assert update.status_code == 200 and update.json()["version"] == version + 1
    stale = api("put", f"{URL}/{pm_id}", engineer, {"version": version, "lessons": "x"})
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    bad = api("put", f"{URL}/{pm_id}", engineer, {"status": "published"})
    assert bad.status_code == 422  # not a field of the update

    item = api(
        "post",
        f"{URL}/{pm_id}/action-items",
        engineer,
        {"title": "扩容", "priority": "P1", "owner_id": engineer.pk, "due_date": "2026-12-20"},
    )
    assert item.status_code == 201 and item.json()["owner"] == engineer.email
    item_id = item.json()["id"]
    done = api("put", f"{URL}/{pm_id}/action-items/{item_id}", engineer, {"status": "done"})
    assert done.status_code == 200 and done.json()["done_at"]
    unknown_ticket = api(
        "post", f"{URL}/{pm_id}/action-items", engineer, {"title": "t", "ticket": "NOPE-1"}
    )
    assert unknown_ticket.status_code == 400

    comment = api("post", f"{URL}/{pm_id}/comments", manager, {"body": "看过了"})
    assert comment.status_code == 201

    review = api("post", f"{URL}/{pm_id}/transition", engineer, {"status": "in_review"})
    assert review.status_code == 200 and review.json()["status"] == "in_review"
    refused = api("post", f"{URL}/{pm_id}/transition", engineer, {"status": "approved"})
    assert refused.status_code == 400 and "manager" in refused.json()["detail"]
    approve = api("post", f"{URL}/{pm_id}/transition", manager, {"status": "approved"})
    assert approve.status_code == 200
    published = api("post", f"{URL}/{pm_id}/transition", engineer, {"status": "published"})
    assert published.status_code == 200 and published.json()["article_id"]
    recovered_incident.refresh_from_db()
    assert recovered_incident.status == "closed"

    listing = api("get", f"{URL}?status=published&level=P1", engineer).json()
    assert listing["count"] == 1 and listing["items"][0]["id"] == pm_id
    assert api("get", f"{URL}?status=draft", engineer).json()["count"] == 0


def test_who_may_use_the_api(api, recovered_incident, engineer, manager, auditor, acme_user):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    assert api("get", URL, acme_user).status_code == 403
    assert api("post", URL, acme_user, {"incident_id": recovered_incident.pk}).status_code == 403
    # Auditors read published postmortems only, and never write.
    assert api("get", URL, auditor).json()["count"] == 0
    assert api("get", f"{URL}/{postmortem.pk}", auditor).status_code == 404
    publish(postmortem, engineer, manager)
    assert api("get", f"{URL}/{postmortem.pk}", auditor).status_code == 200
    assert api("put", f"{URL}/{postmortem.pk}", auditor, {"lessons": "x"}).status_code == 403
    assert api("post", URL, auditor, {"incident_id": recovered_incident.pk}).status_code == 403
    assert api("get", f"{URL}/999999", engineer).status_code == 404
    assert api("post", URL, engineer, {"incident_id": 999999}).status_code == 404


def test_bad_input_is_a_clear_4xx(api, recovered_incident, engineer):
    postmortem, _ = services.postmortem_create(incident=recovered_incident, actor=engineer)
    path = f"{URL}/{postmortem.pk}"
    assert api("put", path, engineer, {"affected_users": -1}).status_code == 422
    assert api("put", path, engineer, {"title": ""}).status_code == 422
    past = api("put", path, engineer, {"meeting_at": "2020-01-01T10:00:00+08:00"})
    assert past.status_code == 400 and "after the recovery" in past.json()["detail"]
    who = api("put", path, engineer, {"participant_ids": [999999]})
    assert who.status_code == 400
    wrong = api("post", f"{path}/transition", engineer, {"status": "published"})
    assert wrong.status_code == 400 and "cannot go from Draft" in wrong.json()["detail"]
    assert api("post", f"{path}/comments", engineer, {"body": ""}).status_code == 422
    assert PostMortem.objects.get().status == "draft"

import pytest

from sla.models import SLAPolicyVersion
from sla.services import current_policy

pytestmark = pytest.mark.django_db

ADD = "/admin/sla/slapolicyversion/add/"


def form_data(**overrides):
    data = {"note": "new contract"}
    for priority, (response, resolution) in {
        "critical": (10, 180),
        "high": (45, 480),
        "medium": (240, 1440),
        "low": (1440, 4320),
    }.items():
        data[f"{priority}_response"] = response
        data[f"{priority}_resolution"] = resolution
        data[f"{priority}_description"] = f"{priority} en"
        data[f"{priority}_description_zh_hans"] = f"{priority} 中文"
    data.update(overrides)
    return data


def test_manager_adds_a_policy_version(login, manager, acme, acme_user):
    from tickets import services

    old_ticket = services.ticket_create(
        customer=acme, requester=acme_user, title="x", actor=acme_user
    )
    client = login(manager)
    form = client.get(ADD).content.decode()
    assert 'value="15"' in form  # prefilled from the version in force
    response = client.post(ADD, form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = current_policy()
    assert policy.note == "new contract" and policy.created_by == manager
    assert policy.targets.get(priority="critical").response_minutes == 10
    old_ticket.refresh_from_db()
    assert old_ticket.sla_policy != policy  # history not rewritten
    # versions are read-only once made
    change = f"/admin/sla/slapolicyversion/{policy.pk}/change/"
    assert client.get(change).status_code == 200
    assert client.post(change, {"note": "edited"}).status_code == 403


def test_invalid_targets_are_form_errors(login, manager):
    before = SLAPolicyVersion.objects.count()
    response = login(manager).post(ADD, form_data(critical_response=600, critical_resolution=60))
    assert response.status_code == 200
    assert "cannot be due after the resolution" in response.content.decode()
    assert SLAPolicyVersion.objects.count() == before


def test_engineers_and_auditors_cannot_change_the_policy(login, engineer, auditor):
    assert login(engineer).post(ADD, form_data()).status_code == 403
    assert login(auditor).post(ADD, form_data()).status_code == 403
    assert login(engineer).get("/admin/sla/slapolicyversion/").status_code == 200


def test_targets_are_read_once_per_version_and_a_new_version_applies_at_once(
    django_assert_num_queries,
):
    """Versions never change, so their targets are kept after the first read; a new
    version (or any saved target row) is seen at once."""
    from sla.services import current_policy, sla_policy_create, target_for

    policy = current_policy()
    target_for(policy, "high")
    with django_assert_num_queries(0):
        assert target_for(policy, "high").priority == "high"
    newer = sla_policy_create(
        targets={"critical": (5, 60), "high": (20, 240), "medium": (60, 480), "low": (240, 960)},
        note="faster",
        actor=None,
    )
    assert target_for(current_policy(), "high").response_minutes == 20
    assert current_policy() == newer
    assert target_for(policy, "high").response_minutes != 20  # the old version is unchanged
